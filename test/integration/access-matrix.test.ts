import fs from 'node:fs';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildGraphQLSchema } from '../../src/graphql/build-schema.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestApp, type TestApp } from '../support/app.js';

/**
 * The access matrix: every query, mutation and type of the schema with the roles that may use it,
 * how department visibility applies to it and how personal data is masked on it. A new operation,
 * type, or field reaching tags, customers or free-form JSON fails this test until it is given a
 * rule here; each rule that claims filtering names the test that proves it, and that test must
 * exist. Roles are not taken on trust: every operation is run as every role.
 */

type Roles = 'any' | Role[];
/** How department visibility applies: 'none' (carries no tag), or the covering test's title. */
type Departments = 'none' | 'admin only' | { test: string; title: string };
/** How personal data is kept from keys without PII: 'none' (carries none), or the covering test. */
type Personal = 'none' | 'admin only' | { test: string; title: string };

const dep = (title: string): Departments => ({ test: 'departments.test.ts', title });
const pii = (title: string): Personal => ({ test: 'pii.test.ts', title });

const { ADMIN, DATA_SCIENTIST: DS, REVIEWER } = Role;
const SCIENCE: Role[] = [ADMIN, DS];
const REVIEW: Role[] = [REVIEWER, ADMIN];

const TAXONOMY = dep('leaves hidden tags and categories out of the taxonomy, as if absent');
const CUSTOMER_TAGS = dep('leaves hidden tags out of customers’ tags, history, filters and counts');
const CATEGORY_COUNTS = dep('counts a category by its visible tags only');
const SEGMENTS = dep('hides segments naming a hidden tag, and refuses hidden names in conditions');
const RULES = dep('hides rules applying or naming a hidden tag, with their conflicts and reports');
const QUEUE = dep('leaves hidden suggestions out of the queue, its counts and every decision');
const WRITES = dep('refuses applying and removing hidden tags as unknown ones, writing nothing');
const MODELS = dep('leaves hidden tags out of model versions’ parameters, summaries and metrics');
const SCORING_TAGS: Departments = {
  test: 'enqueue-validation.test.ts',
  title: 'refuses unknown, hidden, deprecated and unsuggestable tags',
};
const MASKED = pii('masks every path that returns a customer');
const QUEUE_MASKED = pii(
  'masks the review queue: its customers and explanations of personal traits',
);
const CONDITIONS = pii('refuses personal conditions in rules and segment updates, allows the rest');

