import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import {
  ArtifactError,
  CANDIDATE_COLUMNS,
  loadScoringModel,
  scoreCustomers,
  type ScoreOptions,
  type ScoringModel,
} from '../../src/jobs/scoring/index.js';
import { precisionAt } from '../../src/jobs/scoring/scorer.js';
import { THREAD_CPU_LAG_MS } from '../../src/jobs/scoring/thread-cpu.js';
import { trainModels } from '../../src/jobs/train.job.js';
import { decideTags, loadClassifier, predictTags } from '../../src/ml/classifier/index.js';
import { explainPredictions } from '../../src/ml/explain.js';
import { assignClusters, type KMeansModel } from '../../src/ml/kmeans.js';
import { concatColumns, selectRows } from '../../src/ml/matrix.js';
import {
  loadPreprocessor,
  transformFeatures,
  type FeatureRow,
} from '../../src/ml/preprocessing.js';
import { seedDemo } from '../../src/modules/demo/demo.service.js';
import {
  featureDefinitions,
  featureWording,
} from '../../src/modules/feature/feature.definitions.js';
import { FeatureRepository } from '../../src/modules/feature/feature.repository.js';
import { createTestApp, type TestApp } from '../support/app.js';

const EXPLAIN = { topK: 3, steps: 4 };

interface Candidate {
  customerId: string;
  tagId: string;
  confidence: number;
  threshold: number;
  clusterId: string;
  customerValue: number | null;
  explanation: any;
}

/** Reads COPY text lines back (the explanation's only escape is the doubled backslash). */
function parseCandidates(text: string): Candidate[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const cells = line.split('\t');
      expect(cells).toHaveLength(CANDIDATE_COLUMNS.length);
      const [customerId, tagId, confidence, threshold, clusterId, value, explanation] = cells;
      return {
        customerId: customerId!,
        tagId: tagId!,
        confidence: Number(confidence),
        threshold: Number(threshold),
        clusterId: clusterId!,
        customerValue: value === '\\N' ? null : Number(value),
        explanation: explanation === '\\N' ? null : JSON.parse(explanation!.replace(/\\\\/g, '\\')),
      };
    });
}

function collector() {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return { sink, text: () => Buffer.concat(chunks).toString('utf8') };
}

function threadCount(): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

