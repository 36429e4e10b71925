import { type Matrix } from './matrix.js';

// Labels everywhere here are 1 (positive) or 0 (negative); any other value (NaN, −1: unknown) is
// skipped, so a label column can be passed as it is. Every count is one customer: a metric that
// weighs some customers less than others is not the metric its name says.

interface Scored {
  scores: Float64Array;
  positive: Uint8Array;
  totalPositive: number;
  totalNegative: number;
}

function collectKnown(scores: ArrayLike<number>, labels: ArrayLike<number>): Scored {
  if (scores.length !== labels.length) {
    throw new RangeError(`${scores.length} scores but ${labels.length} labels`);
  }
  const keep: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (y === 0 || y === 1) {
      if (!Number.isFinite(scores[i]!)) throw new RangeError(`score ${i} is not finite`);
      keep.push(i);
    }
  }
  // Descending by score, so cumulative sums walk the thresholds from strict to lenient.
  keep.sort((a, b) => scores[b]! - scores[a]! || a - b);
  const out: Scored = {
    scores: new Float64Array(keep.length),
    positive: new Uint8Array(keep.length),
    totalPositive: 0,
    totalNegative: 0,
  };
  keep.forEach((row, i) => {
    out.scores[i] = scores[row]!;
    if (labels[row] === 1) {
      out.positive[i] = 1;
      out.totalPositive++;
    } else {
      out.totalNegative++;
    }
  });
  return out;
}

/** Visits each group of equal scores once, with cumulative true and false positives. */
function forEachThreshold(
  s: Scored,
  visit: (threshold: number, tp: number, fp: number) => void,
): void {
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < s.scores.length;) {
    const threshold = s.scores[i]!;
    // Equal scores are one threshold: a model cannot rank within a tie.
    while (i < s.scores.length && s.scores[i] === threshold) {
      if (s.positive[i]) tp++;
      else fp++;
      i++;
    }
    visit(threshold, tp, fp);
  }
}

/**
 * Area under the ROC curve (ties count one half), i.e. the chance that a random positive scores
 * above a random negative. NaN when either class is absent.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const s = collectKnown(scores, labels);
  if (s.totalPositive === 0 || s.totalNegative === 0) return Number.NaN;
  let area = 0;
  let prevTp = 0;
  let prevFp = 0;
  forEachThreshold(s, (_threshold, tp, fp) => {
    area += ((fp - prevFp) * (tp + prevTp)) / 2;
    prevTp = tp;
    prevFp = fp;
  });
  return area / (s.totalPositive * s.totalNegative);
}

/**
 * Average precision, the usual estimate of the area under the precision–recall curve:
 * Σ (Rₙ − Rₙ₋₁) · Pₙ over the score thresholds, as scikit-learn computes it (no interpolation).
 * NaN when there is no positive.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const s = collectKnown(scores, labels);
  if (s.totalPositive === 0) return Number.NaN;
  let ap = 0;
  let prevRecall = 0;
  forEachThreshold(s, (_threshold, tp, fp) => {
    const recall = tp / s.totalPositive;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  });
  return ap;
}

export interface ThresholdMetrics {
  threshold: number;
  precision: number;
  recall: number;
  f1: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
}

function atCounts(threshold: number, tp: number, fp: number, positives: number): ThresholdMetrics {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = positives > 0 ? tp / positives : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return {
    threshold,
    precision,
    recall,
    f1,
    truePositives: tp,
    falsePositives: fp,
    falseNegatives: positives - tp,
  };
}

/**
 * Precision, recall and F1 when rows scoring at least `threshold` are called positive. Precision
 * with nothing called positive is 0, as is F1 when precision and recall are both 0.
 */
export function precisionRecallAt(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold: number,
): ThresholdMetrics {
  const s = collectKnown(scores, labels);
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < s.scores.length && s.scores[i]! >= threshold; i++) {
    if (s.positive[i]) tp++;
    else fp++;
  }
  return atCounts(threshold, tp, fp, s.totalPositive);
}

/** Every distinct score as a threshold, strictest first, with its counts. */
export function thresholdCurve(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): ThresholdMetrics[] {
  const s = collectKnown(scores, labels);
  const out: ThresholdMetrics[] = [];
  forEachThreshold(s, (threshold, tp, fp) =>
    out.push(atCounts(threshold, tp, fp, s.totalPositive)),
  );
  return out;
}

