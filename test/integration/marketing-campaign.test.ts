import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import { loadModel } from '../../src/jobs/model-loader.js';
import { trainModels } from '../../src/jobs/train.job.js';
import { predictTags } from '../../src/ml/classifier/index.js';
import { assignClusters } from '../../src/ml/kmeans.js';
import { concatColumns } from '../../src/ml/matrix.js';
import { rocAuc } from '../../src/ml/metrics.js';
import { transformFeatures, type FeatureRow } from '../../src/ml/preprocessing.js';
import { FeatureService } from '../../src/modules/feature/feature.service.js';
import { loadMapping } from '../../src/modules/import/import.mapping.js';
import { importFile, type ImportOptions } from '../../src/modules/import/import.service.js';
import { createTestApp, type TestApp } from '../support/app.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DATASET = path.resolve(ROOT, '../shared/datasets/marketing_campaign.csv');

/**
 * The real data set through the product's own path, as README's walkthrough runs it: import
 * with the shipped mappings, the shipped feature set, features, training — in a database of its
 * own, so nothing else mixes into the labels.
 */
describe('the marketing campaign data set', () => {
  let t: TestApp;
  let dir: string;

  beforeAll(async () => {
    t = await createTestApp();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-campaign-'));
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const run = (options: ImportOptions) => importFile(t.app.orm, options);
  const rejectsFile = () => path.join(dir, 'campaign.rejects.csv');

  async function count(sql: string): Promise<number> {
    const [row] = await t.sql<{ n: number }>(`select count(*)::int as n from ${sql}`);
    return row!.n;
  }

  async function customer(externalId: string) {
    const [row] = await t.sql(
      `select name, birth_year as "birthYear", attributes from customer where external_id = ?`,
      [externalId],
    );
    return row;
  }

  it('imports with the shipped mappings, and a second run changes nothing', async () => {
    const mapping = await loadMapping(path.join(ROOT, 'examples/mappings/marketing_campaign.json'));
    const first = await run({
      kind: 'customers',
      file: DATASET,
      mapping,
      rejectsFile: rejectsFile(),
    });
    expect(first).toMatchObject({
      rows: 2240,
      inserted: 2240,
      rejected: 0,
      omittedValues: 2,
      ignoredColumns: ['Z_CostContact', 'Z_Revenue'],
    });
    expect(await customer('5524')).toMatchObject({
      name: 'Customer 5524',
      birthYear: 1957,
      attributes: {
        income: 58138,
        enrolled_at: '2012-09-04',
        education: 'Graduation',
        marital_status: 'Single',
        kids: 0,
        mnt_wines: 635,
        accepted_cmp1: 0,
        response: 1,
      },
    });
    // Blank incomes are left out, not stored as null or zero.
    expect(await count(`customer where not jsonb_exists(attributes, 'income')`)).toBe(24);
    const again = await run({
      kind: 'customers',
      file: DATASET,
      mapping,
      rejectsFile: rejectsFile(),
    });
    expect(again).toMatchObject({ inserted: 0, updated: 0, skipped: 2240 });

    const tags = await loadMapping(
      path.join(ROOT, 'examples/mappings/marketing_campaign.tags.json'),
    );
    const tagged = await run({
      kind: 'tags',
      file: DATASET,
      mapping: tags,
      rejectsFile: rejectsFile(),
    });
    expect(tagged).toMatchObject({
      inserted: 334,
      skipped: 1906,
      rejected: 0,
      taxonomy: { categories: 1, tags: 1 },
      // The mapping is complete: Response = 0 is a known negative, not an unlabelled customer.
      complete: { customers: 2240, negatives: 1906 },
    });
    const [category] = await t.sql(
      `select c.kind, c.suggestable, c.exclusive from tag t join tag_category c on c.id = t.category_id
       where t.key = 'campaign-responder'`,
    );
    expect(category).toEqual({ kind: 'BEHAVIOUR', suggestable: true, exclusive: false });
    expect(
      await run({ kind: 'tags', file: DATASET, mapping: tags, rejectsFile: rejectsFile() }),
    ).toMatchObject({ inserted: 0, updated: 0, taxonomy: { categories: 0, tags: 0 } });
  });

  it('shows its features and trains a model predicting Response as well as a logistic regression', async () => {
    const config: unknown = JSON.parse(
      await fs.readFile(path.join(ROOT, 'examples/features/marketing_campaign.json'), 'utf8'),
    );
    await new FeatureService(t.app.orm.em.fork()).configure(config);
    const refreshed = await refreshFeatures(t.app.orm, {
      mode: 'full',
      asOf: new Date('2026-11-23T00:00:00Z'),
    });
    expect(refreshed.customers).toBe(2240);

    const [{ id }] = await t.sql<{ id: string }>(
      `select id::text as id from customer where external_id = '5524'`,
    );
    const data = await t.ok(`{ customer(id: "${id}") { features { values { name value } } } }`);
    const values = new Map(
      (data.customer.features.values as { name: string; value: unknown }[]).map((v) => [
        v.name,
        v.value,
      ]),
    );
    expect(values.get('attr_mnt_wines')).toBe(635);
    expect(values.get('attr_education')).toBe('Graduation');

    const report = await trainModels(t.app.orm, {
      seed: 42,
      tags: ['campaign-responder'],
      modelsDir: dir,
    });
    const [metrics] = report.metrics;
    expect(report.customers).toBe(2240);
    expect(metrics).toMatchObject({
      tag: 'campaign-responder',
      mode: 'KNOWN',
      positives: 334,
      negatives: 1906,
      unlabelled: 0,
    });
    // scikit-learn's logistic regression gets about 0.90 on a held-out split.
    expect(metrics!.rocAuc).toBeGreaterThanOrEqual(0.9);

    // The reported precision is the plain share of responders among the held-out customers at or
    // above the threshold: recomputed here from the saved split, the model and the labels.
    const model = await loadModel(t.app.orm, report.modelVersionId);
    const split = JSON.parse(
      await fs.readFile(path.join(dir, report.version, 'split.json'), 'utf8'),
    ) as { validation: string[]; test: string[] };
    const heldOut = [...split.validation, ...split.test];
    const rows = await t.sql<{ values: FeatureRow; response: number }>(
      `select f.values, (c.attributes->>'response')::int as response
       from customer_features f join customer c on c.id = f.customer_id
       where f.customer_id = any(?::bigint[]) order by f.customer_id`,
      [`{${heldOut.join(',')}}`],
    );
    expect(rows).toHaveLength(metrics!.heldOut.customers);
    const x = transformFeatures(
      model.preprocessor,
      rows.map((r) => r.values),
    );
    const probabilities = await predictTags(
      model.classifier,
      concatColumns(x, assignClusters(model.kmeans, x).distances),
    );
    let flagged = 0;
    let responders = 0;
    rows.forEach((r, i) => {
      if (probabilities[i]! < metrics!.threshold!) return;
      flagged++;
      responders += r.response;
    });
    expect(metrics!.confident).toBe(true);
    expect(flagged).toBe(metrics!.flagged);
    expect(metrics!.precision).toBeCloseTo(responders / flagged, 12);
    expect(metrics!.rocAuc).toBeCloseTo(
      rocAuc(
        probabilities,
        rows.map((r) => r.response),
      ),
      12,
    );
    model.classifier.network.dispose();
  });
});
