import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';

const RUNS = `query($first: Int, $after: String, $kind: RunKind, $status: [RunStatus!]) {
  runs(first: $first, after: $after, kind: $kind, status: $status) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { kind id status createdBy createdAt finishedAt error progress { phase done total detail } } }
  }
}`;

/** Runs of each kind with chosen times: ties across kinds, and a microsecond apart. */
const FIXTURE = [
  ['TRAIN', 'SUCCEEDED', '2026-11-01 10:00:01+00'],
  ['SUGGEST', 'SUCCEEDED', '2026-11-01 10:00:01+00'],
  ['RULES', 'SUCCEEDED', '2026-11-01 10:00:01+00'],
  ['RULES', 'FAILED', '2026-11-01 10:00:02+00'],
  ['TRAIN', 'RUNNING', '2026-11-01 10:00:03+00'],
  ['SUGGEST', 'QUEUED', '2026-11-01 10:00:04+00'],
  ['RULES', 'QUEUED', '2026-11-01 10:00:05+00'],
  ['TRAIN', 'FAILED', '2026-11-01 10:00:05.000001+00'],
  ['SUGGEST', 'RUNNING', '2026-11-01 10:00:05.000001+00'],
  // A later id a microsecond earlier: a cursor rounded to milliseconds would skip it.
  ['TRAIN', 'QUEUED', '2026-11-01 10:00:05+00'],
] as const;

const TABLES = { TRAIN: 'model_run', SUGGEST: 'suggestion_run', RULES: 'rule_run' };

