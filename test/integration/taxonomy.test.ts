import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const CREATE_TAG = `mutation($input: CreateTagInput!) {
  createTag(input: $input) { id key name color status category { key } customerCount }
}`;
const CREATE_CATEGORY = `mutation($input: CreateTagCategoryInput!) {
  createTagCategory(input: $input) { id key kind exclusive suggestable parent { key } }
}`;
const MERGE = `mutation($sources: [ID!]!, $target: ID!) {
  mergeTags(sourceIds: $sources, targetId: $target) {
    moved duplicates target { key customerCount } retired { key status mergedInto { key } }
  }
}`;

describe('taxonomy', () => {
  let t: TestApp;
  let tax: Taxonomy;
  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
  });
  afterAll(() => t?.close());

  const tagCount = async () =>
    (await t.sql<{ n: number }>('select count(*)::int as n from tag'))[0]!.n;

  it('nests categories and lists them with their tags', async () => {
    const data = await t.ok(`{ tagCategories(first: 50) { totalCount edges { node {
      key exclusive parent { key } tags { key } } } } }`);
    const food = data.tagCategories.edges.find((e: any) => e.node.key === 'food').node;
    expect(food).toEqual({
      key: 'food',
      exclusive: false,
      parent: { key: 'interest' },
      tags: [{ key: 'meat-lover' }, { key: 'wine-lover' }],
    });
    expect(data.tagCategories.totalCount).toBe(4);
  });

  it('rejects a category under an unknown parent', async () => {
    const result = await t.gql(CREATE_CATEGORY, {
      input: { name: 'Orphan', kind: 'OTHER', parentId: '424242' },
    });
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.parentId' });
  });

  it('normalizes tag keys and rejects duplicates case-insensitively with CONFLICT', async () => {
    const data = await t.ok(CREATE_TAG, {
      input: {
        key: '  Early   Adopter ',
        name: 'Early adopter',
        categoryId: tax.categories.behaviour,
        color: '#AABBCC',
      },
    });
    expect(data.createTag).toMatchObject({
      key: 'early-adopter',
      color: '#aabbcc',
      status: 'ACTIVE',
      category: { key: 'behaviour' },
      customerCount: 0,
    });
    const before = await tagCount();
    const dupe = await t.gql(CREATE_TAG, {
      input: { key: 'EARLY adopter', name: 'Again', categoryId: tax.categories.behaviour },
    });
    expect(errorOf(dupe).code).toBe('CONFLICT');
    expect(await tagCount()).toBe(before);
  });

  it('derives the key from the name, keeping non-Latin letters', async () => {
    const data = await t.ok(CREATE_TAG, {
      input: { name: '沉睡 客户', categoryId: tax.categories.behaviour },
    });
    expect(data.createTag.key).toBe('沉睡-客户');
  });

  it.each([
    [{ name: 'x', categoryId: '777777' }, 'input.categoryId'],
    [{ name: 'y', categoryId: 'nope' }, 'input.categoryId'],
    [{ name: 'z', color: 'red' }, 'input.color'],
    [{ name: '' }, 'input.name'],
    [{ name: 'ok', key: '-starts-with-dash' }, 'input.key'],
  ])('rejects tag input %j naming %s', async (input, field) => {
    const before = await tagCount();
    const result = await t.gql(CREATE_TAG, {
      input: { categoryId: tax.categories.behaviour, ...input },
    });
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await tagCount()).toBe(before);
  });

  it('updates a tag and refuses a key that is taken', async () => {
    const data = await t.ok(
      `mutation($id: ID!) { updateTag(id: $id, input: { name: "Reads a lot", color: "#112233" }) { key name color } }`,
      { id: tax.tags.reader },
    );
    expect(data.updateTag).toEqual({ key: 'reader', name: 'Reads a lot', color: '#112233' });
    const taken = await t.gql(
      `mutation($id: ID!) { updateTag(id: $id, input: { key: "Wine Lover" }) { key } }`,
      {
        id: tax.tags.reader,
      },
    );
    expect(errorOf(taken).code).toBe('CONFLICT');
    const missing = await t.gql(
      `mutation { updateTag(id: "555555", input: { name: "n" }) { key } }`,
    );
    expect(errorOf(missing).code).toBe('NOT_FOUND');
  });

  it('learns from rule-made holdings only where a tag says so, settable on create and update', async () => {
    const created = await t.ok(CREATE_TAG, {
      input: { name: 'Rule taught', categoryId: tax.categories.behaviour, learnFromRules: true },
    });
    const plain = await t.ok(CREATE_TAG, {
      input: { name: 'Rule untaught', categoryId: tax.categories.behaviour },
    });
    const read = (id: string) =>
      t.ok(`query($id: ID!) { tag(id: $id) { learnFromRules } }`, { id });
    expect((await read(created.createTag.id)).tag.learnFromRules).toBe(true);
    expect((await read(plain.createTag.id)).tag.learnFromRules).toBe(false);
    const turned = await t.ok(
      `mutation($id: ID!) { updateTag(id: $id, input: { learnFromRules: true }) { learnFromRules } }`,
      { id: plain.createTag.id },
    );
    expect(turned.updateTag.learnFromRules).toBe(true);
    const renamed = await t.ok(
      `mutation($id: ID!) { updateTag(id: $id, input: { name: "Still taught" }) { learnFromRules } }`,
      { id: plain.createTag.id },
    );
    expect(renamed.updateTag.learnFromRules).toBe(true);
    const [row] = await t.sql<{ learn: boolean }>(
      'select learn_from_rules as learn from tag where id = ?',
      [plain.createTag.id],
    );
    expect(row!.learn).toBe(true);
    // Through the customer's held tags too, which read tags by their own query.
    const [customer] = Object.values(await createCustomers(t, [{ externalId: 'lfr-1' }]));
    await applyTags(t, [customer!], [created.createTag.id]);
    const held = await t.ok(
      `query($id: ID!) { customer(id: $id) { tags { tag { key learnFromRules } } } }`,
      { id: customer },
    );
    expect(held.customer.tags).toEqual([{ tag: { key: 'rule-taught', learnFromRules: true } }]);
  });

  it('filters the tag list and pages through it', async () => {
    const data = await t.ok(
      `query($c: ID) { tags(first: 2, filter: { categoryId: $c }) { totalCount edges { node { key } } pageInfo { hasNextPage endCursor } } }`,
      { c: tax.categories['value-tier'] },
    );
    expect(data.tags.totalCount).toBe(3);
    const next = await t.ok(
      `query($c: ID, $after: String) { tags(first: 2, after: $after, filter: { categoryId: $c }) { edges { node { key } } pageInfo { hasNextPage } } }`,
      { c: tax.categories['value-tier'], after: data.tags.pageInfo.endCursor },
    );
    const keys = [...data.tags.edges, ...next.tags.edges].map((e: any) => e.node.key);
    expect(keys.sort()).toEqual(['high-value', 'low-value', 'normal-value']);
    expect(next.tags.pageInfo.hasNextPage).toBe(false);
    const search = await t.ok(`{ tags(filter: { search: "LOVER" }) { edges { node { key } } } }`);
    expect(search.tags.edges.map((e: any) => e.node.key).sort()).toEqual([
      'meat-lover',
      'wine-lover',
    ]);
  });

  it('keeps governance to admins', async () => {
    const result = await t.gql(
      CREATE_TAG,
      { input: { name: 'sneaky', categoryId: tax.categories.behaviour } },
      { as: 'REVIEWER' as never },
    );
    expect(errorOf(result).code).toBe('FORBIDDEN');
  });
});

