import { describe, expect, it } from 'vitest';
import { matrixFromRows } from '../../../src/ml/matrix.js';
import {
  averagePrecision,
  calibrationCurve,
  precisionRecallAt,
  rocAuc,
  silhouetteScore,
  thresholdCurve,
} from '../../../src/ml/metrics.js';

// The classic tiny example: of the four pairs (positive, negative), three are ordered right.
const scores = [0.1, 0.4, 0.35, 0.8];
const labels = [0, 0, 1, 1];

describe('rocAuc', () => {
  it('matches the hand count on a tiny example', () => {
    expect(rocAuc(scores, labels)).toBeCloseTo(0.75, 12);
  });

  it('counts ties as one half and ignores unknown labels', () => {
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
    expect(rocAuc([...scores, 0.9, 0.05], [...labels, Number.NaN, -1])).toBeCloseTo(0.75, 12);
  });

  it('is NaN without both classes', () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
  });
});

describe('averagePrecision', () => {
  it('matches the hand computation: ½·1 + ½·⅔', () => {
    expect(averagePrecision(scores, labels)).toBeCloseTo(5 / 6, 12);
  });

  it('is 1 for a perfect ranking', () => {
    expect(averagePrecision([0.9, 0.8, 0.1], [1, 1, 0])).toBe(1);
  });
});

describe('precisionRecallAt', () => {
  it('calls scores at or above the threshold positive', () => {
    const m = precisionRecallAt(scores, labels, 0.35);
    expect(m).toMatchObject({ truePositives: 2, falsePositives: 1, falseNegatives: 0 });
    expect(m.precision).toBeCloseTo(2 / 3, 12);
    expect(m.recall).toBe(1);
    expect(m.f1).toBeCloseTo(0.8, 12);
  });

  it('has precision 0 when nothing is called positive', () => {
    expect(precisionRecallAt(scores, labels, 0.95)).toMatchObject({ precision: 0, f1: 0 });
  });
});

describe('thresholdCurve', () => {
  it('lists every distinct score, strictest first, with unweighted counts', () => {
    const curve = thresholdCurve([0.9, 0.8, 0.8, 0.4, 0.7], [1, 0, 1, 0, Number.NaN]);
    expect(curve.map((m) => m.threshold)).toEqual([0.9, 0.8, 0.4]);
    expect(curve[1]).toMatchObject({ truePositives: 2, falsePositives: 1, recall: 1 });
    expect(curve[1]!.precision).toBeCloseTo(2 / 3, 12);
  });
});

describe('silhouetteScore', () => {
  it('matches the hand computation for two pairs on a line', () => {
    // Points 0 and 1 against 10 and 11: s = (9.5/10.5 + 8.5/9.5) / 2 for each pair.
    const data = matrixFromRows([[0], [1], [10], [11]]);
    expect(silhouetteScore(data, [0, 0, 1, 1])).toBeCloseTo(718 / 798, 6);
  });

  it('scores a point alone in its cluster 0', () => {
    const data = matrixFromRows([[0], [1], [10]]);
    expect(silhouetteScore(data, [0, 0, 1])).toBeCloseTo((0.9 + 8 / 9 + 0) / 3, 6);
  });

  it('is low for a split that cuts through a cluster', () => {
    const data = matrixFromRows([[0], [1], [10], [11]]);
    expect(silhouetteScore(data, [0, 1, 0, 1])).toBeLessThan(0);
  });

  it('needs at least two clusters', () => {
    expect(() => silhouetteScore(matrixFromRows([[0], [1]]), [0, 0])).toThrow(/2 to n − 1/);
  });
});

describe('calibrationCurve', () => {
  it('bins known labels by score, with each bin’s mean score and positive share', () => {
    const bins = calibrationCurve(
      [0.05, 0.15, 0.12, 0.95, 1, 0.91, 0.5, 0.7],
      [0, 0, 1, 1, 1, 0, Number.NaN, -1],
      10,
    );
    expect(bins).toEqual([
      { low: 0, high: 0.1, count: 1, meanScore: 0.05, positiveRate: 0 },
      { low: 0.1, high: 0.2, count: 2, meanScore: expect.closeTo(0.135, 12), positiveRate: 0.5 },
      { low: 0.9, high: 1, count: 3, meanScore: expect.closeTo(0.953333, 5), positiveRate: 2 / 3 },
    ]);
  });

  it('refuses a bin count that is not a positive integer', () => {
    expect(() => calibrationCurve([0.5], [1], 0)).toThrow(RangeError);
  });
});
