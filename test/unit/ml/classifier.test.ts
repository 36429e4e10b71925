import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import {
  decideTags,
  loadClassifier,
  predictTags,
  saveClassifier,
  type TrainingResult,
  trainClassifier,
} from '../../../src/ml/classifier.js';
import { createRng } from '../../../src/ml/random.js';
import { twoTagTask } from './synthetic.js';

const weightsOf = (result: TrainingResult) =>
  result.model.network.getWeights().map((w) => Array.from(w.dataSync()));

describe('initBackend', () => {
  it('selects a backend and reports its name', async () => {
    const name = await initBackend();
    expect(['tensorflow', 'wasm', 'cpu']).toContain(name);
    expect(tf.getBackend()).toBe(name);
    console.log(`TF.js backend: ${name}`);
  });
});

describe('trainClassifier', () => {
  const task = twoTagTask(800, 6, 1);
  const options = { seed: 3, maxEpochs: 40, patience: 5 };
  let first: TrainingResult;
  let second: TrainingResult;

  beforeAll(async () => {
    first = await trainClassifier(task, options);
    second = await trainClassifier(task, options);
  });

  afterAll(() => {
    first.model.network.dispose();
    second.model.network.dispose();
  });

  it('learns both tags and reports per-tag metrics on the held-out test split', () => {
    const { meta } = first.model;
    expect(meta.metricsSplit).toBe('test');
    expect(meta.params.rows).toEqual({ train: 512, validation: 128, test: 160 });
    for (const m of meta.metrics) {
      expect(m.rocAuc).toBeGreaterThan(0.9);
      expect(m.prAuc).toBeGreaterThan(0.8);
      expect(m.support + m.negatives).toBe(160);
      expect(m.confident).toBe(true);
      expect(m.threshold).toBeGreaterThan(0);
      expect(m.precision).toBeGreaterThan(0.8);
    }
    expect(meta.tags).toEqual(['first', 'second']);
    expect(meta.backend).toBe(tf.getBackend());
    expect(first.history.length).toBe(meta.epochs);
  });

  it('is reproducible: the same data and seed give the same weights and metrics', () => {
    expect(second.model.meta).toEqual(first.model.meta);
    expect(weightsOf(second)).toEqual(weightsOf(first));
    expect(second.history).toEqual(first.history);
  });

  it('gives different weights for a different seed', async () => {
    const other = await trainClassifier(task, { ...options, seed: 4, maxEpochs: 2 });
    expect(weightsOf(other)[0]).not.toEqual(weightsOf(first)[0]);
    other.model.network.dispose();
  });

  it('chooses thresholds on validation that reach the target precision there', () => {
    const { meta } = first.model;
    meta.validationMetrics.forEach((m, j) => {
      expect(m.threshold).toBe(meta.thresholds[j]);
      expect(m.precision).toBeGreaterThanOrEqual(0.9);
    });
  });

  it('does not grow the tensor count when predicting', async () => {
    await predictTags(first.model, task.features);
    const before = tf.memory().numTensors;
    await predictTags(first.model, task.features, { batchSize: 7 });
    expect(tf.memory().numTensors).toBe(before);
  });

  it('predicts the same in any batch size', async () => {
    const big = await predictTags(first.model, task.features);
    const small = await predictTags(first.model, task.features, { batchSize: 33 });
    expect(small).toEqual(big);
    expect(big.length).toBe(800 * 2);
  });

  it('round-trips through model.json + weights.bin with identical predictions', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tagwise-classifier-'));
    try {
      await saveClassifier(first.model, dir);
      expect((await readdir(dir)).sort()).toEqual(['model.json', 'weights.bin']);
      const loaded = await loadClassifier(dir);
      expect(loaded.meta).toEqual(first.model.meta);
      expect(await predictTags(loaded, task.features)).toEqual(
        await predictTags(first.model, task.features),
      );
      loaded.network.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses features with other columns', async () => {
    const renamed = { ...task.features, columns: ['a', 'b', 'c', 'd', 'e', 'f'] };
    await expect(predictTags(first.model, renamed)).rejects.toThrow(/columns differ/);
    const narrow = { data: new Float32Array(5), rows: 1, cols: 5 };
    await expect(predictTags(first.model, narrow)).rejects.toThrow(/takes 6 columns/);
  });
});

describe('labels', () => {
  it('masks unknown labels, honours per-tag targets, and never suggests a noise tag', async () => {
    const task = twoTagTask(800, 6, 2);
    const rng = createRng(9);
    const labels = task.labels.slice();
    for (let i = 0; i < 800; i++) {
      // Half the rows are unlabelled for the first tag; the second tag is a coin toss.
      if (i % 2 === 0) labels[i * 2] = i % 4 === 0 ? Number.NaN : -1;
      labels[i * 2 + 1] = rng() < 0.5 ? 1 : 0;
    }
    const weights = new Float32Array(800).fill(1);
    const { model } = await trainClassifier(
      { ...task, labels, weights, tags: ['signal', 'noise'] },
      { seed: 1, maxEpochs: 30, patience: 5, targetPrecisionByTag: { signal: 0.8 } },
    );
    const [signal, noise] = model.meta.metrics;
    expect(signal!.support + signal!.negatives).toBeLessThan(100);
    expect(noise!.support + noise!.negatives).toBe(160);
    expect(model.meta.targetPrecisions).toEqual([0.8, 0.9]);
    expect(signal!.confident).toBe(true);
    expect(noise!.confident).toBe(false);
    expect(noise!.threshold).toBeNull();
    const probabilities = await predictTags(model, task.features);
    const decisions = decideTags(model, probabilities);
    expect(decisions.length).toBeGreaterThan(0);
    expect(decisions.every((d) => d.tag === 'signal')).toBe(true);
    model.network.dispose();
  });

  it('validates labels, weights and options before training', async () => {
    const task = twoTagTask(50, 3, 3);
    await expect(trainClassifier({ ...task, labels: new Float32Array(3) })).rejects.toThrow(
      /labels has 3 values/,
    );
    const bad = task.labels.slice();
    bad[0] = 2;
    await expect(trainClassifier({ ...task, labels: bad })).rejects.toThrow(/label 0 is 2/);
    await expect(trainClassifier({ ...task, weights: new Float32Array(7) })).rejects.toThrow(
      /weights/,
    );
    await expect(trainClassifier(task, { targetPrecisionByTag: { nope: 0.9 } })).rejects.toThrow(
      /unknown tag nope/,
    );
  });
});
