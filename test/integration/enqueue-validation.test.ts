import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { featureDefinitions } from '../../src/modules/feature/feature.definitions.js';
import { FeatureRepository } from '../../src/modules/feature/feature.repository.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestApp, errorOf, type GqlResult, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const SUGGEST = `mutation($i: GenerateSuggestionsInput) { generateSuggestions(input: $i) { id status } }`;
const RULES = `mutation($d: Boolean!, $r: [ID!]) { runRules(dryRun: $d, ruleIds: $r) { id status ruleIds } }`;
const TRAIN = `mutation($i: TrainModelsInput) { trainModels(input: $i) { id status } }`;

/**
 * trainModels, generateSuggestions and runRules refuse what their run would refuse, at once and
 * with the field named: no run row, no job on the queue.
 */
describe('validation before queueing', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let customers: Record<string, string>;
  /** A data scientist of the marketing department, who cannot see the finance category. */
  let marketing: string;
  let hiddenTagId: string;

  /** Runs of every kind, and jobs on pg-boss's queue (its schema exists once it first started). */
  const queued = async () => {
    const [{ boss }] = await t.sql<{ boss: boolean }>(
      `select to_regclass('pgboss.job') is not null as boss`,
    );
    const [counts] = await t.sql(
      `select (select count(*)::int from model_run) as train,
              (select count(*)::int from suggestion_run) as suggest,
              (select count(*)::int from rule_run) as rules,
              ${boss ? '(select count(*)::int from pgboss.job)' : '0'} as jobs`,
    );
    return counts!;
  };

  /** The request's error, after checking it queued nothing. */
  const refused = async (
    query: string,
    variables: Record<string, unknown>,
    expected: { code: string; field: string },
    key?: string,
  ) => {
    const before = await queued();
    const result = await t.gql(query, variables, key ? { key } : { as: Role.DATA_SCIENTIST });
    const error = errorOf(result);
    expect(error).toMatchObject(expected);
    expect(await queued()).toEqual(before);
    return error;
  };

  /** The request's data, after checking it added one run of its kind and one job. */
  const accepted = async (
    query: string,
    variables: Record<string, unknown>,
    kind: string,
    as = Role.DATA_SCIENTIST,
  ) => {
    const before = await queued();
    const data = await t.ok(query, variables, as);
    expect(await queued()).toEqual({ ...before, [kind]: before[kind] + 1, jobs: before.jobs + 1 });
    return data;
  };

  const sameAsAbsent = (hidden: GqlResult['errors'], absent: GqlResult['errors'], id: string) => {
    expect(hidden![0]!.extensions!.code).toBe(absent![0]!.extensions!.code);
    expect(hidden![0]!.extensions!.field).toBe(absent![0]!.extensions!.field);
    expect(hidden![0]!.message.replaceAll(id, 'ID')).toBe(
      absent![0]!.message.replaceAll('999999', 'ID'),
    );
  };

  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    const category = await t.ok(
      `mutation { createTagCategory(input: { key: "credit", name: "Credit", kind: VALUE, suggestable: true, departments: ["finance"] }) { id } }`,
    );
    const credit = await t.ok(
      `mutation($c: ID!) { createTag(input: { key: "vip-credit", name: "VIP credit", categoryId: $c }) { id } }`,
      { c: category.createTagCategory.id },
    );
    hiddenTagId = credit.createTag.id;
    marketing = (
      await new AuthService(t.app.orm.em.fork()).createKey({
        role: Role.DATA_SCIENTIST,
        name: 'ds-mkt',
        departments: ['marketing'],
      })
    ).key;
    customers = await createCustomers(
      t,
      Array.from({ length: 60 }, (_, i) => ({ externalId: `c${i}`, companySize: i * 10 })),
    );
  });
  afterAll(() => t?.close());

  describe('runRules', () => {
    let enabled: string;
    let disabled: string;
    let hiddenRule: string;

    it('refuses a run when no rule is enabled', async () => {
      const error = await refused(
        RULES,
        { d: false },
        { code: 'BAD_USER_INPUT', field: 'ruleIds' },
      );
      expect(error.message).toMatch(/no enabled rule/);
    });

    it('refuses unknown, hidden and disabled rules by id, and an empty list', async () => {
      const create = async (name: string, tagId: string, extra = {}) =>
        (
          await t.ok(`mutation($i: CreateRuleInput!) { createRule(input: $i) { id } }`, {
            i: { name, text: 'company_size > 100', tagId, ...extra },
          })
        ).createRule.id as string;
      enabled = await create('big', tax.tags['frequent-buyer']!);
      disabled = await create('off', tax.tags.reader!, { enabled: false });
      hiddenRule = await create('credit', hiddenTagId);

      await refused(RULES, { d: true, r: ['999999'] }, { code: 'NOT_FOUND', field: 'ruleIds' });
      const absent = await t.gql(RULES, { d: true, r: ['999999'] }, { key: marketing });
      const hidden = await t.gql(RULES, { d: true, r: [hiddenRule] }, { key: marketing });
      sameAsAbsent(hidden.errors, absent.errors, hiddenRule);
      expect(await queued()).toMatchObject({ rules: 0, jobs: 0 });
      const off = await refused(
        RULES,
        { d: true, r: [enabled, disabled] },
        { code: 'BAD_USER_INPUT', field: 'ruleIds[1]' },
      );
      expect(off.message).toMatch(/"off" is disabled/);
      await refused(RULES, { d: true, r: [] }, { code: 'BAD_USER_INPUT', field: 'ruleIds' });
      await refused(RULES, { d: true, r: ['x1'] }, { code: 'BAD_USER_INPUT', field: 'ruleIds' });
    });

    it('runs only the rules named, and reports one disabled after it was queued', async () => {
      const all = await accepted(RULES, { d: true }, 'rules');
      expect(all.runRules.ruleIds).toBeNull();
      await t.app.queue.runRules(all.runRules.id);
      const report = `query($id: ID!) { ruleRun(id: $id) { status ruleIds reports { ruleName matched error } } }`;
      const everyEnabled = (await t.ok(report, { id: all.runRules.id })).ruleRun;
      expect(everyEnabled.reports.map((r: any) => r.ruleName).sort()).toEqual(['big', 'credit']);

      const one = await accepted(RULES, { d: true, r: [enabled] }, 'rules');
      expect(one.runRules.ruleIds).toEqual([enabled]);
      await t.app.queue.runRules(one.runRules.id);
      expect((await t.ok(report, { id: one.runRules.id })).ruleRun).toEqual({
        status: 'SUCCEEDED',
        ruleIds: [enabled],
        reports: [{ ruleName: 'big', matched: 49, error: null }],
      });

      // ADMIN may name any rule; the marketing key sees the run without the one hidden from it.
      const both = await accepted(
        RULES,
        { d: true, r: [enabled, hiddenRule] },
        'rules',
        Role.ADMIN,
      );
      const seen = await t.gql(report, { id: both.runRules.id }, { key: marketing });
      expect(seen.data!.ruleRun.ruleIds).toEqual([enabled]);

      await t.ok(`mutation($id: ID!) { updateRule(input: { id: $id, enabled: false }) { id } }`, {
        id: enabled,
      });
      await t.app.queue.runRules(both.runRules.id);
      const late = (await t.ok(report, { id: both.runRules.id })).ruleRun;
      expect(late.reports).toEqual([
        { ruleName: 'big', matched: 0, error: 'disabled after the run was queued' },
        { ruleName: 'credit', matched: 49, error: null },
      ]);
    });
  });

  describe('generateSuggestions', () => {
    let versionId: string;

    it('refuses without an ACTIVE model version, saying how to get one', async () => {
      const error = await refused(
        SUGGEST,
        {},
        { code: 'BAD_USER_INPUT', field: 'input.modelVersionId' },
      );
      expect(error.message).toMatch(/no ACTIVE model version: train one and promote it/);
    });

    it('refuses an unknown, malformed or stale model version', async () => {
      await refused(
        SUGGEST,
        { i: { modelVersionId: '999999' } },
        { code: 'NOT_FOUND', field: 'input.modelVersionId' },
      );
      await refused(
        SUGGEST,
        { i: { modelVersionId: 'v1' } },
        { code: 'BAD_USER_INPUT', field: 'input.modelVersionId' },
      );
      const set = await new FeatureRepository(t.app.orm.em.fork()).loadFeatureSet();
      const features = featureDefinitions(set).map((d) => d.name);
      const [stale, current] = await t.sql<{ id: string }>(
        `insert into model_version (version, status, seed, params, feature_schema, training_summary, metrics, backend, artifact_path)
         select v, s, 1, '{}', f::jsonb, '{}', '{}', 'cpu', '/nowhere'
         from (values ('stale', 'RETIRED', ?), ('current', 'ACTIVE', ?)) as x(v, s, f)
         order by v desc returning id::text`,
        [
          JSON.stringify({ featureSetVersion: set.version + 1, features }),
          JSON.stringify({ featureSetVersion: set.version, features }),
        ],
      );
      const error = await refused(
        SUGGEST,
        { i: { modelVersionId: stale!.id } },
        { code: 'CONFLICT', field: undefined as never },
      );
      expect(error.message).toMatch(/was trained on feature set/);
      versionId = current!.id;
    });

    it('refuses unknown, hidden, deprecated and unsuggestable tags', async () => {
      const error = await refused(
        SUGGEST,
        { i: { tagIds: [tax.tags['high-value'], '999999'] } },
        { code: 'NOT_FOUND', field: 'input.tagIds' },
      );
      expect(error.message).toBe('input.tagIds: Tag 999999 does not exist');
      const absent = await t.gql(SUGGEST, { i: { tagIds: ['999999'] } }, { key: marketing });
      const hidden = await t.gql(SUGGEST, { i: { tagIds: [hiddenTagId] } }, { key: marketing });
      sameAsAbsent(hidden.errors, absent.errors, hiddenTagId);
      expect(await queued()).toMatchObject({ suggest: 0 });

      await t.ok(`mutation($id: ID!) { deprecateTag(id: $id) { id } }`, {
        id: tax.tags['normal-value'],
      });
      const deprecated = await refused(
        SUGGEST,
        { i: { tagIds: [tax.tags['high-value'], tax.tags['normal-value']] } },
        { code: 'BAD_USER_INPUT', field: 'input.tagIds[1]' },
      );
      expect(deprecated.message).toMatch(/"normal-value" is deprecated/);
      const unsuggestable = await refused(
        SUGGEST,
        { i: { tagIds: [tax.tags['frequent-buyer']] } },
        { code: 'BAD_USER_INPUT', field: 'input.tagIds[0]' },
      );
      expect(unsuggestable.message).toMatch(/"behaviour", which is not suggestable/);
    });

    it('refuses unknown customers in one statement however many ids there are', async () => {
      const known = Object.values(customers);
      const error = await refused(
        SUGGEST,
        { i: { customerIds: [known[0], '999998', known[1], '999999'] } },
        { code: 'NOT_FOUND', field: 'input.customerIds' },
      );
      expect(error.message).toBe(
        'input.customerIds: Customer 999998 does not exist (nor do 1 more)',
      );
      const statements = async (customerIds: string[]) =>
        (await t.countStatements(() => t.gql(SUGGEST, { i: { customerIds } }))).count;
      const many = Array.from({ length: 5000 }, (_, i) => String(900_000 + i));
      expect(await statements([...known, ...many])).toBe(await statements(['999999']));
    });

    it('queues a valid request: one run and one job', async () => {
      const data = await accepted(
        SUGGEST,
        {
          i: {
            modelVersionId: versionId,
            tagIds: [tax.tags['high-value']],
            customerIds: Object.values(customers),
          },
        },
        'suggest',
      );
      expect(data.generateSuggestions.status).toBe('QUEUED');
      await accepted(SUGGEST, {}, 'suggest');
    });
  });

  describe('trainModels', () => {
    it('refuses deprecated tags by key', async () => {
      await t.ok(`mutation($id: ID!) { deprecateTag(id: $id) { id } }`, {
        id: tax.tags['low-value'],
      });
      await refused(
        TRAIN,
        { i: { tags: ['wine-lover', 'low-value'] } },
        { code: 'BAD_USER_INPUT', field: 'input.tags[1]' },
      );
    });

    it('refuses too few customers with features, then no tag with enough labels', async () => {
      const error = await refused(TRAIN, {}, { code: 'BAD_USER_INPUT', field: 'features' });
      expect(error.message).toMatch(/only 0 customers have features/);
      const { version } = await new FeatureRepository(t.app.orm.em.fork()).loadFeatureSet();
      await t.sql(
        `insert into customer_features (customer_id, feature_set_version, computed_at, values)
         select id, ?, now(), '{}' from customer`,
        [version],
      );
      const ids = Object.values(customers);
      await applyTags(t, ids.slice(0, 4), [tax.tags['wine-lover']!]);
      const labels = await refused(
        TRAIN,
        { i: { tags: ['wine-lover'] } },
        { code: 'BAD_USER_INPUT', field: 'input.tags' },
      );
      expect(labels.message).toMatch(/5 or more labelled customers/);
      await applyTags(t, ids.slice(4, 5), [tax.tags['wine-lover']!]);
      const data = await accepted(TRAIN, { i: { tags: ['wine-lover'] } }, 'train');
      expect(data.trainModels.status).toBe('QUEUED');
    });
  });
});
