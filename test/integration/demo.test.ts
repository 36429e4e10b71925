import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';
import { seedDemoOnFirstStart } from '../../src/jobs/demo-setup.job.js';
import { demoPersona } from '../../src/modules/demo/demo.generator.js';
import { seedDemo, seedDemoRules } from '../../src/modules/demo/demo.service.js';
import { createTestApp, type TestApp } from '../support/app.js';

describe('demo data', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('seeds taxonomy, customers and hand tags, and is idempotent', async () => {
    const first = await seedDemo(t.app.orm, { customers: 300, seed: 3 });
    expect(first).toMatchObject({ categories: 8, tags: 29, customers: 300 });
    expect(first.appliedTags).toBeGreaterThan(100);
    // About 20 events per customer over two years.
    expect(first.events / 300).toBeGreaterThan(15);
    expect(first.events / 300).toBeLessThan(30);
    const again = await seedDemo(t.app.orm, { customers: 300, seed: 3 });
    expect(again).toEqual({
      categories: 0,
      tags: 0,
      customers: 0,
      appliedTags: 0,
      events: 0,
      skippedRetiredTags: {},
    });
    const [events] = await t.sql<{ n: number }>('select count(*)::int as n from event');
    expect(events!.n).toBe(first.events);

    // Customers joined when their persona says, and browse in their interests before and besides buying.
    const persona = demoPersona(3, 17);
    const [joined] = await t.sql<{ days: number }>(
      `select extract(epoch from now() - first_seen_at) / 86400 as days from customer
       where external_id = ?`,
      [persona.externalId],
    );
    expect(joined!.days).toBeCloseTo(persona.tenureDays, 1);
    const [engagement] = await t.sql<{ categorised: number; all: number }>(
      `select count(category)::int as categorised, count(*)::int as all from event
       where type in ('PAGE_VIEW', 'DOWNLOAD', 'EMAIL_CLICK', 'EVENT_ATTENDANCE')`,
    );
    expect(engagement!.categorised).toBe(engagement!.all);
    expect(engagement!.all / 300).toBeGreaterThan(5);

    const [history] = await t.sql<{ n: number }>(`select count(*)::int as n from tag_history`);
    expect(history!.n).toBe(first.appliedTags);
    const clashes = await t.sql(
      `select ct.customer_id from customer_tag ct join tag t on t.id = ct.tag_id
       join tag_category c on c.id = t.category_id where c.exclusive
       group by ct.customer_id, c.id having count(*) > 1`,
    );
    expect(clashes).toEqual([]);
  });

  it('is served through the API like any other data', async () => {
    const data =
      await t.ok(`{ customers(first: 2, filter: { profile: [{ field: REGION, in: ["East China", "South China", "North China", "Central China", "Southwest China", "Northwest China", "Northeast China"] }] }) {
      totalCount edges { node { externalId name attributes } } } }`);
    expect(data.customers.totalCount).toBe(300);
    expect(data.customers.edges[0].node.attributes).toHaveProperty('income');
  });

  it('runs once on first start and leaves an admin key file when none is configured', async () => {
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-demo-'));
    try {
      const config = loadConfig({ TAGWISE_DATA_DIR: dataDir, TAGWISE_DEMO_CUSTOMERS: '50' });
      const logged: { msg: string; customers?: number; created?: { customers: number } }[] = [];
      const logger = createLogger('info', 'demo-test', {
        write: (line: string) => logged.push(JSON.parse(line)),
      });
      // The demo's customers are there already, as `tagwise seed` leaves them (and as the first
      // test did): the first start creates none, and its log says how many the demo has, not
      // "customers 0". 300 of them, enough for the demo model to fill a queue.
      await seedDemo(t.app.orm, { customers: 300 });
      const [present] = await t.sql<{ n: number }>('select count(*)::int as n from customer');
      await seedDemoOnFirstStart(t.app.orm, config, logger);
      const ready = logged.find((l) => l.msg === 'demo data ready');
      expect(ready).toMatchObject({ customers: present!.n, created: { customers: 0 } });
      expect(present!.n).toBe(300);
      const key = (await fs.readFile(path.join(dataDir, 'demo-admin-key'), 'utf8')).trim();
      expect(key).toMatch(/^tw_/);
      // The demo model is promoted and fills the review queue for a new user.
      const [queue] = await t.sql<{ n: number }>(
        `select count(*)::int as n from tag_suggestion where status = 'PENDING'`,
      );
      expect(queue!.n).toBeGreaterThan(0);
      // Its files are the data dir's own, not in a models folder every data dir shares.
      const [model] = await t.sql<{ artifactPath: string }>(
        `select artifact_path as "artifactPath" from model_version where created_by = 'demo'`,
      );
      expect(path.dirname(path.resolve(model!.artifactPath))).toBe(path.join(dataDir, 'models'));
      await fs.access(path.join(path.resolve(model!.artifactPath), 'manifest.json'));
      // The seed articles' rules are saved and have run once.
      const rules = await t.sql<{ name: string; trigger: boolean }>(
        'select name, trigger from rule order by priority desc',
      );
      expect(rules.map((r) => r.name)).toEqual(['High value', 'Dormant', 'Member', 'Active']);
      const [run] = await t.sql<{ status: string; reports: { added: number }[] }>(
        `select status, reports from rule_run where origin = 'demo'`,
      );
      expect(run!.status).toBe('SUCCEEDED');
      expect(run!.reports).toHaveLength(4);
      expect(run!.reports.some((r) => r.added > 0)).toBe(true);
      const before = await t.sql('select count(*)::int as n from customer');
      await seedDemoOnFirstStart(t.app.orm, config, logger);
      expect(await t.sql('select count(*)::int as n from customer')).toEqual(before);
      const result = await t.gql('{ tags { totalCount } }', {}, { key });
      expect(result.data?.tags.totalCount).toBe(29);
    } finally {
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('demo data and a taxonomy people changed', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  const heldBy = async () =>
    Object.fromEntries(
      (
        await t.sql<{ key: string; n: number }>(
          `select t.key, count(ct.customer_id)::int as n
           from tag t left join customer_tag ct on ct.tag_id = t.id group by t.key`,
        )
      ).map((r) => [r.key, r.n]),
    );

  it('never applies a deprecated or merged tag, re-run or grown, and makes no rule for one', async () => {
    await seedDemo(t.app.orm, { customers: 300, seed: 3 });
    const id = async (key: string) =>
      (await t.sql<{ id: string }>('select id::text as id from tag where key = ?', [key]))[0]!.id;
    await t.ok(
      `mutation($sources: [ID!]!, $target: ID!) { mergeTags(sourceIds: $sources, targetId: $target) { moved } }`,
      {
        sources: [await id('meat-lover'), await id('seafood-fan')],
        target: await id('wine-lover'),
      },
    );
    await t.ok(`mutation($id: ID!) { deprecateTag(id: $id) { status } }`, {
      id: await id('dormant'),
    });
    // And a reviewer took a hand tag off a customer.
    const [held] = await t.sql<{ customerId: string; tagId: string }>(
      `select customer_id::text as "customerId", tag_id::text as "tagId" from customer_tag
       order by customer_id, tag_id limit 1`,
    );
    await t.ok(
      `mutation($c: [ID!]!, $t: [ID!]!) { removeTags(customerIds: $c, tagIds: $t) { __typename } }`,
      { c: [held!.customerId], t: [held!.tagId] },
    );
    const retiredHistory = async () =>
      (
        await t.sql<{ n: number }>(
          `select count(*)::int as n from tag_history h join tag t on t.id = h.tag_id
           where t.status <> 'ACTIVE' and h.action = 'APPLIED'`,
        )
      )[0]!.n;
    const historyBefore = await retiredHistory();
    const before = await heldBy();
    expect(before).toMatchObject({ 'meat-lover': 0, 'seafood-fan': 0 });
    expect(before.dormant).toBeGreaterThan(0);

    // The same seed again: nothing comes back to the merged tags or the customer, nothing changes.
    const again = await seedDemo(t.app.orm, { customers: 300, seed: 3 });
    expect(again).toMatchObject({ customers: 0, appliedTags: 0, skippedRetiredTags: {} });
    expect(await heldBy()).toEqual(before);
    expect(await retiredHistory()).toBe(historyBefore);

    // Growing the demo: the new customers get active tags only, and the report says what it left out.
    const grown = await seedDemo(t.app.orm, { customers: 200, offset: 300, seed: 3 });
    expect(grown.customers).toBe(200);
    expect(grown.appliedTags).toBeGreaterThan(0);
    expect(Object.keys(grown.skippedRetiredTags)).toEqual(['dormant', 'meat-lover', 'seafood-fan']);
    expect(Object.values(grown.skippedRetiredTags).every((n) => n > 0)).toBe(true);
    const after = await heldBy();
    expect(after).toMatchObject({
      'meat-lover': 0,
      'seafood-fan': 0,
      dormant: before.dormant,
    });
    expect(await retiredHistory()).toBe(historyBefore);

    await seedDemoRules(t.app.orm);
    const rules = await t.sql<{ name: string }>('select name from rule order by name');
    expect(rules.map((r) => r.name)).toEqual(['Active', 'High value', 'Member']);
  });
});