/** Every root field: who may call it, and how departments and personal data apply. */
const ROOT: Record<string, { roles: Roles; departments: Departments; personal: Personal }> = {
  'Query.activeModelVersion': { roles: 'any', departments: MODELS, personal: 'none' },
  'Query.apiKeys': { roles: [ADMIN], departments: 'admin only', personal: 'admin only' },
  'Query.auditLog': { roles: [ADMIN], departments: 'admin only', personal: 'admin only' },
  'Query.clusters': { roles: 'any', departments: MODELS, personal: 'none' },
  'Query.customer': { roles: 'any', departments: CUSTOMER_TAGS, personal: MASKED },
  'Query.customers': { roles: 'any', departments: CUSTOMER_TAGS, personal: MASKED },
  'Query.featureSet': { roles: 'any', departments: 'none', personal: 'none' },
  'Query.modelRun': { roles: 'any', departments: MODELS, personal: 'none' },
  'Query.modelVersions': { roles: 'any', departments: MODELS, personal: 'none' },
  'Query.previewSegment': { roles: 'any', departments: CATEGORY_COUNTS, personal: MASKED },
  'Query.reviewQueue': { roles: 'any', departments: QUEUE, personal: QUEUE_MASKED },
  'Query.rule': { roles: 'any', departments: RULES, personal: 'none' },
  'Query.ruleConflicts': { roles: 'any', departments: RULES, personal: MASKED },
  'Query.ruleRun': { roles: 'any', departments: RULES, personal: 'none' },
  'Query.ruleRuns': { roles: 'any', departments: RULES, personal: 'none' },
  'Query.rules': { roles: 'any', departments: RULES, personal: 'none' },
  // Kind, status, who, when, progress and error: the runs' own queries show the same to any role.
  'Query.runs': { roles: 'any', departments: 'none', personal: 'none' },
  'Query.segment': { roles: 'any', departments: SEGMENTS, personal: MASKED },
  'Query.segments': { roles: 'any', departments: SEGMENTS, personal: MASKED },
  'Query.suggestion': { roles: 'any', departments: QUEUE, personal: QUEUE_MASKED },
  'Query.suggestionRun': { roles: 'any', departments: 'none', personal: 'none' },
  'Query.tag': { roles: 'any', departments: TAXONOMY, personal: 'none' },
  'Query.tagCategories': { roles: 'any', departments: TAXONOMY, personal: 'none' },
  'Query.tags': { roles: 'any', departments: TAXONOMY, personal: 'none' },
  'Query.traits': { roles: [ADMIN], departments: 'none', personal: 'admin only' },
  // The caller's own key: its name, role, rights and departments; no tag, no customer.
  'Query.viewer': { roles: 'any', departments: 'none', personal: 'none' },
  'Mutation.applyTags': { roles: REVIEW, departments: WRITES, personal: 'none' },
  'Mutation.approveSuggestion': { roles: REVIEW, departments: QUEUE, personal: QUEUE_MASKED },
  'Mutation.cancelRun': { roles: SCIENCE, departments: 'none', personal: 'none' },
  'Mutation.correctSuggestion': { roles: REVIEW, departments: QUEUE, personal: QUEUE_MASKED },
  'Mutation.createApiKey': { roles: [ADMIN], departments: 'admin only', personal: 'admin only' },
  'Mutation.createRule': { roles: SCIENCE, departments: RULES, personal: CONDITIONS },
  'Mutation.createSegment': { roles: SCIENCE, departments: SEGMENTS, personal: CONDITIONS },
  'Mutation.createTag': { roles: [ADMIN], departments: 'admin only', personal: 'none' },
  'Mutation.createTagCategory': { roles: [ADMIN], departments: 'admin only', personal: 'none' },
  'Mutation.deleteSegment': { roles: SCIENCE, departments: SEGMENTS, personal: MASKED },
  'Mutation.deprecateTag': { roles: [ADMIN], departments: 'admin only', personal: 'none' },
  'Mutation.generateSuggestions': {
    roles: SCIENCE,
    departments: SCORING_TAGS,
    personal: 'none',
  },
  'Mutation.mapClusterToTag': { roles: SCIENCE, departments: MODELS, personal: 'none' },
  'Mutation.mergeTags': { roles: [ADMIN], departments: 'admin only', personal: 'none' },
  'Mutation.promoteModelVersion': { roles: SCIENCE, departments: MODELS, personal: 'none' },
  'Mutation.recordEvents': { roles: SCIENCE, departments: 'none', personal: 'none' },
  'Mutation.rejectSuggestion': { roles: REVIEW, departments: QUEUE, personal: QUEUE_MASKED },
  'Mutation.removeTags': { roles: REVIEW, departments: WRITES, personal: 'none' },
  'Mutation.restrictTagCategory': {
    roles: [ADMIN],
    departments: 'admin only',
    personal: 'none',
  },
  'Mutation.resolveRuleConflict': { roles: SCIENCE, departments: RULES, personal: MASKED },
  'Mutation.reviewSuggestions': { roles: REVIEW, departments: QUEUE, personal: QUEUE_MASKED },
  'Mutation.revokeApiKey': { roles: [ADMIN], departments: 'admin only', personal: 'admin only' },
  'Mutation.rotateApiKey': { roles: [ADMIN], departments: 'admin only', personal: 'admin only' },
  'Mutation.runRules': { roles: SCIENCE, departments: RULES, personal: 'none' },
  'Mutation.setTraitPersonal': { roles: [ADMIN], departments: 'none', personal: 'admin only' },
  'Mutation.setAutoApplyPolicy': { roles: [ADMIN], departments: 'admin only', personal: 'none' },
  'Mutation.trainModels': { roles: SCIENCE, departments: RULES, personal: 'none' },
  'Mutation.updateRule': { roles: SCIENCE, departments: RULES, personal: CONDITIONS },
  'Mutation.updateSegment': { roles: SCIENCE, departments: SEGMENTS, personal: CONDITIONS },
  'Mutation.updateTag': { roles: [ADMIN], departments: 'admin only', personal: 'none' },
  'Mutation.upsertCustomers': { roles: SCIENCE, departments: 'none', personal: 'none' },
};

