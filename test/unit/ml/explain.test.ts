import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  predictTags,
  type TagClassifier,
  trainClassifier,
} from '../../../src/ml/classifier/index.js';
import { explainPredictions } from '../../../src/ml/explain.js';
import { assignClusters, distanceColumnNames } from '../../../src/ml/kmeans.js';
import { concatColumns, createMatrix } from '../../../src/ml/matrix.js';
import {
  type FeatureRow,
  fitPreprocessor,
  type Preprocessor,
  transformFeatures,
} from '../../../src/ml/preprocessing.js';
import { createRng } from '../../../src/ml/random.js';
import { gaussian } from './synthetic.js';

// Only spend matters for the tag; visits and region are noise.
function customers(n: number, seed: number): { rows: FeatureRow[]; labels: Float32Array } {
  const rng = createRng(seed);
  const rows: FeatureRow[] = [];
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const spend = Math.round(Math.exp(4 + gaussian(rng)));
    rows.push({
      spend_90d: spend,
      visits: Math.round(10 + 3 * gaussian(rng)),
      region: rng() < 0.5 ? 'South China' : 'North China',
    });
    labels[i] = Math.log(spend) + 0.2 * gaussian(rng) > 4.3 ? 1 : 0;
  }
  return { rows, labels };
}

// Scaled columns: spend, visits, region=…, region=…, region:other.
const CENTROIDS = [
  [0, 0, 0, 0, 0],
  [1, 1, 1, 0, 0],
];

