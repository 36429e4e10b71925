import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { z } from 'zod';
import { type BackendName, initBackend } from './backend.js';
import {
  assertFiniteMatrix,
  columnMeans,
  type Matrix,
  selectRows,
  selectRowValues,
} from './matrix.js';
import { averagePrecision, precisionRecallAt, rocAuc, thresholdForPrecision } from './metrics.js';
import { createRng, deriveSeed, permutation, stratifiedSplit } from './random.js';

export interface EpochProgress {
  epoch: number;
  loss: number;
  validationLoss: number;
}

export interface ClassifierOptions {
  seed: number;
  /** Widths of the ReLU layers. */
  hiddenUnits: readonly number[];
  /**
   * Feeds the inputs straight to the output layer too (wide & deep): the network starts from
   * what a logistic regression can do, which matters on small, mostly linear tabular data.
   */
  linearPath: boolean;
  /** L2 penalty on every kernel; with early stopping, the regulariser (dropout would need an unseeded mask). */
  l2: number;
  learningRate: number;
  /**
   * Rows per step. 'auto': a power of two giving about 32 steps per epoch, within 32–1024, since
   * a step costs about the same whatever its size and small data still needs enough steps.
   */
  batchSize: number | 'auto';
  maxEpochs: number;
  /** Epochs without a validation-loss improvement of at least `minDelta` before stopping. */
  patience: number;
  minDelta: number;
  /** Share of the training rows held back for early stopping and thresholds. */
  validationFraction: number;
  /** Share of all rows held out for the reported metrics; 0 reports on the validation split. */
  testFraction: number;
  /** A tag is suggested only above the lowest threshold reaching this precision on validation. */
  targetPrecision: number;
  targetPrecisionByTag: Readonly<Record<string, number>>;
  /** Validation true positives a threshold must keep, so one lucky top score is not "precise". */
  minTruePositives: number;
  /** 'balanced' weighs each tag's positives and negatives to equal totals, capped below. */
  classWeighting: 'balanced' | 'none';
  maxClassWeight: number;
  predictBatchSize: number;
  onEpoch: ((progress: EpochProgress) => void) | null;
}

export const DEFAULT_CLASSIFIER_OPTIONS: ClassifierOptions = {
  seed: 42,
  hiddenUnits: [32],
  linearPath: true,
  l2: 1e-2,
  learningRate: 3e-3,
  batchSize: 'auto',
  maxEpochs: 200,
  patience: 20,
  minDelta: 1e-4,
  validationFraction: 0.2,
  testFraction: 0.2,
  targetPrecision: 0.9,
  targetPrecisionByTag: {},
  minTruePositives: 3,
  classWeighting: 'balanced',
  maxClassWeight: 20,
  predictBatchSize: 2048,
  onEpoch: null,
};

export interface ClassifierData {
  /** Input rows: scaled features, plus cluster distances if used. */
  features: Matrix;
  /** A name per feature column, stored with the model and checked when predicting. */
  columns: readonly string[];
  tags: readonly string[];
  /**
   * rows × tags, row-major: 1 positive, 0 negative, NaN or −1 unknown (left out of the loss and
   * the metrics for that tag only).
   */
  labels: Float32Array;
  /**
   * Per row, or per row and tag (rows × tags): how much a label counts. Unlabelled customers
   * sampled as negatives get a weight below 1, since some of them do hold the tag.
   */
  weights?: Float32Array;
}

export interface TagMetrics {
  tag: string;
  /** Positives and negatives in the evaluated split. */
  support: number;
  negatives: number;
  rocAuc: number | null;
  prAuc: number | null;
  /** At the chosen threshold; precision is null when the tag is never suggested. */
  precision: number | null;
  recall: number;
  f1: number;
  threshold: number | null;
  confident: boolean;
}

