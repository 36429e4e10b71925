import { describe, expect, it } from 'vitest';
import {
  assignClusters,
  distanceColumnNames,
  fitKMeans,
  initialiseCentroids,
  profileClusters,
} from '../../../src/ml/kmeans.js';
import { matrixFromRows } from '../../../src/ml/matrix.js';
import { createRng } from '../../../src/ml/random.js';
import { blobs } from './synthetic.js';

const CENTERS = [
  [0, 0, 0, 0, 0],
  [12, 0, 0, 0, 0],
  [0, 12, 0, 0, 0],
  [0, 0, 12, 12, 0],
];

describe('fitKMeans', () => {
  const { matrix, truth } = blobs(CENTERS, 3000, 1);
  const model = fitKMeans(matrix, { seed: 7, fitSampleSize: 1500, silhouetteSampleSize: 500 });

  it('picks the true k for well-separated blobs, by silhouette', () => {
    expect(model.k).toBe(4);
    expect(model.candidates.map((c) => c.k)).toEqual([3, 4, 5, 6, 7, 8, 9, 10]);
    const best = Math.max(...model.candidates.map((c) => c.silhouette));
    expect(model.silhouette).toBe(best);
    expect(model.silhouette).toBeGreaterThan(0.7);
    expect(model.fitRows).toBe(1500);
  });

  it('puts each blob in one cluster of its own', () => {
    const { clusters } = assignClusters(model, matrix);
    const clusterOfBlob = CENTERS.map((_, blob) => {
      const members = new Set(clusters.filter((_c, i) => truth[i] === blob));
      expect(members.size).toBe(1);
      return [...members][0];
    });
    expect(new Set(clusterOfBlob).size).toBe(4);
  });

  it('gives the same centroids for the same seed', () => {
    const again = fitKMeans(matrix, { seed: 7, fitSampleSize: 1500, silhouetteSampleSize: 500 });
    expect(again).toEqual(model);
  });

  it('finds the exact means of a tiny fixture', () => {
    const tiny = matrixFromRows([
      [0, 0],
      [0, 2],
      [10, 0],
      [10, 2],
      [0, 20],
      [2, 20],
      [1, 0],
    ]);
    const fitted = fitKMeans(tiny, { kMin: 3, kMax: 3, seed: 1 });
    const sorted = fitted.centroids
      .map((c) => c.map((v) => Math.round(v * 1e6) / 1e6))
      .sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
    expect(sorted).toEqual([
      [1 / 3, 2 / 3].map((v) => Math.round(v * 1e6) / 1e6),
      [1, 20],
      [10, 1],
    ]);
  });

  it('validates its input', () => {
    expect(() => fitKMeans(matrixFromRows([[0], [1]]))).toThrow(/more than 10 rows/);
    expect(() => fitKMeans(matrix, { kMin: 1 })).toThrow(/kMin/);
    expect(() => fitKMeans(matrixFromRows([[0], [Number.NaN]]), { kMin: 2, kMax: 2 })).toThrow(
      /non-finite/,
    );
  });
});

describe('initialiseCentroids', () => {
  it('spreads the seeds: one per well-separated blob', () => {
    const { matrix, truth } = blobs(CENTERS, 400, 2, 0.5);
    const seeds = initialiseCentroids(matrix, 4, createRng(3));
    const { clusters } = assignClusters({ centroids: CENTERS }, matrixFromRows(seeds));
    expect(new Set(clusters).size).toBe(4);
    expect(truth.length).toBe(400);
  });
});

describe('assignClusters', () => {
  it('returns the nearest centroid and the distance to every centroid', () => {
    const data = matrixFromRows([
      [0, 0],
      [3, 4],
    ]);
    const { clusters, distances } = assignClusters(
      {
        centroids: [
          [0, 0],
          [6, 8],
        ],
      },
      data,
    );
    expect(Array.from(clusters)).toEqual([0, 0]);
    expect(Array.from(distances.data)).toEqual([0, 10, 5, 5]);
    expect(distances.cols).toBe(2);
    expect(distanceColumnNames(2)).toEqual(['cluster_distance:0', 'cluster_distance:1']);
  });

  it('refuses centroids of another dimension', () => {
    expect(() => assignClusters({ centroids: [[0]] }, matrixFromRows([[0, 0]]))).toThrow(
      /dimensions/,
    );
  });
});

describe('profileClusters', () => {
  // Cluster 0: bought yesterday, often, a lot, mostly wine. Cluster 1: long gone, little, meat.
  // Cluster 2: in between on everything.
  const clusters = Int32Array.from({ length: 30 }, (_, i) => i % 3);
  const pick = <T>(values: [T, T, T]) => Array.from(clusters, (c) => values[c]!);
  const values = {
    recency: pick([3, 200, 40]),
    frequency: pick([20, 1, 5]),
    monetary: pick([5000, 50, 600]),
    wine_share: pick([0.8, 0.1, 0.3]),
    meat_share: pick([0.1, 0.7, 0.3]),
  };
  const profiles = profileClusters(
    { clusters, k: 3, values },
    {
      recency: 'recency',
      frequency: 'frequency',
      monetary: 'monetary',
      categoryShares: { wine: 'wine_share', meat: 'meat_share' },
    },
  );

  it('labels clusters from their medians against the overall medians', () => {
    expect(profiles.clusters.map((c) => c.label)).toEqual([
      'recent · frequent · high spend · wine',
      'lapsed · infrequent · low spend · meat',
      'typical',
    ]);
  });

  it('reports size, medians and top categories', () => {
    expect(profiles.overallMedians).toMatchObject({ recency: 40, frequency: 5, monetary: 600 });
    expect(profiles.clusters[0]).toMatchObject({
      cluster: 0,
      size: 10,
      medians: { recency: 3, frequency: 20, monetary: 5000 },
    });
    expect(profiles.clusters[0]!.fraction).toBeCloseTo(1 / 3, 12);
    expect(profiles.clusters[0]!.topCategories.map((c) => c.category)).toEqual(['wine', 'meat']);
    expect(profiles.clusters[0]!.topCategories[0]!.lift).toBeCloseTo(0.8 / 0.4, 6);
  });

  it('tells apart clusters that would read the same', () => {
    const same = profileClusters({ clusters: Int32Array.from([0, 1]), k: 2, values: {} });
    expect(same.clusters.map((c) => c.label)).toEqual(['typical', 'typical (2)']);
  });

  it('validates its input', () => {
    expect(() => profileClusters({ clusters: Int32Array.from([0, 3]), k: 2, values: {} })).toThrow(
      /cluster 3/,
    );
    expect(() =>
      profileClusters({ clusters: Int32Array.from([0]), k: 1, values: {} }, { recency: 'r' }),
    ).toThrow(/no values given for feature r/);
  });
});
