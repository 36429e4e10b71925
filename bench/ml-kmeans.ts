// The k-means child of bench/ml.ts: `node --import ./bin/register.js bench/ml-kmeans.ts FILE`.
// Fits and assigns the float32 × 16 matrix in FILE and prints one JSON line. A process of its own
// that imports nothing but the k-means code, so its peak RSS is that of fit + assign (and Node).
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { assignClusters, fitKMeans } from '../src/ml/kmeans.js';
import { createMatrix } from '../src/ml/matrix.js';

export const KMEANS_COLS = 16;
export const KMEANS_SEED = 42;

export interface KMeansChildResult {
  k: number;
  fitMs: number;
  assignMs: number;
  /** RSS before the matrix was read: Node and the TypeScript loader. */
  startMiB: number;
  /** RSS with the matrix loaded, before fitting. */
  loadedMiB: number;
  /** Peak RSS of the process. */
  peakMiB: number;
}

async function main(file: string): Promise<void> {
  const startMiB = process.memoryUsage.rss() / 2 ** 20;
  const bytes = await fs.readFile(file);
  const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const matrix = createMatrix(data, data.length / KMEANS_COLS, KMEANS_COLS);
  const loadedMiB = process.memoryUsage.rss() / 2 ** 20;
  const started = performance.now();
  const model = fitKMeans(matrix, { seed: KMEANS_SEED });
  const fitted = performance.now();
  const assignment = assignClusters(model, matrix);
  const done = performance.now();
  if (assignment.clusters.length !== matrix.rows) throw new Error('not every row was assigned');
  const result: KMeansChildResult = {
    k: model.k,
    fitMs: fitted - started,
    assignMs: done - fitted,
    startMiB,
    loadedMiB,
    // maxRSS is in KiB.
    peakMiB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// bench/ml.ts imports the constants and the result's type; only running this file fits.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  await main(process.argv[2]!);
}
