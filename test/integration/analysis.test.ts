import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as analysis from '../../src/analysis/index.js';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';
import { seedDemoOnFirstStart } from '../../src/jobs/demo-setup.job.js';
import { SuggestionService } from '../../src/modules/suggestion/suggestion.service.js';
import { createTestApp, type TestApp } from '../support/app.js';

// The API the notebooks use (tagwise/analysis), on the demo's first start: what a data scientist
// meets. Each call is checked against what the service itself holds.
describe('analysis API', () => {
  let t: TestApp;
  let modelsDir: string;
  let session: analysis.AnalysisSession;
  /** The demo's first model: the one its suggestions came from. */
  let demo: { id: string; version: string };
  const saved = { ...process.env };

  beforeAll(async () => {
    t = await createTestApp();
    modelsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-analysis-'));
    const config = loadConfig({
      TAGWISE_DATA_DIR: modelsDir,
      TAGWISE_DEMO_CUSTOMERS: '400',
      TAGWISE_MODELS_DIR: modelsDir,
    });
    await seedDemoOnFirstStart(t.app.orm, config, createLogger('silent'));
    // connect() reads the environment as the CLI does: the test's database and models folder.
    Object.assign(process.env, {
      DATABASE_URL: t.app.orm.config.getClientUrl(),
      TAGWISE_MODELS_DIR: modelsDir,
      LOG_LEVEL: 'silent',
    });
    session = await analysis.connect();
    demo = await analysis.modelVersion(session);
  }, 240_000);
  afterAll(async () => {
    await session?.close();
    await t?.close();
    process.env = saved;
    if (modelsDir) await fs.rm(modelsDir, { recursive: true, force: true });
  });

  it('loads every customer with features, and labels that partition them per tag', async () => {
    const features = await analysis.loadFeatures(session);
    const [{ n }] = await t.sql<{ n: number }>(
      'select count(*)::int as n from customer_features where feature_set_version = ?',
      [features.featureSetVersion],
    );
    expect(features.rows).toHaveLength(n);
    expect(features.customerIds).toHaveLength(n);
    expect(features.names).toContain('spend_365d');

    const labels = await analysis.loadLabels(session, features.customerIds);
    expect(labels.length).toBeGreaterThan(0);
    for (const l of labels) {
      expect(l.positives.length + l.knownNegatives.length + l.unlabelled).toBe(n);
    }
    const [{ held }] = await t.sql<{ held: number }>(
      `select count(distinct ct.customer_id)::int as held from customer_tag ct
       join tag on tag.id = ct.tag_id where tag.key = ?`,
      [labels.find((l) => l.positives.length > 0)!.tag],
    );
    expect(labels.find((l) => l.positives.length > 0)!.positives.length).toBeLessThanOrEqual(held);
    expect(analysis.modelMatrix(features.rows).rows).toBe(n);
  });

  it('trains a candidate, reads its evaluation, compares it on shared held-out customers and promotes it', async () => {
    const active = await analysis.modelVersion(session);
    const candidate = await analysis.train(session, { seed: 42, maxEpochs: 20 });
    const registered = await analysis.modelVersion(session, candidate.version);
    expect(registered.status).toBe('CANDIDATE');
    expect(await analysis.evaluation(session, candidate.version)).toEqual(candidate.metrics);
    // Calibration is drawn for the KNOWN tags only: PU tags have no counted negatives.
    const known = candidate.metrics.filter((e) => e.mode === 'KNOWN').map((e) => e.tag);
    expect(Object.keys(candidate.calibration).sort()).toEqual(known.sort());

    const comparison = await analysis.compare(session, active.version, candidate.version);
    expect(comparison.a.version).toBe(active.version);
    expect(comparison.b.version).toBe(candidate.version);
    expect(comparison.customers).toBeGreaterThanOrEqual(50);
    expect(comparison.tags.map((c) => c.tag)).toEqual(
      candidate.metrics
        .map((e) => e.tag)
        .filter((tag) => comparison.tags.some((c) => c.tag === tag)),
    );

    const tag = candidate.metrics[0]!.tag;
    const scores = await analysis.score(session, { model: candidate.version, tags: [tag] });
    expect(scores.tags).toEqual([tag]);
    expect(scores.probabilities).toHaveLength(scores.customerIds.length);
    expect(scores.customerIds.length).toBe((await analysis.loadFeatures(session)).rows.length);

    await analysis.promote(session, candidate.version);
    expect((await analysis.modelVersion(session)).version).toBe(candidate.version);
    const [audit] = await t.sql<{ operation: string }>(
      `select operation from audit_log order by id desc limit 1`,
    );
    expect(audit!.operation).toBe('analysis:promote');
  }, 240_000);

  it('counts reviewer decisions on a version as its online precision beside the offline one', async () => {
    const pending = await t.sql<{ id: string; tag: string }>(
      `select s.id::text as id, t.key as tag from tag_suggestion s join tag t on t.id = s.tag_id
       where s.status = 'PENDING' and s.model_version_id = ? order by s.id limit 3`,
      [demo.id],
    );
    const before = await analysis.feedback(session, demo.version);
    const decided = pending.filter((p) => p.tag === pending[0]!.tag);
    const service = new SuggestionService(t.app.orm.em.fork());
    await service.approve(decided[0]!.id, 'analysis-test');
    for (const s of decided.slice(1)) await service.reject(s.id, 'analysis-test');
    const after = await analysis.feedback(session, demo.version);
    const row = after.tags.find((r) => r.tag === pending[0]!.tag)!;
    const was = before.tags.find((r) => r.tag === pending[0]!.tag)!;
    expect(row.approved - was.approved).toBe(1);
    expect(row.rejected - was.rejected).toBe(decided.length - 1);
    expect(row.online).toBeCloseTo(row.approved / (row.approved + row.rejected + row.corrected));
    const evaluation = (await analysis.evaluation(session, demo.version)).find(
      (e) => e.tag === row.tag,
    )!;
    expect(row.offline).toBe(evaluation.precision ?? evaluation.estimatedPrecision);
  });

  it('draws a Vega-Lite spec as SVG, one mark per datum', async () => {
    const svg = await analysis.chart({
      data: {
        values: [
          { x: 'a', y: 1 },
          { x: 'b', y: 2 },
          { x: 'c', y: 3 },
        ],
      },
      mark: 'bar',
      encoding: { x: { field: 'x', type: 'nominal' }, y: { field: 'y', type: 'quantitative' } },
    });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/role-mark marks/g)).toHaveLength(1);
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(3);
  });
});