/** Everything about a trained classifier but its weights; plain JSON, saved inside model.json. */
export interface ClassifierMeta {
  version: 1;
  tags: string[];
  columns: string[];
  /** Mean of every input column on the training rows: the baseline explanations compare to. */
  columnMeans: number[];
  /** Per tag; null when no threshold reached the target precision (the tag is not confident). */
  thresholds: (number | null)[];
  targetPrecisions: number[];
  seed: number;
  backend: BackendName;
  epochs: number;
  bestEpoch: number;
  metricsSplit: 'test' | 'validation';
  metrics: TagMetrics[];
  validationMetrics: TagMetrics[];
  params: {
    hiddenUnits: number[];
    linearPath: boolean;
    l2: number;
    learningRate: number;
    batchSize: number;
    classWeights: { positive: number; negative: number }[];
    rows: { train: number; validation: number; test: number };
  };
}

/** A trained multi-label classifier: the network outputs one logit per tag. */
export interface TagClassifier {
  network: tf.LayersModel;
  meta: ClassifierMeta;
}

export interface TrainingResult {
  model: TagClassifier;
  history: EpochProgress[];
  trainingMs: number;
}

function validateOptions(o: ClassifierOptions, tags: readonly string[]): void {
  const positiveInt = (value: number, name: string) => {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`${name} must be a positive integer`);
  };
  o.hiddenUnits.forEach((units, i) => positiveInt(units, `hiddenUnits[${i}]`));
  if (o.batchSize !== 'auto') positiveInt(o.batchSize, 'batchSize');
  positiveInt(o.maxEpochs, 'maxEpochs');
  positiveInt(o.patience, 'patience');
  positiveInt(o.predictBatchSize, 'predictBatchSize');
  positiveInt(o.minTruePositives, 'minTruePositives');
  if (!(o.validationFraction > 0 && o.validationFraction < 1)) {
    throw new RangeError('validationFraction must be in (0, 1)');
  }
  if (!(o.testFraction >= 0 && o.testFraction < 1))
    throw new RangeError('testFraction must be in [0, 1)');
  if (!(o.learningRate > 0)) throw new RangeError('learningRate must be positive');
  if (!(o.l2 >= 0)) throw new RangeError('l2 must be non-negative');
  if (!(o.maxClassWeight >= 1)) throw new RangeError('maxClassWeight must be at least 1');
  const targets: [string, number][] = [
    ['targetPrecision', o.targetPrecision],
    ...Object.entries(o.targetPrecisionByTag).map(([tag, target]): [string, number] => {
      if (!tags.includes(tag))
        throw new RangeError(`targetPrecisionByTag names unknown tag ${tag}`);
      return [`targetPrecisionByTag.${tag}`, target];
    }),
  ];
  for (const [name, target] of targets) {
    if (!(target > 0 && target <= 1))
      throw new RangeError(`${name} must be in (0, 1], got ${target}`);
  }
}

function validateData(data: ClassifierData): void {
  const { features, tags, labels, weights, columns } = data;
  assertFiniteMatrix(features, 'classifier features');
  if (columns.length !== features.cols) {
    throw new RangeError(`${columns.length} column names for ${features.cols} feature columns`);
  }
  if (tags.length === 0) throw new RangeError('no tags to learn');
  if (new Set(tags).size !== tags.length || tags.some((t) => !t)) {
    throw new RangeError('tag names must be unique and non-empty');
  }
  if (labels.length !== features.rows * tags.length) {
    throw new RangeError(
      `labels has ${labels.length} values, expected ${features.rows} × ${tags.length}`,
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!(y === 0 || y === 1 || y === -1 || Number.isNaN(y))) {
      throw new RangeError(`label ${i} is ${y}; labels are 1, 0, or NaN/−1 for unknown`);
    }
  }
  if (weights) {
    if (weights.length !== features.rows && weights.length !== labels.length) {
      throw new RangeError(
        `weights must have one value per row or per label, got ${weights.length}`,
      );
    }
    for (const w of weights) {
      if (!(w >= 0 && Number.isFinite(w)))
        throw new RangeError('weights must be finite and non-negative');
    }
  }
}