describe('runs of every kind', () => {
  let t: TestApp;
  /** `KIND:id` newest first, as the list must give them. */
  let expected: string[];
  const keyOf = (n: { kind: string; id: string }) => `${n.kind}:${n.id}`;
  const list = async (variables: Record<string, unknown>, as = Role.VIEWER) =>
    (await t.ok(RUNS, variables, as)).runs;

  const cli = (...args: string[]) =>
    promisify(execFile)('node', ['bin/tagwise.js', 'runs', 'list', ...args], {
      env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' },
    });

  beforeAll(async () => {
    t = await createTestApp();
    const rows: { kind: string; id: string; at: string }[] = [];
    for (const [kind, status, at] of FIXTURE) {
      const finished = ['SUCCEEDED', 'FAILED'].includes(status)
        ? `'2026-11-01 11:00:00+00'`
        : 'null';
      const error = status === 'FAILED' ? `'${kind.toLowerCase()} failed:\n  out of luck'` : 'null';
      const sql =
        kind === 'RULES'
          ? `insert into rule_run (dry_run, origin, status, created_by, created_at, finished_at, error)
             values (false, 'api', ?, 'ds', ?, ${finished}, ${error}) returning id::text`
          : `insert into ${TABLES[kind]} (params, status, created_by, created_at, finished_at, error, progress)
             values ('{}', ?, 'ds', ?, ${finished}, ${error},
               ${status === 'RUNNING' ? `'{"phase": "training", "done": 3, "total": 10, "detail": "loss 0.41"}'` : 'null'})
             returning id::text`;
      const [row] = await t.sql<{ id: string }>(sql, [status, at]);
      rows.push({ kind, id: row!.id, at });
    }
    const rank = { TRAIN: 2, SUGGEST: 1, RULES: 0 } as Record<string, number>;
    expected = rows
      .sort(
        (a, b) =>
          // Code-point order: '+' sorts before '.', so 10:00:05+00 before 10:00:05.000001+00.
          Number(b.at > a.at) - Number(b.at < a.at) ||
          rank[b.kind]! - rank[a.kind]! ||
          Number(b.id) - Number(a.id),
      )
      .map(keyOf);
  });
  afterAll(() => t?.close());

  it('lists every kind newest first, each with its status, times, progress and error', async () => {
    const runs = await list({ first: 50 });
    expect(runs.edges.map((e: any) => keyOf(e.node))).toEqual(expected);
    expect(runs.totalCount).toBe(FIXTURE.length);
    expect(runs.pageInfo.hasNextPage).toBe(false);
    const nodes = runs.edges.map((e: any) => e.node);
    // Created in the same microsecond: TRAIN before SUGGEST before RULES.
    expect(nodes[0]).toMatchObject({ kind: 'TRAIN', status: 'FAILED' });
    expect(nodes[1]).toEqual({
      kind: 'SUGGEST',
      id: expect.any(String),
      status: 'RUNNING',
      createdBy: 'ds',
      createdAt: '2026-11-01T10:00:05.000Z',
      finishedAt: null,
      error: null,
      progress: { phase: 'training', done: 3, total: 10, detail: 'loss 0.41' },
    });
    const failedRule = nodes.find((n: any) => n.kind === 'RULES' && n.status === 'FAILED');
    expect(failedRule).toMatchObject({
      finishedAt: '2026-11-01T11:00:00.000Z',
      error: 'rules failed:\n  out of luck',
      progress: null,
    });
  });

  it('pages through ties across kinds and microseconds without skipping or repeating', async () => {
    for (const first of [1, 2, 4]) {
      const seen: string[] = [];
      let after: string | null = null;
      for (;;) {
        const page: any = await list({ first, after });
        seen.push(...page.edges.map((e: any) => keyOf(e.node)));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
      }
      expect(seen, `pages of ${first}`).toEqual(expected);
    }
  });

  it('filters by kind and by status, and counts what the filter matches', async () => {
    const trains = await list({ first: 50, kind: 'TRAIN' });
    expect(trains.edges.map((e: any) => keyOf(e.node))).toEqual(
      expected.filter((k) => k.startsWith('TRAIN:')),
    );
    const open = await list({ first: 50, status: ['QUEUED', 'RUNNING'] });
    expect(open.edges.map((e: any) => e.node.status).sort()).toEqual([
      'QUEUED',
      'QUEUED',
      'QUEUED',
      'RUNNING',
      'RUNNING',
    ]);
    expect(open.totalCount).toBe(5);
    const failedRules = await list({ first: 50, kind: 'RULES', status: ['FAILED'] });
    expect(failedRules.totalCount).toBe(1);
    expect(failedRules.edges).toHaveLength(1);
    expect((await list({ first: 50, status: [] })).totalCount).toBe(0);
  });

  it('reads a page in one statement, however long, and counts in one more', async () => {
    const statements = async (first: number, withCount: boolean) =>
      (
        await t.countStatements(() =>
          t.gql(
            `query($first: Int) { runs(first: $first) { ${withCount ? 'totalCount' : ''}
              edges { node { kind id status createdBy createdAt finishedAt error progress { phase done total } } } } }`,
            { first },
            { as: Role.VIEWER },
          ),
        )
      ).count;
    const short = await statements(1, false);
    expect(await statements(50, false)).toBe(short);
    expect(await statements(50, true)).toBe(short + 1);
  });

  it('refuses a cursor from elsewhere and page sizes out of bounds', async () => {
    const forged = Buffer.from(JSON.stringify(['yesterday', 'TRAIN', 1])).toString('base64url');
    expect(errorOf(await t.gql(RUNS, { after: forged }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
    const kind = Buffer.from(JSON.stringify(['2026-11-01 10:00:01+00', 'X', 1])).toString(
      'base64url',
    );
    expect(errorOf(await t.gql(RUNS, { after: kind })).code).toBe('BAD_USER_INPUT');
    expect(errorOf(await t.gql(RUNS, { first: 501 })).code).toBe('BAD_USER_INPUT');
  });

  describe('tagwise runs list', () => {
    it('prints a table newest first, filtered by kind and status, up to --limit', async () => {
      const { stdout } = await cli();
      const lines = stdout.trimEnd().split('\n');
      expect(lines[0]).toMatch(
        /^kind\s+id\s+status\s+created\s+finished\s+by\s+progress \/ error$/,
      );
      expect(lines.slice(1).map((l) => l.split(/\s+/).slice(0, 2).join(':'))).toEqual(expected);
      expect(lines[2]).toMatch(
        /^SUGGEST\s+\d+\s+RUNNING\s+2026-11-01 10:00:05\s+–\s+ds\s+training 3\/10$/,
      );
      // A failed run's error on its own line's end, on one line.
      expect(stdout).toMatch(
        /RULES\s+\d+\s+FAILED\s+.*2026-11-01 11:00:00\s+ds\s+rules failed: out of luck\n/,
      );

      const running = await cli('--kind', 'train', '--status', 'running,queued');
      expect(running.stdout.trimEnd().split('\n').slice(1)).toEqual([
        expect.stringMatching(/^TRAIN\s+\d+\s+QUEUED/),
        expect.stringMatching(/^TRAIN\s+\d+\s+RUNNING/),
      ]);

      const two = await cli('--limit', '2', '--json');
      const json = JSON.parse(two.stdout);
      expect(json.map(keyOf)).toEqual(expected.slice(0, 2));
      expect(json[1]).toMatchObject({ status: 'RUNNING', createdBy: 'ds' });
    }, 60_000);

    it('refuses an unknown kind or status in one line', async () => {
      const failure = await cli('--kind', 'training').then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure).toMatchObject({ code: 1 });
      expect(failure!.stderr.trim()).toBe('--kind: one of train, suggest, rules');
    }, 60_000);
  });

  // Last: it adds a run the tests above do not expect.
  it('shows a run the API queued, with who asked, first', async () => {
    const category = await t.ok(
      `mutation { createTagCategory(input: { key: "b", name: "B", kind: BEHAVIOUR }) { id } }`,
    );
    const tag = await t.ok(
      `mutation($c: ID!) { createTag(input: { key: "t", name: "T", categoryId: $c }) { id } }`,
      { c: category.createTagCategory.id },
    );
    await t.ok(
      `mutation($t: ID!) { createRule(input: { name: "r", tagId: $t, text: "company_size > 1" }) { id } }`,
      {
        t: tag.createTag.id,
      },
    );
    const queued = await t.ok(`mutation { runRules { id } }`, {}, Role.DATA_SCIENTIST);
    const [newest] = (await list({ first: 1 })).edges;
    expect(newest.node).toMatchObject({
      kind: 'RULES',
      id: queued.runRules.id,
      status: 'QUEUED',
      createdBy: 'test-DATA_SCIENTIST',
    });
  });
});
