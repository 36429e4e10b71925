/** A source of uniform numbers in [0, 1); every random step in `src/ml` takes one. */
export type Rng = () => number;

/**
 * A seeded mulberry32 generator: 32 bits of state, fast, and the same sequence on every platform,
 * which is all reproducible sampling and shuffling need (it is not for cryptography).
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  let state = Math.trunc(seed) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A seed for an independent stream derived from a base seed, so that e.g. the validation split
 * does not change when the number of epochs (and so the shuffling draws) changes.
 */
export function deriveSeed(seed: number, stream: number): number {
  const rng = createRng((Math.trunc(seed) ^ Math.imul(stream + 1, 0x9e3779b1)) >>> 0);
  return Math.floor(rng() * 4294967296) >>> 0;
}

/** A uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

type Shufflable = { length: number; [index: number]: number };

/** Fisher–Yates shuffle in place; returns the same array. */
export function shuffleInPlace<T extends Shufflable>(values: T, rng: Rng): T {
  for (let i = values.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const tmp = values[i]!;
    values[i] = values[j]!;
    values[j] = tmp;
  }
  return values;
}

/** 0 … n−1 in a random order. */
export function permutation(n: number, rng: Rng): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return shuffleInPlace(out, rng);
}

/**
 * `size` distinct indices from 0 … n−1, in ascending order (so a sample of rows keeps the data's
 * order); all of them when `size >= n`. Floyd's algorithm: O(size) draws whatever n is.
 */
export function sampleIndices(n: number, size: number, rng: Rng): Uint32Array {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a count, got ${n}`);
  if (!(size >= 0)) throw new RangeError(`size must be non-negative, got ${size}`);
  if (size >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const chosen = new Set<number>();
  for (let j = n - size; j < n; j++) {
    const t = randomInt(rng, j + 1);
    chosen.add(chosen.has(t) ? j : t);
  }
  return Uint32Array.from(chosen).sort();
}

/** Row indices of a two-way split, each in ascending order. */
export interface Split {
  train: Uint32Array;
  test: Uint32Array;
}

/**
 * Splits rows so that every label keeps (as nearly as possible) its share of positives in both
 * parts: iterative stratification (Sechidis et al., 2011), which handles rows holding several
 * labels where stratifying on one key cannot. `labels` is row-major, `nLabels` per row; a value of
 * 1 is a positive, anything else is not. Rows without positives fill the parts to their sizes.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  nLabels: number,
  testFraction: number,
  rng: Rng,
): Split {
  if (!Number.isInteger(nLabels) || nLabels < 1) {
    throw new RangeError(`nLabels must be a positive integer, got ${nLabels}`);
  }
  if (labels.length % nLabels !== 0) {
    throw new RangeError(`labels has ${labels.length} values, not a multiple of ${nLabels}`);
  }
  if (!(testFraction >= 0 && testFraction < 1)) {
    throw new RangeError(`testFraction must be in [0, 1), got ${testFraction}`);
  }
  const n = labels.length / nLabels;
  const fractions = [1 - testFraction, testFraction];
  const desiredRows = fractions.map((f) => f * n);
  const desired = fractions.map((f) => {
    const perLabel = new Float64Array(nLabels);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < nLabels; j++) if (labels[i * nLabels + j] === 1) perLabel[j]! += f;
    }
    return perLabel;
  });
  const fold = new Int8Array(n).fill(-1);
  // Rows are visited in a random order so ties between equally good folds do not favour low ids.
  const order = permutation(n, rng);
  const remaining = new Float64Array(nLabels);
  for (let j = 0; j < nLabels; j++) remaining[j] = desired[0]![j]! + desired[1]![j]!;

  const assign = (row: number, f: number) => {
    fold[row] = f;
    desiredRows[f]!--;
    for (let j = 0; j < nLabels; j++) {
      if (labels[row * nLabels + j] === 1) {
        desired[f]![j]!--;
        remaining[j]!--;
      }
    }
  };
  const pickFold = (label: number) => {
    const a = desired[0]![label]!;
    const b = desired[1]![label]!;
    if (a !== b) return a > b ? 0 : 1;
    if (desiredRows[0] !== desiredRows[1]) return desiredRows[0]! > desiredRows[1]! ? 0 : 1;
    return randomInt(rng, 2);
  };

  for (;;) {
    // The rarest label still to place goes first: it has the least room for error.
    let label = -1;
    for (let j = 0; j < nLabels; j++) {
      if (remaining[j]! > 0.5 && (label < 0 || remaining[j]! < remaining[label]!)) label = j;
    }
    if (label < 0) break;
    for (const row of order) {
      if (fold[row] === -1 && labels[row * nLabels + label] === 1) assign(row, pickFold(label));
    }
  }
  for (const row of order) {
    if (fold[row] !== -1) continue;
    assign(row, desiredRows[0]! >= desiredRows[1]! ? 0 : 1);
  }

  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < n; i++) (fold[i] === 0 ? train : test).push(i);
  return { train: Uint32Array.from(train), test: Uint32Array.from(test) };
}
