import { createMatrix, type Matrix } from '../../../src/ml/matrix.js';
import { createRng, type Rng } from '../../../src/ml/random.js';

/** A standard normal draw (Box–Muller) from a seeded generator. */
export function gaussian(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** `rows` points around `centers`, unit spread, with the index of the centre each came from. */
export function blobs(
  centers: readonly (readonly number[])[],
  rows: number,
  seed: number,
  spread = 1,
): { matrix: Matrix; truth: Int32Array } {
  const rng = createRng(seed);
  const d = centers[0]!.length;
  const data = new Float32Array(rows * d);
  const truth = new Int32Array(rows);
  for (let i = 0; i < rows; i++) {
    const c = i % centers.length;
    truth[i] = c;
    for (let j = 0; j < d; j++) data[i * d + j] = centers[c]![j]! + spread * gaussian(rng);
  }
  return { matrix: createMatrix(data, rows, d), truth };
}

/**
 * A two-tag task on `cols` standard-normal features: tag 0 is positive when feature 0 plus a
 * little noise is above 0.5, tag 1 when feature 1 minus feature 2 is above 0.
 */
export function twoTagTask(rows: number, cols: number, seed: number) {
  const rng = createRng(seed);
  const data = new Float32Array(rows * cols);
  const labels = new Float32Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) data[i * cols + j] = gaussian(rng);
    const x = (j: number) => data[i * cols + j]!;
    labels[i * 2] = x(0) + 0.3 * gaussian(rng) > 0.5 ? 1 : 0;
    labels[i * 2 + 1] = x(1) - x(2) + 0.3 * gaussian(rng) > 0 ? 1 : 0;
  }
  return {
    features: createMatrix(data, rows, cols),
    columns: Array.from({ length: cols }, (_, j) => `x${j}`),
    tags: ['first', 'second'],
    labels,
  };
}
