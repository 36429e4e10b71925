import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_OPERATION_NAMES, OPERATION } from '../../src/graphql/metrics.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { freePort, spawnServer } from '../support/processes.js';
import { createCustomers, createTaxonomy } from '../support/fixtures.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The samples of a Prometheus text answer (prom-client writes no timestamps). */
function parse(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const m = /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not a sample: ${line}`);
      const labels = Object.fromEntries(
        [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]),
      );
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

/** The value of the sample with exactly these labels, or undefined. */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}) {
  const keys = Object.keys(labels);
  return samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === keys.length &&
      keys.every((k) => s.labels[k] === labels[k]),
  )?.value;
}

describe('/metrics', () => {
  let t: TestApp;
  let url: string;
  const scrape = async () => {
    const res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    return parse(await res.text());
  };

  beforeAll(async () => {
    t = await createTestApp();
    url = await t.serve();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('counts requests by operation and outcome, with a latency histogram per operation', async () => {
    await t.ok('query CountTags { tags(first: 1) { totalCount } }');
    await t.ok('query CountTags { tags(first: 1) { totalCount } }');
    const refused = await t.gql(
      'query ListKeys { apiKeys(first: 1) { totalCount } }',
      {},
      {
        as: Role.VIEWER,
      },
    );
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const invalid = await t.gql('query Broken { noSuchField }');
    expect(invalid.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    await t.gql('{ tags(first: 1) { totalCount } }');
    await t.gql('query NoKey { tags(first: 1) { totalCount } }', {}, { as: null });

    const samples = await scrape();
    const requests = (labels: Record<string, string>) =>
      value(samples, 'tagwise_graphql_requests_total', labels);
    expect(requests({ operation: 'CountTags', outcome: 'ok' })).toBe(2);
    expect(requests({ operation: 'ListKeys', outcome: 'FORBIDDEN' })).toBe(1);
    // An operation that never validated has no name worth a series.
    expect(requests({ operation: OPERATION.unknown, outcome: 'GRAPHQL_VALIDATION_FAILED' })).toBe(
      1,
    );
    expect(requests({ operation: OPERATION.anonymous, outcome: 'ok' })).toBe(1);
    expect(requests({ operation: OPERATION.unknown, outcome: 'UNAUTHENTICATED' })).toBe(1);
    expect(
      samples.some((s) => s.labels.operation === 'Broken' || s.labels.operation === 'NoKey'),
    ).toBe(false);

    const latency = (suffix: string, labels: Record<string, string>) =>
      value(samples, `tagwise_graphql_request_duration_seconds_${suffix}`, labels);
    expect(latency('count', { operation: 'CountTags' })).toBe(2);
    expect(latency('bucket', { operation: 'CountTags', le: '+Inf' })).toBe(2);
    expect(latency('bucket', { operation: 'CountTags', le: '30' })).toBe(2);
    expect(latency('sum', { operation: 'CountTags' })).toBeGreaterThan(0);
    expect(latency('count', { operation: 'ListKeys' })).toBe(1);
  });

  it('shows the pools, and the event-loop delay with its p99', async () => {
    const samples = await scrape();
    for (const [pool, max] of [
      ['main', 10],
      ['request', 10],
      ['expensive', 4],
    ] as const) {
      expect(value(samples, 'tagwise_db_pool_max_connections', { pool })).toBe(max);
      expect(value(samples, 'tagwise_db_pool_pending_acquires', { pool })).toBe(0);
      expect(value(samples, 'tagwise_db_pool_connections', { pool, state: 'free' })).toEqual(
        expect.any(Number),
      );
    }
    // The requests above ran on the request pool, which keeps its idle connections open.
    expect(
      value(samples, 'tagwise_db_pool_connections', { pool: 'request', state: 'free' }),
    ).toBeGreaterThan(0);
    const p99 = value(samples, 'nodejs_eventloop_lag_p99_seconds');
    expect(p99).toBeGreaterThan(0);
    expect(p99).toBeLessThan(10);
    expect(value(samples, 'nodejs_eventloop_lag_max_seconds')).toBeGreaterThanOrEqual(p99!);
  });

  it('shows queue depth by kind, durations of finished runs, and pending suggestions', async () => {
    await t.sql(`insert into model_run (status, params) values ('QUEUED', '{}'), ('QUEUED', '{}')`);
    await t.sql(
      `insert into rule_run (status, dry_run, origin, reports, created_at)
       values ('RUNNING', false, 'api', '[]', now())`,
    );
    // 90 s of work after 10 min in the queue: the histogram counts the 90 s.
    await t.sql(
      `insert into model_run (status, params, created_at, started_at, finished_at) values
         ('SUCCEEDED', '{}', now() - interval '700 seconds', now() - interval '90 seconds', now()),
         ('FAILED', '{}', now() - interval '3 seconds', now() - interval '2 seconds', now())`,
    );

    const taxonomy = await createTaxonomy(t);
    const customers = await createCustomers(t, [
      { externalId: 'm-1' },
      { externalId: 'm-2' },
      { externalId: 'm-3' },
    ]);
    const [version] = await t.sql<{ id: string }>(
      `insert into model_version (version, seed, params, feature_schema, training_summary, metrics,
         backend, artifact_path)
       values ('metrics', 1, '{}', '{}', '{}', '{}', 'cpu', '/nowhere') returning id::text`,
    );
    for (const [customer, tag, status] of [
      ['m-1', 'wine-lover', 'PENDING'],
      ['m-2', 'wine-lover', 'PENDING'],
      ['m-3', 'reader', 'PENDING'],
      ['m-3', 'meat-lover', 'APPROVED'],
    ]) {
      // Written as a scoring run writes them: the run tallies its inserts, triggers the rest.
      await t.sql(
        `with inserted as (
           insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold,
             margin, model_version_id, explanation, status)
           values (?, ?, 'MODEL', 'ADD', 0.9, 0.5, 0.4, ?, '{}', ?) returning tag_id, status)
         insert into suggestion_tally (tag_id, status, n)
         select tag_id, status, count(*) from inserted group by tag_id, status`,
        [customers[customer!], taxonomy.tags[tag!], version!.id, status],
      );
    }
    await t.sql(
      `update tag_suggestion set status = 'REJECTED' where customer_id = ? and status = 'PENDING'`,
      [customers['m-2']],
    );

    const samples = await scrape();
    const depth = (kind: string, status: string) =>
      value(samples, 'tagwise_job_queue_depth', { kind, status });
    expect(depth('train', 'queued')).toBe(2);
    expect(depth('train', 'running')).toBe(0);
    expect(depth('rules', 'running')).toBe(1);
    expect(depth('suggest', 'queued')).toBe(0);

    const duration = (suffix: string, labels: Record<string, string>) =>
      value(samples, `tagwise_job_duration_seconds_${suffix}`, labels);
    const succeeded = { kind: 'train', status: 'succeeded' };
    expect(duration('count', succeeded)).toBe(1);
    expect(duration('sum', succeeded)).toBeCloseTo(90, 0);
    expect(duration('bucket', { ...succeeded, le: '60' })).toBe(0);
    expect(duration('bucket', { ...succeeded, le: '300' })).toBe(1);
    expect(duration('bucket', { ...succeeded, le: '+Inf' })).toBe(1);
    expect(duration('bucket', { kind: 'train', status: 'failed', le: '5' })).toBe(1);

    const [{ n }] = (await t.sql<{ n: number }>(
      `select count(*)::int as n from tag_suggestion where status = 'PENDING'`,
    )) as [{ n: number }];
    expect(n).toBe(2);
    expect(value(samples, 'tagwise_suggestions_pending')).toBe(n);
    expect(value(samples, 'tagwise_metrics_database_ok')).toBe(1);
  });

  it('labels at most MAX_OPERATION_NAMES operation names, however many a client invents', async () => {
    const invented = MAX_OPERATION_NAMES + 50;
    for (let i = 0; i < invented; i++) await t.ok(`query Invented${i} { __typename }`);
    await t.ok(`query ${'L'.repeat(500)} { __typename }`);

    const samples = await scrape();
    const counted = samples.filter((s) => s.name === 'tagwise_graphql_requests_total');
    const names = new Set(counted.map((s) => s.labels.operation));
    expect(names.size).toBeLessThanOrEqual(MAX_OPERATION_NAMES + Object.keys(OPERATION).length);
    expect(names.has(OPERATION.other)).toBe(true);
    // Every request is still counted, under its name or under (other).
    const inventedOrOther = counted
      .filter(
        (s) => s.labels.operation?.startsWith('Invented') || s.labels.operation === OPERATION.other,
      )
      .reduce((sum, s) => sum + s.value, 0);
    expect(inventedOrOther).toBe(invented + 1);
    const series = samples.filter(
      (s) => s.name === 'tagwise_graphql_request_duration_seconds_count',
    );
    expect(series.length).toBeLessThanOrEqual(MAX_OPERATION_NAMES + Object.keys(OPERATION).length);
  });
});

describe('/metrics settings', () => {
  it('with TAGWISE_METRICS_TOKEN, answers only a bearer of the token', async () => {
    const token = 'metrics-token-0123456789';
    const t = await createTestApp({ TAGWISE_METRICS_TOKEN: token });
    try {
      const url = `${await t.serve()}/metrics`;
      const none = await fetch(url);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await none.text()).not.toContain('tagwise_');
      const wrong = await fetch(url, { headers: { authorization: `Bearer ${token}x` } });
      expect(wrong.status).toBe(401);
      // An API key, even an admin's, is not the metrics token.
      const admin = await fetch(url, { headers: { authorization: `Bearer ${t.keys.ADMIN}` } });
      expect(admin.status).toBe(401);
      const right = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      expect(right.status).toBe(200);
      expect(await right.text()).toContain('tagwise_suggestions_pending');
    } finally {
      await t.close();
    }
  });

  it('with TAGWISE_METRICS=0, has no /metrics', async () => {
    const t = await createTestApp({ TAGWISE_METRICS: '0' });
    try {
      const res = await fetch(`${await t.serve()}/metrics`);
      expect(res.status).toBe(404);
      expect(await res.text()).not.toContain('tagwise_');
    } finally {
      await t.close();
    }
  });
});

describe('/metrics of a server with TAGWISE_API_PROCESSES=2', () => {
  const KEY = 'metrics-cluster-admin-key';

  it('answers for every API process, summed, and reads the database figures once', async () => {
    const t = await createTestApp();
    const port = await freePort();
    const server = spawnServer({
      DATABASE_URL: t.url,
      PORT: String(port),
      TAGWISE_API_PROCESSES: '2',
      TAGWISE_WORKERS: '0',
      ADMIN_API_KEY: KEY,
      LOG_LEVEL: 'info',
    });
    try {
      await server.saw('(2 processes)');
      await t.sql(`insert into suggestion_run (status, params) values ('QUEUED', '{}')`);
      const url = `http://127.0.0.1:${port}`;
      // 16 at once reach both processes.
      await Promise.all(
        Array.from({ length: 16 }, () =>
          fetch(`${url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
            body: JSON.stringify({ query: 'query Spread { __typename }' }),
          }).then((r) => r.json()),
        ),
      );
      // Whichever process a scrape reaches, it answers for both.
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${url}/metrics`);
        expect(res.status).toBe(200);
        const samples = parse(await res.text());
        expect(
          value(samples, 'tagwise_graphql_requests_total', { operation: 'Spread', outcome: 'ok' }),
        ).toBe(16);
        expect(value(samples, 'tagwise_db_pool_max_connections', { pool: 'expensive' })).toBe(8);
        expect(value(samples, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
        expect(
          value(samples, 'tagwise_job_queue_depth', { kind: 'suggest', status: 'queued' }),
        ).toBe(1);
      }
    } finally {
      server.child.kill('SIGKILL');
      await t.close();
    }
  }, 120_000);
});
