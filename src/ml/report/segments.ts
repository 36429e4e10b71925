import type { Matrix } from '../matrix.js';

export interface DistinctiveColumn {
  column: string;
  clusterMean: number;
  overallMean: number;
  /** (cluster mean − overall mean) / overall standard deviation. */
  z: number;
}

/**
 * For each cluster, the input columns that set it apart most: the largest standardised differences
 * between the cluster's mean and everyone's. Inputs are already scaled (one-hot columns are 0/1),
 * so a difference in standard deviations reads the same for every column. Constant columns are
 * left out: they set no cluster apart.
 */
export function distinctiveColumns(
  inputs: Matrix,
  columns: readonly string[],
  clusters: ArrayLike<number>,
  k: number,
  top = 5,
): DistinctiveColumn[][] {
  const { rows, cols, data } = inputs;
  if (clusters.length !== rows)
    throw new RangeError(`${clusters.length} clusters for ${rows} rows`);
  if (columns.length !== cols) throw new RangeError(`${columns.length} names for ${cols} columns`);
  const sums = new Float64Array(k * cols);
  const sizes = new Float64Array(k);
  const total = new Float64Array(cols);
  const squares = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    const c = clusters[i]!;
    if (!Number.isInteger(c) || c < 0 || c >= k) throw new RangeError(`row ${i}: cluster ${c}`);
    sizes[c]!++;
    for (let j = 0; j < cols; j++) {
      const v = data[i * cols + j]!;
      sums[c * cols + j]! += v;
      total[j]! += v;
      squares[j]! += v * v;
    }
  }
  const mean = Float64Array.from(total, (t) => (rows ? t / rows : 0));
  const sd = Float64Array.from(squares, (s, j) =>
    Math.sqrt(Math.max(0, (rows ? s / rows : 0) - mean[j]! ** 2)),
  );
  return Array.from({ length: k }, (_, c) => {
    if (sizes[c] === 0) return [];
    const out: DistinctiveColumn[] = [];
    for (let j = 0; j < cols; j++) {
      if (!(sd[j]! > 1e-9)) continue;
      const clusterMean = sums[c * cols + j]! / sizes[c]!;
      out.push({
        column: columns[j]!,
        clusterMean,
        overallMean: mean[j]!,
        z: (clusterMean - mean[j]!) / sd[j]!,
      });
    }
    return out
      .sort((a, b) => Math.abs(b.z) - Math.abs(a.z) || (a.column < b.column ? -1 : 1))
      .slice(0, top);
  });
}