/** The network: ReLU layers, optionally the inputs alongside the last one, one logit per tag. */
function buildNetwork(inputs: number, tags: number, o: ClassifierOptions): tf.LayersModel {
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
function weightedLossSum(logits: tf.Tensor, targets: tf.Tensor, weights: tf.Tensor): tf.Scalar {
  const bce = tf
    .relu(logits)
    .sub(logits.mul(targets))
    .add(tf.softplus(tf.neg(tf.abs(logits))));
  return tf.sum(bce.mul(weights));
}

/** l2 · Σ kernel², added by hand because a custom loop does not collect layer regularisers. */
function l2Penalty(kernels: readonly tf.Variable[], l2: number): tf.Scalar {
  return tf.mul(l2, tf.addN(kernels.map((w) => tf.sum(tf.square(w))))) as tf.Scalar;
}

/** Probabilities (rows × tags) from the network, in batches, leaving no tensor behind. */
async function predictProbabilities(
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

interface Prepared {
  /** 1, 0, or NaN (unknown), rows × tags. */
  labels: Float32Array;
  /** Sample weight per label cell, 0 where the label is unknown. */
  weights: Float32Array;
}

function prepareLabels(data: ClassifierData): Prepared {
  const n = data.features.rows;
  const t = data.tags.length;
  const labels = new Float32Array(n * t);
  const weights = new Float32Array(n * t);
  const perCell = data.weights?.length === n * t;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < t; j++) {
      const y = data.labels[i * t + j]!;
      const known = y === 0 || y === 1;
      labels[i * t + j] = known ? y : Number.NaN;
      const w = data.weights ? data.weights[perCell ? i * t + j : i]! : 1;
      weights[i * t + j] = known ? w : 0;
    }
  }
  return { labels, weights };
}

function positivesOnly(labels: Float32Array): Float32Array {
  return labels.map((y) => (y === 1 ? 1 : 0));
}

function column(values: Float32Array, t: number, j: number): Float32Array {
  const out = new Float32Array(values.length / t);
  for (let i = 0; i < out.length; i++) out[i] = values[i * t + j]!;
  return out;
}

const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

function tagMetrics(
  tag: string,
  scores: Float32Array,
  labels: Float32Array,
  weights: Float32Array,
  threshold: number | null,
): TagMetrics {
  let support = 0;
  let negatives = 0;
  labels.forEach((y, i) => {
    if (weights[i]! > 0 && y === 1) support++;
    if (weights[i]! > 0 && y === 0) negatives++;
  });
  const atThreshold =
    threshold === null ? null : precisionRecallAt(scores, labels, threshold, weights);
  return {
    tag,
    support,
    negatives,
    rocAuc: finiteOrNull(rocAuc(scores, labels, weights)),
    prAuc: finiteOrNull(averagePrecision(scores, labels, weights)),
    precision:
      atThreshold && atThreshold.truePositives + atThreshold.falsePositives > 0
        ? atThreshold.precision
        : null,
    recall: atThreshold?.recall ?? 0,
    f1: atThreshold?.f1 ?? 0,
    threshold,
    confident: threshold !== null,
  };
}

function evaluateSplit(
  tags: readonly string[],
  probabilities: Float32Array,
  prepared: Prepared,
  thresholds: readonly (number | null)[],
): TagMetrics[] {
  const t = tags.length;
  return tags.map((tag, j) =>
    tagMetrics(
      tag,
      column(probabilities, t, j),
      column(prepared.labels, t, j),
      column(prepared.weights, t, j),
      thresholds[j]!,
    ),
  );
}

function subset(prepared: Prepared, t: number, rows: Uint32Array): Prepared {
  return {
    labels: selectRowValues(prepared.labels, t, rows),
    weights: selectRowValues(prepared.weights, t, rows),
  };
}

