import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import { loadModel } from '../../src/jobs/model-loader.js';
import { FeatureService } from '../../src/modules/feature/feature.service.js';
import { trainModels, type TrainReport } from '../../src/jobs/train.job.js';
import { seedDemo } from '../../src/modules/demo/demo.service.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';

const PROMOTE = `mutation($id: ID!) { promoteModelVersion(id: $id) { version status } }`;

describe('training and the model registry', () => {
  let t: TestApp;
  let modelsDir: string;
  let first: TrainReport;
  let second: TrainReport;

  beforeAll(async () => {
    t = await createTestApp();
    modelsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-models-'));
    await seedDemo(t.app.orm, { customers: 600, seed: 5 });
    await refreshFeatures(t.app.orm, { mode: 'full' });
    const options = {
      seed: 7,
      modelsDir,
      maxEpochs: 40,
      tags: ['wine-lover', 'high-value', 'meat-lover'],
    };
    first = await trainModels(t.app.orm, options);
    second = await trainModels(t.app.orm, options);
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    if (modelsDir) await fs.rm(modelsDir, { recursive: true, force: true });
  });

  it('is reproducible: the same data and seed give the same metrics', () => {
    expect(second.metrics).toEqual(first.metrics);
    expect(second.silhouette).toBe(first.silhouette);
    expect(first.metrics.map((m) => m.tag).sort()).toEqual([
      'high-value',
      'meat-lover',
      'wine-lover',
    ]);
    // The demo personas carry signal the model must find, even on 600 customers and 40 epochs.
    for (const m of first.metrics) expect(m.rocAuc ?? m.estimatedRocAuc).toBeGreaterThan(0.6);
    // Interests are tagged for some holders only (PU); value tiers in an exclusive category, so
    // a customer tagged with one tier is known not to hold the others (KNOWN).
    expect(Object.fromEntries(first.metrics.map((m) => [m.tag, m.mode]))).toEqual({
      'high-value': 'KNOWN',
      'meat-lover': 'PU',
      'wine-lover': 'PU',
    });
  });

  it('writes the artifacts and registers a CANDIDATE with clusters and assignments', async () => {
    const manifest = JSON.parse(
      await fs.readFile(path.join(modelsDir, first.version, 'manifest.json'), 'utf8'),
    );
    expect(manifest).toMatchObject({ version: first.version, seed: 7, backend: first.backend });
    await fs.access(path.join(modelsDir, first.version, 'classifier', 'model.json'));
    const split = JSON.parse(
      await fs.readFile(path.join(modelsDir, first.version, 'split.json'), 'utf8'),
    );
    const [meta] = await t.sql<{ params: { classifier: { rows: Record<string, number> } } }>(
      'select params from model_version where id = ?',
      [first.modelVersionId],
    );
    expect(split.validation).toHaveLength(meta!.params.classifier.rows.validation!);
    expect(split.test).toHaveLength(meta!.params.classifier.rows.test!);
    const holders = JSON.parse(
      await fs.readFile(path.join(modelsDir, first.version, 'holders.json'), 'utf8'),
    );
    expect(holders.tags['wine-lover'].spend_365d).toBeGreaterThan(0);
    const data = await t.ok(
      `{ modelVersions { totalCount edges { node { version status seed backend metrics clusters { label size } } } } }`,
    );
    const registered = data.modelVersions.edges
      .map((e: any) => e.node)
      .find((m: any) => m.version === first.version);
    expect(registered).toMatchObject({ status: 'CANDIDATE', seed: 7 });
    expect(registered.clusters).toHaveLength(first.clusters);
    expect(registered.clusters.reduce((s: number, c: any) => s + c.size, 0)).toBe(600);
    const [assigned] = await t.sql<{ n: number }>(
      'select count(*)::int as n from customer_cluster where model_version_id = ?',
      [first.modelVersionId],
    );
    expect(assigned!.n).toBe(600);
  });

  it('shows each tag’s labels and evaluation over GraphQL', async () => {
    const data = await t.ok(
      `{ tags(first: 100) { edges { node { key labels { positives negatives unlabelled } } } }
         modelVersions(first: 10) { edges { node { id tagEvaluations { tag mode positives negatives unlabelled
           heldOutCustomers precision estimatedPrecision precisionInterval { low high } confident reason method
           labelFrequency { value } } } } } }`,
    );
    const labels = Object.fromEntries(data.tags.edges.map((e: any) => [e.node.key, e.node.labels]));
    const [counts] = await t.sql<{ n: number }>('select count(*)::int as n from customer');
    expect(labels['high-value'].positives + labels['high-value'].negatives).toBeGreaterThan(0);
    for (const key of ['high-value', 'wine-lover']) {
      const { positives, negatives, unlabelled } = labels[key];
      expect(positives + negatives + unlabelled).toBe(counts!.n);
    }
    expect(labels['wine-lover'].negatives).toBe(0);
    const version = data.modelVersions.edges.find((e: any) => e.node.id === first.modelVersionId);
    const byTag = Object.fromEntries(version.node.tagEvaluations.map((e: any) => [e.tag, e]));
    expect(byTag['wine-lover']).toMatchObject({ mode: 'PU', precision: null });
    expect(byTag['wine-lover'].method).toMatch(/label frequency c = /);
    expect(byTag['high-value']).toMatchObject({ mode: 'KNOWN', estimatedPrecision: null });
    expect(byTag['high-value'].positives).toBe(labels['high-value'].positives);
  });

  it('promotes one version at a time and rolls back by promoting an older one', async () => {
    expect((await t.ok(`{ activeModelVersion { version } }`)).activeModelVersion).toBeNull();
    await t.ok(PROMOTE, { id: first.modelVersionId });
    await t.ok(PROMOTE, { id: second.modelVersionId });
    let data = await t.ok(
      `{ modelVersions(first: 1, after: null) { edges { node { version } } pageInfo { hasNextPage } } all: modelVersions(first: 50) { edges { node { version status } } } activeModelVersion { version } }`,
    );
    expect(data.activeModelVersion.version).toBe(second.version);
    expect(data.all.edges.find((e: any) => e.node.version === first.version).node.status).toBe(
      'RETIRED',
    );
    expect(data.modelVersions.edges[0].node.version).toBe(second.version);
    expect(data.modelVersions.pageInfo.hasNextPage).toBe(true);
    await t.ok(PROMOTE, { id: first.modelVersionId });
    data = await t.ok(`{ activeModelVersion { version } }`);
    expect(data.activeModelVersion.version).toBe(first.version);

    const customers = await t.ok(
      `{ customers(first: 3) { edges { node { cluster { label size } } } } }`,
    );
    for (const edge of customers.customers.edges)
      expect(edge.node.cluster.label).toEqual(expect.any(String));
  });

  it('keeps exactly one active version under concurrent promotions', async () => {
    await Promise.all([
      t.ok(PROMOTE, { id: first.modelVersionId }),
      t.ok(PROMOTE, { id: second.modelVersionId }),
      t.ok(PROMOTE, { id: first.modelVersionId }),
    ]);
    const [row] = await t.sql<{ n: number }>(
      `select count(*)::int as n from model_version where status = 'ACTIVE'`,
    );
    expect(row!.n).toBe(1);
  });

  it('guards promotion: data scientists and admins only, unknown ids NOT_FOUND', async () => {
    const viewer = await t.gql(PROMOTE, { id: first.modelVersionId }, { as: 'VIEWER' as never });
    expect(errorOf(viewer).code).toBe('FORBIDDEN');
    expect(errorOf(await t.gql(PROMOTE, { id: '99999' })).code).toBe('NOT_FOUND');
  });

  it('refuses to train without enough labelled customers for a tag', async () => {
    await expect(
      trainModels(t.app.orm, { modelsDir, tags: ['no-such-tag'] }),
    ).rejects.toMatchObject({
      field: 'tags',
    });
  });

  it('trains through the job queue and reports the run', async () => {
    await t.app.queue.startWorkers();
    const queued = await t.ok(
      `mutation { trainModels(input: { seed: 7, tags: ["wine-lover", "high-value"] }) { id status } }`,
    );
    expect(queued.trainModels.status).toBe('QUEUED');
    let run: any;
    for (let i = 0; i < 240; i++) {
      run = (
        await t.ok(`query($id: ID!) { modelRun(id: $id) { status error progress } }`, {
          id: queued.trainModels.id,
        })
      ).modelRun;
      if (run.status === 'SUCCEEDED' || run.status === 'FAILED') break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(run).toMatchObject({ status: 'SUCCEEDED', error: null });
    const forbidden = await t.gql(
      `mutation { trainModels { id } }`,
      {},
      { as: 'REVIEWER' as never },
    );
    expect(errorOf(forbidden).code).toBe('FORBIDDEN');
  }, 180_000);

  it('lists the active model’s clusters and maps one to a tag', async () => {
    const { clusters } = await t.ok(`{ clusters { id label size tag { key } } }`);
    expect(clusters.length).toBeGreaterThanOrEqual(3);
    const [tag] = await t.sql<{ id: string }>(`select id from tag where key = 'vip'`);
    const mapped = await t.ok(
      `mutation($c: ID!, $t: ID) { mapClusterToTag(clusterId: $c, tagId: $t) { tag { key } } }`,
      { c: clusters[0].id, t: tag!.id },
    );
    expect(mapped.mapClusterToTag.tag).toEqual({ key: 'vip' });
    const bad = await t.gql(
      `mutation($c: ID!) { mapClusterToTag(clusterId: $c, tagId: "424242") { id } }`,
      {
        c: clusters[0].id,
      },
    );
    expect(errorOf(bad)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tagId' });
  });

  it('loads a version for scoring only while the feature schema matches', async () => {
    const loaded = await loadModel(t.app.orm, first.modelVersionId);
    expect(loaded.classifier.meta.tags.sort()).toEqual(['high-value', 'meat-lover', 'wine-lover']);
    loaded.classifier.network.dispose();
    await new FeatureService(t.app.orm.em.fork()).configure({ profile: ['age'] });
    await expect(loadModel(t.app.orm, first.modelVersionId)).rejects.toMatchObject({
      kind: 'conflict',
      message: expect.stringMatching(/missing .*region/),
    });
  });
});
