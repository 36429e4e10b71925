import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import { runRules } from '../../src/jobs/rules.job.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { importFile } from '../../src/modules/import/import.service.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const CREATE = `mutation($input: CreateRuleInput!) {
  createRule(input: $input) { id name text mode priority trigger enabled tag { key } }
}`;
const RUN = `query($id: ID!) { ruleRun(id: $id) {
  id status dryRun error
  reports { ruleName tagKey matched added removed unchanged conflicts sampleAdded sampleRemoved }
  conflicts(first: 50) { totalCount edges { node { kind customer { externalId } rule { name } tag { key } } } }
} }`;

describe('rules', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let ids: Record<string, string>;
  let modelVersionId: string;

  /** Queues a run over GraphQL, works it off as the worker would, returns the report. */
  async function run(dryRun = false) {
    const queued = await t.ok(`mutation($d: Boolean!) { runRules(dryRun: $d) { id status } }`, {
      d: dryRun,
    });
    expect(queued.runRules.status).toBe('QUEUED');
    await t.app.queue.runRules(queued.runRules.id);
    const data = await t.ok(RUN, { id: queued.runRules.id });
    expect(data.ruleRun.status).toBe('SUCCEEDED');
    return data.ruleRun;
  }

  const counts = async () =>
    (
      await t.sql(`select (select count(*)::int from customer_tag) as tags,
        (select count(*)::int from tag_history) as history,
        (select count(*)::int from rule_conflict) as conflicts`)
    )[0];

  async function suggestion(customer: string, tag: string, status: string) {
    await t.sql(
      `insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold, margin,
         model_version_id, explanation, status)
       values (?, ?, 'MODEL', 'ADD', 0.9, 0.5, 0.4, ?, '{}', ?)`,
      [ids[customer], tax.tags[tag], modelVersionId, status],
    );
  }

  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    ids = await createCustomers(
      t,
      Array.from({ length: 10 }, (_, i) => ({
        externalId: `r${i}`,
        name: `R ${i}`,
        companySize: i * 100,
      })),
    );
    [{ id: modelVersionId }] = (await t.sql(
      `insert into model_version (version, seed, params, feature_schema, training_summary, metrics, backend, artifact_path)
       values ('test', 1, '{}', '{}', '{}', '{}', 'cpu', '/tmp') returning id`,
    )) as [{ id: string }];
  });
  afterAll(() => t?.close());

  it('validates rules with field paths and roles', async () => {
    const bad = await t.gql(CREATE, {
      input: { name: 'Bad', tagId: tax.tags['high-value'], text: 'company_size > 1 AND tag:nope' },
    });
    expect(errorOf(bad)).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.text.and[1].tag.has',
    });
    const noEvents = await t.gql(CREATE, {
      input: {
        name: 'Bad',
        tagId: tax.tags['high-value'],
        text: 'company_size > 1',
        trigger: true,
      },
    });
    expect(errorOf(noEvents)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.trigger' });
    const viewer = await t.gql(
      CREATE,
      { input: { name: 'V', tagId: tax.tags['high-value'], text: 'company_size > 1' } },
      { as: Role.VIEWER },
    );
    expect(errorOf(viewer).code).toBe('FORBIDDEN');
    expect(await t.sql('select * from rule')).toEqual([]);
  });

  it('applies and retracts set-based, idempotently, with history and conflicts', async () => {
    // r1 holds high-value by hand; r6 holds normal-value from an import; r9 normal-value by hand.
    await applyTags(t, [ids.r1!], [tax.tags['high-value']!]);
    await applyTags(t, [ids.r9!], [tax.tags['normal-value']!]);
    await t.sql(`insert into customer_tag (customer_id, tag_id, source) values (?, ?, 'IMPORT')`, [
      ids.r6,
      tax.tags['normal-value'],
    ]);
    // A reviewer rejected high-value for r7.
    await suggestion('r7', 'high-value', 'REJECTED');
    const created = await t.ok(
      CREATE,
      {
        input: {
          name: 'Big companies',
          tagId: tax.tags['high-value'],
          definition: { field: { name: 'COMPANY_SIZE', op: 'GTE', value: 500 } },
          mode: 'APPLY_AND_RETRACT',
          priority: 10,
        },
      },
      Role.DATA_SCIENTIST,
    );
    expect(created.createRule).toMatchObject({
      text: 'company_size >= 500',
      tag: { key: 'high-value' },
      mode: 'APPLY_AND_RETRACT',
    });

    const before = await counts();
    const dry = await run(true);
    expect(dry.dryRun).toBe(true);
    expect(await counts()).toEqual(before);
    const first = await run();
    expect(first.reports).toEqual([dry.reports[0]]);
    expect(first.reports[0]).toMatchObject({
      ruleName: 'Big companies',
      matched: 5, // r5..r9
      added: 3, // r5, r6 (replacing the imported normal-value), r8
      removed: 0,
      unchanged: 0,
      conflicts: 3, // r7 rejected, r9 reviewer's normal-value, r1 reviewer's high-value
    });
    expect(first.reports[0].sampleAdded).toEqual([ids.r5, ids.r6, ids.r8]);
    const conflicts = first.conflicts.edges.map((e: any) => [
      e.node.customer.externalId,
      e.node.kind,
    ]);
    expect(conflicts.sort()).toEqual([
      ['r1', 'RETRACT_APPROVED'],
      ['r7', 'APPLY_REJECTED'],
      ['r9', 'REPLACE_APPROVED'],
    ]);
    const history = await t.sql<{ external_id: string; action: string; source: string }>(
      `select c.external_id, h.action, h.source from tag_history h join customer c on c.id = h.customer_id
       where h.actor = 'rule:Big companies' order by c.external_id, h.action`,
    );
    expect(history).toEqual([
      { external_id: 'r5', action: 'APPLIED', source: 'RULE' },
      { external_id: 'r6', action: 'APPLIED', source: 'RULE' },
      { external_id: 'r6', action: 'REPLACED', source: 'RULE' },
      { external_id: 'r8', action: 'APPLIED', source: 'RULE' },
    ]);

    const settled = await counts();
    const second = await run();
    expect(second.reports[0]).toMatchObject({ added: 0, removed: 0, unchanged: 3, conflicts: 3 });
    expect(await counts()).toEqual(settled);

    // r5 shrinks: the rule takes its tag back; r1's hand-applied one stays.
    await t.ok(
      `mutation { upsertCustomers(input: [{ externalId: "r5", companySize: 10 }]) { updated } }`,
    );
    const third = await run();
    expect(third.reports[0]).toMatchObject({ added: 0, removed: 1, sampleRemoved: [ids.r5] });
    const held = await t.sql<{ external_id: string; source: string }>(
      `select c.external_id, ct.source from customer_tag ct join customer c on c.id = ct.customer_id
       where ct.tag_id = ? order by 1`,
      [tax.tags['high-value']],
    );
    expect(held).toEqual([
      { external_id: 'r1', source: 'MANUAL' },
      { external_id: 'r6', source: 'RULE' },
      { external_id: 'r8', source: 'RULE' },
    ]);
    const listed = await t.ok(
      `query($r: ID) { ruleConflicts(first: 2, ruleId: $r) { totalCount pageInfo { hasNextPage } edges { node { kind } } } }`,
      { r: created.createRule.id },
      Role.VIEWER,
    );
    expect(listed.ruleConflicts.totalCount).toBe(3);
    expect(listed.ruleConflicts.pageInfo.hasNextPage).toBe(true);
  });

  it('lets the higher priority rule win an exclusive category, stably', async () => {
    await t.ok(CREATE, {
      input: {
        name: 'Mid companies',
        tagId: tax.tags['normal-value'],
        text: 'company_size >= 300',
        mode: 'APPLY_AND_RETRACT',
        priority: 1,
      },
    });
    const first = await run();
    const mid = first.reports.find((r: any) => r.ruleName === 'Mid companies');
    expect(first.reports.map((r: any) => r.ruleName)).toEqual(['Big companies', 'Mid companies']);
    // r3, r4, r5 (r5 shrank to 10: not), so r3, r4; r6–r9 are claimed by Big companies.
    expect(mid).toMatchObject({ matched: 2, added: 2 });
    const settled = await counts();
    const again = await run();
    expect(again.reports.every((r: any) => r.added === 0 && r.removed === 0)).toBe(true);
    expect(await counts()).toEqual(settled);
    await t.ok(`mutation($i: UpdateRuleInput!) { updateRule(input: $i) { enabled } }`, {
      i: {
        id: (await t.sql(`select id from rule where name = 'Mid companies'`))[0]!.id,
        enabled: false,
      },
    });
  });

  it('runs after a feature refresh', async () => {
    const report = await refreshFeatures(t.app.orm, { mode: 'full' });
    expect(report.ruleRunId).toBeDefined();
    const data = await t.ok(RUN, { id: report.ruleRunId });
    expect(data.ruleRun.reports.map((r: any) => r.ruleName)).toEqual(['Big companies']);
    const list = await t.ok(`{ rules(first: 10) { totalCount edges { node { name enabled } } } }`);
    expect(list.rules.edges.map((e: any) => e.node.name)).toEqual([
      'Big companies',
      'Mid companies',
    ]);
  });

  it('triggers on recordEvents in the same request, and on event imports', async () => {
    await suggestion('r3', 'event-attendee', 'REJECTED');
    await t.ok(CREATE, {
      input: {
        name: 'Attendee',
        tagId: tax.tags['event-attendee'],
        text: 'event:EVENT_ATTENDANCE within 90d',
        trigger: true,
      },
    });
    const now = new Date().toISOString();
    const recorded = await t.ok(
      `mutation($input: [EventInput!]!) { recordEvents(input: $input) { recorded triggered } }`,
      {
        input: [
          { customerExternalId: 'r2', type: 'EVENT_ATTENDANCE', occurredAt: now },
          { customerExternalId: 'r3', type: 'EVENT_ATTENDANCE', occurredAt: now },
          { customerId: ids.r4, type: 'PAGE_VIEW', occurredAt: now },
        ],
      },
    );
    expect(recorded.recordEvents).toEqual({ recorded: 3, triggered: 1 });
    const holders = async () =>
      t.sql<{ external_id: string; source: string }>(
        `select c.external_id, ct.source from customer_tag ct join customer c on c.id = ct.customer_id
         where ct.tag_id = ? order by 1`,
        [tax.tags['event-attendee']],
      );
    expect(await holders()).toEqual([{ external_id: 'r2', source: 'TRIGGER' }]);
    const [conflict] = await t.sql(
      `select kind from rule_conflict k join rule r on r.id = k.rule_id where r.name = 'Attendee'`,
    );
    expect(conflict).toEqual({ kind: 'APPLY_REJECTED' });

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-rules-'));
    const file = path.join(dir, 'events.ndjson');
    await fs.writeFile(
      file,
      [
        JSON.stringify({ customerExternalId: 'r0', type: 'EVENT_ATTENDANCE', occurredAt: now }),
        JSON.stringify({ customerExternalId: 'r1', type: 'EMAIL_OPEN', occurredAt: now }),
      ].join('\n'),
    );
    const report = await importFile(t.app.orm, { kind: 'events', file });
    expect(report).toMatchObject({ inserted: 2, triggered: 1 });
    expect(await holders()).toEqual([
      { external_id: 'r0', source: 'TRIGGER' },
      { external_id: 'r2', source: 'TRIGGER' },
    ]);

    // A retracting trigger rule takes its event-time tag back once the customer stops matching.
    const [rule] = await t.sql<{ id: string }>(`select id from rule where name = 'Attendee'`);
    await t.ok(`mutation($i: UpdateRuleInput!) { updateRule(input: $i) { mode } }`, {
      i: { id: rule!.id, mode: 'APPLY_AND_RETRACT' },
    });
    await t.sql(
      `update event set occurred_at = now() - interval '200 days'
       where type = 'EVENT_ATTENDANCE' and customer_id = ?`,
      [ids.r2],
    );
    await runRules(t.app.orm, { origin: 'cli' });
    expect(await holders()).toEqual([{ external_id: 'r0', source: 'TRIGGER' }]);
  });

  it('keeps a segment a rule depends on', async () => {
    const segment = await t.ok(
      `mutation { createSegment(input: { key: "bigs", name: "Bigs", text: "company_size >= 800" }) { id } }`,
    );
    await t.ok(CREATE, {
      input: { name: 'Bigs are readers', tagId: tax.tags.reader, text: 'segment:bigs' },
    });
    const refused = await t.gql(`mutation($id: ID!) { deleteSegment(id: $id) { id } }`, {
      id: segment.createSegment.id,
    });
    expect(errorOf(refused)).toMatchObject({ code: 'CONFLICT' });
    expect(refused.errors![0]!.extensions!.dependants).toEqual({
      segments: [],
      rules: ['Bigs are readers'],
    });
  });

  it('runs from the CLI, a dry run changing nothing', async () => {
    const before = await counts();
    const { stdout } = await promisify(execFile)(
      'node',
      ['bin/tagwise.js', 'rules', 'run', '--dry-run'],
      { env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'error' } },
    );
    expect(stdout).toMatch(/^Dry run \d+: 3 rule\(s\), nothing changed/);
    expect(stdout).toContain('Big companies');
    expect(await counts()).toEqual(before);
    const [run] = await t.sql(
      `select origin, dry_run, status from rule_run order by id desc limit 1`,
    );
    expect(run).toEqual({ origin: 'cli', dry_run: true, status: 'SUCCEEDED' });
  }, 30_000);
  it('serialises concurrent runs: the second waits, then finds nothing to change', async () => {
    // Rule-made tags gone, so there is work for whichever run takes the lock first.
    await t.sql(`delete from customer_tag where source = 'RULE'`);
    const before = await counts();
    const runs = await Promise.all([
      runRules(t.app.orm, { origin: 'feature-refresh' }),
      runRules(t.app.orm, { origin: 'cli' }),
    ]);
    expect(runs.map((r) => r.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
    const added = runs.map((r) => r.reports.reduce((sum, report) => sum + report.added, 0));
    const [[first], [second]] = [
      runs.filter((_, i) => added[i]! > 0),
      runs.filter((_, i) => added[i] === 0),
    ];
    expect(first).toBeDefined();
    expect(second).toBeDefined();
    expect(second!.reports.every((r) => r.added === 0 && r.removed === 0)).toBe(true);
    expect(second!.reports.map((r) => r.matched)).toEqual(first!.reports.map((r) => r.matched));
    const settled = await counts();
    expect(settled.tags - before.tags).toBe(added[runs.indexOf(first!)]);
    // One history row per tag added, none from the run that found nothing to do.
    expect(settled.history - before.history).toBe(settled.tags - before.tags);
    const again = await runRules(t.app.orm, { origin: 'cli' });
    expect(again.reports.every((r) => r.added === 0 && r.removed === 0)).toBe(true);
    expect(await counts()).toEqual(settled);
  });

  it('loses no tag to a writer applying the same tag mid-run', async () => {
    // The first test's rule gives high-value to every company of 500 or more.
    await t.sql(`delete from customer_tag where source = 'RULE'`);
    const [holder] = await t.sql<{ customer_id: string; tag_id: string }>(
      `select r.customer_id::text, r.tag_id::text from (
         select c.id as customer_id, ?::bigint as tag_id from customer c
         where c.company_size >= 500 order by c.id limit 1) r`,
      [tax.tags['high-value']],
    );
    // A reviewer's transaction tags the customer but has not committed when the run reads who
    // lacks the tag; the run's insert then waits on it and meets the committed row.
    const [{ started }] = (await t.sql(`select now() as started`)) as [{ started: Date }];
    const writer = new pg.Client({ connectionString: t.url });
    await writer.connect();
    try {
      await writer.query('begin');
      await writer.query(
        `insert into customer_tag (customer_id, tag_id, source, applied_by) values ($1, $2, 'MANUAL', 'reviewer')`,
        [holder!.customer_id, holder!.tag_id],
      );
      const running = runRules(t.app.orm, { origin: 'cli' });
      await new Promise((resolve) => setTimeout(resolve, 500));
      await writer.query('commit');
      const done = await running;
      expect(done.status).toBe('SUCCEEDED');
    } finally {
      await writer.end();
    }
    const [held] = await t.sql(
      `select source, applied_by from customer_tag where customer_id = ? and tag_id = ?`,
      [holder!.customer_id, holder!.tag_id],
    );
    expect(held).toEqual({ source: 'MANUAL', applied_by: 'reviewer' });
    // The rule's retried insert wrote no history for the tag it did not add.
    const history = await t.sql(
      `select actor from tag_history where customer_id = ? and tag_id = ? and action = 'APPLIED'
       and actor like 'rule:%' and occurred_at > ?`,
      [holder!.customer_id, holder!.tag_id, started],
    );
    expect(history).toEqual([]);
  });
});