/**
 * Fields of other types that reach a tag, a customer or free-form JSON: each says how the reader's
 * departments and permissions apply there. (Connections and edges only wrap their nodes.)
 */
const FIELDS: Record<string, { departments: Departments; personal: Personal }> = {
  // Ids, counts and changed fields; never secrets or customers' personal values (audit.test.ts).
  'AuditEntry.change': { departments: 'admin only', personal: 'admin only' },
  'AppliedTag.tag': { departments: CUSTOMER_TAGS, personal: 'none' },
  'Cluster.profile': { departments: 'none', personal: 'none' },
  'Cluster.tag': { departments: MODELS, personal: 'none' },
  'Customer.attributes': { departments: 'none', personal: MASKED },
  'Customer.cluster': { departments: MODELS, personal: 'none' },
  'Customer.segments': { departments: CUSTOMER_TAGS, personal: 'none' },
  'Customer.suggestions': { departments: CUSTOMER_TAGS, personal: 'none' },
  'Customer.tagHistory': { departments: CUSTOMER_TAGS, personal: 'none' },
  'Customer.tags': { departments: CUSTOMER_TAGS, personal: 'none' },
  'Event.properties': { departments: 'none', personal: 'none' },
  'FeatureValue.value': { departments: 'none', personal: 'none' },
  'Rule.definition': { departments: RULES, personal: 'none' },
  'MergeTagsResult.retired': { departments: 'admin only', personal: 'none' },
  'MergeTagsResult.target': { departments: 'admin only', personal: 'none' },
  'ModelRun.params': { departments: MODELS, personal: 'none' },
  'ModelRun.progress': { departments: 'none', personal: 'none' },
  'ModelVersion.clusters': { departments: MODELS, personal: 'none' },
  'ModelVersion.featureSchema': { departments: 'none', personal: 'none' },
  'ModelVersion.metrics': { departments: MODELS, personal: 'none' },
  'ModelVersion.params': { departments: MODELS, personal: 'none' },
  'ModelVersion.trainingSummary': { departments: MODELS, personal: 'none' },
  'Rule.tag': { departments: RULES, personal: 'none' },
  'RuleConflict.customer': { departments: RULES, personal: MASKED },
  'RuleConflict.rule': { departments: RULES, personal: 'none' },
  'RuleConflict.tag': { departments: RULES, personal: 'none' },
  'RuleRun.conflicts': { departments: RULES, personal: MASKED },
  'Segment.definition': { departments: SEGMENTS, personal: 'none' },
  'Segment.members': { departments: SEGMENTS, personal: MASKED },
  'SegmentPreviewType.definition': { departments: SEGMENTS, personal: 'none' },
  'SegmentPreviewType.sample': { departments: CATEGORY_COUNTS, personal: MASKED },
  'ReviewSuggestionsResult.sample': { departments: QUEUE, personal: QUEUE_MASKED },
  'SuggestionRun.params': { departments: 'none', personal: 'none' },
  'SuggestionRun.progress': { departments: 'none', personal: 'none' },
  // Totals over all tags (created, auto-applied, …), never per tag.
  'SuggestionRun.report': { departments: 'none', personal: 'none' },
  'Tag.category': { departments: TAXONOMY, personal: 'none' },
  'Tag.mergedInto': { departments: TAXONOMY, personal: 'none' },
  'TagCategory.parent': { departments: TAXONOMY, personal: 'none' },
  'TagCategory.tags': { departments: TAXONOMY, personal: 'none' },
  'TagCount.tag': { departments: QUEUE, personal: 'none' },
  // Snapshots of an assignment: source, confidence, who and when; no tag, no personal data.
  'TagHistoryEntry.after': { departments: 'none', personal: 'none' },
  'TagHistoryEntry.before': { departments: 'none', personal: 'none' },
  'TagHistoryEntry.relatedTag': { departments: CUSTOMER_TAGS, personal: 'none' },
  'TagHistoryEntry.tag': { departments: CUSTOMER_TAGS, personal: 'none' },
  'TagPrecision.tag': { departments: MODELS, personal: 'none' },
  'TagSuggestion.cluster': { departments: MODELS, personal: 'none' },
  'TagSuggestion.correctedTag': { departments: QUEUE, personal: 'none' },
  'TagSuggestion.customer': { departments: QUEUE, personal: QUEUE_MASKED },
  'TagSuggestion.modelVersion': { departments: MODELS, personal: 'none' },
  'TagSuggestion.replacesTag': { departments: QUEUE, personal: 'none' },
  'TagSuggestion.tag': { departments: QUEUE, personal: 'none' },
};

