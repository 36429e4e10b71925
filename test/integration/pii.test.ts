import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import { ConfigError, loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';
import { PersonalDataService } from '../../src/modules/access/personal-data.service.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { FeatureService } from '../../src/modules/feature/feature.service.js';
import { parseMapping } from '../../src/modules/import/import.mapping.js';
import { importFile } from '../../src/modules/import/import.service.js';
import { SegmentService } from '../../src/modules/segment/segment.service.js';
import { createTestApp, errorOf, type GqlResult, type TestApp } from '../support/app.js';
import { createCustomers } from '../support/fixtures.js';

const WANG = {
  externalId: 'p-1',
  name: '王伟',
  email: 'wei@example.cn',
  phone: '13812345678',
  region: 'East China',
  attributes: { income: 88000, marital_status: 'Married', plan: 'gold' },
};
const LI = {
  externalId: 'p-2',
  name: 'Li Na',
  email: 'lina@example.com',
  phone: '13900001111',
  region: 'East China',
  attributes: { income: 31000, plan: 'basic' },
};
const PERSONAL_VALUES = ['王伟', 'wei@', '13812345678', '88000', 'Married', 'Li Na', 'lina@'];

const CUSTOMER = `query($id: ID!) { customer(id: $id) {
  name email phone attributes features { values { name value } } } }`;

/** Every personal value that appears anywhere in a response. */
function leaked(result: unknown): string[] {
  const text = JSON.stringify(result);
  return PERSONAL_VALUES.filter((v) => text.includes(v));
}

describe('personal data (PII)', () => {
  let t: TestApp;
  let ids: Record<string, string>;
  /** Keys without the PII permission, per role; t.keys carry it. */
  const plain = {} as Record<Role, string>;

  const as = <T = Record<string, any>>(
    key: string,
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<GqlResult<T>> => t.gql<T>(query, variables, { key });

  beforeAll(async () => {
    t = await createTestApp();
    const auth = new AuthService(t.app.orm.em);
    for (const role of Object.values(Role)) {
      plain[role] = (await auth.createKey({ role, name: `plain-${role}` })).key;
    }
    ids = await createCustomers(t, [WANG, LI]);
    for (const key of ['income', 'marital_status']) {
      await t.ok(
        `mutation($key: String!) { setTraitPersonal(key: $key, personal: true) { key personal } }`,
        { key },
      );
    }
    await new FeatureService(t.app.orm.em.fork()).configure({ numericAttributes: ['income'] });
    await refreshFeatures(t.app.orm, { mode: 'full' });
  });
  afterAll(() => t?.close());

  describe('traits', () => {
    it('lists attribute keys customers hold with their flag and who set it', async () => {
      const data = await t.ok(
        `{ traits(first: 10) { totalCount edges { node { key personal customers updatedBy } } } }`,
      );
      expect(data.traits.totalCount).toBe(3);
      expect(data.traits.edges.map((e: any) => e.node)).toEqual([
        { key: 'income', personal: true, customers: 2, updatedBy: 'test-ADMIN' },
        { key: 'marital_status', personal: true, customers: 1, updatedBy: 'test-ADMIN' },
        { key: 'plan', personal: false, customers: 2, updatedBy: null },
      ]);
      const personal = await t.ok(
        `{ traits(first: 1, personal: true) { totalCount pageInfo { hasNextPage endCursor } edges { node { key } } } }`,
      );
      expect(personal.traits.totalCount).toBe(2);
      const next = await t.ok(
        `query($after: String) { traits(after: $after, personal: true) { edges { node { key } } } }`,
        {
          after: personal.traits.pageInfo.endCursor,
        },
      );
      expect(next.traits.edges.map((e: any) => e.node.key)).toEqual(['marital_status']);
    });

    it('marks a key no customer holds yet, and unmarks it', async () => {
      const set = `mutation($p: Boolean!) { setTraitPersonal(key: "passport_no", personal: $p) { key personal customers } }`;
      expect((await t.ok(set, { p: true })).setTraitPersonal).toEqual({
        key: 'passport_no',
        personal: true,
        customers: 0,
      });
      expect((await t.ok(set, { p: false })).setTraitPersonal.personal).toBe(false);
    });

    it('is ADMIN business, with or without PII', async () => {
      for (const role of [Role.VIEWER, Role.REVIEWER, Role.DATA_SCIENTIST]) {
        expect(errorOf(await as(t.keys[role], `{ traits { totalCount } }`)).code).toBe('FORBIDDEN');
      }
      expect((await as(plain.ADMIN, `{ traits { totalCount } }`)).errors).toBeUndefined();
      expect(
        errorOf(await t.gql(`mutation { setTraitPersonal(key: "", personal: true) { key } }`)),
      ).toMatchObject({ code: 'BAD_USER_INPUT', field: 'key' });
    });
  });

  describe('reading customers', () => {
    it('masks name, email, phone, personal traits and their features without PII', async () => {
      for (const role of Object.values(Role)) {
        const { data, errors } = await as(plain[role], CUSTOMER, { id: ids['p-1'] });
        expect(errors).toBeUndefined();
        expect(data!.customer).toMatchObject({
          name: '王*',
          email: 'w***@example.cn',
          phone: '138****5678',
          attributes: { income: null, marital_status: '***', plan: 'gold' },
        });
        const features = Object.fromEntries(
          data!.customer.features.values.map((v: any) => [v.name, v.value]),
        );
        expect(features.attr_income).toBeNull();
        expect(leaked(data)).toEqual([]);
      }
    });

    it('shows them in clear with PII, whatever the role', async () => {
      for (const role of Object.values(Role)) {
        const data = await t.ok(CUSTOMER, { id: ids['p-1'] }, role);
        expect(data.customer).toMatchObject({
          name: WANG.name,
          email: WANG.email,
          phone: WANG.phone,
          attributes: WANG.attributes,
        });
        expect(data.customer.features.values).toContainEqual({ name: 'attr_income', value: 88000 });
      }
    });

    it('masks every path that returns a customer', async () => {
      const segment = await t.ok(
        `mutation { createSegment(input: { key: "east", name: "East", text: "region = \\"East China\\"" }) { id } }`,
      );
      const paths = [
        `{ customers(first: 10) { edges { node { name email phone attributes } } } }`,
        `{ customers(first: 10, filter: { attributes: [{ key: "plan", op: EQ, value: "gold" }] }) { edges { node { name email } } } }`,
        `query($s: ID!) { segment(id: $s) { members(first: 10) { edges { node { name email phone attributes } } } } }`,
        `{ previewSegment(definition: { text: "region = \\"East China\\"" }) { sample { name email phone attributes } } }`,
      ];
      for (const query of paths) {
        const masked = await as(plain.VIEWER, query, { s: segment.createSegment.id });
        expect(masked.errors).toBeUndefined();
        expect(leaked(masked.data)).toEqual([]);
        expect(JSON.stringify(masked.data)).toContain('w***@example.cn');
        const clear = await t.ok(query, { s: segment.createSegment.id }, Role.VIEWER);
        expect(leaked(clear).length).toBeGreaterThan(0);
      }
    });

    it('reads the personal traits once per request, however many customers', async () => {
      const { count, sql } = await t.countStatements(() =>
        as(
          plain.VIEWER,
          `{ customers(first: 50) { edges { node { name attributes features { values { name value } } } } } }`,
        ),
      );
      expect(sql.filter((s) => /from trait/.test(s))).toHaveLength(1);
      const clear = await t.countStatements(() =>
        t.gql(
          `{ customers(first: 50) { edges { node { name attributes } } } }`,
          {},
          { as: Role.VIEWER },
        ),
      );
      expect(clear.sql.filter((s) => /from trait/.test(s))).toHaveLength(0);
      // Masked: the trait set and the features loader; in clear: the audit entry of the read.
      expect(count).toBe(clear.count + 2 - 1);
    });
  });

  it('masks the review queue: its customers and explanations of personal traits', async () => {
    const category = await t.ok(
      `mutation { createTagCategory(input: { key: "interest", name: "Interest", kind: INTEREST }) { id } }`,
    );
    const tag = await t.ok(
      `mutation($c: ID!) { createTag(input: { key: "wine", name: "Wine", categoryId: $c }) { id } }`,
      { c: category.createTagCategory.id },
    );
    const [version] = await t.sql<{ id: string }>(
      `insert into model_version (version, seed, params, feature_schema, training_summary, metrics, backend, artifact_path)
       values ('pii', 1, '{}', '{}', '{}', '{}', 'cpu', '/tmp') returning id`,
    );
    const explanation = {
      contributions: [
        {
          feature: 'attr_income',
          contribution: 1.2,
          direction: 'raises',
          text: 'trait income is 88000',
        },
        {
          feature: 'purchases_90d',
          contribution: 0.4,
          direction: 'raises',
          text: 'bought 3 times in 90 days',
        },
      ],
    };
    await t.sql(
      `insert into tag_suggestion (customer_id, tag_id, source, kind, confidence, threshold, margin,
         model_version_id, explanation, status)
       values (?, ?, 'MODEL', 'ADD', 0.9, 0.5, 0.4, ?, ?::jsonb, 'PENDING')`,
      [ids['p-1'], tag.createTag.id, version!.id, JSON.stringify(explanation)],
    );
    const queue = `{ reviewQueue(first: 5) { edges { node {
      customer { name email phone attributes } explanation { text contributions { feature text } } } } } }`;
    const masked = await as(plain.REVIEWER, queue);
    expect(masked.errors).toBeUndefined();
    const node = masked.data!.reviewQueue.edges[0].node;
    expect(node.customer).toMatchObject({ name: '王*', email: 'w***@example.cn' });
    expect(node.explanation.contributions[0]).toEqual({
      feature: 'attr_income',
      text: 'attr_income: personal, not shown',
    });
    expect(node.explanation.text).toContain('bought 3 times in 90 days');
    expect(leaked(masked.data)).toEqual([]);
    const clear = await t.ok(queue, {}, Role.REVIEWER);
    expect(clear.reviewQueue.edges[0].node.explanation.text).toContain('trait income is 88000');
    expect(clear.reviewQueue.edges[0].node.customer.name).toBe(WANG.name);
  });

  describe('probing is refused without PII', () => {
    const refusals: [string, string, Record<string, unknown>, string][] = [
      [
        'search',
        `query($f: CustomerFilter) { customers(filter: $f) { totalCount } }`,
        { f: { search: 'wei' } },
        'filter.search',
      ],
      [
        'a personal trait comparison',
        `query($f: CustomerFilter) { customers(filter: $f) { totalCount } }`,
        {
          f: {
            attributes: [
              { key: 'plan', op: 'EXISTS' },
              { key: 'income', op: 'GT', value: 50000 },
            ],
          },
        },
        'filter.attributes[1].key',
      ],
      [
        'ordering by name (its cursor holds the name)',
        `{ customers(orderBy: { field: NAME }) { totalCount } }`,
        {},
        'orderBy.field',
      ],
      [
        'a name comparison in a preview',
        `query($d: SegmentDefinitionInput!) { previewSegment(definition: $d) { count } }`,
        { d: { text: 'region = "East China" AND name starts with "王"' } },
        'definition.text.and[1].field.name',
      ],
      [
        'an email comparison in a tree',
        `query($d: SegmentDefinitionInput!) { previewSegment(definition: $d) { count } }`,
        {
          d: {
            definition: { not: { field: { name: 'EMAIL', op: 'CONTAINS', value: '@example.cn' } } },
          },
        },
        'definition.definition.not.field.name',
      ],
      [
        'a personal trait in a preview',
        `query($d: SegmentDefinitionInput!) { previewSegment(definition: $d) { count } }`,
        { d: { text: 'attr.income > 50000' } },
        'definition.text.attribute.key',
      ],
      [
        'a feature computed from a personal trait',
        `query($d: SegmentDefinitionInput!) { previewSegment(definition: $d) { count } }`,
        { d: { text: 'feature.attr_income > 50000' } },
        'definition.text.feature.name',
      ],
      [
        'a phone comparison in a new segment',
        `mutation($i: CreateSegmentInput!) { createSegment(input: $i) { id } }`,
        { i: { key: 'by-phone', name: 'By phone', text: 'phone starts with "138"' } },
        'input.text.field.name',
      ],
    ];

    it.each(refusals)('%s', async (_, query, variables, field) => {
      const refused = await as(plain.DATA_SCIENTIST, query, variables);
      expect(errorOf(refused)).toMatchObject({ code: 'FORBIDDEN', field });
      expect(refused.errors![0]!.extensions).toMatchObject({ permission: 'PII' });
      expect(refused.errors![0]!.message).toContain('PII');
      expect(leaked(refused.errors)).toEqual([]);
      const allowed = await t.gql(query, variables, { as: Role.DATA_SCIENTIST });
      expect(allowed.errors).toBeUndefined();
    });

    it('refuses personal conditions in rules and segment updates, allows the rest', async () => {
      const tag = await t.ok(
        `mutation { createTagCategory(input: { key: "wealth", name: "Wealth", kind: VALUE }) { id } }`,
      );
      const created = await t.ok(
        `mutation($c: ID!) { createTag(input: { key: "rich", name: "Rich", categoryId: $c }) { id } }`,
        { c: tag.createTagCategory.id },
      );
      const rule = `mutation($i: CreateRuleInput!) { createRule(input: $i) { id } }`;
      const input = (text: string) => ({ i: { name: text, tagId: created.createTag.id, text } });
      expect(
        errorOf(await as(plain.DATA_SCIENTIST, rule, input('attr.income >= 80000'))),
      ).toMatchObject({
        code: 'FORBIDDEN',
        field: 'input.text.attribute.key',
      });
      const ok = await as(plain.DATA_SCIENTIST, rule, input('attr.plan = "gold"'));
      expect(ok.errors).toBeUndefined();
      expect(
        errorOf(
          await as(
            plain.DATA_SCIENTIST,
            `mutation($i: UpdateRuleInput!) { updateRule(input: $i) { id } }`,
            {
              i: { id: ok.data!.createRule.id, text: 'email = "wei@example.cn"' },
            },
          ),
        ),
      ).toMatchObject({ code: 'FORBIDDEN', field: 'input.text.field.name' });

      // A segment a PII key saved on a personal trait is a publication: others see its members,
      // masked, and may build on it; they cannot write such a condition themselves.
      const rich = await t.ok(
        `mutation { createSegment(input: { key: "rich", name: "Rich", text: "attr.income > 50000" }) { id } }`,
        {},
        Role.DATA_SCIENTIST,
      );
      const members = await as(
        plain.VIEWER,
        `query($s: ID!) { segment(id: $s) { size members { edges { node { name } } } } }`,
        { s: rich.createSegment.id },
      );
      // Its definition shows what it selects on, not the values it names.
      const saved = `query($s: ID!) { segment(id: $s) { text definition } }`;
      expect((await as(plain.VIEWER, saved, { s: rich.createSegment.id })).data!.segment).toEqual({
        text: 'attr.income > "***"',
        definition: { attribute: { key: 'income', op: 'GT', value: '***' } },
      });
      expect((await t.ok(saved, { s: rich.createSegment.id }, Role.VIEWER)).segment.text).toBe(
        'attr.income > 50000',
      );
      const byEmail = await t.ok(
        `mutation($i: CreateRuleInput!) { createRule(input: $i) { id } }`,
        {
          i: {
            name: 'Wang',
            tagId: created.createTag.id,
            text: 'email in ("wei@example.cn", "lina@example.com") AND phone between "138" and "139" AND attr.plan = "gold"',
          },
        },
        Role.DATA_SCIENTIST,
      );
      const ruleText = await as(
        plain.VIEWER,
        `query($r: ID!) { rule(id: $r) { text definition } }`,
        {
          r: byEmail.createRule.id,
        },
      );
      expect(ruleText.data!.rule.text).toBe(
        'email in ("***", "***") AND phone between "***" and "***" AND attr.plan = "gold"',
      );
      expect(leaked(ruleText.data)).toEqual([]);
      expect(members.data!.segment).toEqual({
        size: 1,
        members: { edges: [{ node: { name: '王*' } }] },
      });
      expect(
        (
          await as(
            plain.DATA_SCIENTIST,
            `{ previewSegment(definition: { text: "segment:rich AND region = \\"East China\\"" }) { count } }`,
          )
        ).data,
      ).toEqual({ previewSegment: { count: 1 } });
      expect(
        errorOf(
          await as(
            plain.DATA_SCIENTIST,
            `mutation($i: UpdateSegmentInput!) { updateSegment(input: $i) { id } }`,
            {
              i: { id: rich.createSegment.id, text: 'attr.income > 10' },
            },
          ),
        ),
      ).toMatchObject({ code: 'FORBIDDEN', field: 'input.text.attribute.key' });
    });
  });

  describe('exports', () => {
    it('segments export masks unless the operator asks for personal data', async () => {
      const exported = async (reveal: boolean) => {
        const em = t.app.orm.em.fork();
        let csv = '';
        for await (const chunk of await new SegmentService(
          em,
          new PersonalDataService(em, reveal),
        ).exportMembers('east')) {
          csv += chunk;
        }
        return csv;
      };
      const masked = await exported(false);
      expect(masked).toContain('p-1,王*,w***@example.cn,138****5678');
      expect(leaked(masked)).toEqual([]);
      expect(await exported(true)).toContain('p-1,王伟,wei@example.cn,13812345678');
    });
  });

  it('an import marks the traits its mapping declares personal, a dry run none', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-pii-'));
    const file = path.join(dir, 'customers.csv');
    await fs.writeFile(file, 'ID,Salary,Tier\nq-1,5000,gold\n');
    const mapping = parseMapping({
      fields: { externalId: 'ID' },
      attributes: {
        salary: { column: 'Salary', type: 'number', personal: true },
        tier: { column: 'Tier', personal: false },
      },
    });
    const flags = async () =>
      Object.fromEntries(
        (
          await t.sql<{ key: string; personal: boolean }>(
            `select key, personal from trait where key in ('salary', 'tier')`,
          )
        ).map((r) => [r.key, r.personal]),
      );
    await importFile(t.app.orm, { kind: 'customers', file, mapping, dryRun: true });
    expect(await flags()).toEqual({});
    await importFile(t.app.orm, { kind: 'customers', file, mapping });
    expect(await flags()).toEqual({ salary: true });
    const { data } = await as(
      plain.VIEWER,
      `{ customers(first: 5) { edges { node { externalId attributes } } } }`,
    );
    expect(
      data!.customers.edges.find((e: any) => e.node.externalId === 'q-1').node.attributes,
    ).toEqual({
      salary: null,
      tier: 'gold',
    });
  });

  describe('errors and logs', () => {
    it('error messages do not echo personal values', async () => {
      const upsert = `mutation($input: [CustomerInput!]!) { upsertCustomers(input: $input) { created } }`;
      const invalid = await t.gql(upsert, { input: [{ externalId: 'p-9', email: 'wei@example' }] });
      expect(errorOf(invalid)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input[0].email' });
      expect(JSON.stringify(invalid.errors)).not.toContain('wei@');
      const coerced = await t.gql(upsert, { input: [{ externalId: 'p-9', name: 13812345678 }] });
      expect(errorOf(coerced).code).toBe('BAD_USER_INPUT');
      expect(JSON.stringify(coerced.errors)).not.toContain('13812345678');
    });

    it('logs hold no personal values or secrets at any level', async () => {
      const lines: string[] = [];
      const destination = new Writable({
        write(chunk, _encoding, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const adminKey = 'tw-admin-secret-0123456789';
      const logged = await createTestApp(
        { ADMIN_API_KEY: adminKey, LOG_LEVEL: 'trace' },
        { logger: createLogger('trace', 'pii-test', destination) },
      );
      try {
        // Something only the database refuses: an unexpected error, logged with what failed.
        await logged.sql(
          `alter table customer add constraint no_blocked_domain check (email not like '%@blocked.cn')`,
        );
        const failed = await logged.gql(
          `mutation($input: [CustomerInput!]!) { upsertCustomers(input: $input) { created } }`,
          {
            input: [
              {
                externalId: 'x-1',
                name: '王伟',
                email: 'wei@blocked.cn',
                phone: '13812345678',
                attributes: { income: 88000 },
              },
            ],
          },
          { key: adminKey },
        );
        expect(errorOf(failed).code).toBe('INTERNAL_SERVER_ERROR');
        expect(JSON.stringify(failed)).not.toMatch(/王伟|wei@|13812345678|88000/);
      } finally {
        await logged.close();
      }
      // A bad ADMIN_API_KEY setting stops start-up with a line naming it, never the value.
      const badKey = 'short-secret';
      let configError: unknown;
      try {
        loadConfig({ ADMIN_API_KEY: badKey });
      } catch (error) {
        configError = error;
      }
      expect(configError).toBeInstanceOf(ConfigError);
      createLogger('trace', 'pii-test', destination).fatal(
        { err: configError },
        'bad configuration',
      );

      const text = lines.join('');
      expect(text).toContain('unexpected error');
      expect(text).toContain('no_blocked_domain');
      expect(text).toContain('ADMIN_API_KEY');
      for (const secret of [
        '王伟',
        'wei@',
        'blocked.cn',
        '13812345678',
        '88000',
        adminKey,
        badKey,
      ]) {
        expect(text).not.toContain(secret);
      }
    });
  });
});
