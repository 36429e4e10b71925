import { assertFiniteMatrix, type Matrix, selectRowValues } from '../matrix.js';
import { createRng, deriveSeed, stratifiedSplit } from '../random.js';
import type { ClassifierOptions } from './options.js';

export interface ClassifierData {
  /** Input rows: scaled features, plus cluster distances if used. */
  features: Matrix;
  /** A name per feature column, stored with the model and checked when predicting. */
  columns: readonly string[];
  tags: readonly string[];
  /** rows × tags, row-major: 1 a known holder, 0 known not to hold it, NaN (or −1) unlabelled. */
  labels: Float32Array;
  /**
   * rows × tags, optional: 1 where a known negative may be learnt from but must not be measured
   * on — a reviewer's rejection is a customer the model itself picked, not a sample of customers,
   * so counting it would make precision look worse than on the customers suggestions go to.
   */
  trainOnly?: Uint8Array;
  /**
   * Per tag, optional: tags with the same group were labelled by the same process (the tags of
   * one category), so PU tags may pool their label-frequency estimates (ml/pu.ts).
   */
  groups?: readonly string[];
  /**
   * Per tag, optional: the exclusive category it belongs to (a customer holds at most one of its
   * tags, and is suggested at most the best one), or null.
   */
  exclusive?: readonly (string | null)[];
}

/**
 * How a tag is learnt and measured. KNOWN: from known positives and negatives only (enough
 * customers are known not to hold it: an exclusive category tagged for a sample, a complete
 * import), measured on held-out known labels. PU: from positives against everyone else,
 * measured by the label-frequency estimate (ml/pu.ts), because nobody is known not to hold it.
 */
export type LabelMode = 'KNOWN' | 'PU';

export interface LabelCounts {
  positives: number;
  /** Known negatives, reviewers' rejections included. */
  negatives: number;
  /** Of those, the rejections (learnt from, never measured on). */
  reviewNegatives: number;
  unlabelled: number;
}

export function validateData(data: ClassifierData): void {
  const { features, tags, labels, trainOnly, columns } = data;
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
      throw new RangeError(`label ${i} is ${y}; labels are 1, 0, or NaN/−1 for unlabelled`);
    }
  }
  if (data.groups && data.groups.length !== tags.length) {
    throw new RangeError(`${data.groups.length} groups for ${tags.length} tags`);
  }
  if (data.exclusive && data.exclusive.length !== tags.length) {
    throw new RangeError(`${data.exclusive.length} exclusive categories for ${tags.length} tags`);
  }
  if (trainOnly) {
    if (trainOnly.length !== labels.length) {
      throw new RangeError(`trainOnly has ${trainOnly.length} values, expected ${labels.length}`);
    }
    const misplaced = trainOnly.findIndex((flag, i) => flag === 1 && labels[i] !== 0);
    if (misplaced >= 0) throw new RangeError(`trainOnly marks cell ${misplaced}, not a negative`);
  }
}

/** Labels as 1, 0 and NaN, and per cell whether a held-out metric may count it. */
export interface PreparedLabels {
  labels: Float32Array;
  /** 1 where the label may be measured on (everything but reviewers' rejections). */
  measurable: Uint8Array;
}

export function prepareLabels(data: ClassifierData): PreparedLabels {
  const labels = data.labels.map((y) => (y === 0 || y === 1 ? y : Number.NaN));
  const measurable = Uint8Array.from(labels, (_y, i) => (data.trainOnly?.[i] ? 0 : 1));
  return { labels, measurable };
}

export function countLabels(prepared: PreparedLabels, t: number, j: number): LabelCounts {
  const counts: LabelCounts = { positives: 0, negatives: 0, reviewNegatives: 0, unlabelled: 0 };
  for (let cell = j; cell < prepared.labels.length; cell += t) {
    const y = prepared.labels[cell];
    if (y === 1) counts.positives++;
    else if (y === 0) {
      counts.negatives++;
      if (!prepared.measurable[cell]) counts.reviewNegatives++;
    } else counts.unlabelled++;
  }
  return counts;
}

/** KNOWN when enough measurable negatives exist, else PU; see LabelMode. */
export function chooseMode(counts: LabelCounts, o: ClassifierOptions): LabelMode {
  return counts.negatives - counts.reviewNegatives >= o.minKnownNegatives ? 'KNOWN' : 'PU';
}

