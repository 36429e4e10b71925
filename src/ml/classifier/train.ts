import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../backend.js';
import { columnMeans, selectRows, selectRowValues } from '../matrix.js';
import { createRng, deriveSeed, permutation } from '../random.js';
import { evaluateTags } from './evaluate.js';
import { exclusiveWins } from './exclusive.js';
import {
  chooseMode,
  type ClassifierData,
  countLabels,
  lossWeights,
  modeNote,
  prepareLabels,
  splitRows,
  validateData,
} from './labels.js';
import {
  buildNetwork,
  l2Penalty,
  meanLoss,
  predictProbabilities,
  weightedLossSum,
} from './network.js';
import {
  type ClassifierOptions,
  DEFAULT_CLASSIFIER_OPTIONS,
  type EpochProgress,
  validateOptions,
} from './options.js';
import type { ClassifierMeta, TagClassifier } from './types.js';

/** 'auto' learning rate: this up to a batch of AUTO_BATCH rows, scaled by √(batch / AUTO_BATCH) above. */
const AUTO_LEARNING_RATE = 3e-3;
const AUTO_BATCH = 128;
const AUTO_MAX_LEARNING_RATE = 1e-2;

export interface TrainingResult {
  model: TagClassifier;
  history: EpochProgress[];
  /** Row indices of each split, so callers can record which customers were held out. */
  splits: { train: Uint32Array; validation: Uint32Array; test: Uint32Array };
  /**
   * What the evaluations were computed from, rows × tags row-major over `rows` (validation and
   * test, ascending): probabilities, labels (1, 0, NaN) and whether a label may be measured on.
   */
  heldOut: {
    rows: Uint32Array;
    probabilities: Float32Array;
    labels: Float32Array;
    measurable: Uint8Array;
  };
  trainingMs: number;
}

function column<T extends Float32Array | Uint8Array>(values: T, t: number, j: number): T {
  const out = new (values.constructor as new (n: number) => T)(values.length / t);
  for (let i = 0; i < out.length; i++) out[i] = values[i * t + j]!;
  return out;
}

function rowsOf<T extends Float32Array | Uint8Array>(values: T, t: number, rows: Uint32Array): T {
  const out = new (values.constructor as new (n: number) => T)(rows.length * t);
  for (let i = 0; i < rows.length; i++)
    out.set(values.subarray(rows[i]! * t, (rows[i]! + 1) * t), i * t);
  return out;
}

