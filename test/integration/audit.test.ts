import { GraphQLBoolean, GraphQLObjectType, GraphQLSchema } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertMutationsAudited } from '../../src/graphql/audit.js';
import { buildGraphQLSchema } from '../../src/graphql/build-schema.js';
import { Permission, Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { featureDefinitions } from '../../src/modules/feature/feature.definitions.js';
import { FeatureRepository } from '../../src/modules/feature/feature.repository.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

interface Entry {
  id: string;
  actorKeyId: string | null;
  actorName: string;
  actorKind: string;
  operation: string;
  targetType: string | null;
  targetIds: string[];
  change: Record<string, any>;
}

const AUDIT_LOG = `query($first: Int!, $after: String, $filter: AuditLogFilter) {
  auditLog(first: $first, after: $after, filter: $filter) {
    totalCount
    edges { cursor node { id at actorKeyId actorName actorKind operation targetType targetIds change } }
    pageInfo { hasNextPage endCursor }
  }
}`;

describe('audit log', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let customers: Record<string, string>;
  /** Key id by role, as the entries name them. */
  const keyId: Partial<Record<Role, string>> = {};

  const entries = (where = 'true', params: unknown[] = []) =>
    t.sql<Entry>(
      `select id::text, actor_key_id::text as "actorKeyId", actor_name as "actorName",
              actor_kind as "actorKind", operation, target_type as "targetType",
              target_ids as "targetIds", change
       from audit_log where ${where} order by audit_log.id`,
      params,
    );
  const entriesOf = (operation: string) => entries('operation = ?', [operation]);
  const lastId = async () =>
    (await t.sql<{ id: string | null }>('select max(id)::text as id from audit_log'))[0]!.id ?? '0';

  beforeAll(async () => {
    t = await createTestApp();
    for (const r of await t.sql<{ id: string; name: string }>(
      'select id::text, name from api_key',
    )) {
      const role = r.name.replace(/^test-/, '') as Role;
      if (Object.values(Role).includes(role)) keyId[role] = r.id;
    }
    tax = await createTaxonomy(t);
    customers = await createCustomers(
      t,
      Array.from({ length: 25 }, (_, i) => ({
        externalId: `c${i}`,
        name: `Customer ${i}`,
        email: `person${i}@example.com`,
        region: 'East China',
      })),
    );
  });
  afterAll(() => t?.close());

  /**
   * Every mutation of the schema, run once with arguments that succeed. A mutation missing here
   * fails 'writes one entry for every mutation of the schema' below.
   */
  async function runEveryMutation(): Promise<void> {
    const c = (i: number) => customers[`c${i}`]!;
    const tags = tax.tags;
    // createTagCategory, createTag and upsertCustomers ran in beforeAll.
    await t.ok(
      `mutation($c: [ID!]!, $t: [ID!]!) { applyTags(customerIds: $c, tagIds: $t) { applied } }`,
      { c: [c(0), c(1)], t: [tags['reader']] },
      Role.REVIEWER,
    );
    await t.ok(
      `mutation($c: [ID!]!, $t: [ID!]!) { removeTags(customerIds: $c, tagIds: $t) { removed } }`,
      { c: [c(1)], t: [tags['reader']] },
      Role.REVIEWER,
    );
    await t.ok(
      `mutation($id: ID!) { updateTag(id: $id, input: { name: "Reader", color: "#aa0000" }) { id } }`,
      {
        id: tags['reader'],
      },
    );
    await t.ok(`mutation($id: ID!) { deprecateTag(id: $id) { id } }`, {
      id: tags['event-attendee'],
    });
    await t.ok(
      `mutation($s: [ID!]!, $t: ID!) { mergeTags(sourceIds: $s, targetId: $t) { moved } }`,
      { s: [tags['meat-lover']], t: tags['wine-lover'] },
    );
    await t.ok(
      `mutation($t: ID!) { setAutoApplyPolicy(input: { tagId: $t, threshold: 0.95, sampleRate: 0.2 }) { id } }`,
      { t: tags['high-value'] },
    );
    const segment = await t.ok(
      `mutation { createSegment(input: { key: "bigs", name: "Bigs", text: "company_size >= 800" }) { id } }`,
    );
    await t.ok(
      `mutation($id: ID!) { updateSegment(input: { id: $id, name: "Big ones" }) { id } }`,
      {
        id: segment.createSegment.id,
      },
    );
    await t.ok(`mutation($id: ID!) { deleteSegment(id: $id) { id } }`, {
      id: segment.createSegment.id,
    });
    const rule = await t.ok(
      `mutation($t: ID!) { createRule(input: { name: "Big", tagId: $t, text: "company_size > 1" }) { id } }`,
      { t: tags['high-value'] },
      Role.DATA_SCIENTIST,
    );
    // Before the rule is disabled: a run with no enabled rule is refused.
    const queuedRun = await t.ok(
      `mutation { runRules(dryRun: true) { id } }`,
      {},
      Role.DATA_SCIENTIST,
    );
    // No worker runs here: the run is still QUEUED, and cancelled at once.
    await t.ok(
      `mutation($id: ID!) { cancelRun(kind: RULES, id: $id) { status } }`,
      { id: queuedRun.runRules.id },
      Role.DATA_SCIENTIST,
    );
    await t.ok(
      `mutation($id: ID!) { updateRule(input: { id: $id, enabled: false, priority: 5 }) { id } }`,
      { id: rule.createRule.id },
      Role.DATA_SCIENTIST,
    );
    // A conflict as a run records one: the rule would apply the tag a reviewer rejected for c5.
    const [conflict] = await t.sql<{ id: string }>(
      `insert into rule_conflict (rule_id, customer_id, tag_id, kind) values (?, ?, ?, 'APPLY_REJECTED')
       returning id::text`,
      [rule.createRule.id, c(5), tags['high-value']],
    );
    await t.ok(
      `mutation($id: ID!) { resolveRuleConflict(id: $id, resolution: KEEP_DECISION) { id } }`,
      { id: conflict!.id },
      Role.DATA_SCIENTIST,
    );
    await t.ok(
      `mutation($input: [EventInput!]!) { recordEvents(input: $input) { recorded } }`,
      {
        input: [
          { customerExternalId: 'c2', type: 'PURCHASE', occurredAt: '2026-11-01T10:00:00Z' },
          { customerId: c(3), type: 'PAGE_VIEW', occurredAt: '2026-11-02T10:00:00Z' },
        ],
      },
      Role.DATA_SCIENTIST,
    );
    // What training is refused without: 50 customers with features, 5 holding a tag as a label.
    const set = await new FeatureRepository(t.app.orm.em.fork()).loadFeatureSet();
    await t.sql(
      `insert into customer (external_id, name) select 'train-' || g, 'T' from generate_series(1, 25) g`,
    );
    await t.sql(
      `insert into customer_features (customer_id, feature_set_version, computed_at, values)
       select id, ?, now(), '{}' from customer`,
      [set.version],
    );
    await t.sql(
      `insert into customer_tag (customer_id, tag_id, source)
       select id, ?, 'MANUAL' from customer where external_id like 'train-%' order by id limit 5`,
      [tags['high-value']],
    );
    await t.ok(`mutation { trainModels(input: { seed: 3 }) { id } }`, {}, Role.DATA_SCIENTIST);

    // A model registry without training: two versions, the first active, the second with a cluster.
    const [, v2] = await t.sql<{ id: string }>(
      `insert into model_version (version, status, seed, params, feature_schema, training_summary, metrics, backend, artifact_path)
       select v, s, 1, '{}', ?::jsonb, '{}', '{}', 'cpu', '/nowhere'
       from (values ('v1', 'ACTIVE'), ('v2', 'CANDIDATE')) as x(v, s) order by v returning id::text`,
      [
        JSON.stringify({
          featureSetVersion: set.version,
          features: featureDefinitions(set).map((d) => d.name),
        }),
      ],
    );
    const [cluster] = await t.sql<{ id: string }>(
      `insert into cluster (model_version_id, index, label, size, profile) values (?, 0, 'all', 25, '{}') returning id::text`,
      [v2!.id],
    );
    await t.ok(
      `mutation($id: ID!) { promoteModelVersion(id: $id) { id } }`,
      { id: v2!.id },
      Role.DATA_SCIENTIST,
    );
    await t.ok(
      `mutation($c: ID!, $t: ID!) { mapClusterToTag(clusterId: $c, tagId: $t) { id } }`,
      { c: cluster!.id, t: tags['wine-lover'] },
      Role.DATA_SCIENTIST,
    );
    await t.ok(
      `mutation { generateSuggestions(input: { cooldownDays: 30 }) { id } }`,
      {},
      Role.DATA_SCIENTIST,
    );

    const suggestions = await t.sql<{ id: string }>(
      `insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold, margin, model_version_id, explanation)
       select c, ?, 'MODEL', 'ADD', 0.9, 0.5, 0.4, ?, '{}'
       from unnest(?::bigint[]) with ordinality as x(c, n) order by n returning id::text`,
      [tags['high-value'], v2!.id, `{${[c(10), c(11), c(12), c(13)].join(',')}}`],
    );
    const [s1, s2, s3, s4] = suggestions.map((s) => s.id);
    await t.ok(
      `mutation($id: ID!) { approveSuggestion(id: $id) { id } }`,
      { id: s1 },
      Role.REVIEWER,
    );
    await t.ok(
      `mutation($id: ID!) { rejectSuggestion(id: $id, reason: "no") { id } }`,
      { id: s2 },
      Role.REVIEWER,
    );
    await t.ok(
      `mutation($id: ID!, $t: ID!) { correctSuggestion(id: $id, tagId: $t) { id } }`,
      { id: s3, t: tags['normal-value'] },
      Role.REVIEWER,
    );
    await t.ok(
      `mutation($ids: [ID!]!) { reviewSuggestions(input: { ids: $ids, decision: APPROVE }) { decided } }`,
      { ids: [s4] },
      Role.REVIEWER,
    );

    const created = await t.ok(
      `mutation { createApiKey(input: { name: "crm", role: VIEWER }) { key apiKey { id } } }`,
    );
    const rotated = await t.ok(
      `mutation($id: ID!) { rotateApiKey(id: $id) { key apiKey { id } } }`,
      {
        id: created.createApiKey.apiKey.id,
      },
    );
    await t.ok(`mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, {
      id: rotated.rotateApiKey.apiKey.id,
    });
    secrets.push(created.createApiKey.key, rotated.rotateApiKey.key);

    await t.ok(
      `mutation($id: ID!) { restrictTagCategory(id: $id, departments: ["finance"]) { id } }`,
      { id: tax.categories.behaviour },
    );
    await t.ok(`mutation { setTraitPersonal(key: "income", personal: true) { key } }`);
  }
  const secrets: string[] = [];

  it('writes one entry for every mutation of the schema: who, what, which targets', async () => {
    await runEveryMutation();
    const schema = await buildGraphQLSchema();
    const mutations = Object.keys(schema.getMutationType()!.getFields());
    expect(mutations.length).toBeGreaterThanOrEqual(27);
    const all = await entries("actor_kind = 'API_KEY'");
    const missing = mutations.filter((m) => !all.some((e) => e.operation === m));
    expect(missing).toEqual([]);
    for (const e of all) {
      expect(e.actorKeyId).toBeTruthy();
      expect(e.actorName).toMatch(/^test-/);
      expect(e.targetType).toBeTruthy();
      expect(e.targetIds.length).toBeGreaterThan(0);
    }
    // Each call one entry: runEveryMutation called each of these once.
    for (const op of ['applyTags', 'updateTag', 'mergeTags', 'reviewSuggestions', 'recordEvents']) {
      expect(await entriesOf(op)).toHaveLength(1);
    }
    const [apply] = await entriesOf('applyTags');
    expect(apply).toMatchObject({
      actorKeyId: keyId.REVIEWER,
      actorName: 'test-REVIEWER',
      targetType: 'CUSTOMER',
      targetIds: [customers.c0, customers.c1],
      change: { customers: 2, tagIds: [tax.tags['reader']], applied: 2, unchanged: 0 },
    });
    const [events] = await entriesOf('recordEvents');
    expect(events!.targetIds.sort()).toEqual([customers.c2, customers.c3].sort());
    expect(events!.change).toMatchObject({ events: 2, recorded: 2, duplicates: 0 });
    const [merge] = await entriesOf('mergeTags');
    expect(merge!.targetIds).toEqual([tax.tags['wine-lover'], tax.tags['meat-lover']]);
    const [rotate] = await entriesOf('rotateApiKey');
    expect(rotate!.targetIds).toHaveLength(2);
    const [resolved] = await entriesOf('resolveRuleConflict');
    expect(resolved).toMatchObject({
      actorName: 'test-DATA_SCIENTIST',
      targetType: 'RULE_CONFLICT',
      change: {
        resolution: 'KEEP_DECISION',
        kind: 'APPLY_REJECTED',
        tagId: tax.tags['high-value'],
        customerId: customers.c5,
      },
    });
    const [review] = await entriesOf('reviewSuggestions');
    expect(review!.change).toMatchObject({ decision: 'APPROVE', matched: 1, decided: 1 });
  });

  it('keeps the changed fields of an update before and after', async () => {
    const [update] = await entriesOf('updateTag');
    expect(update!.targetIds).toEqual([tax.tags['reader']]);
    expect(update!.change).toEqual({
      key: 'reader',
      before: { name: 'reader', color: null },
      after: { name: 'Reader', color: '#aa0000' },
    });
    const [rule] = await entriesOf('updateRule');
    expect(rule!.change).toEqual({
      before: { enabled: true, priority: 0 },
      after: { enabled: false, priority: 5 },
    });
    const [segment] = await entriesOf('updateSegment');
    expect(segment!.change).toEqual({
      key: 'bigs',
      before: { name: 'Bigs' },
      after: { name: 'Big ones' },
    });
    const [policy] = await entriesOf('setAutoApplyPolicy');
    expect(policy!.change.before).toEqual({ threshold: null, sampleRate: 0.1 });
    expect(policy!.change.after.threshold).toBeCloseTo(0.95);
    expect(policy!.change.after.sampleRate).toBeCloseTo(0.2);
    const [promote] = await entriesOf('promoteModelVersion');
    expect(promote!.change.before.status).toBe('CANDIDATE');
    expect(promote!.change.after).toEqual({
      status: 'ACTIVE',
      activeVersionId: promote!.targetIds[0],
    });
    expect(promote!.change.before.activeVersionId).not.toBe(promote!.targetIds[0]);
    const [deprecate] = await entriesOf('deprecateTag');
    expect(deprecate!.change).toEqual({
      key: 'event-attendee',
      before: { status: 'ACTIVE' },
      after: { status: 'DEPRECATED' },
    });
    const [approve] = await entriesOf('approveSuggestion');
    expect(approve!.change).toMatchObject({
      tagId: tax.tags['high-value'],
      before: { status: 'PENDING' },
      after: { status: 'APPROVED' },
    });
  });

  it('writes no secret and no personal value', async () => {
    expect(secrets).toHaveLength(2);
    const text = (await entries()).map((e) => JSON.stringify(e)).join('\n');
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toContain('tw_');
    expect(text).not.toContain('@example.com');
    expect(text).not.toContain('Customer 1');
    const [created] = await entriesOf('createApiKey');
    expect(created!.change).toEqual({
      after: { name: 'crm', role: 'VIEWER', permissions: [], departments: [], expiresAt: null },
    });
  });

  it('writes one entry with counts and a bounded sample for bulk work', async () => {
    const [upsert] = await entriesOf('upsertCustomers');
    expect(upsert!.change).toEqual({ rows: 25, created: 25, updated: 0, unchanged: 0 });
    expect(upsert!.targetIds).toHaveLength(20);
    const before = await lastId();
    const all = Object.values(customers);
    await t.ok(
      `mutation($c: [ID!]!, $t: [ID!]!) { applyTags(customerIds: $c, tagIds: $t) { applied } }`,
      { c: all, t: [tax.tags['frequent-buyer']] },
    );
    const written = await entries('id > ?', [before]);
    expect(written).toHaveLength(1);
    expect(written[0]!.targetIds).toHaveLength(20);
    expect(written[0]!.change).toMatchObject({ customers: 25, applied: 25 });
  });

  it('writes nothing for a mutation that fails', async () => {
    const before = await lastId();
    const result = await t.gql(`mutation { updateTag(id: "999999", input: { name: "x" }) { id } }`);
    expect(errorOf(result).code).toBe('NOT_FOUND');
    const refused = await t.gql(
      `mutation { deprecateTag(id: "1") { id } }`,
      {},
      { as: Role.VIEWER },
    );
    expect(errorOf(refused).code).toBe('FORBIDDEN');
    expect(await entries('id > ?', [before])).toEqual([]);
  });

  it('refuses to build a schema with a mutation nobody audits', () => {
    const schema = new GraphQLSchema({
      query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLBoolean } } }),
      mutation: new GraphQLObjectType({
        name: 'Mutation',
        fields: { applyTags: { type: GraphQLBoolean }, sneakyWrite: { type: GraphQLBoolean } },
      }),
    });
    expect(() => assertMutationsAudited(schema)).toThrow(/sneakyWrite/);
  });

  it('is append-only: the database refuses update, delete and truncate', async () => {
    const count = (await entries()).length;
    await expect(t.sql(`update audit_log set actor_name = 'someone else'`)).rejects.toThrow(
      /append-only: UPDATE/,
    );
    await expect(
      t.sql(`delete from audit_log where id = (select min(id) from audit_log)`),
    ).rejects.toThrow(/append-only: DELETE/);
    await expect(t.sql(`truncate audit_log`)).rejects.toThrow(/append-only: TRUNCATE/);
    expect(await entries()).toHaveLength(count);
  });

  it('lists entries newest first for ADMIN, page by page', async () => {
    const all = await entries();
    const ids: string[] = [];
    for (let after: string | null = null; ;) {
      const page: any = (await t.ok(AUDIT_LOG, { first: 7, after })).auditLog;
      expect(page.totalCount).toBe(all.length);
      ids.push(...page.edges.map((e: any) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(ids).toEqual(all.map((e) => e.id).reverse());
  });

  it('filters by actor, operation, target type, target and time', async () => {
    const nodes = async (filter: Record<string, unknown>) =>
      ((await t.ok(AUDIT_LOG, { first: 500, filter })).auditLog.edges as any[]).map((e) => e.node);

    const byReviewer = await nodes({ actorKeyId: keyId.REVIEWER });
    expect(byReviewer.length).toBeGreaterThan(0);
    expect(byReviewer.every((n) => n.actorName === 'test-REVIEWER')).toBe(true);

    const updates = await nodes({ operation: 'updateTag' });
    expect(updates).toHaveLength(1);
    expect(updates[0].change.after.name).toBe('Reader');

    const keys = await nodes({ targetType: 'API_KEY' });
    expect(keys.map((n) => n.operation).sort()).toEqual([
      'createApiKey',
      'revokeApiKey',
      'rotateApiKey',
    ]);

    const reader = await nodes({ targetId: tax.tags['reader'], targetType: 'TAG' });
    expect(reader.map((n) => n.operation)).toEqual(['updateTag', 'createTag']);

    const [{ at }] = await t.sql<{ at: string }>(
      `select at::text from audit_log where operation = 'updateTag'`,
    );
    const iso = new Date(at.replace(' ', 'T').replace(/\+00$/, 'Z')).toISOString();
    const since = await nodes({ from: iso });
    expect(since.some((n) => n.operation === 'updateTag')).toBe(true);
    expect(since.some((n) => n.operation === 'createTag')).toBe(false);
    const until = await nodes({ to: iso });
    expect(until.some((n) => n.operation === 'createTag')).toBe(true);
    expect(until.some((n) => n.operation === 'updateTag')).toBe(false);
  });

  it('refuses bad cursors and filters naming the field, and every role but ADMIN', async () => {
    const bad = async (variables: Record<string, unknown>) =>
      errorOf(await t.gql(AUDIT_LOG, { first: 5, ...variables }));
    expect(await bad({ after: 'nonsense' })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
    expect(await bad({ filter: { actorKeyId: 'abc' } })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'filter.actorKeyId',
    });
    expect(await bad({ filter: { operation: '' } })).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'filter.operation',
    });
    expect(
      await bad({ filter: { from: '2026-12-02T00:00:00Z', to: '2026-12-01T00:00:00Z' } }),
    ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'filter.to' });
    expect(await bad({ first: 501 })).toMatchObject({ code: 'BAD_USER_INPUT' });
    for (const role of [Role.VIEWER, Role.REVIEWER, Role.DATA_SCIENTIST]) {
      expect(errorOf(await t.gql(AUDIT_LOG, { first: 5 }, { as: role })).code).toBe('FORBIDDEN');
    }
    expect(errorOf(await t.gql(AUDIT_LOG, { first: 5 }, { as: null })).code).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('costs the same few statements for a page of 1 and of 100', async () => {
    const query = `query($first: Int!) { auditLog(first: $first) { totalCount edges { node { id actorName change targetIds } } } }`;
    const one = await t.countStatements(() => t.ok(query, { first: 1 }));
    const many = await t.countStatements(() => t.ok(query, { first: 100 }));
    expect(many.count).toBe(one.count);
  });

  it('logs the server seeding or retiring the ADMIN_API_KEY key as SYSTEM, only when it does', async () => {
    const before = await lastId();
    const auth = new AuthService(t.app.orm.em);
    await auth.ensureAdminKey('first-configured-admin-key');
    await auth.ensureAdminKey('first-configured-admin-key');
    await auth.ensureAdminKey('second-configured-admin-key');
    const written = await entries('id > ?', [before]);
    expect(written.map((e) => [e.actorKind, e.actorName, e.operation])).toEqual([
      ['SYSTEM', 'tagwise', 'ADMIN_API_KEY'],
      ['SYSTEM', 'tagwise', 'ADMIN_API_KEY'],
    ]);
    const [first, second] = written;
    expect(first!.change).toEqual({ seeded: first!.targetIds[0], retired: [] });
    expect(second!.change).toEqual({
      seeded: second!.targetIds[0],
      retired: [first!.change.seeded],
    });
    expect(JSON.stringify(written)).not.toContain('configured-admin-key');
  });

  describe('reads of personal data', () => {
    const CUSTOMERS = `{ customers(first: 5) { edges { node { id name email phone } } } }`;
    let piiKey: string;
    let piiKeyId: string;
    beforeAll(async () => {
      const created = await new AuthService(t.app.orm.em.fork()).createKey({
        role: Role.VIEWER,
        name: 'pii-reader',
        permissions: [Permission.PII],
      });
      piiKey = created.key;
      piiKeyId = created.apiKey.id;
    });

    it('writes one entry per request for a key with PII, with the count and the customer ids', async () => {
      const before = await lastId();
      const data = (await t.gql(CUSTOMERS, {}, { key: piiKey })).data!;
      const ids = data.customers.edges.map((e: any) => e.node.id);
      expect(ids).toHaveLength(5);
      const written = await entries('id > ?', [before]);
      expect(written).toHaveLength(1);
      expect(written[0]).toMatchObject({
        actorKeyId: piiKeyId,
        actorName: 'pii-reader',
        operation: 'READ_PERSONAL_DATA',
        targetType: 'CUSTOMER',
        change: { customers: 5 },
      });
      expect(written[0]!.targetIds.sort()).toEqual([...ids].sort());
    });

    it('writes nothing for a key without PII, or a query without personal fields', async () => {
      const plain = await new AuthService(t.app.orm.em.fork()).createKey({
        role: Role.VIEWER,
        name: 'no-pii',
      });
      const before = await lastId();
      expect((await t.gql(CUSTOMERS, {}, { key: plain.key })).errors).toBeUndefined();
      await t.gql(`{ customers(first: 5) { edges { node { id region } } } }`, {}, { key: piiKey });
      expect(await entries('id > ?', [before])).toEqual([]);
    });
  });
});