function classWeights(prepared: Prepared, t: number, o: ClassifierOptions) {
  return Array.from({ length: t }, (_, j) => {
    let positive = 0;
    let negative = 0;
    for (let i = 0; i < prepared.labels.length / t; i++) {
      const y = prepared.labels[i * t + j];
      if (y === 1) positive += prepared.weights[i * t + j]!;
      if (y === 0) negative += prepared.weights[i * t + j]!;
    }
    if (o.classWeighting === 'none' || positive === 0 || negative === 0) {
      return { positive: 1, negative: 1 };
    }
    const total = positive + negative;
    return {
      positive: Math.min(total / (2 * positive), o.maxClassWeight),
      negative: Math.min(total / (2 * negative), o.maxClassWeight),
    };
  });
}

/** Stratified row indices: test first (if any), then validation out of the rest. */
function splitRows(labels: Float32Array, t: number, o: ClassifierOptions) {
  const rows = labels.length / t;
  const positives = positivesOnly(labels);
  const outer =
    o.testFraction > 0
      ? stratifiedSplit(positives, t, o.testFraction, createRng(deriveSeed(o.seed, 1)))
      : { train: Uint32Array.from({ length: rows }, (_, i) => i), test: new Uint32Array(0) };
  const inner = stratifiedSplit(
    selectRowValues(positives, t, outer.train),
    t,
    o.validationFraction,
    createRng(deriveSeed(o.seed, 2)),
  );
  const trainRows = inner.train.map((i) => outer.train[i]!);
  const validationRows = inner.test.map((i) => outer.train[i]!);
  if (trainRows.length === 0 || validationRows.length === 0) {
    throw new RangeError(`too few rows (${rows}) for a training and a validation split`);
  }
  return { trainRows, validationRows, testRows: outer.test };
}

