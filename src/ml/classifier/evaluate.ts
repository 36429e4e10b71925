import { averagePrecision, rocAuc, thresholdCurve } from '../metrics.js';
import {
  correctedRocAuc,
  estimateLabelFrequency,
  type Interval,
  type LabelFrequency,
  poolLabelFrequencies,
  unlabelledPrecision,
  wilsonInterval,
} from '../pu.js';
import type { LabelCounts, LabelMode } from './labels.js';
import type { ClassifierOptions } from './options.js';

/** One point of a tag's precision–recall curve: suggesting at or above `threshold`. */
export interface CurvePoint {
  threshold: number;
  /** Counted (KNOWN) or estimated (PU) precision of suggestions at this threshold. */
  precision: number;
  recall: number;
}

/**
 * How well a tag is learnt, measured on held-out customers (never trained on). Every count is one
 * customer. KNOWN tags report counted `precision`; PU tags report `estimatedPrecision` instead,
 * never a plain precision, because nobody is known not to hold them.
 */
export interface TagEvaluation {
  tag: string;
  mode: LabelMode;
  /** Labels over every customer the tag was learnt from. */
  positives: number;
  negatives: number;
  unlabelled: number;
  /** What the held-out numbers stand on: customers, and their known labels. */
  heldOut: { customers: number; positives: number; negatives: number };
  targetPrecision: number;
  threshold: number | null;
  /** KNOWN: the share of held-out known labels at or above the threshold that are positive. */
  precision: number | null;
  /** PU: the estimated share of holders among held-out unlabelled customers at or above it. */
  estimatedPrecision: number | null;
  /** Interval of whichever precision is reported (confidence `o.pu.confidence`). */
  precisionInterval: Interval | null;
  /** Share of held-out positives (PU: labelled holders, a random share of all) reaching it. */
  recall: number | null;
  f1: number | null;
  /** On held-out known labels; null for PU tags (no known negatives to rank against). */
  rocAuc: number | null;
  prAuc: number | null;
  /** PU: ROC AUC of holders against non-holders, corrected from labelled vs unlabelled. */
  estimatedRocAuc: number | null;
  labelFrequency: TagLabelFrequency | null;
  /** At the threshold: held-out customers suggested, and of those, known positives (KNOWN) or labelled holders (PU). */
  flagged: number | null;
  positivesFlagged: number | null;
  confident: boolean;
  /** Why the tag is not confident, in words; null when it is. */
  reason: string | null;
  /** Why a tag with some known negatives is still PU-learnt, in words; else null. */
  note: string | null;
  /** How the precision was obtained, in words. */
  method: string;
  curve: CurvePoint[];
}

/** The label frequency a PU tag was measured with: its own, or pooled over its group's tags. */
export interface TagLabelFrequency extends LabelFrequency {
  /** The tag's own estimate, when `value` is pooled. */
  own: number | null;
  /** The tags whose estimates were pooled into `value` (this one included), or null. */
  pooledOver: string[] | null;
  /** Whether the pooled tags' estimates agreed (else the pooled value was used as the higher one). */
  agrees: boolean | null;
}

export interface EvaluationInput {
  tag: string;
  mode: LabelMode;
  counts: LabelCounts;
  targetPrecision: number;
  /** Held-out rows only: probability, label (1, 0, NaN) and whether the label is measurable. */
  scores: Float32Array;
  labels: Float32Array;
  measurable: Uint8Array;
  /** Tags of one group were labelled by the same process; PU tags may pool their estimates. */
  group: string;
  /**
   * Per held-out row, 0 where another tag of the same exclusive category scores higher: a scoring
   * run suggests only the best tag of such a category, so those rows are never suggested this
   * one, and the precision promised must be that of what gets suggested. Absent: all 1.
   */
  wins?: Uint8Array;
  /**
   * Measure at this threshold instead of choosing one (a stored version's, to compare versions on
   * the same customers); null: the version has none, so the tag is measured but not confident.
   */
  threshold?: number | null;
}

const round = (v: number, digits = 3) => Number(v.toFixed(digits));
const fmt = (v: number) => v.toFixed(2);
const finiteOrNull = (v: number): number | null => (Number.isFinite(v) ? v : null);