/** Euclidean distances between all pairs of rows, as a symmetric n × n row-major array. */
export function pairwiseDistances(data: Matrix): Float32Array {
  const { rows: n, cols: d } = data;
  const x = data.data;
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let sum = 0;
      for (let c = 0; c < d; c++) {
        const diff = x[i * d + c]! - x[j * d + c]!;
        sum += diff * diff;
      }
      const dist = Math.sqrt(sum);
      out[i * n + j] = dist;
      out[j * n + i] = dist;
    }
  }
  return out;
}

/**
 * Mean silhouette from a precomputed n × n distance array: for each row, (b − a) / max(a, b) with
 * a the mean distance to its own cluster and b to the nearest other cluster; rows alone in their
 * cluster score 0. Needs at least two clusters and fewer clusters than rows.
 */
export function silhouetteFromDistances(
  distances: Float32Array,
  labels: ArrayLike<number>,
): number {
  const n = labels.length;
  if (distances.length !== n * n) {
    throw new RangeError(`distances has ${distances.length} values, expected ${n} × ${n}`);
  }
  let k = 0;
  for (let i = 0; i < n; i++) {
    const c = labels[i]!;
    if (!Number.isInteger(c) || c < 0) throw new RangeError(`label ${i} is not a cluster index`);
    k = Math.max(k, c + 1);
  }
  const sizes = new Float64Array(k);
  for (let i = 0; i < n; i++) sizes[labels[i]!]!++;
  const clusters = sizes.reduce((count, size) => count + (size > 0 ? 1 : 0), 0);
  if (clusters < 2 || clusters >= n) {
    throw new RangeError(`silhouette needs 2 to n − 1 clusters, got ${clusters} for ${n} rows`);
  }
  const sums = new Float64Array(k);
  let total = 0;
  for (let i = 0; i < n; i++) {
    sums.fill(0);
    for (let j = 0; j < n; j++) sums[labels[j]!]! += distances[i * n + j]!;
    const own = labels[i]!;
    if (sizes[own]! <= 1) continue;
    const a = sums[own]! / (sizes[own]! - 1);
    let b = Number.POSITIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      if (c !== own && sizes[c]! > 0) b = Math.min(b, sums[c]! / sizes[c]!);
    }
    const denominator = Math.max(a, b);
    if (denominator > 0) total += (b - a) / denominator;
  }
  return total / n;
}

/** Mean silhouette of a clustering of the rows of `data` (Euclidean distance). */
export function silhouetteScore(data: Matrix, labels: ArrayLike<number>): number {
  if (labels.length !== data.rows) {
    throw new RangeError(`${labels.length} labels for ${data.rows} rows`);
  }
  return silhouetteFromDistances(pairwiseDistances(data), labels);
}

export interface CalibrationBin {
  /** The bin's score range, [low, high) (the last one includes 1). */
  low: number;
  high: number;
  /** Known labels whose score falls in the bin. */
  count: number;
  meanScore: number;
  /** Share of those that are positive: what a calibrated `meanScore` would equal. */
  positiveRate: number;
}

/**
 * Reliability diagram: known labels grouped into `bins` equal-width score bins over [0, 1], each
 * with its mean score and observed positive share. Empty bins are left out.
 */
export function calibrationCurve(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 10,
): CalibrationBin[] {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError('bins must be an integer ≥ 1');
  const s = collectKnown(scores, labels);
  const count = new Float64Array(bins);
  const scoreSum = new Float64Array(bins);
  const positives = new Float64Array(bins);
  for (let i = 0; i < s.scores.length; i++) {
    const score = Math.min(1, Math.max(0, s.scores[i]!));
    const b = Math.min(bins - 1, Math.floor(score * bins));
    count[b]!++;
    scoreSum[b]! += score;
    positives[b]! += s.positive[i]!;
  }
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    out.push({
      low: b / bins,
      high: (b + 1) / bins,
      count: count[b]!,
      meanScore: scoreSum[b]! / count[b]!,
      positiveRate: positives[b]! / count[b]!,
    });
  }
  return out;
}
