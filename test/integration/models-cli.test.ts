import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersions } from '../../src/jobs/compare.job.js';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import { loadModel } from '../../src/jobs/model-loader.js';
import { modelInputs, scoreAllCustomers } from '../../src/jobs/score-all.job.js';
import { trainModels, type TrainReport } from '../../src/jobs/train.job.js';
import { predictTags } from '../../src/ml/classifier/index.js';
import { averagePrecision, rocAuc } from '../../src/ml/metrics.js';
import type { FeatureRow } from '../../src/ml/preprocessing.js';
import { seedDemo } from '../../src/modules/demo/demo.service.js';
import { FeatureService } from '../../src/modules/feature/feature.service.js';
import { createTestApp, type TestApp } from '../support/app.js';

const TAGS = ['wine-lover', 'high-value', 'low-value'];

describe('tagwise models and score', () => {
  let t: TestApp;
  let modelsDir: string;
  let first: TrainReport;
  let second: TrainReport;
  const cli = async (...args: string[]) =>
    (
      await promisify(execFile)('node', ['bin/tagwise.js', ...args], {
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' },
        maxBuffer: 64 * 1024 * 1024,
      })
    ).stdout;
  const fails = (...args: string[]) =>
    promisify(execFile)('node', ['bin/tagwise.js', ...args], {
      env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' },
    }).then(
      () => {
        throw new Error('expected the command to fail');
      },
      (error: { code: number; stderr: string }) => error,
    );

  beforeAll(async () => {
    t = await createTestApp();
    modelsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-models-cli-'));
    await seedDemo(t.app.orm, { customers: 3000, seed: 9 });
    await refreshFeatures(t.app.orm, { mode: 'full' });
    const options = { modelsDir, maxEpochs: 60, tags: TAGS, promote: true };
    first = await trainModels(t.app.orm, { ...options, seed: 1 });
    second = await trainModels(t.app.orm, { ...options, seed: 2 });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    if (modelsDir) await fs.rm(modelsDir, { recursive: true, force: true });
  });

  /** Every customer with features, in id order, and a version's probabilities for them. */
  const expectedScores = async (report: TrainReport) => {
    const rows = await t.sql<{ id: string; externalId: string; values: FeatureRow }>(
      `select f.customer_id::text as id, c.external_id as "externalId", f.values
       from customer_features f join customer c on c.id = f.customer_id order by f.customer_id`,
    );
    const model = await loadModel(t.app.orm, report.modelVersionId);
    const probabilities = await predictTags(
      model.classifier,
      modelInputs(
        model,
        rows.map((r) => r.values),
      ),
    );
    model.classifier.network.dispose();
    const { tags } = model.classifier.meta;
    const p = (i: number, tag: string) => probabilities[i * tags.length + tags.indexOf(tag)]!;
    return { rows, tags, p };
  };

  it('scores every customer with the model’s probabilities, only the tags asked for', async () => {
    const out = path.join(modelsDir, 'scores.csv');
    // Asked in the reverse of the model's (key) order: columns follow the question.
    await cli('score', '--model', first.version, '--tags', 'wine-lover,high-value', '--out', out);
    const lines = (await fs.readFile(out, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('customer_id,external_id,wine-lover,high-value');
    const { rows, p } = await expectedScores(first);
    expect(rows.length).toBeGreaterThan(1000);
    expect(lines).toHaveLength(rows.length + 1);
    rows.forEach((r, i) => {
      const [id, externalId, wine, high] = lines[i + 1]!.split(',');
      expect([id, externalId]).toEqual([r.id, r.externalId]);
      expect(wine).toBe(p(i, 'wine-lover').toFixed(6));
      expect(high).toBe(p(i, 'high-value').toFixed(6));
    });
  }, 60_000);

  it('scores a version an older install wrote to its repo-level models/ folder', async () => {
    // Before versions went under TAGWISE_DATA_DIR, they went to `models/` of the working
    // directory and the registry kept that relative path: such an install keeps scoring them.
    const score = (cwd?: string) =>
      promisify(execFile)(
        'node',
        [
          path.resolve('bin/tagwise.js'),
          'score',
          '--model',
          first.version,
          '--tags',
          'wine-lover',
          '--out',
          '-',
        ],
        {
          ...(cwd ? { cwd } : {}),
          env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' },
          maxBuffer: 64 * 1024 * 1024,
        },
      );
    const expected = (await score()).stdout;
    const install = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-old-install-'));
    const [{ artifactPath }] = await t.sql<{ artifactPath: string }>(
      'select artifact_path as "artifactPath" from model_version where id = ?',
      [first.modelVersionId],
    );
    try {
      await fs.cp(
        path.join(modelsDir, first.version),
        path.join(install, 'models', first.version),
        { recursive: true },
      );
      await t.sql('update model_version set artifact_path = ? where id = ?', [
        `models/${first.version}`,
        first.modelVersionId,
      ]);
      const scored = await score(install);
      expect(scored.stdout).toBe(expected);
      expect(scored.stdout.split('\n').length).toBeGreaterThan(1000);
    } finally {
      await t.sql('update model_version set artifact_path = ? where id = ?', [
        artifactPath,
        first.modelVersionId,
      ]);
      await fs.rm(install, { recursive: true, force: true });
    }
  }, 60_000);

  it('scores with the ACTIVE version and every tag it learnt to standard output', async () => {
    const lines = (await cli('score', '--out', '-')).trim().split('\n');
    const { rows, tags, p } = await expectedScores(second);
    expect(lines[0]).toBe(`customer_id,external_id,${tags.join(',')}`);
    expect(lines).toHaveLength(rows.length + 1);
    rows.forEach((r, i) => {
      expect(lines[i + 1]).toBe(
        [r.id, r.externalId, ...tags.map((tag) => p(i, tag).toFixed(6))].join(','),
      );
    });
  }, 60_000);

  it('refuses a tag the model lacks, naming it, and writes nothing', async () => {
    const out = path.join(modelsDir, 'nothing.csv');
    const error = await fails('score', '--tags', 'high-value,meat-lover', '--out', out);
    expect(error.code).toBe(1);
    expect(error.stderr).toMatch(
      /did not learn meat-lover \(it learnt high-value, low-value, wine-lover\)\n$/,
    );
    await expect(fs.access(out)).rejects.toThrow();
    expect((await fs.readdir(modelsDir)).filter((f) => f.includes('partial'))).toEqual([]);
    await expect(
      scoreAllCustomers(t.app.orm, { tags: ['high-value', 'no-such-tag'] }).next(),
    ).rejects.toThrow(/there is no tag no-such-tag$/);
  }, 30_000);

  it('compares two versions on the customers both held out, each at its own threshold', async () => {
    const comparison = await compareVersions(t.app.orm, first.version, second.modelVersionId);
    const split = async (r: TrainReport) => {
      const s = JSON.parse(
        await fs.readFile(path.join(modelsDir, r.version, 'split.json'), 'utf8'),
      );
      return new Set<string>([...s.validation, ...s.test]);
    };
    const [a, b] = [await split(first), await split(second)];
    const shared = [...a].filter((id) => b.has(id)).sort((x, y) => Number(x) - Number(y));
    expect(comparison.customers).toBe(shared.length);
    expect(comparison.tags.map((x) => x.tag).sort()).toEqual([...TAGS].sort());

    // The value tiers are learnt on known labels (the demo's hand-tagged tiers, each a negative
    // for the others): recompute both sides of each from the models' scores on those customers.
    const rows = await t.sql<{ values: FeatureRow; tier: string | null }>(
      `select f.values,
              (select x.key from customer_tag ct join tag x on x.id = ct.tag_id
               join tag_category c on c.id = x.category_id and c.key = 'value-tier'
               where ct.customer_id = f.customer_id and ct.source = 'MANUAL') as tier
       from customer_features f where f.customer_id = any(?::bigint[]) order by f.customer_id`,
      [`{${shared.join(',')}}`],
    );
    const tiers = ['high-value', 'low-value'];
    for (const [report, side] of [
      [first, 'a'],
      [second, 'b'],
    ] as const) {
      const model = await loadModel(t.app.orm, report.modelVersionId);
      const probabilities = await predictTags(
        model.classifier,
        modelInputs(
          model,
          rows.map((r) => r.values),
        ),
      );
      const { tags, thresholds } = model.classifier.meta;
      model.classifier.network.dispose();
      const score = (i: number, tag: string) => probabilities[i * tags.length + tags.indexOf(tag)]!;
      for (const tier of tiers) {
        const measured = comparison.tags.find((x) => x.tag === tier)![side];
        const scores = rows.map((_r, i) => score(i, tier));
        const labels = rows.map((r) => (r.tier === null ? Number.NaN : r.tier === tier ? 1 : 0));
        // Only a customer's likeliest tier is ever suggested (ties to the first in key order).
        const wins = rows.map((_r, i) =>
          tiers.every((other) => other === tier || score(i, other) < score(i, tier)),
        );
        const threshold = thresholds[tags.indexOf(tier)]!;
        let tp = 0;
        let flagged = 0;
        scores.forEach((s, i) => {
          if (s < threshold || !wins[i] || Number.isNaN(labels[i]!)) return;
          flagged++;
          tp += labels[i]!;
        });
        const positives = labels.filter((y) => y === 1).length;
        expect(threshold).not.toBeNull();
        expect(measured).toMatchObject({
          mode: 'KNOWN',
          threshold,
          heldOut: {
            customers: shared.length,
            positives,
            negatives: labels.filter((y) => y === 0).length,
          },
        });
        expect(measured.rocAuc).toBeCloseTo(rocAuc(scores, labels), 12);
        expect(measured.prAuc).toBeCloseTo(averagePrecision(scores, labels), 12);
        expect(measured.precision).toBeCloseTo(tp / flagged, 12);
        expect(measured.recall).toBeCloseTo(tp / positives, 12);
      }
    }
    // wine-lover has no known negatives: its precision is an estimate and never reported as one.
    const wine = comparison.tags.find((x) => x.tag === 'wine-lover')!;
    for (const side of [wine.a, wine.b]) {
      expect(side.mode).toBe('PU');
      expect(side.precision).toBeNull();
    }
  }, 60_000);

  it('compares a version with itself to identical sides', async () => {
    const same = await compareVersions(t.app.orm, first.version, first.version);
    for (const { a, b } of same.tags) expect(b).toEqual(a);
    const printed = await cli('models', 'compare', first.version, second.version);
    expect(printed).toMatch(/on \d+ customers held out from both/);
    expect(printed).toMatch(
      /high-value: \d+ positive and \d+ negative known labels among them\n {2}measure +A +B +B − A\n {2}mode +KNOWN +KNOWN/,
    );
    expect(printed).toMatch(/\n {2}precision +~?[01]\.\d{3} +~?[01]\.\d{3} +[+-][01]\.\d{3}\n/);
  }, 60_000);

  it('lists and shows versions as JSON with a tags array, and promotes', async () => {
    const list = JSON.parse(await cli('models', 'list', '--json'));
    expect(list.map((v: any) => v.version)).toEqual([second.version, first.version]);
    const shown = JSON.parse(await cli('models', 'show', first.version, '--json'));
    expect(shown.tags.map((x: any) => x.tag).sort()).toEqual([...TAGS].sort());
    for (const tag of shown.tags) {
      for (const key of [
        'tag',
        'threshold',
        'precision',
        'recall',
        'f1',
        'rocAuc',
        'prAuc',
        'positives',
        'negatives',
        'unlabelled',
        'confident',
        'reason',
      ]) {
        expect(tag).toHaveProperty(key);
      }
    }
    // An estimate is never plain precision: it has its own name and says how it was made.
    expect(shown.tags.find((x: any) => x.tag === 'wine-lover')).toMatchObject({
      mode: 'PU',
      precision: null,
      estimatedPrecision: expect.any(Number),
      method: expect.stringMatching(/label frequency/),
    });
    expect(shown.tags).toEqual(
      first.metrics.map((m) => expect.objectContaining({ tag: m.tag, precision: m.precision })),
    );
    const split = JSON.parse(
      await fs.readFile(path.join(modelsDir, first.version, 'split.json'), 'utf8'),
    );
    expect(shown.split.rows).toEqual({
      train: shown.customers - split.validation.length - split.test.length,
      validation: split.validation.length,
      test: split.test.length,
    });
    expect(await cli('models', 'promote', first.version)).toBe(
      `${first.version} is ACTIVE; ${second.version} is RETIRED.\n`,
    );
    expect(await cli('models', 'show', first.modelVersionId)).toMatch(/ACTIVE/);
    const missing = await fails('models', 'show', 'no-such-version');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('ModelVersion no-such-version does not exist\n');
  }, 60_000);

  it('logs the CLI’s train, suggest and score runs in the audit log, one entry each', async () => {
    const [{ last }] = await t.sql<{ last: string }>(
      'select coalesce(max(id), 0)::text as last from audit_log',
    );
    // Promoted, so that suggest scores with it.
    await cli(
      'train',
      '--seed',
      '5',
      '--tags',
      'wine-lover,high-value',
      '--promote',
      '--models-dir',
      modelsDir,
    );
    await cli('suggest', '--workers', '1');
    await cli('score', '--tags', 'wine-lover', '--out', path.join(modelsDir, 'audit-scores.csv'));
    const entries = await t.sql<{
      operation: string;
      actor_kind: string;
      change: Record<string, unknown>;
    }>('select operation, actor_kind, change from audit_log where id > ? order by id', [last]);
    expect(entries.map((e) => e.operation)).toEqual(['cli:train', 'cli:suggest', 'cli:score']);
    expect(entries.every((e) => e.actor_kind === 'CLI')).toBe(true);
    expect(JSON.stringify(entries)).not.toMatch(/@example/);
  }, 180_000);

  it('refuses versions trained on another feature set version', async () => {
    const features = new FeatureService(t.app.orm.em.fork());
    const { version, ...config } = (await features.describe()).set;
    // The same features under a new version: every customer's row moves to it on refresh.
    await features.configure(config);
    const stale = new RegExp(
      `trained on feature set v${version}; the current set is v${version + 1}`,
    );
    await expect(compareVersions(t.app.orm, first.version, second.version)).rejects.toThrow(stale);
    await expect(scoreAllCustomers(t.app.orm).next()).rejects.toThrow(stale);
  }, 30_000);
});
