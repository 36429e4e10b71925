/**
 * Statistics for positive-unlabelled data: some holders of a tag are labelled, nobody is known not
 * to hold it. Under "selected completely at random" (SCAR: every holder had the same chance c of
 * being labelled, whatever they look like — a third of the customers tagged by hand, 80 % of
 * each one's interests written down), the labelled share of any group of customers is c times
 * the share of holders in it (Elkan & Noto, 2008). Everything here rests on that assumption.
 */

export interface PuOptions {
  /**
   * δ of the tail bounds in Best Bin Estimation (see estimateLabelFrequency): smaller keeps the
   * estimate away from thin, noisy tops of the ranking.
   */
  delta: number;
  /** BBE's γ, a little extra weight on the unlabelled tail's bound. */
  gamma: number;
  /** Two-sided confidence of every interval. */
  confidence: number;
}

export const DEFAULT_PU_OPTIONS: PuOptions = { delta: 0.1, gamma: 0.01, confidence: 0.9 };

/** The normal quantile of a two-sided interval of the given confidence (0.5–0.95). */
export function zFor(confidence: number): number {
  if (!(confidence >= 0.5 && confidence <= 0.95)) {
    throw new RangeError(`confidence must be in [0.5, 0.95], got ${confidence}`);
  }
  // Acklam's rational approximation of the inverse normal, tail-free in this range.
  const p = 1 - (1 - confidence) / 2;
  const q = p - 0.5;
  const r = q * q;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972];
  const num = ((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r - 30.66479806614716) * r;
  const den = ((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r - 13.28068155288572) * r + 1;
  return ((num + 2.506628277459239) * q) / den;
}

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval of a proportion `successes / n` (n > 0). */
export function wilsonInterval(successes: number, n: number, confidence: number): Interval {
  if (!(n > 0) || successes < 0 || successes > n) {
    throw new RangeError(`wilsonInterval needs 0 ≤ successes ≤ n and n > 0, got ${successes}/${n}`);
  }
  const z = zFor(confidence);
  const p = successes / n;
  const z2 = z * z;
  const center = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return { low: Math.max(0, center - half), high: Math.min(1, center + half) };
}

export interface LabelFrequency {
  /** Estimated share c of holders that carry the label. */
  value: number;
  interval: Interval;
  /** Sampling variance of `value` (delta method over the two tail shares). */
  variance: number;
  /** The score the estimate was read above, and the customers above it. */
  threshold: number;
  labelledAbove: number;
  unlabelledAbove: number;
}

/**
 * Estimates the label frequency c from scores of customers held out from training. Unlabelled
 * customers are a mix: a share α are holders, scoring like the labelled ones (SCAR), the rest are
 * not. Above a high enough score there are only holders, and there the unlabelled customers'
 * share of their group above it, over the labelled customers' share of theirs, is α. Which score
 * is "high enough" is found by Best Bin Estimation (Garg et al., "Mixture Proportion Estimation
 * and PU Learning: A Modern Approach", NeurIPS 2021): the one minimising an upper bound of that
 * ratio, so thin tops where a few lucky labels would fake purity are not chosen. Then
 * c = labelled / (labelled + α·unlabelled). Non-holders above the chosen score bias α up and c
 * down, i.e. precision up: tags estimated this way are only trusted with a strong ranking
 * (ClassifierOptions.minPuRocAuc). Null without at least 5 labelled and 5 unlabelled customers.
 *
 * @param scores one per held-out customer, higher = more likely a holder
 * @param labelled 1 for a labelled holder, 0 otherwise (same order)
 */
export function estimateLabelFrequency(
  scores: ArrayLike<number>,
  labelled: ArrayLike<number>,
  options: Partial<PuOptions> = {},
): LabelFrequency | null {
  const o: PuOptions = { ...DEFAULT_PU_OPTIONS, ...options };
  if (scores.length !== labelled.length) {
    throw new RangeError(`${scores.length} scores but ${labelled.length} labels`);
  }
  if (!(o.delta > 0 && o.delta < 1)) throw new RangeError('delta must be in (0, 1)');
  const n = scores.length;
  let nP = 0;
  for (let i = 0; i < n; i++) if (labelled[i]) nP++;
  const nU = n - nP;
  if (nP < 5 || nU < 5) return null;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => scores[b]! - scores[a]! || a - b,
  );
  const width = (m: number) => Math.sqrt(Math.log(4 / o.delta) / (2 * m));
  const epsP = width(nP);
  const epsU = (1 + o.gamma) * width(nU);
  let best: { bound: number; k: number; labelledAbove: number } | null = null;
  let labelledAbove = 0;
  for (let k = 1; k <= n; k++) {
    if (labelled[order[k - 1]!]) labelledAbove++;
    // Only at the end of a run of tied scores: a model cannot rank within a tie.
    if (k < n && scores[order[k]!] === scores[order[k - 1]!]) continue;
    const qP = labelledAbove / nP;
    if (qP <= epsP) continue;
    const bound = ((k - labelledAbove) / nU + epsU) / (qP - epsP);
    if (!best || bound < best.bound) best = { bound, k, labelledAbove };
  }
  if (!best) return null;
  const unlabelledAbove = best.k - best.labelledAbove;
  // α from the two tails' shares; its interval from each share's, at their extremes.
  const frequency = (alpha: number) => nP / (nP + alpha * nU);
  const qU = unlabelledAbove / nU;
  const qP = best.labelledAbove / nP;
  const alpha = qU / qP;
  const u = wilsonInterval(unlabelledAbove, nU, o.confidence);
  const p = wilsonInterval(best.labelledAbove, nP, o.confidence);
  // Var α ≈ α²(Var qU / qU² + Var qP / qP²); dc/dα = −nP·nU / (nP + α·nU)².
  const alphaVariance =
    alpha * alpha * ((1 - qU) / Math.max(unlabelledAbove, 1) + (1 - qP) / best.labelledAbove);
  const slope = (nP * nU) / (nP + alpha * nU) ** 2;
  return {
    value: frequency(alpha),
    interval: { low: frequency(u.high / p.low), high: frequency(u.low / p.high) },
    variance: slope * slope * alphaVariance,
    threshold: scores[order[best.k - 1]!]!,
    labelledAbove: best.labelledAbove,
    unlabelledAbove,
  };
}

