import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { ConfigError, loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';
import { runRules } from '../../src/jobs/rules.job.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { createTestApp, errorOf, type GqlResult, type TestApp } from '../support/app.js';
import { createTaxonomy } from '../support/fixtures.js';

const CUSTOMERS = 100_000;
const PREVIEW = (alias: string) =>
  `${alias}: previewSegment(definition: { text: "region = \\"North\\"" }) { count }`;
/** Filtered by a search, the page reads customers: an expensive operation. */
const SEARCH = '{ customers(filter: { search: "customer 1" }) { edges { node { id } } } }';

describe('limits on what a field does', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp({
      // Out of the way, so that cost is what refuses the 1,000 aliases.
      TAGWISE_MAX_ALIASES: '5000',
      TAGWISE_MAX_ROOT_FIELDS: '5000',
      TAGWISE_COST_WEIGHTS: '{"Tag.customerCount": 60000}',
      // Above the default of 1, so that the test shows the cap counting, not just refusing.
      TAGWISE_MAX_EXPENSIVE_PER_KEY: '2',
    });
    base = await t.serve();
    await t.sql(
      `insert into customer (external_id, name, region)
       select 'c' || g, 'Customer ' || g, case when g % 7 = 0 then 'North' else 'South' end
       from generate_series(1, ${CUSTOMERS}) g`,
    );
  });
  afterAll(() => t?.close());

  it('refuses 1,000 aliased previews by cost before any of them runs, naming the limit', async () => {
    const one = await t.gql(`{ ${PREVIEW('p')} }`, {}, { as: Role.VIEWER });
    expect(one.errors).toBeUndefined();
    expect(one.data?.p.count).toBe(Math.floor(CUSTOMERS / 7));

    const aliases = Array.from({ length: 1000 }, (_, i) => PREVIEW(`p${i}`)).join(' ');
    const { sql } = await t.countStatements(async () => {
      const result = await t.gql(`{ ${aliases} }`, {}, { as: Role.VIEWER });
      expect(result.errors?.[0]?.extensions).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'query',
        limit: 'maxCost',
        max: 100_000,
      });
      expect(errorOf(result).message).toMatch(/could resolve up to \d{8} values/);
    });
    expect(sql.filter((s) => !/api_key/.test(s))).toEqual([]);
    // Five previews are already over: each costs as two scans of the customers.
    const five = Array.from({ length: 5 }, (_, i) => PREVIEW(`p${i}`)).join(' ');
    expect(
      (await t.gql(`{ ${five} }`, {}, { as: Role.VIEWER })).errors?.[0]?.extensions,
    ).toMatchObject({ limit: 'maxCost' });
  });

  it('takes weights from TAGWISE_COST_WEIGHTS over the declared ones', async () => {
    // Tag.customerCount declares 4,000, once wherever it is nested (one statement counts every
    // tag); the setting makes it 60,000: one page of tags with counts fits, two aliased do not.
    const page = (alias: string) =>
      `${alias}: tags(first: 50) { edges { node { key customerCount } } }`;
    expect((await t.gql(`{ ${page('a')} }`, {}, { as: Role.VIEWER })).errors).toBeUndefined();
    const two = await t.gql(`{ ${page('a')} ${page('b')} }`, {}, { as: Role.VIEWER });
    expect(two.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'maxCost' });
    expect(errorOf(two).message).toMatch(/could resolve up to 120\d{3} values/);
  });

  it('refuses cost weights that name no field, or are not whole numbers, at start-up', async () => {
    const env = { DATABASE_URL: t.url, TAGWISE_DEMO: '0', TAGWISE_WORKERS: '0' };
    expect(() =>
      loadConfig({ ...env, TAGWISE_COST_WEIGHTS: '{"Query.previewSegment": -1}' }),
    ).toThrow(/TAGWISE_COST_WEIGHTS gives Query.previewSegment -1; weights are whole numbers/);
    expect(() => loadConfig({ ...env, TAGWISE_COST_WEIGHTS: '[1]' })).toThrow(
      /TAGWISE_COST_WEIGHTS must be a JSON object/,
    );
    const config = loadConfig({ ...env, TAGWISE_COST_WEIGHTS: '{"Query.previewSegments": 5}' });
    const started = createApp(config, { logger: createLogger('silent') });
    await expect(started).rejects.toBeInstanceOf(ConfigError);
    await expect(started).rejects.toThrow(/names Query.previewSegments: not a field of the schema/);
  });

  it('runs at most 2 expensive operations of one key at once, on a pool of their own; the third is refused, other keys and cheap queries pass', async () => {
    const post = (key: string, query: string) =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json',
          authorization: `Bearer ${key}`,
        },
        body: JSON.stringify({ query }),
      });
    // A lock on customer (as a migration or a bulk import holds one) keeps the scans waiting.
    const locker = new pg.Client({ connectionString: t.url });
    await locker.connect();
    /** Waits until at least `n` statements wait on the lock; with `most`, fails above it. */
    const waiting = async (n: number, most = Infinity) => {
      for (let i = 0; i < 200; i++) {
        const [row] = await t.sql<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock'`,
        );
        expect(row!.n).toBeLessThanOrEqual(most);
        if (row!.n >= n) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`fewer than ${n} statements waiting on the lock`);
    };
    try {
      await locker.query('begin');
      await locker.query('lock table customer in access exclusive mode');
      const first = post(t.keys.VIEWER, SEARCH);
      const second = post(t.keys.VIEWER, SEARCH);
      await waiting(2);

      const third = await post(t.keys.VIEWER, SEARCH);
      expect(third.status).toBe(429);
      expect(third.headers.get('retry-after')).toBe('1');
      const body = (await third.json()) as GqlResult;
      expect(body.errors?.[0]?.extensions).toMatchObject({
        code: 'CONCURRENCY_LIMITED',
        limit: 'maxExpensivePerKey',
        max: 2,
      });

      // Four previews want eight statements at once; expensive operations have a pool of 4, so
      // two of them wait for a connection and the other requests' pool stays free.
      const otherKey = post(
        t.keys.REVIEWER,
        `{ ${[0, 1, 2, 3].map((i) => PREVIEW(`p${i}`)).join(' ')} }`,
      );
      await waiting(4);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await waiting(4, 4);
      const cheap = await post(t.keys.VIEWER, '{ tags(first: 5) { edges { node { key } } } }');
      expect(cheap.status).toBe(200);
      await locker.query('commit');
      for (const answer of await Promise.all([first, second, otherKey])) {
        expect(answer.status).toBe(200);
        expect(((await answer.json()) as GqlResult).errors).toBeUndefined();
      }
    } finally {
      await locker.end();
    }
    // Finished operations give their places back.
    const again = await post(t.keys.VIEWER, SEARCH);
    expect(again.status).toBe(200);
  });

  describe('with a statement timeout of 1 ms', () => {
    let strict: App;
    beforeAll(async () => {
      // A second app on the same database, as a second API process would be.
      strict = await createApp(
        loadConfig({
          DATABASE_URL: t.url,
          NODE_ENV: 'test',
          TAGWISE_DEMO: '0',
          TAGWISE_WORKERS: '0',
          TAGWISE_MODELS_DIR: path.join(os.tmpdir(), 'tagwise-test-models'),
          TAGWISE_STATEMENT_TIMEOUT_MS: '1',
        }),
        { logger: createLogger('silent') },
      );
    });
    afterAll(() => strict?.close());

    it('cancels a request that scans longer, answering QUERY_TIMEOUT naming the limit', async () => {
      const contextValue = await strict.contextFor({ authorization: `Bearer ${t.keys.VIEWER}` });
      const response = await strict.server.executeOperation(
        { query: `{ ${PREVIEW('p')} }` },
        { contextValue },
      );
      if (response.body.kind !== 'single') throw new Error('unexpected incremental response');
      const { errors } = response.body.singleResult;
      expect(errors?.[0]?.extensions).toEqual({
        code: 'QUERY_TIMEOUT',
        limit: 'statementTimeoutMs',
        max: 1,
      });
      expect(errors?.[0]?.message).toMatch(/statement timeout of 1 ms/);
    });

    it('leaves jobs of the same process alone: a rule run scans every customer', async () => {
      const tax = await createTaxonomy(t);
      await t.ok(`mutation($input: CreateRuleInput!) { createRule(input: $input) { id } }`, {
        input: { name: 'North', tagId: tax.tags['high-value'], text: 'region = "North"' },
      });
      const [timeout] = await strict.orm.em.fork().execute('show statement_timeout');
      expect(timeout).toEqual({ statement_timeout: '0' });
      const run = await runRules(strict.orm, { dryRun: true, origin: 'test' });
      expect(run.status).toBe('SUCCEEDED');
      expect(run.reports[0]).toMatchObject({ matched: Math.floor(CUSTOMERS / 7) });
    });
  });
});
