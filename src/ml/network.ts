import type * as tf from '@tensorflow/tfjs';

/** One dense layer's parameters as plain arrays: kernel is inputs × units, row-major. */
export interface DenseLayer {
  kernel: Float64Array;
  bias: Float64Array;
  inputs: number;
  units: number;
}

/**
 * A tag classifier's network (see buildNetwork in classifier.ts: ReLU layers, optionally the
 * inputs alongside the last one, a logit per tag) as plain arrays.
 *
 * Inference runs on these instead of TF.js: the network is a few thousand multiply-adds per row,
 * and on the wasm backend the per-call overhead of predict and tf.grad cost 3–4× the arithmetic
 * (scoring a million customers: 12 µs a row to predict, ~20 µs a candidate to explain).
 */
export interface NetworkArrays {
  hidden: DenseLayer[];
  logits: DenseLayer;
  /** The inputs feed the logits directly too, after the last hidden layer's units. */
  linearPath: boolean;
  inputs: number;
  tags: number;
}

/** Reads the weights now: later training steps do not show in the arrays. */
export function unpackNetwork(network: tf.LayersModel): NetworkArrays {
  const dense = (layer: tf.layers.Layer): DenseLayer => {
    const [kernel, bias] = layer.getWeights();
    const [inputs, units] = kernel!.shape as [number, number];
    return {
      kernel: Float64Array.from(kernel!.dataSync()),
      bias: Float64Array.from(bias!.dataSync()),
      inputs,
      units,
    };
  };
  const names = network.layers.map((layer) => layer.name);
  const hidden = network.layers.filter((l) => /^hidden_\d+$/.test(l.name)).map(dense);
  const logits = dense(network.getLayer('logits'));
  const inputs = hidden[0]?.inputs ?? logits.inputs;
  return {
    hidden,
    logits,
    linearPath: names.includes('with_inputs'),
    inputs,
    tags: logits.units,
  };
}

/** Scratch space for one row's pass; reused across rows so the loops allocate nothing. */
export interface Workspace {
  /** Per layer: the input row, then each hidden layer's ReLU output. */
  activations: Float64Array[];
  /** Gradient of one logit with respect to each entry of `activations`. */
  gradients: Float64Array[];
  logits: Float64Array;
}

export function workspace(net: NetworkArrays): Workspace {
  const activations = [
    new Float64Array(net.inputs),
    ...net.hidden.map((l) => new Float64Array(l.units)),
  ];
  return {
    activations,
    gradients: activations.map((a) => new Float64Array(a.length)),
    logits: new Float64Array(net.tags),
  };
}

/**
 * The forward pass of `w.activations[0]` (set by the caller) into every layer's activations and,
 * unless `logits` is false (a gradient needs only the ReLU masks), `w.logits`. Loops run along
 * kernel rows (contiguous memory), not down their columns.
 */
export function forward(net: NetworkArrays, w: Workspace, logits = true): void {
  const last = net.hidden.length;
  for (let l = 0; l < last; l++) {
    const { kernel, bias, inputs, units } = net.hidden[l]!;
    const from = w.activations[l]!;
    const to = w.activations[l + 1]!;
    to.set(bias);
    for (let i = 0; i < inputs; i++) {
      const value = from[i]!;
      if (value === 0) continue;
      const base = i * units;
      for (let u = 0; u < units; u++) to[u] += value * kernel[base + u]!;
    }
    for (let u = 0; u < units; u++) if (!(to[u]! > 0)) to[u] = 0;
  }
  if (!logits) return;
  const { kernel, bias, units } = net.logits;
  const out = w.logits;
  out.set(bias);
  let offset = 0;
  const feed = (values: Float64Array) => {
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!;
      if (value === 0) continue;
      const base = (offset + i) * units;
      for (let t = 0; t < units; t++) out[t] += value * kernel[base + t]!;
    }
    offset += values.length;
  };
  feed(w.activations[last]!);
  if (net.linearPath) feed(w.activations[0]!);
}

/**
 * The gradient of logit `tag` with respect to the input, at the point of the last forward(), into
 * `w.gradients[0]`.
 */
export function logitGradient(net: NetworkArrays, w: Workspace, tag: number): Float64Array {
  const last = net.hidden.length;
  const t = net.tags;
  const top = w.gradients[last]!;
  for (let i = 0; i < top.length; i++) top[i] = net.logits.kernel[i * t + tag]!;
  for (let l = last - 1; l >= 0; l--) {
    const { kernel, inputs, units } = net.hidden[l]!;
    const output = w.activations[l + 1]!;
    const upstream = w.gradients[l + 1]!;
    const below = w.gradients[l]!;
    // Through the ReLU: no gradient where the unit was off.
    for (let u = 0; u < units; u++) if (!(output[u]! > 0)) upstream[u] = 0;
    for (let i = 0; i < inputs; i++) {
      const base = i * units;
      let sum = 0;
      for (let u = 0; u < units; u++) sum += upstream[u]! * kernel[base + u]!;
      below[i] = sum;
    }
  }
  const gradient = w.gradients[0]!;
  if (net.linearPath) {
    const offset = net.hidden[last - 1]!.units;
    for (let j = 0; j < net.inputs; j++) gradient[j] += net.logits.kernel[(offset + j) * t + tag]!;
  }
  return gradient;
}

/** Sigmoid of every logit, rows × tags, for the rows of `x` (rows × inputs, row-major). */
export function predictProbabilities(
  net: NetworkArrays,
  x: Float32Array,
  rows: number,
): Float32Array {
  const d = net.inputs;
  const t = net.tags;
  const out = new Float32Array(rows * t);
  const w = workspace(net);
  const input = w.activations[0]!;
  for (let row = 0; row < rows; row++) {
    for (let j = 0; j < d; j++) input[j] = x[row * d + j]!;
    forward(net, w);
    for (let k = 0; k < t; k++) out[row * t + k] = 1 / (1 + Math.exp(-w.logits[k]!));
  }
  return out;
}