/**
 * Every field of Customer: masked for keys without PII, or not personal data. Profile fields
 * used for segmentation (region, industry, birth year, …) are not identifying on their own; the
 * external id is the CRM's key, which every integration needs to join on.
 */
const CUSTOMER_FIELDS: Record<string, 'masked' | 'not personal'> = {
  attributes: 'masked',
  birthYear: 'not personal',
  city: 'not personal',
  cluster: 'not personal',
  companySize: 'not personal',
  createdAt: 'not personal',
  email: 'masked',
  events: 'not personal',
  externalId: 'not personal',
  features: 'masked',
  firstSeenAt: 'not personal',
  gender: 'not personal',
  id: 'not personal',
  industry: 'not personal',
  lifecycleStage: 'not personal',
  name: 'masked',
  phone: 'masked',
  region: 'not personal',
  segments: 'not personal',
  suggestions: 'masked',
  tagHistory: 'not personal',
  tags: 'not personal',
  updatedAt: 'not personal',
};

/** Types whose fields need a rule above when another type reaches them. */
const GUARDED = new Set([
  'Tag',
  'TagCategory',
  'AppliedTag',
  'TagHistoryEntry',
  'TagSuggestion',
  'Customer',
  'Cluster',
  'Segment',
  'Rule',
  'RuleConflict',
  'ModelVersion',
]);
const GUARDED_SCALARS = new Set(['JSONObject', 'JSON']);

function isWrapper(typeName: string): boolean {
  return /(Connection|Edge)$/.test(typeName) || typeName === 'PageInfo';
}

/** Fields outside Query and Mutation that reach guarded types or free-form JSON. */
function guardedFields(schema: GraphQLSchema): string[] {
  const fields: string[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__') || isWrapper(type.name)) continue;
    if (type.name === 'Query' || type.name === 'Mutation') continue;
    for (const field of Object.values(type.getFields())) {
      const named = getNamedType(field.type);
      const target = isWrapper(named.name)
        ? getNamedType(
            (
              (schema.getType(named.name.replace(/Connection$/, 'Edge')) ??
                schema.getType(named.name)) as {
                getFields?: () => Record<string, GraphQLField<unknown, unknown>>;
              }
            ).getFields?.().node?.type ?? named,
          ).name
        : named.name;
      if (GUARDED.has(target) || GUARDED_SCALARS.has(named.name)) {
        fields.push(`${type.name}.${field.name}`);
      }
    }
  }
  return fields.sort();
}

