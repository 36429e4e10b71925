/**
 * A dense row-major matrix of 32-bit floats: the one shape every step of `src/ml` passes along.
 * float32 halves the memory of a million-row feature table and is what TF.js computes in anyway.
 */
export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/** Wraps `data` as a rows × cols matrix, checking that the sizes agree. */
export function createMatrix(data: Float32Array, rows: number, cols: number): Matrix {
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new RangeError(`matrix dimensions must be non-negative integers, got ${rows} × ${cols}`);
  }
  if (data.length !== rows * cols) {
    throw new RangeError(`matrix data has ${data.length} values, expected ${rows} × ${cols}`);
  }
  return { data, rows, cols };
}

/** Builds a matrix from nested arrays (fixtures, small inputs). */
export function matrixFromRows(rows: readonly (readonly number[])[]): Matrix {
  const cols = rows[0]?.length ?? 0;
  const data = new Float32Array(rows.length * cols);
  rows.forEach((row, i) => {
    if (row.length !== cols) throw new RangeError(`row ${i} has ${row.length} values, not ${cols}`);
    data.set(row, i * cols);
  });
  return createMatrix(data, rows.length, cols);
}

/** Throws unless `matrix` is well formed and every value is finite. */
export function assertFiniteMatrix(matrix: Matrix, what: string): void {
  createMatrix(matrix.data, matrix.rows, matrix.cols);
  const { data, cols } = matrix;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new RangeError(
        `${what} has a non-finite value at row ${Math.floor(i / cols)}, column ${i % cols}`,
      );
    }
  }
}

/** The rows at `indices`, in that order, copied into a new matrix. */
export function selectRows(matrix: Matrix, indices: ArrayLike<number>): Matrix {
  const { cols } = matrix;
  const out = new Float32Array(indices.length * cols);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    out.set(matrix.data.subarray(r * cols, (r + 1) * cols), i * cols);
  }
  return createMatrix(out, indices.length, cols);
}

/** Row slices of a row-major array with `width` values per row, at `indices`. */
export function selectRowValues(
  values: Float32Array,
  width: number,
  indices: ArrayLike<number>,
): Float32Array {
  const out = new Float32Array(indices.length * width);
  for (let i = 0; i < indices.length; i++) {
    const r = indices[i]!;
    out.set(values.subarray(r * width, (r + 1) * width), i * width);
  }
  return out;
}

/** [a | b]: the columns of `b` appended to those of `a`, row by row. */
export function concatColumns(a: Matrix, b: Matrix): Matrix {
  if (a.rows !== b.rows) throw new RangeError(`cannot join ${a.rows} rows with ${b.rows} rows`);
  const cols = a.cols + b.cols;
  const out = new Float32Array(a.rows * cols);
  for (let i = 0; i < a.rows; i++) {
    out.set(a.data.subarray(i * a.cols, (i + 1) * a.cols), i * cols);
    out.set(b.data.subarray(i * b.cols, (i + 1) * b.cols), i * cols + a.cols);
  }
  return createMatrix(out, a.rows, cols);
}

/** Mean of every column, accumulated in float64. */
export function columnMeans(matrix: Matrix): Float64Array {
  const { data, rows, cols } = matrix;
  const sums = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) sums[j]! += data[i * cols + j]!;
  }
  if (rows > 0) for (let j = 0; j < cols; j++) sums[j]! /= rows;
  return sums;
}

/** Median of the finite values (NaN when there are none). */
export function median(values: ArrayLike<number>): number {
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (Number.isFinite(v)) finite.push(v);
  }
  if (finite.length === 0) return Number.NaN;
  const sorted = Float64Array.from(finite).sort();
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
