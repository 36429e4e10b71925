import { initBackend } from '../backend.js';
import { assertFiniteMatrix, type Matrix } from '../matrix.js';
import { exclusiveWins } from './exclusive.js';
import { predictProbabilities } from './network.js';
import type { TagClassifier } from './types.js';

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

/**
 * The (row, tag) pairs to suggest: confident tags whose probability reaches their threshold, and
 * in an exclusive category only the tag the model rates highest (see exclusiveWins).
 */
export function decideTags(model: TagClassifier, probabilities: Float32Array): TagDecision[] {
  const { tags, thresholds, exclusive } = model.meta;
  const t = tags.length;
  if (probabilities.length % t !== 0) throw new RangeError('probabilities are not rows × tags');
  const wins = exclusiveWins(probabilities, exclusive);
  const out: TagDecision[] = [];
  for (let row = 0; row < probabilities.length / t; row++) {
    for (let j = 0; j < t; j++) {
      const threshold = thresholds[j];
      const confidence = probabilities[row * t + j]!;
      const won = wins[j]?.[row] ?? 1;
      if (threshold !== null && threshold !== undefined && confidence >= threshold && won) {
        out.push({ row, tag: tags[j]!, tagIndex: j, confidence });
      }
    }
  }
  return out;
}
