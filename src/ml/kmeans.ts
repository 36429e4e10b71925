import { kmeans } from 'ml-kmeans';
import { assertFiniteMatrix, createMatrix, median, type Matrix, selectRows } from './matrix.js';
import { pairwiseDistances, silhouetteFromDistances } from './metrics.js';
import { createRng, deriveSeed, type Rng, sampleIndices } from './random.js';

export interface KMeansOptions {
  seed: number;
  /** The range of k tried; the one with the highest silhouette wins (ties: the smaller k). */
  kMin: number;
  kMax: number;
  /** k-means runs on at most this many sampled rows; every row is assigned afterwards. */
  fitSampleSize: number;
  /** Silhouette is O(n²), so it is measured on a sample of at most this many rows. */
  silhouetteSampleSize: number;
  maxIterations: number;
  /** Stop when no centroid moves more than this (squared distance, in scaled units). */
  tolerance: number;
}

export const DEFAULT_KMEANS_OPTIONS: KMeansOptions = {
  seed: 42,
  kMin: 3,
  kMax: 10,
  fitSampleSize: 20_000,
  silhouetteSampleSize: 2_000,
  maxIterations: 100,
  tolerance: 1e-6,
};

export interface KCandidate {
  k: number;
  silhouette: number;
  /** Sum of squared distances of the fit sample to their centroids. */
  inertia: number;
  iterations: number;
  converged: boolean;
}

/** A fitted segmentation: plain data, stored with the model as JSON. */
export interface KMeansModel {
  k: number;
  centroids: number[][];
  silhouette: number;
  candidates: KCandidate[];
  fitRows: number;
  seed: number;
}

export interface ClusterAssignment {
  clusters: Int32Array;
  /** Euclidean distance of every row to every centroid (rows × k). */
  distances: Matrix;
}

function validateOptions(o: KMeansOptions, rows: number): void {
  if (!Number.isInteger(o.kMin) || o.kMin < 2) throw new RangeError('kMin must be an integer ≥ 2');
  if (!Number.isInteger(o.kMax) || o.kMax < o.kMin) {
    throw new RangeError(`kMax must be an integer ≥ kMin (${o.kMin})`);
  }
  if (o.fitSampleSize < o.kMax + 1 || o.silhouetteSampleSize < o.kMax + 1) {
    throw new RangeError('sample sizes must exceed kMax');
  }
  if (rows <= o.kMax)
    throw new RangeError(`k-means up to k=${o.kMax} needs more than ${o.kMax} rows, got ${rows}`);
  if (!Number.isInteger(o.maxIterations) || o.maxIterations < 1) {
    throw new RangeError('maxIterations must be a positive integer');
  }
  if (!(o.tolerance >= 0)) throw new RangeError('tolerance must be non-negative');
}

function squaredDistance(x: Float32Array, i: number, center: ArrayLike<number>, d: number): number {
  let sum = 0;
  const base = i * d;
  for (let c = 0; c < d; c++) {
    const diff = x[base + c]! - center[c]!;
    sum += diff * diff;
  }
  return sum;
}

/**
 * Greedy k-means++ (Arthur & Vassilvitskii, with scikit-learn's 2 + ln k candidate draws per step,
 * keeping the one that lowers the potential most) on `data`, driven by our seeded generator so
 * ml-kmeans never initialises itself: its own k-means++ walks every row in slow nested arrays.
 */