/** Mean weighted loss over the known labels of a split, in inference mode. */
async function meanLoss(
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

/**
 * Trains the multi-label classifier. Rows are split (stratified per tag) into training,
 * validation (early stopping, thresholds) and, with `testFraction` > 0, a test split never seen
 * before the metrics; the metrics of the returned model are on the test split then, else on
 * validation (`meta.metricsSplit`). The same data, options and backend give the same weights.
 */
export async function trainClassifier(
  data: ClassifierData,
  options: Partial<ClassifierOptions> = {},
): Promise<TrainingResult> {
  const o: ClassifierOptions = { ...DEFAULT_CLASSIFIER_OPTIONS, ...options };
  validateData(data);
  validateOptions(o, data.tags);
  const started = performance.now();
  const backend = await initBackend();
  const { features, tags } = data;
  const t = tags.length;
  const d = features.cols;
  const prepared = prepareLabels(data);

  const { trainRows, validationRows, testRows } = splitRows(prepared.labels, t, o);

  const x = features.data;
  const train = subset(prepared, t, trainRows);
  const weightsPerTag = classWeights(train, t, o);
  // The loss weight of each cell: sample weight × class weight, 0 for unknown labels.
  const lossWeights = (p: Prepared) =>
    p.weights.map((w, cell) => {
      const y = p.labels[cell];
      const cw = weightsPerTag[cell % t]!;
      return y === 1 ? w * cw.positive : y === 0 ? w * cw.negative : 0;
    });
  const trainLossWeights = lossWeights(train);
  const trainTargets = train.labels.map((y) => (y === 1 ? 1 : 0));
  const validation = subset(prepared, t, validationRows);
  const validationFeatures = selectRows(features, validationRows);
  const validationLossWeights = lossWeights(validation);
  const validationTargets = validation.labels.map((y) => (y === 1 ? 1 : 0));
  const knownCount = (p: Prepared) => p.weights.reduce((count, w) => count + (w > 0 ? 1 : 0), 0);
  const validationKnown = knownCount(validation);

  const network = buildNetwork(d, t, o);
  const optimizer = tf.train.adam(o.learningRate);
  const variables = network.trainableWeights.map((w) => w.read() as tf.Variable);
  const kernels = network.trainableWeights
    .filter((w) => w.name.includes('kernel'))
    .map((w) => w.read() as tf.Variable);
  const shuffleRng = createRng(deriveSeed(o.seed, 3));
  const history: EpochProgress[] = [];
  let best = { loss: Number.POSITIVE_INFINITY, epoch: 0, weights: [] as Float32Array[] };
  const shapes = network.getWeights().map((w) => w.shape);

  const batchSize =
    o.batchSize === 'auto'
      ? 2 ** Math.min(10, Math.max(5, Math.floor(Math.log2(trainRows.length / 32))))
      : o.batchSize;
  const batchX = new Float32Array(batchSize * d);
  const batchY = new Float32Array(batchSize * t);
  const batchW = new Float32Array(batchSize * t);
  try {
    for (let epoch = 1; epoch <= o.maxEpochs; epoch++) {
      // Our own seeded order each epoch (never tf's unseeded shuffle).
      const order = permutation(trainRows.length, shuffleRng);
      let lossSum = 0;
      let lossCount = 0;
      for (let start = 0; start < order.length; start += batchSize) {
        const size = Math.min(batchSize, order.length - start);
        let known = 0;
        for (let b = 0; b < size; b++) {
          const r = order[start + b]!;
          const row = trainRows[r]!;
          batchX.set(x.subarray(row * d, (row + 1) * d), b * d);
          batchY.set(trainTargets.subarray(r * t, (r + 1) * t), b * t);
          batchW.set(trainLossWeights.subarray(r * t, (r + 1) * t), b * t);
          for (let j = 0; j < t; j++) if (train.weights[r * t + j]! > 0) known++;
        }
        if (known === 0) continue;
        // The reported loss leaves out the L2 penalty, so it compares with the validation loss.
        const dataLoss = tf.tidy(() => {
          const xs = tf.tensor2d(batchX.subarray(0, size * d), [size, d]);
          const ys = tf.tensor2d(batchY.subarray(0, size * t), [size, t]);
          const ws = tf.tensor2d(batchW.subarray(0, size * t), [size, t]);
          let kept: tf.Scalar | undefined;
          optimizer.minimize(
            () => {
              const logits = network.apply(xs, { training: true }) as tf.Tensor;
              const loss = weightedLossSum(logits, ys, ws).div<tf.Scalar>(known);
              kept = tf.keep(loss);
              return o.l2 > 0 ? loss.add(l2Penalty(kernels, o.l2)) : loss;
            },
            false,
            variables,
          );
          return kept!;
        });
        lossSum += (await dataLoss.data())[0]! * known;
        lossCount += known;
        dataLoss.dispose();
      }

      const validationLoss = await meanLoss(
        network,
        validationFeatures,
        validationTargets,
        validationLossWeights,
        validationKnown,
        o.predictBatchSize,
      );
      const progress = {
        epoch,
        loss: lossCount ? lossSum / lossCount : Number.NaN,
        validationLoss,
      };
      history.push(progress);
      o.onEpoch?.(progress);
      if (progress.validationLoss < best.loss - o.minDelta) {
        const weights = network.getWeights().map((w) => w.dataSync().slice() as Float32Array);
        best = { loss: progress.validationLoss, epoch, weights };
      } else if (epoch - best.epoch >= o.patience) {
        break;
      }
    }
  } catch (error) {
    network.dispose();
    throw error;
  } finally {
    optimizer.dispose();
  }
  // Early stopping keeps the weights of the best validation epoch, not the last one.
  const restored = best.weights.map((values, i) => tf.tensor(values, shapes[i]));
  network.setWeights(restored);
  tf.dispose(restored);

  const validationProbabilities = await predictProbabilities(
    network,
    validationFeatures,
    t,
    o.predictBatchSize,
  );
  const targetPrecisions = tags.map((tag) => o.targetPrecisionByTag[tag] ?? o.targetPrecision);
  const thresholds = tags.map((_tag, j) => {
    const chosen = thresholdForPrecision(
      column(validationProbabilities, t, j),
      column(validation.labels, t, j),
      {
        targetPrecision: targetPrecisions[j]!,
        minTruePositives: o.minTruePositives,
        weights: column(validation.weights, t, j),
      },
    );
    return chosen?.threshold ?? null;
  });
  const validationMetrics = evaluateSplit(tags, validationProbabilities, validation, thresholds);
  let metrics = validationMetrics;
  if (testRows.length > 0) {
    const testFeatures = selectRows(features, testRows);
    const testProbabilities = await predictProbabilities(
      network,
      testFeatures,
      t,
      o.predictBatchSize,
    );
    metrics = evaluateSplit(tags, testProbabilities, subset(prepared, t, testRows), thresholds);
  }

  const trainingFeatures = selectRows(features, trainRows);
  const meta: ClassifierMeta = {
    version: 1,
    tags: [...tags],
    columns: [...data.columns],
    columnMeans: Array.from(columnMeans(trainingFeatures)),
    thresholds,
    targetPrecisions,
    seed: o.seed,
    backend,
    epochs: history.length,
    bestEpoch: best.epoch,
    metricsSplit: testRows.length > 0 ? 'test' : 'validation',
    metrics,
    validationMetrics,
    params: {
      hiddenUnits: [...o.hiddenUnits],
      linearPath: o.linearPath,
      l2: o.l2,
      learningRate: o.learningRate,
      batchSize,
      classWeights: weightsPerTag,
      rows: { train: trainRows.length, validation: validationRows.length, test: testRows.length },
    },
  };
  return { model: { network, meta }, history, trainingMs: performance.now() - started };
}

export interface PredictOptions {
  /** Rows per forward pass: large enough that per-call overhead vanishes (tf's default is 32). */
  batchSize: number;
}

export const DEFAULT_PREDICT_OPTIONS: PredictOptions = { batchSize: 2048 };

/**
 * Probability of every tag for every row (rows × tags, row-major). `features` must have the
 * model's columns; when it names them (a FeatureMatrix) the names are checked too.
 */
export async function predictTags(
  model: TagClassifier,
  features: Matrix & { columns?: readonly string[] },
  options: Partial<PredictOptions> = {},
): Promise<Float32Array> {
  const o: PredictOptions = { ...DEFAULT_PREDICT_OPTIONS, ...options };
  assertFiniteMatrix(features, 'prediction features');
  const expected = model.meta.columns;
  if (features.cols !== expected.length) {
    throw new RangeError(`the model takes ${expected.length} columns, got ${features.cols}`);
  }
  if (features.columns && features.columns.some((name, j) => name !== expected[j])) {
    throw new RangeError('the feature columns differ from those the model was trained on');
  }
  if (!Number.isInteger(o.batchSize) || o.batchSize < 1) {
    throw new RangeError('batchSize must be a positive integer');
  }
  await initBackend();
  return predictProbabilities(model.network, features, model.meta.tags.length, o.batchSize);
}

export interface TagDecision {
  row: number;
  tag: string;
  tagIndex: number;
  confidence: number;
}

/** The (row, tag) pairs to suggest: confident tags whose probability reaches their threshold. */
export function decideTags(model: TagClassifier, probabilities: Float32Array): TagDecision[] {
  const { tags, thresholds } = model.meta;
  const t = tags.length;
  if (probabilities.length % t !== 0) throw new RangeError('probabilities are not rows × tags');
  const out: TagDecision[] = [];
  for (let row = 0; row < probabilities.length / t; row++) {
    for (let j = 0; j < t; j++) {
      const threshold = thresholds[j];
      const confidence = probabilities[row * t + j]!;
      if (threshold !== null && threshold !== undefined && confidence >= threshold) {
        out.push({ row, tag: tags[j]!, tagIndex: j, confidence });
      }
    }
  }
  return out;
}

const MODEL_FILE = 'model.json';
const WEIGHTS_FILE = 'weights.bin';

/**
 * Writes the network as TF.js `model.json` + `weights.bin` in `dir`, with the metadata inside
 * model.json. tfjs' `file://` handler exists only in tfjs-node, so this goes through memory.
 */
export async function saveClassifier(model: TagClassifier, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  model.network.setUserDefinedMetadata({ tagwise: model.meta });
  await model.network.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const json = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs }],
        userDefinedMetadata: artifacts.userDefinedMetadata,
      };
      await writeFile(path.join(dir, WEIGHTS_FILE), new Uint8Array(weights));
      await writeFile(path.join(dir, MODEL_FILE), JSON.stringify(json));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: 'JSON',
          weightDataBytes: weights.byteLength,
        },
      };
    }),
  );
}

