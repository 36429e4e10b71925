import { describe, expect, it } from 'vitest';
import {
  createRng,
  deriveSeed,
  permutation,
  sampleIndices,
  shuffleInPlace,
  stratifiedSplit,
} from '../../../src/ml/random.js';

describe('createRng', () => {
  it('is mulberry32: the reference sequence for seed 1', () => {
    const rng = createRng(1);
    expect([rng(), rng(), rng()]).toEqual([
      0.6270739405881613, 0.002735721180215478, 0.5274470399599522,
    ]);
  });

  it('repeats for a seed and differs between seeds', () => {
    const draw = (seed: number) => Array.from({ length: 5 }, createRng(seed));
    expect(draw(42)).toEqual(draw(42));
    expect(draw(42)).not.toEqual(draw(43));
    expect(deriveSeed(42, 1)).toBe(deriveSeed(42, 1));
    expect(deriveSeed(42, 1)).not.toBe(deriveSeed(42, 2));
  });

  it('refuses a non-finite seed', () => {
    expect(() => createRng(Number.NaN)).toThrow(/seed/);
  });
});

describe('sampling', () => {
  it('gives exact, repeatable results for a seed', () => {
    expect(Array.from(sampleIndices(20, 5, createRng(7)))).toEqual([0, 1, 10, 13, 17]);
    expect(Array.from(permutation(6, createRng(7)))).toEqual([4, 1, 2, 3, 5, 0]);
  });

  it('samples distinct sorted indices, or all of them when asked for more', () => {
    const sample = sampleIndices(1000, 100, createRng(3));
    expect(new Set(sample).size).toBe(100);
    expect([...sample]).toEqual([...sample].sort((a, b) => a - b));
    expect(Math.max(...sample)).toBeLessThan(1000);
    expect(Array.from(sampleIndices(4, 10, createRng(3)))).toEqual([0, 1, 2, 3]);
  });

  it('shuffles in place, keeping every value', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 8];
    shuffleInPlace(values, createRng(5));
    expect(values).not.toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect([...values].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});

describe('stratifiedSplit', () => {
  // 1,000 rows, three labels: common (30%), rare (3%) and one that only co-occurs with common.
  const n = 1000;
  const labels = new Float32Array(n * 3);
  const rng = createRng(11);
  for (let i = 0; i < n; i++) {
    const common = rng() < 0.3;
    labels[i * 3] = common ? 1 : 0;
    labels[i * 3 + 1] = rng() < 0.03 ? 1 : 0;
    labels[i * 3 + 2] = common && rng() < 0.2 ? 1 : Number.NaN;
  }
  const positives = (rows: Uint32Array, j: number) =>
    [...rows].filter((i) => labels[i * 3 + j] === 1).length;

  it('keeps every label’s share of positives in both parts', () => {
    const { train, test } = stratifiedSplit(labels, 3, 0.25, createRng(1));
    expect(train.length + test.length).toBe(n);
    expect(new Set([...train, ...test]).size).toBe(n);
    expect(test.length).toBeGreaterThanOrEqual(249);
    expect(test.length).toBeLessThanOrEqual(251);
    for (let j = 0; j < 3; j++) {
      const total = positives(train, j) + positives(test, j);
      expect(Math.abs(positives(test, j) - total * 0.25)).toBeLessThanOrEqual(1);
    }
  });

  it('is repeatable for a seed', () => {
    const a = stratifiedSplit(labels, 3, 0.25, createRng(1));
    const b = stratifiedSplit(labels, 3, 0.25, createRng(1));
    const c = stratifiedSplit(labels, 3, 0.25, createRng(2));
    expect(a).toEqual(b);
    expect(a.test).not.toEqual(c.test);
  });

  it('validates its input', () => {
    expect(() => stratifiedSplit(new Float32Array(5), 2, 0.2, createRng(1))).toThrow(/multiple/);
    expect(() => stratifiedSplit(labels, 3, 1, createRng(1))).toThrow(/testFraction/);
  });
});