export function initialiseCentroids(data: Matrix, k: number, rng: Rng): number[][] {
  const { rows: n, cols: d, data: x } = data;
  const trials = 2 + Math.floor(Math.log(k));
  const row = (i: number) => Array.from(x.subarray(i * d, (i + 1) * d));
  const centroids = [row(Math.floor(rng() * n))];
  const closest = new Float64Array(n);
  for (let i = 0; i < n; i++) closest[i] = squaredDistance(x, i, centroids[0]!, d);
  const candidate = new Float64Array(n);
  const best = new Float64Array(n);
  while (centroids.length < k) {
    let potential = 0;
    for (let i = 0; i < n; i++) potential += closest[i]!;
    let bestPotential = Number.POSITIVE_INFINITY;
    let bestRow = -1;
    for (let t = 0; t < trials; t++) {
      // Draw a row with probability proportional to its squared distance to the nearest centroid;
      // with every row on a centroid already (duplicates), any row will do.
      let pick = Math.floor(rng() * n);
      if (potential > 0) {
        let target = rng() * potential;
        for (pick = 0; pick < n - 1; pick++) {
          target -= closest[pick]!;
          if (target < 0) break;
        }
      }
      const center = x.subarray(pick * d, (pick + 1) * d);
      let sum = 0;
      for (let i = 0; i < n; i++) {
        candidate[i] = Math.min(closest[i]!, squaredDistance(x, i, center, d));
        sum += candidate[i]!;
      }
      if (sum < bestPotential) {
        bestPotential = sum;
        bestRow = pick;
        best.set(candidate);
      }
    }
    centroids.push(row(bestRow));
    closest.set(best);
  }
  return centroids;
}

/**
 * Nearest centroid and the distance to every centroid for each row, in one typed-array pass
 * (about a second for a million rows × 16 features).
 */
export function assignClusters(
  model: Pick<KMeansModel, 'centroids'>,
  data: Matrix,
): ClusterAssignment {
  const k = model.centroids.length;
  const d = data.cols;
  if (k === 0) throw new RangeError('assignClusters: the model has no centroids');
  if (model.centroids.some((c) => c.length !== d)) {
    throw new RangeError(`assignClusters: centroids do not have ${d} dimensions like the data`);
  }
  createMatrix(data.data, data.rows, data.cols);
  const centers = Float64Array.from(model.centroids.flat());
  const x = data.data;
  const clusters = new Int32Array(data.rows);
  const distances = new Float32Array(data.rows * k);
  for (let i = 0; i < data.rows; i++) {
    let nearest = 0;
    let nearestDistance = Number.POSITIVE_INFINITY;
    for (let c = 0; c < k; c++) {
      let sum = 0;
      for (let j = 0; j < d; j++) {
        const diff = x[i * d + j]! - centers[c * d + j]!;
        sum += diff * diff;
      }
      distances[i * k + c] = Math.sqrt(sum);
      if (sum < nearestDistance) {
        nearestDistance = sum;
        nearest = c;
      }
    }
    clusters[i] = nearest;
  }
  return { clusters, distances: createMatrix(distances, data.rows, k) };
}

/** Names the classifier's cluster-distance columns carry; explanations group them by it. */
export const CLUSTER_DISTANCE_PREFIX = 'cluster_distance:';

/** Column names for the distances of `assignClusters`, as the classifier sees them. */
export function distanceColumnNames(k: number): string[] {
  return Array.from({ length: k }, (_, c) => `${CLUSTER_DISTANCE_PREFIX}${c}`);
}

/**
 * Segments rows with k-means: seeded k-means++ and Lloyd iterations (ml-kmeans) on a sample for
 * every k in range, keeping the k with the best silhouette on a second sample.
 */