describe('deprecate and merge', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let ids: Record<string, string>;
  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    ids = await createCustomers(
      t,
      ['m1', 'm2', 'm3', 'm4'].map((externalId) => ({ externalId })),
    );
  });
  afterAll(() => t?.close());

  it('deprecates: the tag keeps its assignments but can no longer be applied', async () => {
    await applyTags(t, [ids.m1!], [tax.tags['event-attendee']!]);
    const data = await t.ok(
      `mutation($id: ID!) { deprecateTag(id: $id) { status deprecatedAt customerCount } }`,
      {
        id: tax.tags['event-attendee'],
      },
    );
    expect(data.deprecateTag).toMatchObject({ status: 'DEPRECATED', customerCount: 1 });
    expect(data.deprecateTag.deprecatedAt).toBeTruthy();

    const before = await t.sql('select * from customer_tag order by customer_id, tag_id');
    const result = await t.gql(
      `mutation($c: [ID!]!, $t: [ID!]!) { applyTags(customerIds: $c, tagIds: $t) { applied } }`,
      { c: [ids.m2], t: [tax.tags['frequent-buyer'], tax.tags['event-attendee']] },
    );
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tagIds' });
    expect(errorOf(result).message).toContain('event-attendee');
    expect(await t.sql('select * from customer_tag order by customer_id, tag_id')).toEqual(before);
  });

  it('merges: moves assignments without duplicates, logs them and retires the sources', async () => {
    const reader = tax.tags.reader!;
    const wine = tax.tags['wine-lover']!;
    const meat = tax.tags['meat-lover']!;
    await applyTags(t, [ids.m1!, ids.m2!], [wine]);
    await applyTags(t, [ids.m2!, ids.m3!], [meat]);
    await applyTags(t, [ids.m3!], [reader]);

    // m2 holds both sources: it keeps one target assignment. m3 already holds the target.
    const data = await t.ok(MERGE, { sources: [wine, meat], target: reader });
    expect(data.mergeTags).toEqual({
      moved: 2,
      duplicates: 2,
      target: { key: 'reader', customerCount: 3 },
      retired: [
        { key: 'wine-lover', status: 'DEPRECATED', mergedInto: { key: 'reader' } },
        { key: 'meat-lover', status: 'DEPRECATED', mergedInto: { key: 'reader' } },
      ],
    });
    const held = await t.sql<{ customer_id: string; tag_id: string }>(
      'select customer_id, tag_id from customer_tag where tag_id = any(?::bigint[]) order by customer_id',
      [`{${wine},${meat},${reader}}`],
    );
    expect(held).toEqual([ids.m1, ids.m2, ids.m3].map((c) => ({ customer_id: c, tag_id: reader })));
    const log = await t.sql<{
      tag_id: string;
      action: string;
      related_tag_id: string;
      moved: boolean;
    }>(
      `select tag_id, action, related_tag_id, after is not null as moved from tag_history
       where action = 'MERGED' order by customer_id, tag_id`,
    );
    expect(log).toHaveLength(4);
    expect(log.every((r) => r.related_tag_id === reader)).toBe(true);
    expect(log.filter((r) => r.moved)).toHaveLength(2);
  });

  it('refuses to merge across an exclusive category, or into a source, writing nothing', async () => {
    const before = await t.sql('select id, status from tag order by id');
    const across = await t.gql(MERGE, {
      sources: [tax.tags['frequent-buyer']],
      target: tax.tags['high-value'],
    });
    expect(errorOf(across)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceIds' });
    const self = await t.gql(MERGE, {
      sources: [tax.tags['high-value']],
      target: tax.tags['high-value'],
    });
    expect(errorOf(self)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceIds' });
    const unknown = await t.gql(MERGE, { sources: ['888888'], target: tax.tags['high-value'] });
    expect(errorOf(unknown)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sourceIds' });
    const deprecatedTarget = await t.gql(MERGE, {
      sources: [tax.tags['frequent-buyer']],
      target: tax.tags['event-attendee'],
    });
    expect(errorOf(deprecatedTarget)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'targetId' });
    expect(await t.sql('select id, status from tag order by id')).toEqual(before);
  });

  it('merges within an exclusive category', async () => {
    await applyTags(t, [ids.m4!], [tax.tags['low-value']!]);
    const data = await t.ok(MERGE, {
      sources: [tax.tags['low-value']],
      target: tax.tags['normal-value'],
    });
    expect(data.mergeTags).toMatchObject({ moved: 1, duplicates: 0 });
  });
});