/**
 * Trains the multi-label classifier and measures it honestly. Each tag is learnt in its own
 * label mode (see LabelMode). Rows are split, stratified per tag, into training, validation (early
 * stopping only) and test; thresholds and every reported metric come from the held-out rows
 * (validation and test), which the weights never learnt from. The same data, options and backend
 * give the same weights.
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
  const counts = tags.map((_tag, j) => countLabels(prepared, t, j));
  const modes = counts.map((c) => chooseMode(c, o));
  const { trainRows, validationRows, testRows } = splitRows(prepared, t, o);

  const { targets, weights, classWeights } = lossWeights(prepared, t, modes, o);
  const x = features.data;
  const trainTargets = rowsOf(targets, t, trainRows);
  const trainWeights = rowsOf(weights, t, trainRows);
  const validationFeatures = selectRows(features, validationRows);
  const validationTargets = rowsOf(targets, t, validationRows);
  const validationWeights = rowsOf(weights, t, validationRows);
  const validationKnown = validationWeights.reduce((n, w) => n + (w > 0 ? 1 : 0), 0);

  const network = buildNetwork(d, t, o);

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
      ? 2 ** Math.min(11, Math.max(5, Math.floor(Math.log2(trainRows.length / 16))))
      : o.batchSize;
  // Adam's steps are as long whatever the batch; a batch 8× larger averages away noise that a
  // step 8× longer, not √8 — the usual square-root scaling — can spend, within a safe bound.
  const learningRate =
    o.learningRate === 'auto'
      ? Math.min(
          AUTO_MAX_LEARNING_RATE,
          AUTO_LEARNING_RATE * Math.sqrt(Math.max(1, batchSize / AUTO_BATCH)),
        )
      : o.learningRate;
  const stepsPerEpoch = Math.ceil(Math.min(trainRows.length, o.maxRowsPerEpoch) / batchSize);
  const batchX = new Float32Array(batchSize * d);
  const batchY = new Float32Array(batchSize * t);
  const batchW = new Float32Array(batchSize * t);
  // An epoch is at most maxRowsPerEpoch rows, taken from a seeded order of the training rows that
  // carries on into the next epoch: on large data early stopping then looks as often, in optimizer
  // steps, as on small data, instead of only after every pass over all rows.
  let order = permutation(trainRows.length, shuffleRng);
  let cursor = 0;
  const optimizer = tf.train.adam(learningRate);
  try {
    for (let epoch = 1; epoch <= o.maxEpochs; epoch++) {
      let lossSum = 0;
      let lossCount = 0;
      for (let step = 0; step < stepsPerEpoch; step++) {
        if (cursor >= order.length) {
          order = permutation(trainRows.length, shuffleRng);
          cursor = 0;
        }
        const start = cursor;
        const size = Math.min(batchSize, order.length - start);
        cursor += size;
        let known = 0;
        for (let b = 0; b < size; b++) {
          const r = order[start + b]!;
          const row = trainRows[r]!;
          batchX.set(x.subarray(row * d, (row + 1) * d), b * d);
          batchY.set(trainTargets.subarray(r * t, (r + 1) * t), b * t);
          batchW.set(trainWeights.subarray(r * t, (r + 1) * t), b * t);
          for (let j = 0; j < t; j++) if (trainWeights[r * t + j]! > 0) known++;
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
        validationWeights,
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
        const values = network.getWeights().map((w) => w.dataSync().slice() as Float32Array);
        best = { loss: progress.validationLoss, epoch, weights: values };
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

  const heldOutRows = Uint32Array.from([...validationRows, ...testRows]).sort();
  const heldOutProbabilities = await predictProbabilities(
    network,
    selectRows(features, heldOutRows),
    t,
    o.predictBatchSize,
  );
  const heldOutLabels = selectRowValues(prepared.labels, t, heldOutRows);
  const heldOutMeasurable = rowsOf(prepared.measurable, t, heldOutRows);
  const targetPrecisions = tags.map((tag) => o.targetPrecisionByTag[tag] ?? o.targetPrecision);
  const exclusive = data.exclusive ? [...data.exclusive] : tags.map(() => null);
  const wins = exclusiveWins(heldOutProbabilities, exclusive);
  const evaluations = evaluateTags(
    tags.map((tag, j) => ({
      tag,
      mode: modes[j]!,
      counts: counts[j]!,
      targetPrecision: targetPrecisions[j]!,
      scores: column(heldOutProbabilities, t, j),
      labels: column(heldOutLabels, t, j),
      measurable: column(heldOutMeasurable, t, j),
      group: data.groups?.[j] ?? tag,
      ...(wins[j] ? { wins: wins[j] } : {}),
    })),
    o,
  ).map((evaluation, j) => ({ ...evaluation, note: modeNote(counts[j]!, modes[j]!, o) }));

  const meta: ClassifierMeta = {
    version: 2,
    tags: [...tags],
    columns: [...data.columns],
    columnMeans: Array.from(columnMeans(selectRows(features, trainRows))),
    thresholds: evaluations.map((e) => (e.confident ? e.threshold : null)),
    targetPrecisions,
    seed: o.seed,
    backend,
    epochs: history.length,
    bestEpoch: best.epoch,
    evaluations,
    exclusive,
    params: {
      hiddenUnits: [...o.hiddenUnits],
      linearPath: o.linearPath,
      l2: o.l2,
      learningRate,
      batchSize,
      classWeights,
      minKnownNegatives: o.minKnownNegatives,
      split: { validationFraction: o.validationFraction, testFraction: o.testFraction },
      rows: { train: trainRows.length, validation: validationRows.length, test: testRows.length },
    },
  };
  return {
    model: { network, meta },
    history,
    splits: { train: trainRows, validation: validationRows, test: testRows },
    heldOut: {
      rows: heldOutRows,
      probabilities: heldOutProbabilities,
      labels: heldOutLabels,
      measurable: heldOutMeasurable,
    },
    trainingMs: performance.now() - started,
  };
}
