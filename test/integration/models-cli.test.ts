import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareVersions } from '../../src/jobs/compare.job.js';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import { loadModel } from '../../src/jobs/model-loader.js';
import { modelInputs } from '../../src/jobs/score-all.job.js';
import { trainModels, type TrainReport } from '../../src/jobs/train.job.js';
import { predictTags } from '../../src/ml/classifier/index.js';
import { rocAuc } from '../../src/ml/metrics.js';
import type { FeatureRow } from '../../src/ml/preprocessing.js';
import { seedDemo } from '../../src/modules/demo/demo.service.js';
import { createTestApp, type TestApp } from '../support/app.js';

const TAGS = ['wine-lover', 'high-value'];

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
    await seedDemo(t.app.orm, { customers: 1500, seed: 9 });
    await refreshFeatures(t.app.orm, { mode: 'full' });
    const options = { modelsDir, maxEpochs: 30, tags: TAGS, promote: true };
    first = await trainModels(t.app.orm, { ...options, seed: 1 });
    second = await trainModels(t.app.orm, { ...options, seed: 2 });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    if (modelsDir) await fs.rm(modelsDir, { recursive: true, force: true });
  });

  it('scores every customer with the model’s probabilities, only the tags asked for', async () => {
    const out = path.join(modelsDir, 'scores.csv');
    await cli('score', '--model', first.version, '--tags', 'high-value', '--out', out);
    const lines = (await fs.readFile(out, 'utf8')).trim().split('\n');
    expect(lines[0]).toBe('customer_id,external_id,high-value');
    const rows = await t.sql<{ id: string; externalId: string; values: FeatureRow }[]>(
      `select f.customer_id::text as id, c.external_id as "externalId", f.values
       from customer_features f join customer c on c.id = f.customer_id order by f.customer_id`,
    );
    expect(lines).toHaveLength(rows.length + 1);
    const model = await loadModel(t.app.orm, first.modelVersionId);
    const probabilities = await predictTags(
      model.classifier,
      modelInputs(
        model,
        rows.map((r: any) => r.values),
      ),
    );
    const j = model.classifier.meta.tags.indexOf('high-value');
    rows.forEach((r: any, i: number) => {
      const [id, externalId, p] = lines[i + 1]!.split(',');
      expect([id, externalId]).toEqual([r.id, r.externalId]);
      expect(Number(p)).toBeCloseTo(probabilities[i * TAGS.length + j]!, 6);
    });
    model.classifier.network.dispose();
  }, 60_000);

  it('refuses a tag the model lacks, naming it, and writes nothing', async () => {
    const out = path.join(modelsDir, 'nothing.csv');
    const error = await fails('score', '--tags', 'meat-lover', '--out', out);
    expect(error.code).toBe(1);
    expect(error.stderr).toMatch(/has no tag meat-lover/);
    await expect(fs.access(out)).rejects.toThrow();
    expect((await fs.readdir(modelsDir)).filter((f) => f.includes('partial'))).toEqual([]);
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

    // high-value is learnt on known labels: recompute A's ROC AUC and precision on those customers.
    const rows = await t.sql<{ id: string; values: FeatureRow; label: number | null }>(
      `select f.customer_id::text as id, f.values,
              case when exists (select 1 from customer_tag ct join tag x on x.id = ct.tag_id
                                where ct.customer_id = f.customer_id and x.key = 'high-value'
                                  and ct.source = 'MANUAL') then 1
                   when exists (select 1 from customer_tag ct join tag x on x.id = ct.tag_id
                                join tag_category c on c.id = x.category_id and c.key = 'value-tier'
                                where ct.customer_id = f.customer_id and ct.source = 'MANUAL') then 0
              end as label
       from customer_features f where f.customer_id = any(?::bigint[]) order by f.customer_id`,
      [`{${shared.join(',')}}`],
    );
    const model = await loadModel(t.app.orm, first.modelVersionId);
    const probabilities = await predictTags(
      model.classifier,
      modelInputs(
        model,
        rows.map((r) => r.values),
      ),
    );
    const j = model.classifier.meta.tags.indexOf('high-value');
    const scores = rows.map((_r, i) => probabilities[i * TAGS.length + j]!);
    const labels = rows.map((r) => (r.label === null ? Number.NaN : r.label));
    const highValue = comparison.tags.find((x) => x.tag === 'high-value')!;
    expect(highValue.a.mode).toBe('KNOWN');
    expect(highValue.a.rocAuc).toBeCloseTo(rocAuc(scores, labels), 12);
    expect(highValue.a.threshold).toBe(model.classifier.meta.thresholds[j]);
    if (highValue.a.threshold !== null) {
      let tp = 0;
      let flagged = 0;
      scores.forEach((s, i) => {
        if (s < highValue.a.threshold! || Number.isNaN(labels[i]!)) return;
        flagged++;
        tp += labels[i]!;
      });
      expect(highValue.a.precision).toBeCloseTo(tp / flagged, 12);
    }
    model.classifier.network.dispose();
  }, 60_000);

  it('compares a version with itself to identical sides', async () => {
    const same = await compareVersions(t.app.orm, first.version, first.version);
    for (const { a, b } of same.tags) expect(b).toEqual(a);
    const printed = await cli('models', 'compare', first.version, second.version);
    expect(printed).toMatch(/on \d+ customers held out from both/);
    expect(printed).toMatch(/high-value \(KNOWN; \d+ positive/);
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
      // An estimate is never plain precision.
      if (tag.mode === 'PU') expect(tag.precision).toBeNull();
    }
    expect(shown.tags).toEqual(
      first.metrics.map((m) => expect.objectContaining({ tag: m.tag, precision: m.precision })),
    );
    expect(await cli('models', 'promote', first.version)).toBe(
      `${first.version} is ACTIVE; ${second.version} is RETIRED.\n`,
    );
    expect(await cli('models', 'show', first.modelVersionId)).toMatch(/ACTIVE/);
    const missing = await fails('models', 'show', 'no-such-version');
    expect(missing.code).toBe(1);
  }, 60_000);
});
