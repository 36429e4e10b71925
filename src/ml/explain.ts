import * as tf from '@tensorflow/tfjs';
import { initBackend } from './backend.js';
import { type TagClassifier } from './classifier/index.js';
import { CLUSTER_DISTANCE_PREFIX } from './kmeans.js';
import { assertFiniteMatrix, type Matrix } from './matrix.js';
import {
  describeColumns,
  type FeatureRow,
  type FeatureSpec,
  type FeatureValue,
  type Preprocessor,
} from './preprocessing.js';

export interface ExplainOptions {
  /** Contributions reported per prediction, largest first. */
  topK: number;
  /** Rows per gradient pass. */
  batchSize: number;
  /**
   * Points on the straight path from the mean input to the row where gradients are taken
   * (integrated gradients); more is more exact, 1 is plain gradient × (input − mean).
   */
  steps: number;
  /**
   * How to name a feature to a reviewer, e.g. `{ spend_90d: 'spend in the last 90 days' }`. A
   * text with `{value}` (and optionally `{median}`) is a whole sentence instead:
   * `{ days_since_last_purchase: 'no purchase for {value} days' }`.
   */
  descriptions: Readonly<Record<string, string>>;
  /**
   * How a feature without a value reads, where "<description> is unknown" would mislead: a
   * customer with no purchases has no share of spend, which is a fact about them, not a gap in
   * the data — e.g. `{ avg_order_value: 'no purchases yet, so no average purchase amount' }`.
   */
  missing: Readonly<Record<string, string>>;
  /** Label per cluster, used when the model takes distances to cluster centroids. */
  clusterLabels: readonly string[];
  /** Features whose values are shares (0–1), worded as percentages. */
  shares: readonly string[];
  /**
   * Per tag (model tag index): the median of each numeric feature among the tag's holders, so a
   * value is worded against them as well as against everyone ("holders of Wine lover: 35 %").
   */
  holderMedians: readonly (Readonly<Record<string, number>> | null)[];
  /** Per tag (model tag index): its name for a reviewer; default the tag keys. */
  tagNames: readonly string[];
  /** A value this many times the median is worded as a multiple of it. */
  ratio: number;
}

export const DEFAULT_EXPLAIN_OPTIONS: ExplainOptions = {
  topK: 3,
  batchSize: 512,
  steps: 8,
  descriptions: {},
  missing: {},
  clusterLabels: [],
  shares: [],
  holderMedians: [],
  tagNames: [],
  ratio: 1.5,
};

export interface ExplainModel {
  classifier: TagClassifier;
  /** The preprocessor that produced the classifier's feature columns. */
  preprocessor: Preprocessor;
}

export interface ExplainData {
  /** The classifier's input rows, exactly as passed to `predictTags`. */
  features: Matrix;
  /** The raw feature rows those were built from, for wording (same order). */
  raw: readonly FeatureRow[];
  /** The tag (index into the model's tags) to explain for each row. */
  tagIndices: ArrayLike<number>;
}

export interface Contribution {
  /** An input feature, or "segment" for the cluster distances. */
  feature: string;
  /** The change in the tag's logit attributed to the feature, against an average customer. */
  contribution: number;
  direction: 'raises' | 'lowers';
  /** The feature's value in words, e.g. "spend in the last 90 days is 3.1× the median". */
  text: string;
}

export interface Explanation {
  row: number;
  tag: string;
  contributions: Contribution[];
}

/** The feature group for the cluster-distance columns. */
export const SEGMENT_FEATURE = 'segment';

// Built once: a formatter costs ~17 µs to create, more than wording the rest of an explanation.
const WHOLE = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const TWO_DECIMALS = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const numberFormat = (value: number) =>
  (Math.abs(value) >= 100 ? WHOLE : TWO_DECIMALS).format(value);
const percent = (share: number) => `${WHOLE.format(share * 100)} %`;

function toNumber(value: FeatureValue): number {
  if (value === null || value === undefined || value === '') return Number.NaN;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return Number(value);
}

interface Holders {
  tag: string;
  median: number;
}