const nullableNumber = z.number().nullable();
const metricsSchema = z.object({
  tag: z.string(),
  support: z.number(),
  negatives: z.number(),
  rocAuc: nullableNumber,
  prAuc: nullableNumber,
  precision: nullableNumber,
  recall: z.number(),
  f1: z.number(),
  threshold: nullableNumber,
  confident: z.boolean(),
});
const metaSchema = z.object({
  version: z.literal(1),
  tags: z.array(z.string()).min(1),
  columns: z.array(z.string()).min(1),
  columnMeans: z.array(z.number()),
  thresholds: z.array(nullableNumber),
  targetPrecisions: z.array(z.number()),
  seed: z.number(),
  backend: z.enum(['tensorflow', 'wasm', 'cpu']),
  epochs: z.number(),
  bestEpoch: z.number(),
  metricsSplit: z.enum(['test', 'validation']),
  metrics: z.array(metricsSchema),
  validationMetrics: z.array(metricsSchema),
  params: z.object({
    hiddenUnits: z.array(z.number()),
    linearPath: z.boolean(),
    l2: z.number(),
    learningRate: z.number(),
    batchSize: z.number(),
    classWeights: z.array(z.object({ positive: z.number(), negative: z.number() })),
    rows: z.object({ train: z.number(), validation: z.number(), test: z.number() }),
  }),
});
const modelFileSchema = z.object({
  modelTopology: z.record(z.string(), z.unknown()),
  weightsManifest: z.array(
    z.object({ paths: z.array(z.string()), weights: z.array(z.record(z.string(), z.unknown())) }),
  ),
  userDefinedMetadata: z.object({ tagwise: metaSchema }),
});