/** Why a tag is PU-learnt, in words, when it has some known negatives (else null). */
export function modeNote(
  counts: LabelCounts,
  mode: LabelMode,
  o: ClassifierOptions,
): string | null {
  const measurable = counts.negatives - counts.reviewNegatives;
  if (mode === 'KNOWN' || counts.negatives === 0) return null;
  return (
    `${measurable} known negative(s)${counts.reviewNegatives ? ` besides ${counts.reviewNegatives} reviewer rejection(s)` : ''}; ` +
    `need ≥ ${o.minKnownNegatives} to measure on known labels, so precision is estimated from positive and unlabelled customers`
  );
}

/**
 * The target the network learns per cell (1 for positives, else 0) and how much the cell counts:
 * KNOWN tags learn from known labels only; PU tags learn "labelled or not" from every row, which
 * ranks customers like "holder or not" does (the labelled are a random share of the holders).
 * Class weights balance each tag's two sides so rare tags still move the shared layers.
 */
export function lossWeights(
  prepared: PreparedLabels,
  t: number,
  modes: readonly LabelMode[],
  o: ClassifierOptions,
): {
  targets: Float32Array;
  weights: Float32Array;
  classWeights: { positive: number; negative: number }[];
} {
  const { labels } = prepared;
  const learns = (cell: number) => modes[cell % t] === 'PU' || !Number.isNaN(labels[cell]!);
  const classWeights = modes.map((_mode, j) => {
    let positive = 0;
    let negative = 0;
    for (let cell = j; cell < labels.length; cell += t) {
      if (labels[cell] === 1) positive++;
      else if (learns(cell)) negative++;
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
  const targets = labels.map((y) => (y === 1 ? 1 : 0));
  const weights = labels.map((y, cell) => {
    const w = classWeights[cell % t]!;
    if (y === 1) return w.positive;
    return learns(cell) ? w.negative : 0;
  });
  if (o.equalTagWeight) {
    // Every tag's cells weigh as much in all as every row once: a PU tag learns from all rows, a
    // KNOWN one from a labelled third, and unscaled the PU tags' loss would decide both what the
    // shared layer learns and when early stopping ends it (before a KNOWN tag has learnt).
    const rows = labels.length / t;
    const totals = new Float64Array(t);
    weights.forEach((w, cell) => (totals[cell % t]! += w));
    weights.forEach(
      (w, cell) => (weights[cell] = totals[cell % t]! > 0 ? (w * rows) / totals[cell % t]! : 0),
    );
  }
  return { targets, weights, classWeights };
}

export interface Splits {
  trainRows: Uint32Array;
  validationRows: Uint32Array;
  testRows: Uint32Array;
}

/**
 * Test first, then validation out of the rest, both stratified on every tag's positives and
 * measurable negatives, so each split gets its share of the rare ones.
 */
export function splitRows(prepared: PreparedLabels, t: number, o: ClassifierOptions): Splits {
  const rows = prepared.labels.length / t;
  const strata = new Float32Array(rows * 2 * t);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < t; j++) {
      const cell = i * t + j;
      const y = prepared.labels[cell];
      strata[i * 2 * t + j] = y === 1 ? 1 : 0;
      strata[i * 2 * t + t + j] = y === 0 && prepared.measurable[cell] ? 1 : 0;
    }
  }
  const all = Uint32Array.from({ length: rows }, (_, i) => i);
  const outer =
    o.testFraction > 0
      ? stratifiedSplit(strata, 2 * t, o.testFraction, createRng(deriveSeed(o.seed, 1)))
      : { train: all, test: new Uint32Array(0) };
  const inner = stratifiedSplit(
    selectRowValues(strata, 2 * t, outer.train),
    2 * t,
    o.validationFraction / (1 - o.testFraction),
    createRng(deriveSeed(o.seed, 2)),
  );
  const trainRows = inner.train.map((i) => outer.train[i]!);
  const validationRows = inner.test.map((i) => outer.train[i]!);
  if (trainRows.length === 0 || validationRows.length === 0) {
    throw new RangeError(`too few rows (${rows}) for a training and a validation split`);
  }
  return { trainRows, validationRows, testRows: outer.test };
}