interface Candidate {
  threshold: number;
  precision: number;
  recall: number;
  flagged: number;
  positivesFlagged: number;
}

/**
 * The lowest threshold (highest recall) whose precision reaches the target with at least
 * `minTruePositives` positives above it: one lucky customer at the top is not precision. With a
 * given threshold, the point at it instead (the customers scoring at or above it).
 */
/**
 * Scores as a suggestion rule sees them: a row that loses its exclusive category drops below
 * every threshold (−1; probabilities are ≥ 0), and the point where all rows pass is left out.
 */
function suggestionCurve(
  scores: Float32Array,
  labels: ArrayLike<number>,
  wins: Uint8Array | undefined,
) {
  const ruled = wins ? scores.map((v, i) => (wins[i] ? v : -1)) : scores;
  return thresholdCurve(ruled, labels).filter((m) => m.threshold >= 0);
}

function lowestReaching(
  candidates: readonly Candidate[],
  target: number,
  minTp: number,
  given: number | null | undefined,
) {
  let chosen: Candidate | null = null;
  let best: Candidate | null = null;
  if (given !== undefined) {
    for (const c of candidates) if (given !== null && c.threshold >= given) chosen = c;
    return { chosen, best: chosen };
  }
  for (const c of candidates) {
    if (c.positivesFlagged < minTp) continue;
    if (!best || c.precision > best.precision) best = c;
    // A tolerance, so that 9 of 10 reaches a target of 0.9 despite rounding.
    if (c.precision >= target - 1e-12) chosen = c;
  }
  return { chosen, best };
}

/** At most `points` points, evenly spread by recall, always keeping the chosen threshold. */
function thinCurve(candidates: readonly Candidate[], points: number, keep: number | null) {
  const out: CurvePoint[] = [];
  let nextRecall = 0;
  for (const c of candidates) {
    if (c.recall + 1e-12 >= nextRecall || c.threshold === keep) {
      out.push({
        threshold: c.threshold,
        precision: round(c.precision, 4),
        recall: round(c.recall, 4),
      });
      nextRecall = c.recall + 1 / points;
    }
  }
  return out;
}

function noThresholdReason(
  best: Candidate | null,
  target: number,
  rankAuc: number | null,
  aucName: string,
  o: ClassifierOptions,
  given: number | null | undefined,
): string {
  if (given === null) return 'the version has no threshold for this tag';
  if (given !== undefined) return `no held-out customer scores at or above the threshold ${given}`;
  if (rankAuc !== null && rankAuc < o.weakRocAuc) {
    return `ranking too weak: ${aucName} ${fmt(rankAuc)} (below ${fmt(o.weakRocAuc)}), no threshold reaches precision ${target}`;
  }
  return best
    ? `no threshold reaches precision ${target} on held-out customers (best ${fmt(best.precision)} at recall ${fmt(best.recall)})`
    : `no threshold keeps ${o.minTruePositives} held-out positives above it`;
}

function evaluateKnown(input: EvaluationInput, o: ClassifierOptions): TagEvaluation {
  const { scores, labels, measurable, targetPrecision: target } = input;
  const known = labels.map((y, i) => (measurable[i] ? y : Number.NaN));
  let positives = 0;
  let negatives = 0;
  for (const y of known) {
    if (y === 1) positives++;
    else if (y === 0) negatives++;
  }
  const base = baseEvaluation(input, { customers: scores.length, positives, negatives });
  base.rocAuc = finiteOrNull(rocAuc(scores, known));
  base.prAuc = finiteOrNull(averagePrecision(scores, known));
  base.method = `counted on ${positives + negatives} held-out customers with known labels (${positives} positive, ${negatives} negative)`;
  if (positives < o.minTruePositives) {
    base.reason = `only ${positives} positive(s) among held-out customers; need ≥ ${o.minTruePositives}`;
    return base;
  }
  const candidates: Candidate[] = suggestionCurve(scores, known, input.wins).map((m) => ({
    threshold: m.threshold,
    precision: m.precision,
    recall: m.recall,
    flagged: m.truePositives + m.falsePositives,
    positivesFlagged: m.truePositives,
  }));
  const { chosen, best } = lowestReaching(candidates, target, o.minTruePositives, input.threshold);
  base.curve = thinCurve(candidates, o.curvePoints, chosen?.threshold ?? null);
  if (!chosen) {
    base.reason = noThresholdReason(best, target, base.rocAuc, 'ROC AUC', o, input.threshold);
    return base;
  }
  return {
    ...base,
    threshold: input.threshold ?? chosen.threshold,
    precision: chosen.precision,
    precisionInterval: wilsonInterval(chosen.positivesFlagged, chosen.flagged, o.pu.confidence),
    recall: chosen.recall,
    f1: (2 * chosen.precision * chosen.recall) / (chosen.precision + chosen.recall),
    flagged: chosen.flagged,
    positivesFlagged: chosen.positivesFlagged,
    confident: true,
  };
}

