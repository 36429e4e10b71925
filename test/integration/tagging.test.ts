import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const APPLY = `mutation($c: [ID!]!, $t: [ID!]!, $note: String) {
  applyTags(customerIds: $c, tagIds: $t, note: $note) { applied unchanged replaced }
}`;
const REMOVE = `mutation($c: [ID!]!, $t: [ID!]!) {
  removeTags(customerIds: $c, tagIds: $t) { removed notPresent }
}`;
const TAGS_OF = `query($id: ID!) { customer(id: $id) {
  tags { source confidence modelVersion appliedBy note appliedAt tag { key category { key } } }
} }`;
const HISTORY = `query($id: ID!, $first: Int, $after: String) { customer(id: $id) {
  tagHistory(first: $first, after: $after) {
    totalCount
    edges { node { action source actor note tag { key } relatedTag { key } before after } }
    pageInfo { hasNextPage endCursor }
  }
} }`;

describe('applying and removing tags', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let ids: Record<string, string>;
  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    ids = await createCustomers(
      t,
      Array.from({ length: 6 }, (_, i) => ({ externalId: `k${i}` })),
    );
  });
  afterAll(() => t?.close());

  const snapshot = () =>
    Promise.all([
      t.sql('select * from customer_tag order by customer_id, tag_id'),
      t.sql('select count(*)::int as n from tag_history'),
    ]);

  it('applies every tag to every customer, idempotently, with source and author', async () => {
    const c = [ids.k0, ids.k1];
    const tags = [tax.tags['wine-lover'], tax.tags['frequent-buyer']];
    expect((await t.ok(APPLY, { c, t: tags, note: 'from the fair' })).applyTags).toEqual({
      applied: 4,
      unchanged: 0,
      replaced: 0,
    });
    expect((await t.ok(APPLY, { c, t: tags })).applyTags).toEqual({
      applied: 0,
      unchanged: 4,
      replaced: 0,
    });
    const data = await t.ok(TAGS_OF, { id: ids.k0 });
    expect(data.customer.tags).toHaveLength(2);
    expect(data.customer.tags[0]).toMatchObject({
      source: 'MANUAL',
      confidence: null,
      modelVersion: null,
      appliedBy: 'test-ADMIN',
      note: 'from the fair',
    });
    const [history] = await t.sql<{ n: number }>(
      `select count(*)::int as n from tag_history where action = 'APPLIED'`,
    );
    expect(history!.n).toBe(4);
  });

  it('replaces the held tag of an exclusive category and records the replacement', async () => {
    await applyTags(t, [ids.k2!], [tax.tags['low-value']!]);
    expect((await t.ok(APPLY, { c: [ids.k2], t: [tax.tags['high-value']] })).applyTags).toEqual({
      applied: 1,
      unchanged: 0,
      replaced: 1,
    });
    const data = await t.ok(TAGS_OF, { id: ids.k2 });
    expect(data.customer.tags.map((x: any) => x.tag.key)).toEqual(['high-value']);
    const history = await t.ok(HISTORY, { id: ids.k2, first: 10 });
    expect(history.customer.tagHistory.edges.map((e: any) => e.node)).toEqual([
      expect.objectContaining({ action: 'APPLIED', tag: { key: 'high-value' }, relatedTag: null }),
      expect.objectContaining({
        action: 'REPLACED',
        tag: { key: 'low-value' },
        relatedTag: { key: 'high-value' },
        after: null,
        before: expect.objectContaining({ source: 'MANUAL' }),
      }),
      expect.objectContaining({ action: 'APPLIED', tag: { key: 'low-value' } }),
    ]);
  });

  it('refuses two tags of one exclusive category in one call', async () => {
    const before = await snapshot();
    const result = await t.gql(APPLY, {
      c: [ids.k3],
      t: [tax.tags['low-value'], tax.tags['high-value']],
    });
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'tagIds' });
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['an unknown tag', () => ({ c: [ids.k3], t: [tax.tags.reader, '999999'] }), 'tagIds'],
    ['a malformed tag id', () => ({ c: [ids.k3], t: ['x1'] }), 'tagIds'],
    ['an unknown customer', () => ({ c: [ids.k3, '999999'], t: [tax.tags.reader] }), 'customerIds'],
    ['no customers', () => ({ c: [], t: [tax.tags.reader] }), 'customerIds'],
    [
      'too many pairs',
      () => ({
        c: Array.from({ length: 5001 }, (_, i) => String(i + 1)),
        t: [tax.tags.reader, tax.tags['wine-lover']],
      }),
      'customerIds',
    ],
  ])('rejects %s, writing nothing', async (_name, vars, field) => {
    const before = await snapshot();
    expect(errorOf(await t.gql(APPLY, vars()))).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(errorOf(await t.gql(REMOVE, vars()))).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await snapshot()).toEqual(before);
  });

  it('removes held tags, idempotently, and logs the removal with the old assignment', async () => {
    const c = [ids.k0, ids.k1];
    expect((await t.ok(REMOVE, { c, t: [tax.tags['wine-lover']] })).removeTags).toEqual({
      removed: 2,
      notPresent: 0,
    });
    expect((await t.ok(REMOVE, { c, t: [tax.tags['wine-lover']] })).removeTags).toEqual({
      removed: 0,
      notPresent: 2,
    });
    const history = await t.ok(HISTORY, { id: ids.k0, first: 1 });
    expect(history.customer.tagHistory.edges[0].node).toMatchObject({
      action: 'REMOVED',
      tag: { key: 'wine-lover' },
      before: { note: 'from the fair', source: 'MANUAL' },
      after: null,
    });
  });

  it('pages through history newest first', async () => {
    const all = await t.ok(HISTORY, { id: ids.k0, first: 50 });
    const total = all.customer.tagHistory.totalCount;
    expect(total).toBe(3);
    const seen: unknown[] = [];
    let after: string | null = null;
    do {
      const page: any = await t.ok(HISTORY, { id: ids.k0, first: 2, after });
      seen.push(...page.customer.tagHistory.edges.map((e: any) => e.node));
      after = page.customer.tagHistory.pageInfo.hasNextPage
        ? page.customer.tagHistory.pageInfo.endCursor
        : null;
    } while (after);
    expect(seen).toEqual(all.customer.tagHistory.edges.map((e: any) => e.node));
  });

  it('keeps history append-only at the database level', async () => {
    await expect(t.sql(`update tag_history set note = 'tampered'`)).rejects.toThrow(/append-only/);
  });

  it('lets reviewers tag but not viewers', async () => {
    const vars = { c: [ids.k5], t: [tax.tags.reader] };
    expect((await t.gql(APPLY, vars, { as: 'REVIEWER' as never })).errors).toBeUndefined();
    expect(errorOf(await t.gql(APPLY, vars, { as: 'VIEWER' as never })).code).toBe('FORBIDDEN');
  });
});

