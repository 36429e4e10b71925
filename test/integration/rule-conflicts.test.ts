import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const RESOLVE = `mutation($id: ID!, $r: RuleConflictResolution!) {
  resolveRuleConflict(id: $id, resolution: $r) {
    id kind resolution resolvedBy resolvedAt customer { externalId } tag { key }
  }
}`;
const CONFLICTS = `query($resolved: Boolean) {
  ruleConflicts(first: 50, resolved: $resolved) {
    totalCount edges { node { id kind resolution customer { externalId } } }
  }
}`;

describe('resolving rule conflicts', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let ids: Record<string, string>;

  /** Runs every enabled rule as the worker would; the report of the one rule. */
  async function run() {
    const queued = await t.ok(`mutation { runRules { id } }`);
    await t.app.queue.runRules(queued.runRules.id);
    const data = await t.ok(
      `query($id: ID!) { ruleRun(id: $id) { status reports { added removed unchanged conflicts kept } } }`,
      { id: queued.runRules.id },
    );
    expect(data.ruleRun.status).toBe('SUCCEEDED');
    return data.ruleRun.reports[0];
  }

  /** The open conflict of a customer, by kind. */
  async function openConflict(externalId: string) {
    const data = await t.ok(CONFLICTS, { resolved: false });
    const edge = data.ruleConflicts.edges.find(
      (e: any) => e.node.customer.externalId === externalId,
    );
    return edge?.node as { id: string; kind: string } | undefined;
  }

  const held = (externalId: string) =>
    t.sql<{ key: string; source: string; applied_by: string | null }>(
      `select t.key, ct.source, ct.applied_by from customer_tag ct join tag t on t.id = ct.tag_id
       where ct.customer_id = ? order by t.key`,
      [ids[externalId]],
    );

  async function rejectedSuggestion(externalId: string) {
    const [version] = await t.sql<{ id: string }>(`select id::text from model_version limit 1`);
    await t.sql(
      `insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold, margin,
         model_version_id, explanation, status, reviewed_by, reviewed_at)
       values (?, ?, 'MODEL', 'ADD', 0.9, 0.5, 0.4, ?, '{}', 'REJECTED', 'a reviewer', now())`,
      [ids[externalId], tax.tags['high-value'], version!.id],
    );
  }

  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    // k1..k3 and k5 match the rule; k4 does not (a small company holding the tag by hand).
    ids = await createCustomers(
      t,
      ['k1', 'k2', 'k3', 'k4', 'k5'].map((externalId) => ({
        externalId,
        companySize: externalId === 'k4' ? 10 : 1000,
      })),
    );
    await t.sql(
      `insert into model_version (version, seed, params, feature_schema, training_summary, metrics, backend, artifact_path)
       values ('test', 1, '{}', '{}', '{}', '{}', 'cpu', '/tmp')`,
    );
    await rejectedSuggestion('k1');
    await rejectedSuggestion('k3');
    await rejectedSuggestion('k5');
    await applyTags(t, [ids.k2!], [tax.tags['normal-value']!]);
    await applyTags(t, [ids.k4!], [tax.tags['high-value']!]);
    await t.ok(
      `mutation($t: ID!) { createRule(input: { name: "Big", tagId: $t, text: "company_size >= 500", mode: APPLY_AND_RETRACT }) { id } }`,
      { t: tax.tags['high-value'] },
    );
    expect(await run()).toMatchObject({ added: 0, conflicts: 5, kept: 0 });
    const open = (await t.ok(CONFLICTS, {})).ruleConflicts;
    expect(open.totalCount).toBe(5);
    expect(
      open.edges
        .map((e: any) => [e.node.customer.externalId, e.node.kind, e.node.resolution])
        .sort(),
    ).toEqual([
      ['k1', 'APPLY_REJECTED', null],
      ['k2', 'REPLACE_APPROVED', null],
      ['k3', 'APPLY_REJECTED', null],
      ['k4', 'RETRACT_APPROVED', null],
      ['k5', 'APPLY_REJECTED', null],
    ]);
  });
  afterAll(() => t?.close());

  it('KEEP_DECISION closes the conflict; runs stay silent until the customer’s tag changes', async () => {
    const conflict = (await openConflict('k1'))!;
    const kept = await t.ok(RESOLVE, { id: conflict.id, r: 'KEEP_DECISION' }, Role.DATA_SCIENTIST);
    expect(kept.resolveRuleConflict).toMatchObject({
      id: conflict.id,
      kind: 'APPLY_REJECTED',
      resolution: 'KEEP_DECISION',
      resolvedBy: 'test-DATA_SCIENTIST',
      customer: { externalId: 'k1' },
      tag: { key: 'high-value' },
    });
    expect(kept.resolveRuleConflict.resolvedAt).toBeTruthy();
    expect(await held('k1')).toEqual([]);
    expect(await openConflict('k1')).toBeUndefined();
    const resolved = (await t.ok(CONFLICTS, { resolved: true })).ruleConflicts;
    expect(resolved.edges.map((e: any) => e.node.id)).toEqual([conflict.id]);

    // Runs after it: k1 is withheld and counted as kept, not raised again.
    const again = await run();
    expect(again).toMatchObject({ added: 0, conflicts: 4, kept: 1 });
    expect(await held('k1')).toEqual([]);
    const rows = () =>
      t.sql<{ id: string; resolution: string | null }>(
        `select id::text, resolution from rule_conflict where customer_id = ? order by id`,
        [ids.k1],
      );
    expect(await rows()).toEqual([{ id: conflict.id, resolution: 'KEEP_DECISION' }]);

    // The customer's tag changes (a reviewer applies it, then takes it away): the rule's
    // disagreement with that newer state is a new conflict.
    await applyTags(t, [ids.k1!], [tax.tags['high-value']!]);
    await t.ok(
      `mutation($c: [ID!]!, $t: [ID!]!) { removeTags(customerIds: $c, tagIds: $t) { removed } }`,
      {
        c: [ids.k1],
        t: [tax.tags['high-value']],
      },
    );
    expect(await run()).toMatchObject({ conflicts: 5, kept: 0 });
    const reopened = await openConflict('k1');
    expect(reopened).toMatchObject({ kind: 'APPLY_REJECTED' });
    expect(reopened!.id).not.toBe(conflict.id);
    expect((await rows()).map((r) => r.resolution)).toEqual(['KEEP_DECISION', null]);
  });

  it('ACCEPT_RULE makes the rule’s change as this key’s, closes the conflict, and the next run agrees', async () => {
    const [{ last }] = (await t.sql(`select max(id)::text as last from tag_history`)) as [
      { last: string },
    ];
    const replace = (await openConflict('k2'))!;
    const retract = (await openConflict('k4'))!;
    expect([replace.kind, retract.kind]).toEqual(['REPLACE_APPROVED', 'RETRACT_APPROVED']);
    for (const conflict of [replace, retract]) {
      const accepted = await t.ok(RESOLVE, { id: conflict.id, r: 'ACCEPT_RULE' });
      expect(accepted.resolveRuleConflict).toMatchObject({
        resolution: 'ACCEPT_RULE',
        resolvedBy: 'test-ADMIN',
      });
    }
    // k2: the reviewer's normal-value replaced by the rule's high-value; k4: the tag retracted.
    expect(await held('k2')).toEqual([
      { key: 'high-value', source: 'RULE', applied_by: 'test-ADMIN' },
    ]);
    expect(await held('k4')).toEqual([]);
    const history = await t.sql(
      `select c.external_id, t.key, h.action, h.source, h.actor, h.note like 'accepted rule:Big %' as noted
       from tag_history h join customer c on c.id = h.customer_id join tag t on t.id = h.tag_id
       where h.id > ? order by h.id`,
      [last],
    );
    expect(history).toEqual([
      {
        external_id: 'k2',
        key: 'normal-value',
        action: 'REPLACED',
        source: 'RULE',
        actor: 'test-ADMIN',
        noted: true,
      },
      {
        external_id: 'k2',
        key: 'high-value',
        action: 'APPLIED',
        source: 'RULE',
        actor: 'test-ADMIN',
        noted: true,
      },
      {
        external_id: 'k4',
        key: 'high-value',
        action: 'REMOVED',
        source: 'RULE',
        actor: 'test-ADMIN',
        noted: true,
      },
    ]);

    // The rule now finds k2 holding its tag and k4 without it: nothing to change, nothing raised.
    const report = await run();
    expect(report).toMatchObject({ added: 0, removed: 0, unchanged: 1, conflicts: 3, kept: 0 });
    expect(await openConflict('k2')).toBeUndefined();
    expect(await openConflict('k4')).toBeUndefined();
    expect(await held('k2')).toEqual([
      { key: 'high-value', source: 'RULE', applied_by: 'test-ADMIN' },
    ]);
  });

  it('resolves a conflict exactly once: of two at the same time one wins, the other is told who', async () => {
    const conflict = (await openConflict('k3'))!;
    // Both requests reach the row while another transaction holds it, then race for it.
    const blocker = new pg.Client({ connectionString: t.url });
    await blocker.connect();
    let results;
    try {
      await blocker.query('begin');
      await blocker.query('select 1 from rule_conflict where id = $1 for update', [conflict.id]);
      const racing = Promise.all([
        t.gql(RESOLVE, { id: conflict.id, r: 'ACCEPT_RULE' }, { as: Role.ADMIN }),
        t.gql(RESOLVE, { id: conflict.id, r: 'ACCEPT_RULE' }, { as: Role.DATA_SCIENTIST }),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await blocker.query('rollback');
      results = await racing;
    } finally {
      await blocker.end();
    }
    const won = results.filter((r) => !r.errors);
    const lost = results.filter((r) => r.errors);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const winner = won[0]!.data!.resolveRuleConflict.resolvedBy;
    expect(errorOf(lost[0]!)).toMatchObject({ code: 'CONFLICT' });
    expect(errorOf(lost[0]!).message).toContain(
      `Rule conflict ${conflict.id} was already resolved`,
    );
    expect(errorOf(lost[0]!).message).toContain(`ACCEPT_RULE by ${winner}`);
    // Applied once, logged once.
    expect(await held('k3')).toEqual([{ key: 'high-value', source: 'RULE', applied_by: winner }]);
    const [applied] = await t.sql<{ n: number }>(
      `select count(*)::int as n from tag_history where customer_id = ? and action = 'APPLIED'`,
      [ids.k3],
    );
    expect(applied!.n).toBe(1);
    // Resolved is resolved, whichever resolution a latecomer asks for.
    const late = await t.gql(RESOLVE, { id: conflict.id, r: 'KEEP_DECISION' });
    expect(errorOf(late).code).toBe('CONFLICT');
  });

  it('refuses unknown and malformed ids, and a rule’s deprecated tag, changing nothing', async () => {
    expect(errorOf(await t.gql(RESOLVE, { id: '999999', r: 'KEEP_DECISION' }))).toMatchObject({
      code: 'NOT_FOUND',
      message: 'RuleConflict 999999 does not exist',
    });
    expect(errorOf(await t.gql(RESOLVE, { id: 'x', r: 'KEEP_DECISION' }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'id',
    });
    const conflict = (await openConflict('k5'))!;
    await t.sql(`update tag set status = 'DEPRECATED' where id = ?`, [tax.tags['high-value']]);
    try {
      const refused = await t.gql(RESOLVE, { id: conflict.id, r: 'ACCEPT_RULE' });
      expect(errorOf(refused)).toMatchObject({ code: 'CONFLICT' });
      expect(errorOf(refused).message).toContain('keep the decision instead');
      expect(await held('k5')).toEqual([]);
      expect(await openConflict('k5')).toMatchObject({ id: conflict.id });
    } finally {
      await t.sql(`update tag set status = 'ACTIVE' where id = ?`, [tax.tags['high-value']]);
    }
  });
});
