import { describe, expect, it } from 'vitest';
import {
  correctedRocAuc,
  estimateLabelFrequency,
  unlabelledPrecision,
  wilsonInterval,
  zFor,
} from '../../../src/ml/pu.js';
import { createRng } from '../../../src/ml/random.js';
import { gaussian } from './synthetic.js';

/**
 * Holders score `separation` standard deviations above non-holders; each holder is labelled with
 * probability c, independently of its score (SCAR).
 */
function puSample(n: number, prior: number, c: number, seed: number, separation = 4) {
  const rng = createRng(seed);
  const scores = new Float64Array(n);
  const labelled = new Uint8Array(n);
  const holder = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    holder[i] = rng() < prior ? 1 : 0;
    scores[i] = (holder[i] ? separation : 0) + gaussian(rng);
    labelled[i] = holder[i] && rng() < c ? 1 : 0;
  }
  return { scores, labelled, holder };
}

describe('zFor and wilsonInterval', () => {
  it('gives the normal quantiles of common confidences', () => {
    expect(zFor(0.9)).toBeCloseTo(1.6449, 3);
    expect(zFor(0.95)).toBeCloseTo(1.96, 3);
    expect(() => zFor(0.999)).toThrow(/confidence/);
  });

  it('matches the Wilson interval of 9 out of 10 at 95 %', () => {
    const { low, high } = wilsonInterval(9, 10, 0.95);
    expect(low).toBeCloseTo(0.5958, 3);
    expect(high).toBeCloseTo(0.9821, 3);
  });
});

describe('estimateLabelFrequency', () => {
  it.each([0.2, 0.35, 0.6])('recovers a label frequency of %s within its interval', (c) => {
    const { scores, labelled } = puSample(20_000, 0.3, c, 11);
    const estimate = estimateLabelFrequency(scores, labelled)!;
    expect(Math.abs(estimate.value - c)).toBeLessThan(0.03);
    expect(estimate.interval.low).toBeLessThan(c);
    expect(estimate.interval.high).toBeGreaterThan(c);
    expect(estimate.labelledAbove).toBeGreaterThan(100);
  });

  it('underestimates c when even the top of the ranking holds non-holders', () => {
    // Two standard deviations apart (ROC AUC ≈ 0.92): why PU tags need a strong ranking.
    const { scores, labelled } = puSample(20_000, 0.3, 0.35, 11, 2);
    const estimate = estimateLabelFrequency(scores, labelled)!;
    expect(estimate.value).toBeLessThan(0.34);
    expect(estimate.value).toBeGreaterThan(0.29);
  });

  it('returns null with too few labelled customers', () => {
    expect(estimateLabelFrequency([6, 5, 4, 3, 2, 1], [1, 1, 1, 1, 0, 0])).toBeNull();
  });

  it('is not fooled by a few lucky labels at the very top', () => {
    const { scores, labelled } = puSample(20_000, 0.3, 0.2, 3);
    // Ten more customers at the top, all labelled: a share of 1 there, but only ten of them.
    const top = Float64Array.from({ length: 10 }, (_, i) => 20 + i);
    const estimate = estimateLabelFrequency(
      [...scores, ...top],
      [...labelled, ...new Uint8Array(10).fill(1)],
    )!;
    expect(estimate.value).toBeLessThan(0.25);
  });

  it('refuses mismatched inputs', () => {
    expect(() => estimateLabelFrequency([1, 2], [1])).toThrow(/2 scores but 1 labels/);
  });
});

describe('unlabelledPrecision', () => {
  it('counts the holders among the unlabelled of a group', () => {
    // 100 customers, 30 labelled, c = 0.3: 100 holders, so all 70 unlabelled hold the tag.
    expect(unlabelledPrecision(0.3, 0.3)).toBeCloseTo(1, 12);
    // 20 labelled at c = 0.4: 50 holders, 30 of the 80 unlabelled.
    expect(unlabelledPrecision(0.2, 0.4)).toBeCloseTo(30 / 80, 12);
    expect(unlabelledPrecision(1, 0.4)).toBe(1);
  });

  it('matches the true share of holders among unlabelled high scorers', () => {
    const { scores, labelled, holder } = puSample(50_000, 0.3, 0.3, 5);
    let flagged = 0;
    let labelledFlagged = 0;
    let unlabelledHolders = 0;
    for (let i = 0; i < scores.length; i++) {
      if (scores[i]! < 2) continue;
      flagged++;
      if (labelled[i]) labelledFlagged++;
      else if (holder[i]) unlabelledHolders++;
    }
    const truth = unlabelledHolders / (flagged - labelledFlagged);
    expect(unlabelledPrecision(labelledFlagged / flagged, 0.3)).toBeCloseTo(truth, 1);
  });
});

describe('correctedRocAuc', () => {
  it('undoes the dilution of the unlabelled by holders', () => {
    // AUC 0.9 between classes; unlabelled hold 25 % holders: 0.25·0.5 + 0.75·0.9 = 0.8.
    expect(correctedRocAuc(0.8, 0.25)).toBeCloseTo(0.9, 12);
  });
});