describe('explainPredictions', () => {
  const { rows, labels } = customers(1000, 1);
  let preprocessor: Preprocessor;
  let classifier: TagClassifier;
  let features: ReturnType<typeof concatColumns>;

  beforeAll(async () => {
    preprocessor = fitPreprocessor(rows);
    const scaled = transformFeatures(preprocessor, rows);
    // Cluster distances ride along as inputs, as in the product.
    features = concatColumns(scaled, assignClusters({ centroids: CENTROIDS }, scaled).distances);
    const trained = await trainClassifier(
      {
        features,
        columns: [...scaled.columns, ...distanceColumnNames(2)],
        tags: ['big spender'],
        labels,
      },
      { seed: 5, maxEpochs: 60 },
    );
    classifier = trained.model;
  });

  afterAll(() => classifier.network.dispose());

  const rowOf = (i: number) => features.data.subarray(i * features.cols, (i + 1) * features.cols);
  const explain = (indices: number[], options = {}) =>
    explainPredictions(
      { classifier, preprocessor },
      {
        features: createMatrix(
          Float32Array.from(indices.flatMap((i) => [...rowOf(i)])),
          indices.length,
          features.cols,
        ),
        raw: indices.map((i) => rows[i]!),
        tagIndices: indices.map(() => 0),
      },
      options,
    );

  it('names the one feature that matters, with the right direction', async () => {
    const bySpend = [...rows.keys()].sort(
      (a, b) => (rows[a]!.spend_90d as number) - (rows[b]!.spend_90d as number),
    );
    const lowest = bySpend.slice(0, 20);
    const highest = bySpend.slice(-20);
    for (const explanation of await explain(highest)) {
      expect(explanation.tag).toBe('big spender');
      expect(explanation.contributions[0]).toMatchObject({
        feature: 'spend_90d',
        direction: 'raises',
      });
      expect(explanation.contributions[0]!.text).toMatch(/^spend 90d is [\d.]+× the median$/);
    }
    for (const explanation of await explain(lowest)) {
      expect(explanation.contributions[0]).toMatchObject({
        feature: 'spend_90d',
        direction: 'lowers',
      });
    }
  });

  it('adds up to the change in logit from the average customer', async () => {
    const [explanation] = await explain([3], { topK: 10, steps: 128 });
    const total = explanation!.contributions.reduce((sum, c) => sum + c.contribution, 0);
    const logit = (x: Float32Array) =>
      tf.tidy(
        () =>
          (
            classifier.network.predict(tf.tensor2d(x, [1, features.cols])) as tf.Tensor
          ).dataSync()[0]!,
      );
    const expected = logit(rowOf(3)) - logit(Float32Array.from(classifier.meta.columnMeans));
    // Within 0.3 %: what is left is float32 rounding in the gradients of a two-layer network.
    expect(Math.abs(total - expected)).toBeLessThan(0.003 * Math.abs(expected));
    expect(new Set(explanation!.contributions.map((c) => c.feature))).toEqual(
      new Set(['spend_90d', 'visits', 'region', 'segment']),
    );
  });

  it('words values for a reviewer', async () => {
    const [explanation] = await explain([0], {
      topK: 4,
      descriptions: { spend_90d: 'spend in the last 90 days', visits: '{value} visits a month' },
      clusterLabels: ['quiet', 'busy'],
    });
    const texts = Object.fromEntries(explanation!.contributions.map((c) => [c.feature, c.text]));
    expect(texts.region).toBe(`region is ${rows[0]!.region}`);
    expect(texts.visits).toBe(`${rows[0]!.visits} visits a month`);
    expect(texts.spend_90d).toMatch(/^spend in the last 90 days is /);
    expect(texts.segment).toMatch(/^in segment "(quiet|busy)"$/);
  });

  it('words a missing value as its definition says, else as unknown', async () => {
    const texts = async (raw: FeatureRow) => {
      const [explanation] = await explainPredictions(
        { classifier, preprocessor },
        { features: createMatrix(rowOf(0).slice(), 1, features.cols), raw: [raw], tagIndices: [0] },
        { topK: 4, missing: { spend_90d: 'no purchases yet' } },
      );
      return Object.fromEntries(explanation!.contributions.map((c) => [c.feature, c.text]));
    };
    const words = await texts({ spend_90d: null, visits: null, region: '' });
    expect(words.spend_90d).toBe('no purchases yet');
    expect(words.visits).toBe('visits is unknown');
    expect(words.region).toBe('region is unknown');
  });

  it('compares the customer with the tag’s holders and everyone, shares as percentages', async () => {
    const [explanation] = await explain([0], {
      topK: 4,
      holderMedians: [{ spend_90d: 120, visits: 0.35 }],
      tagNames: ['Big spender'],
      shares: ['visits'],
    });
    const texts = Object.fromEntries(explanation!.contributions.map((c) => [c.feature, c.text]));
    const spec = (name: string) =>
      preprocessor.features.find((f) => f.name === name) as { median: number };
    expect(texts.spend_90d).toBe(
      `spend 90d is ${String(rows[0]!.spend_90d)}; holders of Big spender: 120, everyone: ${spec('spend_90d').median}`,
    );
    const pct = (share: number) =>
      `${new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 }).format(share * 100)} %`;
    expect(texts.visits).toBe(
      `visits is ${pct(rows[0]!.visits as number)}; holders of Big spender: 35 %, everyone: ${pct(spec('visits').median)}`,
    );
  });

  it('gives no reason whose value is just everyone’s median', async () => {
    const median = (preprocessor.features.find((f) => f.name === 'visits') as { median: number })
      .median;
    const typical = rows.findIndex((r) => r.visits === median);
    const unusual = rows.findIndex((r) => Math.abs((r.visits as number) - median) > 5);
    const [atMedian, away] = await explain([typical, unusual], { topK: 10 });
    expect(atMedian!.contributions.map((c) => c.feature)).not.toContain('visits');
    expect(away!.contributions.map((c) => c.feature)).toContain('visits');
  });

  it('leaves no tensors behind', async () => {
    await explain([0, 1]);
    await predictTags(classifier, features);
    const before = tf.memory().numTensors;
    await explain([...Array(600).keys()]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('validates its input', async () => {
    await expect(
      explainPredictions(
        { classifier, preprocessor },
        { features, raw: rows, tagIndices: new Int32Array(rows.length).fill(1) },
      ),
    ).rejects.toThrow(/tag index 1/);
  });
});