/** A value of the argument's type that passes GraphQL validation (ids that exist nowhere). */
function dummy(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return dummy(type.ofType);
  if (isListType(type)) return [dummy(type.ofType)];
  if (isEnumType(type)) return type.getValues()[0]!.value;
  if (isInputObjectType(type)) {
    return Object.fromEntries(
      Object.values(type.getFields())
        .filter((f) => isNonNullType(f.type) && f.defaultValue === undefined)
        .map((f) => [f.name, dummy(f.type)]),
    );
  }
  if (isScalarType(type)) {
    switch (type.name) {
      case 'ID':
        return '999999';
      case 'Int':
        return 1;
      case 'Float':
        return 0.5;
      case 'Boolean':
        return false;
      case 'DateTimeISO':
        return '2030-01-01T00:00:00Z';
      case 'JSONObject':
        return {};
      default:
        return 'x';
    }
  }
  throw new Error(`no dummy for ${String(type)}`);
}

/** One operation calling the root field with dummy required arguments. */
function operationFor(schema: GraphQLSchema, coordinate: string) {
  const [root, name] = coordinate.split('.') as ['Query' | 'Mutation', string];
  const field = (root === 'Query' ? schema.getQueryType() : schema.getMutationType())!.getFields()[
    name
  ]!;
  const required = field.args.filter((a) => isNonNullType(a.type) && a.defaultValue === undefined);
  const variables = Object.fromEntries(required.map((a) => [a.name, dummy(a.type)]));
  const declared = required.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
  const passed = required.map((a) => `${a.name}: $${a.name}`).join(', ');
  const selection = isObjectType(getNamedType(field.type)) ? ' { __typename }' : '';
  const keyword = root === 'Query' ? 'query' : 'mutation';
  return {
    query: `${keyword}${declared ? `(${declared})` : ''} { ${name}${passed ? `(${passed})` : ''}${selection} }`,
    variables,
  };
}