/**
 * The customers a PU tag is measured on: held-out ones not known to lack it (known negatives never
 * get suggestions), with their scores and whether they are labelled holders.
 */
function puPopulation(input: EvaluationInput) {
  const { scores, labels, wins } = input;
  const rows: number[] = [];
  for (let i = 0; i < labels.length; i++) if (labels[i] !== 0) rows.push(i);
  return {
    scores: Float32Array.from(rows, (i) => scores[i]!),
    labelled: Float32Array.from(rows, (i) => (labels[i] === 1 ? 1 : 0)),
    wins: wins && Uint8Array.from(rows, (i) => wins[i]!),
  };
}

function evaluatePu(
  input: EvaluationInput,
  o: ClassifierOptions,
  c: TagLabelFrequency | null,
): TagEvaluation {
  const { scores, labels, measurable, targetPrecision: target } = input;
  const { scores: s, labelled, wins } = puPopulation(input);
  const total = labelled.reduce((n, y) => n + y, 0);
  const negatives = labels.reduce((n, y, i) => n + (y === 0 && measurable[i] ? 1 : 0), 0);
  const base = baseEvaluation(input, { customers: scores.length, positives: total, negatives });
  if (total < o.minTruePositives) {
    base.method = `estimated from positive and unlabelled customers`;
    base.reason = `only ${total} labelled holder(s) among held-out customers; need ≥ ${o.minTruePositives}`;
    return base;
  }
  const labelledAuc = rocAuc(s, labelled);
  if (!c) {
    base.method = `estimated from positive and unlabelled customers`;
    base.reason = `label frequency cannot be estimated from ${total} labelled holder(s) among ${s.length} held-out customers`;
    return base;
  }
  const prior = Math.min(1, total / c.value / s.length);
  const holderShareOfUnlabelled = (prior * (1 - c.value)) / (1 - c.value * prior);
  base.labelFrequency = c;
  base.estimatedRocAuc = finiteOrNull(correctedRocAuc(labelledAuc, holderShareOfUnlabelled));
  base.method =
    `estimated from ${s.length} held-out customers, ${total} of them labelled holders: ` +
    `label frequency c = ${fmt(c.value)} (${Math.round(o.pu.confidence * 100)} % interval ` +
    `${fmt(c.interval.low)}–${fmt(c.interval.high)}` +
    (c.pooledOver
      ? `, pooled over ${c.pooledOver.join(', ')}` +
        (c.agrees
          ? `, whose own estimates agree; this tag's own ${fmt(c.own!)}`
          : `; their estimates disagree and this tag's own, ${fmt(c.own!)}, is lower, which would claim a higher precision`)
      : `, read above score ${fmt(c.threshold)} where ${c.labelledAbove} labelled and ` +
        `${c.unlabelledAbove} unlabelled customers are`) +
    `), assuming holders were labelled at random`;
  if (
    input.threshold === undefined &&
    base.estimatedRocAuc !== null &&
    base.estimatedRocAuc < o.minPuRocAuc
  ) {
    base.reason =
      `ranking too weak to estimate precision without known negatives: estimated ROC AUC ` +
      `${fmt(base.estimatedRocAuc)} (need ≥ ${fmt(o.minPuRocAuc)}); known negatives ` +
      `(e.g. \`import tags --complete\`) would let it be measured instead`;
    return base;
  }
  const candidates: Candidate[] = suggestionCurve(s, labelled, wins).map((m) => {
    const flagged = m.truePositives + m.falsePositives;
    return {
      threshold: m.threshold,
      precision: unlabelledPrecision(m.truePositives / flagged, c.value),
      recall: m.recall,
      flagged,
      positivesFlagged: m.truePositives,
    };
  });
  const { chosen, best } = lowestReaching(candidates, target, o.minTruePositives, input.threshold);
  base.curve = thinCurve(candidates, o.curvePoints, chosen?.threshold ?? null);
  if (!chosen) {
    base.reason = noThresholdReason(
      best,
      target,
      base.estimatedRocAuc,
      'estimated ROC AUC',
      o,
      input.threshold,
    );
    return base;
  }
  const share = wilsonInterval(chosen.positivesFlagged, chosen.flagged, o.pu.confidence);
  return {
    ...base,
    threshold: input.threshold ?? chosen.threshold,
    estimatedPrecision: chosen.precision,
    precisionInterval: {
      low: unlabelledPrecision(share.low, c.interval.high),
      high: unlabelledPrecision(share.high, c.interval.low),
    },
    recall: chosen.recall,
    f1: (2 * chosen.precision * chosen.recall) / (chosen.precision + chosen.recall),
    flagged: chosen.flagged,
    positivesFlagged: chosen.positivesFlagged,
    confident: true,
  };
}