/** Threads go away asynchronously after terminate(); waits up to a second for the count. */
async function settledThreads(atMost: number): Promise<number> {
  for (let i = 0; i < 20 && threadCount() > atMost; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return threadCount();
}

describe('scoring customers for suggestions', () => {
  let t: TestApp;
  let modelsDir: string;
  let model: ScoringModel;
  let expected: Candidate[];
  let customerIds: string[];

  const score = async (options: Partial<ScoreOptions> = {}) => {
    const out = collector();
    const report = await scoreCustomers(
      { connectionString: t.url, model, workers: 1, explain: EXPLAIN, ...options },
      out.sink,
    );
    return { report, text: out.text() };
  };

  beforeAll(async () => {
    t = await createTestApp();
    modelsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-scoring-'));
    await seedDemo(t.app.orm, { customers: 400, seed: 11 });
    await refreshFeatures(t.app.orm, { mode: 'full' });
    const trained = await trainModels(t.app.orm, {
      seed: 3,
      modelsDir,
      maxEpochs: 30,
      tags: ['wine-lover', 'high-value', 'meat-lover'],
    });
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    try {
      model = await loadScoringModel(client, trained.modelVersionId);
    } finally {
      await client.end();
    }

    // A model this small is confident about little; thresholds at fixed probability quantiles
    // give many candidates to compare, and one tag without a threshold is never suggested.
    const preprocessor = loadPreprocessor(
      JSON.parse(await fs.readFile(path.join(model.artifactDir, 'preprocessor.json'), 'utf8')),
    );
    const kmeans = JSON.parse(
      await fs.readFile(path.join(model.artifactDir, 'kmeans.json'), 'utf8'),
    ) as KMeansModel;
    const classifier = await loadClassifier(path.join(model.artifactDir, 'classifier'));
    const stored = await t.sql<{ id: string; values: FeatureRow }>(
      `select customer_id::text as id, values from customer_features
       where feature_set_version = ? order by customer_id`,
      [model.featureSetVersion],
    );
    customerIds = stored.map((r) => r.id);
    const rows = stored.map((r) => r.values);
    const inputs = transformFeatures(preprocessor, rows);
    const assignment = assignClusters(kmeans, inputs);
    const features = concatColumns(inputs, assignment.distances);
    const probabilities = await predictTags(classifier, features);
    const tags = classifier.meta.tags.length;
    classifier.meta.thresholds = classifier.meta.tags.map((_, j) => {
      if (j === 1) return null;
      const column = Array.from({ length: rows.length }, (_, i) => probabilities[i * tags + j]!);
      return column.sort((a, b) => a - b)[Math.floor(rows.length * (0.5 + 0.15 * j))]!;
    });
    const dir = `${model.artifactDir}-quantiles`;
    await fs.cp(model.artifactDir, dir, { recursive: true });
    const file = path.join(dir, 'classifier', 'model.json');
    const json = JSON.parse(await fs.readFile(file, 'utf8'));
    json.userDefinedMetadata.tagwise.thresholds = classifier.meta.thresholds;
    await fs.writeFile(file, JSON.stringify(json));
    model = { ...model, artifactDir: dir };

    // The reference: the single-threaded computation, straight from src/ml.
    const decisions = decideTags(classifier, probabilities);
    const holders = JSON.parse(
      await fs.readFile(path.join(model.artifactDir, 'holders.json'), 'utf8'),
    ) as { tags: Record<string, Record<string, number>> };
    expect(Object.keys(holders.tags)).toEqual(classifier.meta.tags);
    const set = await new FeatureRepository(t.app.orm.em.fork()).loadFeatureSet();
    const explanations = await explainPredictions(
      { classifier, preprocessor },
      {
        features: selectRows(
          features,
          decisions.map((d) => d.row),
        ),
        raw: decisions.map((d) => rows[d.row]!),
        tagIndices: decisions.map((d) => d.tagIndex),
      },
      {
        ...EXPLAIN,
        clusterLabels: model.clusterLabels,
        ...featureWording(featureDefinitions(set)),
        tagNames: model.tagNames,
        holderMedians: classifier.meta.tags.map((tag) => holders.tags[tag] ?? null),
      },
    );
    expected = decisions.map((d, i) => {
      const cluster = assignment.clusters[d.row]!;
      return {
        customerId: customerIds[d.row]!,
        tagId: model.tagIds[d.tagIndex]!,
        confidence: d.confidence,
        threshold: classifier.meta.thresholds[d.tagIndex]!,
        clusterId: model.clusterIds[cluster]!,
        customerValue: rows[d.row]!.spend_365d as number,
        explanation: {
          cluster: model.clusterLabels[cluster],
          contributions: explanations[i]!.contributions,
          precision: precisionAt(classifier.meta.evaluations[d.tagIndex]!.curve, d.confidence),
        },
      };
    });
    classifier.network.dispose();
  }, 300_000);

  afterAll(async () => {
    await t?.close();
    if (modelsDir) await fs.rm(modelsDir, { recursive: true, force: true });
  });

  it('writes exactly the candidates of the single-threaded computation', async () => {
    expect(model.valueFeature).toBe('spend_365d');
    const { report, text } = await score();
    const rows = parseCandidates(text);
    expect(report).toMatchObject({
      customers: customerIds.length,
      candidates: expected.length,
      workers: 1,
    });
    expect(expected.length).toBeGreaterThan(100);
    expect(rows.map((r) => [r.customerId, r.tagId])).toEqual(
      expected.map((r) => [r.customerId, r.tagId]),
    );
    expect(rows.some((r) => r.tagId === model.tagIds[1])).toBe(false);
    rows.forEach((row, i) => {
      const want = expected[i]!;
      expect(row.confidence).toBeCloseTo(want.confidence, 6);
      expect(row.confidence).toBeGreaterThanOrEqual(row.threshold);
      expect(row).toMatchObject({
        threshold: want.threshold,
        clusterId: want.clusterId,
        customerValue: want.customerValue,
      });
      expect(row.explanation.cluster).toBe(want.explanation.cluster);
      expect(row.explanation.precision).toBeCloseTo(want.explanation.precision!, 4);
      expect(row.explanation.contributions).toEqual(
        want.explanation.contributions.map(({ direction: _, ...c }: any) => ({
          ...c,
          contribution: expect.closeTo(c.contribution, 3),
        })),
      );
      // The sentence and the directions are derived when read, not stored with every row.
      expect(row.explanation).not.toHaveProperty('text');
    });
  });

  it('gives the same bytes whatever the number of workers and the batch size', async () => {
    const { text } = await score();
    for (const options of [
      { workers: 2, batchSize: 7 },
      { workers: 2, batchSize: 64 },
      { workers: 1, batchSize: 100_000 },
    ]) {
      const run = await score(options);
      expect(run.report.workers).toBe(options.workers);
      expect(run.text).toBe(text);
    }
    // Four full scorings, one with batches of 7: CPU-bound, and slower with other files beside it.
  }, 120_000);

  it("reports each worker thread's CPU time per step, which never exceeds its wall time", async () => {
    const batchSize = 200;
    const { report } = await score({ workers: 2, batchSize });
    // The scheduler's account may lag a tick at each of a step's two readings, per task. A
    // process-wide clock would count the other threads too.
    const tasks = Math.ceil(report.customers / batchSize);
    const slack = 1 + tasks * 2 * THREAD_CPU_LAG_MS;
    const cpu = report.workerCpuMs!;
    expect(cpu).not.toBeNull();
    expect(cpu.parse + cpu.score).toBeGreaterThan(0);
    for (const step of ['parse', 'score', 'explain'] as const) {
      expect(cpu[step]).toBeGreaterThanOrEqual(0);
      expect(cpu[step]).toBeLessThanOrEqual(report.workerMs[step] + slack);
    }
  });

  it('scores only the customers asked for, in order, with progress up to the total', async () => {
    const chosen = customerIds.filter((_, i) => i % 7 === 3);
    const progress: [number, number][] = [];
    const { report, text } = await score({
      customerIds: [...chosen, '999999999'],
      batchSize: 16,
      workers: 2,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(report.customers).toBe(chosen.length);
    const wanted = new Set(chosen);
    expect(parseCandidates(text).map((r) => [r.customerId, r.tagId])).toEqual(
      expected.filter((r) => wanted.has(r.customerId)).map((r) => [r.customerId, r.tagId]),
    );
    expect(progress.at(-1)).toEqual([chosen.length, chosen.length]);
    await expect(score({ customerIds: ['5', '3'] })).rejects.toThrow(/ascending/);
  });

  it('loads into PostgreSQL through COPY as written', async () => {
    const client = new pg.Client({ connectionString: t.url });
    await client.connect();
    try {
      await client.query(
        `create temp table candidate (customer_id bigint, tag_id bigint, confidence real,
           threshold double precision, cluster_id bigint, customer_value numeric, explanation jsonb)`,
      );
      const copy = client.query(
        copyFrom(`copy candidate (${CANDIDATE_COLUMNS.join(', ')}) from stdin`),
      );
      const report = await scoreCustomers(
        { connectionString: t.url, model, workers: 2, explain: EXPLAIN },
        copy,
      );
      const { rows } = await client.query(
        `select count(*)::int as n, count(*) filter (where confidence >= threshold)::int as confident,
                count(explanation->'contributions')::int as explained from candidate`,
      );
      expect(rows[0]).toEqual({
        n: report.candidates,
        confident: report.candidates,
        explained: report.candidates,
      });
    } finally {
      await client.end();
    }
  });

  it('rejects a broken model folder with the file named, leaving no worker behind', async () => {
    const threads = threadCount();
    const broken = `${model.artifactDir}-broken`;
    await fs.cp(model.artifactDir, broken, { recursive: true });
    await fs.rm(path.join(broken, 'classifier', 'weights.bin'));
    const out = collector();
    const failure = scoreCustomers(
      { connectionString: t.url, model: { ...model, artifactDir: broken }, workers: 2 },
      out.sink,
    );
    await expect(failure).rejects.toBeInstanceOf(ArtifactError);
    await expect(failure).rejects.toThrow(/weights\.bin/);
    // No line will come: a COPY fed by the sink must end rather than wait.
    expect(out.sink.destroyed).toBe(true);
    expect(await settledThreads(threads)).toBeLessThanOrEqual(threads);

    await expect(
      score({ model: { ...model, clusterIds: model.clusterIds.slice(1) } }),
    ).rejects.toThrow(/cluster ids for/);
    expect(await settledThreads(threads)).toBeLessThanOrEqual(threads);
  });

  it('stops on an abort, destroying the sink and ending the workers', async () => {
    const threads = threadCount();
    const abort = new AbortController();
    const out = collector();
    const aborted = scoreCustomers(
      {
        connectionString: t.url,
        model,
        workers: 2,
        batchSize: 8,
        explain: EXPLAIN,
        signal: abort.signal,
        onProgress: (done) => done >= 16 && abort.abort(new Error('stop here')),
      },
      out.sink,
    );
    await expect(aborted).rejects.toThrow('stop here');
    expect(out.sink.destroyed).toBe(true);
    expect(await settledThreads(threads)).toBeLessThanOrEqual(threads);
  });

  it('stops on a bad feature row, ending the workers', async () => {
    const threads = threadCount();
    // In the first batch, so the writer is already waiting on the very task that fails: a failed
    // task must reject itself, not only the pool.
    const victim = customerIds[5]!;
    await t.sql(
      `update customer_features set values = jsonb_set(values, '{age}', '"unknown"')
       where customer_id = ?`,
      [victim],
    );
    try {
      await expect(score({ workers: 2, batchSize: 32 })).rejects.toThrow(/age.*not a number/);
      expect(await settledThreads(threads)).toBeLessThanOrEqual(threads);
    } finally {
      await refreshFeatures(t.app.orm, { mode: 'full' });
    }
  });
});