describe('access matrix', () => {
  let schema: GraphQLSchema;
  let t: TestApp;
  beforeAll(async () => {
    schema = await buildGraphQLSchema();
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('has a rule for every query and mutation, and none for operations that are gone', () => {
    const operations = [
      ...Object.keys(schema.getQueryType()!.getFields()).map((n) => `Query.${n}`),
      ...Object.keys(schema.getMutationType()!.getFields()).map((n) => `Mutation.${n}`),
    ].sort();
    expect(Object.keys(ROOT).sort()).toEqual(operations);
  });

  it('has a rule for every field reaching tags, customers or free-form JSON', () => {
    expect(Object.keys(FIELDS).sort()).toEqual(guardedFields(schema));
  });

  it('says of every customer field whether it is masked, and masks those without PII', async () => {
    expect(Object.keys(CUSTOMER_FIELDS).sort()).toEqual(
      Object.keys((schema.getType('Customer') as GraphQLObjectType).getFields()).sort(),
    );
    await t.ok(
      `mutation { upsertCustomers(input: [{ externalId: "m1", name: "Wang Fang", email: "wang@example.cn", phone: "13812345678" }]) { created } }`,
    );
    const plain = (
      await new AuthService(t.app.orm.em.fork()).createKey({ role: Role.VIEWER, name: 'plain' })
    ).key;
    const scalars = Object.entries(CUSTOMER_FIELDS)
      .filter(([name]) => ['name', 'email', 'phone'].includes(name))
      .map(([name]) => name);
    const data = await t.gql(
      `{ customers(first: 5) { edges { node { ${scalars.join(' ')} } } } }`,
      {},
      { key: plain },
    );
    const node = data.data!.customers.edges[0].node;
    expect(node).toEqual({ name: 'W*', email: 'w***@example.cn', phone: '138****5678' });
  });

  it('names, for every rule claiming filtering or masking, a test that exists', () => {
    const rules = [...Object.values(ROOT), ...Object.values(FIELDS)];
    const claims = rules.flatMap((r) => [r.departments, r.personal]);
    for (const claim of claims) {
      if (typeof claim === 'string') continue;
      const source = fs.readFileSync(new URL(claim.test, import.meta.url), 'utf8');
      expect(source, `${claim.test} has "${claim.title}"`).toContain(`'${claim.title}'`);
    }
  });

  it('enforces each operation’s roles: allowed roles get past, others are FORBIDDEN', async () => {
    const denied: string[] = [];
    const wronglyAllowed: string[] = [];
    for (const [coordinate, rule] of Object.entries(ROOT)) {
      const { query, variables } = operationFor(schema, coordinate);
      const anonymous = await t.gql(query, variables, { as: null });
      expect(anonymous.errors?.[0]?.extensions?.code, `${coordinate} without a key`).toBe(
        'UNAUTHENTICATED',
      );
      for (const role of Object.values(Role)) {
        const allowed = rule.roles === 'any' || rule.roles.includes(role);
        const result = await t.gql(query, variables, { as: role });
        const code = result.errors?.[0]?.extensions?.code;
        if (allowed && (code === 'FORBIDDEN' || code === 'UNAUTHENTICATED')) {
          denied.push(`${coordinate} as ${role}`);
        }
        if (!allowed && code !== 'FORBIDDEN') wronglyAllowed.push(`${coordinate} as ${role}`);
      }
    }
    expect(denied).toEqual([]);
    expect(wronglyAllowed).toEqual([]);
  }, 120_000);

  it('tells each key, in viewer, exactly what its role may do: each flag as its operations allow', async () => {
    // Every flag with operations it stands for; each is run as each role, as above.
    const flags: Record<string, string[]> = {
      canReview: ['Mutation.applyTags', 'Mutation.approveSuggestion', 'Mutation.reviewSuggestions'],
      canManageModels: ['Mutation.trainModels', 'Mutation.promoteModelVersion'],
      canManageRules: [
        'Mutation.runRules',
        'Mutation.createSegment',
        'Mutation.resolveRuleConflict',
      ],
      canManageCustomers: ['Mutation.upsertCustomers', 'Mutation.recordEvents'],
      canCancelRuns: ['Mutation.cancelRun'],
      canAdminister: ['Mutation.createTag', 'Query.apiKeys', 'Query.auditLog'],
    };
    const viewerFields = Object.keys((schema.getType('Viewer') as GraphQLObjectType).getFields());
    expect(viewerFields.filter((f) => f.startsWith('can')).sort()).toEqual(
      [...Object.keys(flags), 'canSeePersonalData'].sort(),
    );
    const mismatches: string[] = [];
    for (const role of Object.values(Role)) {
      const { viewer } = await t.ok(
        `{ viewer { id name role keyPrefix ${Object.keys(flags).join(' ')} } }`,
        {},
        role,
      );
      expect(viewer).toMatchObject({ name: `test-${role}`, role });
      expect(t.keys[role].startsWith(viewer.keyPrefix)).toBe(true);
      const [key] = await t.sql(`select name from api_key where id = ?`, [viewer.id]);
      expect(key).toEqual({ name: `test-${role}` });
      for (const [flag, coordinates] of Object.entries(flags)) {
        for (const coordinate of coordinates) {
          const { query, variables } = operationFor(schema, coordinate);
          const result = await t.gql(query, variables, { as: role });
          const allowed = result.errors?.[0]?.extensions?.code !== 'FORBIDDEN';
          if (allowed !== viewer[flag]) {
            mismatches.push(`${role}: ${flag} ${viewer[flag]}, ${coordinate} allowed ${allowed}`);
          }
        }
      }
    }
    expect(mismatches).toEqual([]);
    // canSeePersonalData: whether the key gets a customer's email in clear.
    await t.ok(
      `mutation { upsertCustomers(input: [{ externalId: "v1", name: "Li Wei", email: "li@example.cn" }]) { created } }`,
    );
    const [customer] = await t.sql<{ id: string }>(
      `select id::text from customer where external_id = 'v1'`,
    );
    const plain = (
      await new AuthService(t.app.orm.em.fork()).createKey({ role: Role.ADMIN, name: 'no-pii' })
    ).key;
    for (const key of [t.keys.ADMIN, plain]) {
      const { data } = await t.gql(
        `query($id: ID!) { viewer { canSeePersonalData } customer(id: $id) { email } }`,
        { id: customer!.id },
        { key },
      );
      expect(data!.viewer.canSeePersonalData).toBe(data!.customer.email === 'li@example.cn');
    }
  }, 120_000);
});