export function fitKMeans(data: Matrix, options: Partial<KMeansOptions> = {}): KMeansModel {
  const o: KMeansOptions = { ...DEFAULT_KMEANS_OPTIONS, ...options };
  assertFiniteMatrix(data, 'fitKMeans data');
  validateOptions(o, data.rows);
  const fitSample = selectRows(
    data,
    sampleIndices(data.rows, o.fitSampleSize, createRng(deriveSeed(o.seed, 1))),
  );
  const silhouetteSample = selectRows(
    data,
    sampleIndices(data.rows, o.silhouetteSampleSize, createRng(deriveSeed(o.seed, 2))),
  );
  const distances = pairwiseDistances(silhouetteSample);
  const points: number[][] = Array.from({ length: fitSample.rows }, (_, i) =>
    Array.from(fitSample.data.subarray(i * fitSample.cols, (i + 1) * fitSample.cols)),
  );

  const candidates: (KCandidate & { centroids: number[][] })[] = [];
  for (let k = o.kMin; k <= o.kMax; k++) {
    // One stream per k: trying another range leaves the result for a given k unchanged.
    const initialization = initialiseCentroids(
      fitSample,
      k,
      createRng(deriveSeed(o.seed, 100 + k)),
    );
    const result = kmeans(points, k, {
      initialization,
      maxIterations: o.maxIterations,
      tolerance: o.tolerance,
    });
    const fitted = assignClusters(result, fitSample);
    let inertia = 0;
    for (let i = 0; i < fitSample.rows; i++) {
      inertia += fitted.distances.data[i * k + fitted.clusters[i]!]! ** 2;
    }
    const { clusters } = assignClusters(result, silhouetteSample);
    const populated = new Set(clusters).size;
    // A k whose clusters collapse onto one in the sample cannot be judged: rank it last.
    const silhouette = populated >= 2 ? silhouetteFromDistances(distances, clusters) : -1;
    candidates.push({
      k,
      silhouette,
      inertia,
      iterations: result.iterations,
      converged: result.converged,
      centroids: result.centroids,
    });
  }
  const best = candidates.reduce((a, b) => (b.silhouette > a.silhouette ? b : a));
  return {
    k: best.k,
    centroids: best.centroids,
    silhouette: best.silhouette,
    candidates: candidates.map(({ centroids: _centroids, ...candidate }) => candidate),
    fitRows: fitSample.rows,
    seed: o.seed,
  };
}

export interface ProfileOptions {
  /** Feature holding days since the last purchase or interaction (lower is more recent). */
  recency: string | null;
  /** Feature holding a purchase count. */
  frequency: string | null;
  /** Feature holding spend. */
  monetary: string | null;
  /** Category name → feature holding that category's share of spend. */
  categoryShares: Readonly<Record<string, string>>;
  /** A cluster median this many times the overall median (or 1/this) earns a word in the label. */
  labelRatio: number;
  /** A category enters the label when its mean share in the cluster is this many times overall. */
  categoryLift: number;
  topCategories: number;
}

export const DEFAULT_PROFILE_OPTIONS: ProfileOptions = {
  recency: null,
  frequency: null,
  monetary: null,
  categoryShares: {},
  labelRatio: 1.5,
  categoryLift: 1.25,
  topCategories: 3,
};

export interface ProfileData {
  clusters: Int32Array;
  k: number;
  /** Raw (unscaled) values per feature, aligned with `clusters`; NaN or null is missing. */
  values: Readonly<Record<string, ArrayLike<number | null>>>;
}

export interface CategoryShare {
  category: string;
  /** Mean share of spend in the cluster. */
  share: number;
  /** That share relative to the mean share over all rows. */
  lift: number;
}

export interface ClusterProfile {
  cluster: number;
  size: number;
  /** Fraction of all rows. */
  fraction: number;
  /** Median of every profiled feature in the cluster (null: no value). */
  medians: Record<string, number | null>;
  topCategories: CategoryShare[];
  /** Words for what sets the cluster apart, e.g. "recent · frequent · high spend · wine". */
  label: string;
}

export interface SegmentProfiles {
  overallMedians: Record<string, number | null>;
  clusters: ClusterProfile[];
}

function toFloat64(values: ArrayLike<number | null>): Float64Array {
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] ?? Number.NaN;
  return out;
}

function mean(values: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      sum += v;
      count++;
    }
  }
  return count ? sum / count : Number.NaN;
}

const nullIfNaN = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** Where a cluster's median sits against the overall median: 1 above, −1 below, 0 neither. */
function compareToOverall(clusterMedian: number | null, overall: number | null, ratio: number) {
  if (clusterMedian === null || overall === null) return 0;
  if (overall > 0) {
    if (clusterMedian >= overall * ratio) return 1;
    if (clusterMedian <= overall / ratio) return -1;
    return 0;
  }
  // With a median of 0 (most customers did not buy in the window) any activity stands out.
  return clusterMedian > 0 ? 1 : 0;
}