function describeFeature(
  spec: FeatureSpec,
  value: FeatureValue,
  o: ExplainOptions,
  holders: Holders | null,
): string {
  const description = o.descriptions[spec.name] ?? spec.name.replace(/_/g, ' ');
  const missing = () => o.missing[spec.name] ?? `${description} is unknown`;
  if (spec.kind === 'categorical') {
    return value === null || value === undefined || value === ''
      ? missing()
      : `${description} is ${String(value)}`;
  }
  const v = toNumber(value);
  if (!Number.isFinite(v)) return missing();
  if (description.includes('{value}')) {
    return description
      .replaceAll('{value}', numberFormat(v))
      .replaceAll('{median}', numberFormat(spec.median));
  }
  if (spec.binary) return `${description}: ${v !== 0 ? 'yes' : 'no'}`;
  const m = spec.median;
  if (holders) {
    const show = o.shares.includes(spec.name) ? percent : numberFormat;
    return `${description} is ${show(v)}; holders of ${holders.tag}: ${show(holders.median)}, everyone: ${show(m)}`;
  }
  if (m > 0 && v >= m * o.ratio) return `${description} is ${(v / m).toFixed(1)}× the median`;
  if (m > 0 && v <= m / o.ratio) {
    return `${description} is ${numberFormat(v)}, under the median of ${numberFormat(m)}`;
  }
  return `${description} is ${numberFormat(v)} (median ${numberFormat(m)})`;
}

/** A value that is exactly everyone's median tells a reviewer nothing about this customer. */
function isMedian(spec: FeatureSpec | undefined, value: FeatureValue): boolean {
  if (spec?.kind !== 'numeric' || spec.binary) return false;
  const v = toNumber(value);
  return Number.isFinite(v) && v === spec.median;
}

function validate(model: ExplainModel, data: ExplainData, o: ExplainOptions): void {
  const { meta } = model.classifier;
  assertFiniteMatrix(data.features, 'explanation features');
  if (data.features.cols !== meta.columns.length) {
    throw new RangeError(
      `the model takes ${meta.columns.length} columns, got ${data.features.cols}`,
    );
  }
  if (data.raw.length !== data.features.rows || data.tagIndices.length !== data.features.rows) {
    throw new RangeError('features, raw rows and tag indices must have one entry per row');
  }
  for (let i = 0; i < data.tagIndices.length; i++) {
    const j = data.tagIndices[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= meta.tags.length) {
      throw new RangeError(
        `row ${i}: tag index ${j} is not one of the model's ${meta.tags.length} tags`,
      );
    }
  }
  const known = new Set(describeColumns(model.preprocessor).map((c) => c.name));
  const unmapped = meta.columns.filter(
    (name) => !known.has(name) && !name.startsWith(CLUSTER_DISTANCE_PREFIX),
  );
  if (unmapped.length) {
    throw new RangeError(`columns not produced by the preprocessor: ${unmapped.join(', ')}`);
  }
  for (const [name, value] of [
    ['topK', o.topK],
    ['batchSize', o.batchSize],
    ['steps', o.steps],
  ] as const) {
    if (!Number.isInteger(value) || value < 1)
      throw new RangeError(`${name} must be a positive integer`);
  }
  if (!(o.ratio > 1)) throw new RangeError('ratio must be greater than 1');
}

/**
 * Attributions (rows × columns) by integrated gradients of each row's tag logit from the mean
 * input: they add up to logit(row) − logit(mean), so they say what moved this customer's score
 * away from an average customer's.
 */
function attribute(model: TagClassifier, data: ExplainData, o: ExplainOptions): Float32Array {
  const { network, meta } = model;
  const d = data.features.cols;
  const t = meta.tags.length;
  const out = new Float32Array(data.features.rows * d);
  const means = tf.tensor1d(meta.columnMeans);
  // Midpoints of `steps` equal segments of the path: the Riemann sum with the smallest error.
  const alphas = tf.tensor3d(
    Array.from({ length: o.steps }, (_, s) => (s + 0.5) / o.steps),
    [o.steps, 1, 1],
  );
  try {
    for (let start = 0; start < data.features.rows; start += o.batchSize) {
      const end = Math.min(start + o.batchSize, data.features.rows);
      const b = end - start;
      const selector = new Float32Array(b * t);
      for (let i = 0; i < b; i++) selector[i * t + data.tagIndices[start + i]!] = 1;
      const attributions = tf.tidy(() => {
        const x = tf.tensor2d(data.features.data.subarray(start * d, end * d), [b, d]);
        const delta = x.sub(means);
        const path = means.add(alphas.mul(delta)).reshape([o.steps * b, d]);
        const mask = tf.tile(tf.tensor2d(selector, [b, t]), [o.steps, 1]);
        // Rows do not interact, so the gradient of the sum is each row's own gradient.
        const logitOfTag = (input: tf.Tensor) =>
          tf.sum((network.apply(input) as tf.Tensor).mul(mask));
        const gradients = tf.grad(logitOfTag)(path).reshape([o.steps, b, d]);
        return gradients.mean(0).mul(delta);
      });
      out.set(attributions.dataSync(), start * d);
      attributions.dispose();
    }
  } finally {
    means.dispose();
    alphas.dispose();
  }
  return out;
}