describe('concurrent tagging', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let ids: Record<string, string>;
  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    ids = await createCustomers(
      t,
      Array.from({ length: 20 }, (_, i) => ({ externalId: `cc${i}` })),
    );
  });
  afterAll(() => t?.close());

  it('never leaves a customer with two tags of an exclusive category', async () => {
    const customers = Object.values(ids);
    const tiers = [tax.tags['high-value'], tax.tags['normal-value'], tax.tags['low-value']];
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        t.ok(APPLY, { c: [...customers].reverse().slice(i % 3), t: [tiers[i % 3]] }),
      ),
    );
    const rows = await t.sql<{ n: number }>(
      `select count(*)::int as n from customer_tag ct join tag t on t.id = ct.tag_id
       where t.category_id = ? group by ct.customer_id having count(*) > 1`,
      [tax.categories['value-tier']],
    );
    expect(rows).toEqual([]);
  });

  it('applies the same pair once however many writers race', async () => {
    const results = await Promise.all(
      Array.from({ length: 10 }, () => t.ok(APPLY, { c: [ids.cc0], t: [tax.tags.reader] })),
    );
    expect(results.reduce((sum, r) => sum + r.applyTags.applied, 0)).toBe(1);
    const [log] = await t.sql<{ n: number }>(
      `select count(*)::int as n from tag_history where customer_id = ? and tag_id = ? and action = 'APPLIED'`,
      [ids.cc0, tax.tags.reader],
    );
    expect(log!.n).toBe(1);
  });
});