/**
 * Describes each cluster: size, medians of the given raw features, the categories with the
 * highest spend share, and a label built from how recency, frequency and spend compare with the
 * overall medians, plus the most distinctive category.
 */
export function profileClusters(
  data: ProfileData,
  options: Partial<ProfileOptions> = {},
): SegmentProfiles {
  const o: ProfileOptions = { ...DEFAULT_PROFILE_OPTIONS, ...options };
  const { clusters, k } = data;
  if (!Number.isInteger(k) || k < 1) throw new RangeError('profileClusters: k must be ≥ 1');
  for (let i = 0; i < clusters.length; i++) {
    const c = clusters[i]!;
    if (c < 0 || c >= k)
      throw new RangeError(`profileClusters: row ${i} has cluster ${c} ∉ [0, ${k})`);
  }
  const referenced = [o.recency, o.frequency, o.monetary, ...Object.values(o.categoryShares)];
  for (const name of referenced) {
    if (name !== null && !(name in data.values)) {
      throw new RangeError(`profileClusters: no values given for feature ${name}`);
    }
  }
  const columns = Object.fromEntries(
    Object.entries(data.values).map(([name, values]) => {
      if (values.length !== clusters.length) {
        throw new RangeError(
          `profileClusters: ${name} has ${values.length} values for ${clusters.length} rows`,
        );
      }
      return [name, toFloat64(values)];
    }),
  );
  const members = Array.from({ length: k }, () => [] as number[]);
  clusters.forEach((c, i) => members[c]!.push(i));
  const pick = (values: Float64Array, rows: number[]) => Float64Array.from(rows, (i) => values[i]!);

  const overallMedians = Object.fromEntries(
    Object.entries(columns).map(([name, values]) => [name, nullIfNaN(median(values))]),
  );
  const overallShares = Object.fromEntries(
    Object.entries(o.categoryShares).map(([category, name]) => [category, mean(columns[name]!)]),
  );

  const profiles = members.map((rows, cluster): ClusterProfile => {
    const medians = Object.fromEntries(
      Object.entries(columns).map(([name, values]) => [
        name,
        nullIfNaN(median(pick(values, rows))),
      ]),
    );
    const topCategories = Object.entries(o.categoryShares)
      .map(([category, name]): CategoryShare => {
        const share = mean(pick(columns[name]!, rows));
        const overall = overallShares[category]!;
        return { category, share, lift: overall > 0 ? share / overall : 0 };
      })
      .filter((c) => c.share > 0)
      .sort((a, b) => b.share - a.share || (a.category < b.category ? -1 : 1))
      .slice(0, o.topCategories);

    const words: string[] = [];
    const describe = (feature: string | null, high: string, low: string) => {
      if (feature === null) return;
      const side = compareToOverall(medians[feature]!, overallMedians[feature]!, o.labelRatio);
      if (side > 0) words.push(high);
      if (side < 0) words.push(low);
    };
    describe(o.recency, 'lapsed', 'recent');
    describe(o.frequency, 'frequent', 'infrequent');
    describe(o.monetary, 'high spend', 'low spend');
    const distinctive = topCategories.find((c) => c.lift >= o.categoryLift);
    if (distinctive) words.push(distinctive.category);
    return {
      cluster,
      size: rows.length,
      fraction: clusters.length ? rows.length / clusters.length : 0,
      medians,
      topCategories,
      label: words.length ? words.join(' · ') : 'typical',
    };
  });

  // Two clusters can read the same; a reviewer must still tell them apart.
  const seen = new Map<string, number>();
  for (const profile of profiles) {
    const count = (seen.get(profile.label) ?? 0) + 1;
    seen.set(profile.label, count);
    if (count > 1) profile.label = `${profile.label} (${count})`;
  }
  return { overallMedians, clusters: profiles };
}