/** How a contribution moved the score; stored explanations keep only its sign. */
export const directionOf = (contribution: number): Contribution['direction'] =>
  contribution > 0 ? 'raises' : 'lowers';

/**
 * Indices of the `k` entries largest in magnitude (above 1e-6), largest first, ties by index: an
 * insertion into a list of k instead of sorting every feature group of every candidate.
 */
function largest(values: Float64Array, k: number, skip: (group: number) => boolean): number[] {
  const top: number[] = [];
  for (let g = 0; g < values.length; g++) {
    const size = Math.abs(values[g]!);
    if (!(size > 1e-6) || skip(g)) continue;
    if (top.length === k && size <= Math.abs(values[top[k - 1]!]!)) continue;
    let at = top.length;
    while (at > 0 && Math.abs(values[top[at - 1]!]!) < size) at--;
    top.splice(at, 0, g);
    if (top.length > k) top.pop();
  }
  return top;
}

/**
 * Explains predictions: for each row, the input features that moved its tag's score most away
 * from an average customer's, with direction and the value in a reviewer's words. One-hot,
 * missing-flag and cluster-distance columns are summed back into the feature they came from.
 */
export async function explainPredictions(
  model: ExplainModel,
  data: ExplainData,
  options: Partial<ExplainOptions> = {},
): Promise<Explanation[]> {
  const o: ExplainOptions = { ...DEFAULT_EXPLAIN_OPTIONS, ...options };
  validate(model, data, o);
  await initBackend();
  const { meta } = model.classifier;
  const specs = new Map(model.preprocessor.features.map((f) => [f.name, f]));
  const featureOf = new Map(describeColumns(model.preprocessor).map((c) => [c.name, c.feature]));
  const groups = [...new Set(meta.columns.map((name) => featureOf.get(name) ?? SEGMENT_FEATURE))];
  const groupOfColumn = Int32Array.from(meta.columns, (name) =>
    groups.indexOf(featureOf.get(name) ?? SEGMENT_FEATURE),
  );
  const distanceColumns = meta.columns.flatMap((name, j) =>
    name.startsWith(CLUSTER_DISTANCE_PREFIX) ? [j] : [],
  );
  const attributions = attribute(model.classifier, data, o);
  const d = meta.columns.length;

  const sums = new Float64Array(groups.length);
  return Array.from({ length: data.features.rows }, (_, row): Explanation => {
    sums.fill(0);
    for (let j = 0; j < d; j++) sums[groupOfColumn[j]!]! += attributions[row * d + j]!;
    const tagIndex = data.tagIndices[row]!;
    const raw = data.raw[row]!;
    const medians = o.holderMedians[tagIndex] ?? null;
    const skip = (g: number) => isMedian(specs.get(groups[g]!), raw[groups[g]!]);
    return {
      row,
      tag: meta.tags[tagIndex]!,
      contributions: largest(sums, o.topK, skip).map((g): Contribution => {
        const contribution = sums[g]!;
        const feature = groups[g]!;
        const spec = specs.get(feature);
        let text: string;
        if (spec) {
          const median = medians?.[feature];
          const holders =
            median === undefined
              ? null
              : { tag: o.tagNames[tagIndex] ?? meta.tags[tagIndex]!, median };
          text = describeFeature(spec, raw[feature], o, holders);
        } else {
          // The nearest centroid is the smallest distance column.
          let nearest = 0;
          distanceColumns.forEach((j, c) => {
            const x = data.features.data;
            if (x[row * d + j]! < x[row * d + distanceColumns[nearest]!]!) nearest = c;
          });
          const label = o.clusterLabels[nearest];
          text = label ? `in segment "${label}"` : `in segment ${nearest}`;
        }
        return {
          feature,
          contribution,
          direction: directionOf(contribution),
          text,
        };
      }),
    };
  });
}

/** One sentence for a reviewer: what raised the score, else the segment the customer is in. */
export function explanationText(
  contributions: readonly { direction: string; text: string }[],
  clusterLabel: string | null,
): string {
  const raising = contributions.filter((c) => c.direction === 'raises').map((c) => c.text);
  if (raising.length > 0) return raising.join('; ');
  return clusterLabel ? `in segment "${clusterLabel}"` : '';
}
