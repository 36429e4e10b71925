import * as tf from '@tensorflow/tfjs';
import { type Matrix } from '../matrix.js';
import { deriveSeed } from '../random.js';
import type { ClassifierOptions } from './options.js';

/** The network: ReLU layers, optionally the inputs alongside the last one, one logit per tag. */
export function buildNetwork(inputs: number, tags: number, o: ClassifierOptions): tf.LayersModel {
  const input = tf.input({ shape: [inputs], name: 'features' });
  let hidden: tf.SymbolicTensor = input;
  o.hiddenUnits.forEach((units, i) => {
    hidden = tf.layers
      .dense({
        units,
        activation: 'relu',
        kernelInitializer: tf.initializers.heNormal({ seed: deriveSeed(o.seed, 10 + i) }),
        name: `hidden_${i + 1}`,
      })
      .apply(hidden) as tf.SymbolicTensor;
  });
  const last =
    o.linearPath && o.hiddenUnits.length > 0
      ? (tf.layers.concatenate({ name: 'with_inputs' }).apply([hidden, input]) as tf.SymbolicTensor)
      : hidden;
  const logits = tf.layers
    .dense({
      units: tags,
      kernelInitializer: tf.initializers.glorotUniform({ seed: deriveSeed(o.seed, 9) }),
      name: 'logits',
    })
    .apply(last) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'tag_classifier' });
}

// Neither loss helper tidies: they run inside optimizer.minimize, whose tape needs the
// intermediates, and callers wrap them in tf.tidy.

/** Σ weight · binary cross-entropy from logits, written so large |logit| cannot overflow. */
export function weightedLossSum(
  logits: tf.Tensor,
  targets: tf.Tensor,
  weights: tf.Tensor,
): tf.Scalar {
  const bce = tf
    .relu(logits)
    .sub(logits.mul(targets))
    .add(tf.softplus(tf.neg(tf.abs(logits))));
  return tf.sum(bce.mul(weights));
}

/** l2 · Σ kernel², added by hand because a custom loop does not collect layer regularisers. */
export function l2Penalty(kernels: readonly tf.Variable[], l2: number): tf.Scalar {
  return tf.mul(l2, tf.addN(kernels.map((w) => tf.sum(tf.square(w))))) as tf.Scalar;
}

/** Probabilities (rows × tags) from the network, in batches, leaving no tensor behind. */
export async function predictProbabilities(
  network: tf.LayersModel,
  features: Matrix,
  tags: number,
  batchSize: number,
): Promise<Float32Array> {
  const out = new Float32Array(features.rows * tags);
  const d = features.cols;
  for (let start = 0; start < features.rows; start += batchSize) {
    const end = Math.min(start + batchSize, features.rows);
    const probabilities = tf.tidy(() => {
      const x = tf.tensor2d(features.data.subarray(start * d, end * d), [end - start, d]);
      return tf.sigmoid(network.predictOnBatch(x) as tf.Tensor);
    });
    out.set(await probabilities.data(), start * tags);
    probabilities.dispose();
  }
  return out;
}

/** Mean weighted loss over the known labels of a split, in inference mode. */
export async function meanLoss(
  network: tf.LayersModel,
  features: Matrix,
  targets: Float32Array,
  lossWeights: Float32Array,
  known: number,
  batchSize: number,
): Promise<number> {
  const d = features.cols;
  const t = targets.length / features.rows;
  let sum = 0;
  for (let start = 0; start < features.rows; start += batchSize) {
    const b = Math.min(batchSize, features.rows - start);
    const loss = tf.tidy(() => {
      const xs = tf.tensor2d(features.data.subarray(start * d, (start + b) * d), [b, d]);
      const ys = tf.tensor2d(targets.subarray(start * t, (start + b) * t), [b, t]);
      const ws = tf.tensor2d(lossWeights.subarray(start * t, (start + b) * t), [b, t]);
      return weightedLossSum(network.predictOnBatch(xs) as tf.Tensor, ys, ws);
    });
    sum += (await loss.data())[0]!;
    loss.dispose();
  }
  return sum / Math.max(known, 1);
}

const MIN_NORMAL_FLOAT32 = 1.1754943508222875e-38;

/**
 * Sets subnormal weights to 0. Training with an L2 penalty shrinks the weights of inputs that
 * never vary (missing flags, rare categories) into the subnormal range, and x86 multiplies
 * subnormals ~60× slower: a third of the hidden kernel made every forward pass (wasm and cpu
 * backends alike) 13 µs per row instead of 0.3. A subnormal times a scaled feature is far below
 * float32 resolution of any logit, so scores do not change.
 */
export function flushSubnormalWeights(network: tf.LayersModel): number {
  let flushed = 0;
  const weights = network.getWeights().map((w) => {
    const values = w.dataSync() as Float32Array;
    const clean = values.map((v) => {
      if (v === 0 || Math.abs(v) >= MIN_NORMAL_FLOAT32) return v;
      flushed++;
      return 0;
    });
    return tf.tensor(clean, w.shape, 'float32');
  });
  if (flushed > 0) network.setWeights(weights);
  tf.dispose(weights);
  return flushed;
}