function baseEvaluation(input: EvaluationInput, heldOut: TagEvaluation['heldOut']): TagEvaluation {
  return {
    tag: input.tag,
    mode: input.mode,
    positives: input.counts.positives,
    negatives: input.counts.negatives,
    unlabelled: input.counts.unlabelled,
    heldOut,
    targetPrecision: input.targetPrecision,
    threshold: null,
    precision: null,
    estimatedPrecision: null,
    precisionInterval: null,
    recall: null,
    f1: null,
    rocAuc: null,
    prAuc: null,
    estimatedRocAuc: null,
    labelFrequency: null,
    flagged: null,
    positivesFlagged: null,
    confident: false,
    reason: null,
    note: null,
    method: '',
    curve: [],
  };
}

/**
 * The label frequency of every PU tag (null for KNOWN tags and tags too thinly labelled): each
 * tag's own estimate, replaced by the pooled one where the tags of a group agree (ml/pu.ts).
 */
function labelFrequencies(
  inputs: readonly EvaluationInput[],
  o: ClassifierOptions,
): (TagLabelFrequency | null)[] {
  const own = inputs.map((input): TagLabelFrequency | null => {
    if (input.mode !== 'PU') return null;
    const { scores, labelled } = puPopulation(input);
    const estimate = estimateLabelFrequency(scores, labelled, o.pu);
    return estimate && { ...estimate, own: null, pooledOver: null, agrees: null };
  });
  const out = [...own];
  for (const group of new Set(inputs.map((i) => i.group))) {
    const members = inputs.flatMap((input, j) => (input.group === group && own[j] ? [j] : []));
    const pooled = poolLabelFrequencies(
      members.map((j) => own[j]!),
      o.pu.confidence,
    );
    if (!pooled) continue;
    const pooledOver = members.map((m) => inputs[m]!.tag);
    for (const j of members) {
      // Agreeing estimates share their pooled value. Disagreeing ones keep their own unless the
      // group's is higher: a low c mostly means non-holders in the tag's top ranks (see
      // estimateLabelFrequency), and the higher c errs toward lower precision, never higher.
      if (!pooled.consistent && own[j]!.value >= pooled.value) continue;
      out[j] = {
        ...own[j]!,
        value: pooled.value,
        interval: pooled.interval,
        variance: pooled.variance,
        own: own[j]!.value,
        pooledOver,
        agrees: pooled.consistent,
      };
    }
  }
  return out;
}

/** Metrics, threshold and, when there is none, the reason, for every tag on held-out rows. */
export function evaluateTags(
  inputs: readonly EvaluationInput[],
  o: ClassifierOptions,
): TagEvaluation[] {
  const frequencies = labelFrequencies(inputs, o);
  return inputs.map((input, j) =>
    input.mode === 'KNOWN' ? evaluateKnown(input, o) : evaluatePu(input, o, frequencies[j]!),
  );
}