/**
 * The share of holders among customers who are *not* labelled, in a group where `labelledShare`
 * of the customers are labelled: labelled / c holders in all, minus the labelled ones. This is
 * the precision of suggestions, which only ever go to customers without the tag. Clipped to 0–1.
 */
export function unlabelledPrecision(labelledShare: number, c: number): number {
  if (labelledShare >= 1) return 1;
  const holders = (labelledShare * (1 - c)) / (c * (1 - labelledShare));
  return Math.min(1, Math.max(0, holders));
}

/**
 * ROC AUC between holders and non-holders from the AUC between labelled and unlabelled customers:
 * the unlabelled are a mix holding a share θ of holders (whose scores tie with the labelled ones
 * on average), so AUC_LU = θ/2 + (1 − θ)·AUC. `holderShareOfUnlabelled` is θ.
 */
export function correctedRocAuc(
  labelledVsUnlabelled: number,
  holderShareOfUnlabelled: number,
): number {
  const theta = Math.min(Math.max(holderShareOfUnlabelled, 0), 0.99);
  return Math.min(1, Math.max(0, (labelledVsUnlabelled - theta / 2) / (1 - theta)));
}

export interface PooledLabelFrequency {
  value: number;
  interval: Interval;
  variance: number;
  /** Cochran's Q of the estimates around the pooled value, and its 95 % critical value. */
  heterogeneity: number;
  critical: number;
  /** Whether the estimates agree (Q ≤ critical): only then is the pooled value meant to be used. */
  consistent: boolean;
}

/**
 * Pools label-frequency estimates of tags labelled by the same process (the same people tagging
 * the same sample of customers: tags of one category), weighting each by its inverse variance. A
 * small tag's own estimate rests on a few dozen labelled customers; if all the tags' estimates
 * agree within their noise (Cochran's Q test at 95 %), the pooled one is as sure as all of them
 * together. Null for fewer than two estimates.
 */
export function poolLabelFrequencies(
  estimates: readonly Pick<LabelFrequency, 'value' | 'variance'>[],
  confidence: number,
): PooledLabelFrequency | null {
  const usable = estimates.filter((e) => e.variance > 0 && Number.isFinite(e.variance));
  if (usable.length < 2) return null;
  const weights = usable.map((e) => 1 / e.variance);
  const total = weights.reduce((a, b) => a + b, 0);
  const value = usable.reduce((sum, e, i) => sum + weights[i]! * e.value, 0) / total;
  const heterogeneity = usable.reduce((q, e, i) => q + weights[i]! * (e.value - value) ** 2, 0);
  const df = usable.length - 1;
  // Wilson–Hilferty: the χ² quantile from the normal one (z of 95 % one-sided is 1.645).
  const critical = df * (1 - 2 / (9 * df) + 1.6449 * Math.sqrt(2 / (9 * df))) ** 3;
  const half = zFor(confidence) * Math.sqrt(1 / total);
  return {
    value,
    interval: { low: Math.max(0, value - half), high: Math.min(1, value + half) },
    variance: 1 / total,
    heterogeneity,
    critical,
    consistent: heterogeneity <= critical,
  };
}
