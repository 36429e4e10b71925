import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

/** Every table holding rows of a customer; none has a foreign key to customer. */
const OWNED = [
  'event',
  'customer_features',
  'feature_refresh_queue',
  'customer_cluster',
  'customer_tag',
  'tag_history',
  'tag_suggestion',
  'review_log',
  'rule_conflict',
  'tag_negative',
];

describe('erasing a customer', () => {
  let t: TestApp;
  let tagId: string;
  let modelId: string;
  let clusterId: string;
  let ruleId: string;

  const customer = async (externalId: string) =>
    (
      await t.sql<{ id: string }>(
        `insert into customer (external_id, name) values (?, ?) returning id::text`,
        [externalId, externalId],
      )
    )[0]!.id;

  /** One row in every owned table, written the way the bulk paths write them. */
  const own = async (customerId: string) => {
    await t.sql(
      `insert into event (customer_id, type, occurred_at) values (?, 'PURCHASE', now())`,
      [customerId],
    );
    await t.sql(
      `insert into customer_features (customer_id, feature_set_version, computed_at, values)
       values (?, 1, now(), '{}') on conflict do nothing`,
      [customerId],
    );
    await t.sql(`insert into feature_refresh_queue values (?) on conflict do nothing`, [
      customerId,
    ]);
    await t.sql(
      `insert into customer_cluster (model_version_id, customer_id, cluster_id, distance)
       values (?, ?, ?, 0.5)`,
      [modelId, customerId, clusterId],
    );
    await t.sql(`insert into customer_tag (customer_id, tag_id, source) values (?, ?, 'MANUAL')`, [
      customerId,
      tagId,
    ]);
    await t.sql(
      `insert into tag_history (customer_id, tag_id, action, source) values (?, ?, 'APPLIED', 'MANUAL')`,
      [customerId, tagId],
    );
    const [s] = await t.sql<{ id: string }>(
      `insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold, margin,
         model_version_id, explanation, status)
       values (?, ?, 'MODEL', 'ADD', 0.9, 0.5, 0.4, ?, '{}', 'APPROVED') returning id::text`,
      [customerId, tagId, modelId],
    );
    await t.sql(
      `insert into review_log (suggestion_id, customer_id, tag_id, action, confidence, model_version_id)
       values (?, ?, ?, 'APPROVED', 0.9, ?)`,
      [s!.id, customerId, tagId, modelId],
    );
    await t.sql(
      `insert into rule_conflict (rule_id, customer_id, tag_id, kind) values (?, ?, ?, 'RETRACT_APPROVED')`,
      [ruleId, customerId, tagId],
    );
    await t.sql(`insert into tag_negative (customer_id, tag_id, source) values (?, ?, 'REVIEW')`, [
      customerId,
      tagId,
    ]);
  };

  const rows = async (customerId: string) => {
    const out: Record<string, number> = {};
    for (const table of OWNED) {
      const [r] = await t.sql<{ n: number }>(
        `select count(*)::int as n from ${table} where customer_id = ?`,
        [customerId],
      );
      out[table] = r!.n;
    }
    return out;
  };
  const every = (n: number) => Object.fromEntries(OWNED.map((table) => [table, n]));

  beforeAll(async () => {
    t = await createTestApp();
    await t.sql(
      `insert into tag_category (key, name, kind) values ('erasure', 'Erasure', 'OTHER')`,
    );
    [{ id: tagId }] = (await t.sql<{ id: string }>(
      `insert into tag (key, name, category_id) select 'erased', 'Erased', id from tag_category
       where key = 'erasure' returning id::text`,
    )) as [{ id: string }];
    [{ id: modelId }] = (await t.sql<{ id: string }>(
      `insert into model_version (version, seed, params, feature_schema, training_summary, metrics,
         backend, artifact_path)
       values ('erasure', 1, '{}', '{}', '{}', '{}', 'cpu', '/nowhere') returning id::text`,
    )) as [{ id: string }];
    [{ id: clusterId }] = (await t.sql<{ id: string }>(
      `insert into cluster (model_version_id, index, label, size, profile)
       values (?, 0, 'all', 2, '{}') returning id::text`,
      [modelId],
    )) as [{ id: string }];
    [{ id: ruleId }] = (await t.sql<{ id: string }>(
      `insert into rule (name, definition, tag_id) values ('erasure', '{}', ?) returning id::text`,
      [tagId],
    )) as [{ id: string }];
  });

  afterAll(async () => {
    await t?.close();
  });

  it('erases every row the customer owns, and only theirs', async () => {
    const gone = await customer('erase-me');
    const kept = await customer('keep-me');
    await own(gone);
    await own(kept);
    expect(await rows(gone)).toEqual(every(1));

    await t.sql('delete from customer where id = ?', [gone]);
    expect(await rows(gone)).toEqual(every(0));
    expect(await rows(kept)).toEqual(every(1));
  });

  it('waits for a writer that saw the customer, then erases what it wrote', async () => {
    const id = await customer('erase-while-tagging');
    const writer = new pg.Client({ connectionString: t.url });
    const eraser = new pg.Client({ connectionString: t.url });
    await Promise.all([writer.connect(), eraser.connect()]);
    try {
      await writer.query('begin');
      await writer.query(
        `insert into customer_tag (customer_id, tag_id, source)
         select c.id, $2, 'RULE' from customer c where c.id = $1`,
        [id, tagId],
      );
      let erased = false;
      const erasing = eraser
        .query('delete from customer where id = $1', [id])
        .then(() => (erased = true));
      // Without the erasure's table lock the delete would finish now and leave the row behind.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(erased).toBe(false);
      await writer.query('commit');
      await erasing;
      expect((await rows(id)).customer_tag).toBe(0);

      // A writer starting after the erasure no longer sees the customer.
      const { rowCount } = await writer.query(
        `insert into customer_tag (customer_id, tag_id, source)
         select c.id, $2, 'RULE' from customer c where c.id = $1`,
        [id, tagId],
      );
      expect(rowCount).toBe(0);
    } finally {
      await Promise.all([writer.end(), eraser.end()]);
    }
  });
});