/** Reads a classifier written by `saveClassifier`. */
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

export async function loadClassifier(dir: string): Promise<TagClassifier> {
  await initBackend();
  const parsed = modelFileSchema.safeParse(
    JSON.parse(await readFile(path.join(dir, MODEL_FILE), 'utf8')),
  );
  if (!parsed.success) {
    throw new TypeError(
      `${path.join(dir, MODEL_FILE)} is not a saved tag classifier: ${z.prettifyError(parsed.error)}`,
    );
  }
  const { modelTopology, weightsManifest, userDefinedMetadata } = parsed.data;
  const meta = userDefinedMetadata.tagwise;
  if (
    meta.columnMeans.length !== meta.columns.length ||
    meta.thresholds.length !== meta.tags.length
  ) {
    throw new TypeError(`${path.join(dir, MODEL_FILE)}: metadata sizes disagree`);
  }
  const buffers: ArrayBuffer[] = [];
  for (const group of weightsManifest) {
    for (const file of group.paths) {
      // Paths come from our own manifest; refusing ones that leave the folder keeps it that way.
      if (path.basename(file) !== file)
        throw new TypeError(`weights path ${file} leaves the model folder`);
      const bytes = await readFile(path.join(dir, file));
      buffers.push(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
      );
    }
  }
  const network = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology,
      weightSpecs: weightsManifest.flatMap(
        (g) => g.weights,
      ) as unknown as tf.io.WeightsManifestEntry[],
      weightData: tf.io.CompositeArrayBuffer.join(buffers),
    }),
  );
  flushSubnormalWeights(network);
  return { network, meta };
}
