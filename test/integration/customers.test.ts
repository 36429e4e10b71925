import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { applyTags, createCustomers, createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const UPSERT = `mutation($input: [CustomerInput!]!) {
  upsertCustomers(input: $input) { created updated unchanged }
}`;

const LIST = `query($first: Int, $after: String, $filter: CustomerFilter, $orderBy: CustomerOrder) {
  customers(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    totalCount
    edges { cursor node { id externalId name } }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function customerCount(t: TestApp): Promise<number> {
  const [row] = await t.sql<{ n: number }>('select count(*)::int as n from customer');
  return row!.n;
}

describe('upsertCustomers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('creates, then reports an identical re-run as unchanged', async () => {
    const input = [
      {
        externalId: 'u-1',
        name: 'Wang Wei',
        email: 'wei@example.cn',
        attributes: { income: 5000 },
      },
      { externalId: 'u-2', name: 'Li Na', region: 'South China', birthYear: 1990 },
    ];
    expect((await t.ok(UPSERT, { input })).upsertCustomers).toEqual({
      created: 2,
      updated: 0,
      unchanged: 0,
    });
    expect((await t.ok(UPSERT, { input })).upsertCustomers).toEqual({
      created: 0,
      updated: 0,
      unchanged: 2,
    });
    expect(await customerCount(t)).toBe(2);
  });

  it('updates only the fields given, merges attributes and removes null-valued traits', async () => {
    await t.ok(UPSERT, {
      input: [
        {
          externalId: 'u-3',
          name: 'Zhang San',
          email: 'san@example.cn',
          city: 'Shenzhen',
          attributes: { income: 100, vip: true, since: '2020-01-01' },
        },
      ],
    });
    const result = await t.ok(UPSERT, {
      input: [{ externalId: 'u-3', city: null, attributes: { income: 200, vip: null, kids: 2 } }],
    });
    expect(result.upsertCustomers).toEqual({ created: 0, updated: 1, unchanged: 0 });
    const [row] = await t.sql(
      `select name, email, city, attributes from customer where external_id = 'u-3'`,
    );
    expect(row).toEqual({
      name: 'Zhang San',
      email: 'san@example.cn',
      city: null,
      attributes: { income: 200, kids: 2, since: '2020-01-01' },
    });
  });

  it('rejects a bad row with the field named and writes nothing', async () => {
    const before = await customerCount(t);
    const result = await t.gql(UPSERT, {
      input: [
        { externalId: 'ok-1', name: 'Fine' },
        { externalId: 'bad-1', email: 'not-an-email' },
      ],
    });
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input[1].email' });
    expect(await customerCount(t)).toBe(before);
  });

  it.each([
    [[{ externalId: 'd-1' }, { externalId: 'd-1' }], 'input[1].externalId'],
    [[{ externalId: '   ' }], 'input[0].externalId'],
    [[{ externalId: 'n-1', attributes: { nested: { a: 1 } } }], 'input[0].attributes.nested'],
    [[{ externalId: 'n-2', attributes: { list: [1, 2] } }], 'input[0].attributes.list'],
    [[{ externalId: 'y-1', birthYear: 1800 }], 'input[0].birthYear'],
    [[{ externalId: 's-1', companySize: -5 }], 'input[0].companySize'],
  ])('rejects %j naming %s', async (input, field) => {
    const before = await customerCount(t);
    const result = await t.gql(UPSERT, { input });
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await customerCount(t)).toBe(before);
  });

  it('caps a call at 10,000 customers', async () => {
    const input = Array.from({ length: 10_001 }, (_, i) => ({ externalId: `cap-${i}` }));
    expect(errorOf(await t.gql(UPSERT, { input }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input',
    });
  });

  it('upserts 10,000 customers in one call', async () => {
    const input = Array.from({ length: 10_000 }, (_, i) => ({
      externalId: `bulk-${i}`,
      name: `Bulk ${i}`,
      attributes: { n: i },
    }));
    expect((await t.ok(UPSERT, { input })).upsertCustomers.created).toBe(10_000);
    const again = input.map((c, i) => (i % 2 === 0 ? { ...c, name: `Renamed ${i}` } : c));
    expect((await t.ok(UPSERT, { input: again })).upsertCustomers).toEqual({
      created: 0,
      updated: 5_000,
      unchanged: 5_000,
    });
  });

  it('lets concurrent upserts of the same new customer both land without losing a field', async () => {
    const results = await Promise.all([
      t.ok(UPSERT, { input: [{ externalId: 'race-1', name: 'Racer', email: 'a@example.cn' }] }),
      t.ok(UPSERT, { input: [{ externalId: 'race-1', city: 'Wuhan' }] }),
    ]);
    const created = results.reduce((sum, r) => sum + r.upsertCustomers.created, 0);
    expect(created).toBe(1);
    const [row] = await t.sql(
      `select name, email, city from customer where external_id = 'race-1'`,
    );
    expect(row).toEqual({ name: 'Racer', email: 'a@example.cn', city: 'Wuhan' });
  });

  it('needs an admin or data scientist key', async () => {
    const result = await t.gql(
      UPSERT,
      { input: [{ externalId: 'x' }] },
      { as: 'REVIEWER' as never },
    );
    expect(errorOf(result).code).toBe('FORBIDDEN');
  });
});

describe('customers query', () => {
  let t: TestApp;
  let tax: Taxonomy;
  let ids: Record<string, string>;

  beforeAll(async () => {
    t = await createTestApp();
    tax = await createTaxonomy(t);
    ids = await createCustomers(t, [
      {
        externalId: 'c1',
        name: 'Alice Chen',
        email: 'alice@acme.cn',
        region: 'South China',
        industry: 'manufacturing',
        companySize: 800,
        attributes: { income: 90000, vip: true, joined: '2021-03-01', tier: 'gold' },
      },
      {
        externalId: 'c2',
        name: 'Bob Li',
        email: 'bob@example.cn',
        region: 'East China',
        industry: 'retail',
        companySize: 20,
        attributes: { income: 30000, vip: false, joined: '2023-07-15' },
      },
      {
        externalId: 'c3',
        name: 'Carol Wu',
        email: 'carol@acme.cn',
        region: 'South China',
        industry: 'retail',
        birthYear: 1985,
        attributes: { income: 55000, joined: '2022-01-10', tier: 'silver' },
      },
      { externalId: 'c4', name: 'Dan Zhao', region: 'North China', attributes: { income: 'n/a' } },
    ]);
    await applyTags(t, [ids.c1!, ids.c3!], [tax.tags['wine-lover']!]);
    await applyTags(t, [ids.c1!], [tax.tags['high-value']!, tax.tags['frequent-buyer']!]);
    await applyTags(t, [ids.c2!], [tax.tags['low-value']!, tax.tags.reader!]);
  });
  afterAll(() => t?.close());

  const externalIds = async (filter: unknown) => {
    const data = await t.ok(LIST, { first: 100, filter, orderBy: { field: 'NAME' } });
    return data.customers.edges.map((e: { node: { externalId: string } }) => e.node.externalId);
  };

  it.each([
    [
      'tags all of',
      () => ({ tags: { allOf: [tax.tags['wine-lover'], tax.tags['high-value']] } }),
      ['c1'],
    ],
    [
      'tags any of',
      () => ({ tags: { anyOf: [tax.tags['wine-lover'], tax.tags.reader] } }),
      ['c1', 'c2', 'c3'],
    ],
    ['tags none of', () => ({ tags: { noneOf: [tax.tags['wine-lover']] } }), ['c2', 'c4']],
    [
      'category (with subcategories)',
      () => ({ tagCategoryId: tax.categories.interest }),
      ['c1', 'c2', 'c3'],
    ],
    ['category (leaf)', () => ({ tagCategoryId: tax.categories['value-tier'] }), ['c1', 'c2']],
    [
      'profile equals',
      () => ({ profile: [{ field: 'REGION', equals: 'South China' }] }),
      ['c1', 'c3'],
    ],
    [
      'profile in',
      () => ({ profile: [{ field: 'INDUSTRY', in: ['retail', 'finance'] }] }),
      ['c2', 'c3'],
    ],
    [
      'profile integer',
      () => ({ profile: [{ field: 'COMPANY_SIZE', in: ['800', '20'] }] }),
      ['c1', 'c2'],
    ],
    ['attribute =', () => ({ attributes: [{ key: 'tier', op: 'EQ', value: 'gold' }] }), ['c1']],
    ['attribute ≠', () => ({ attributes: [{ key: 'tier', op: 'NE', value: 'gold' }] }), ['c3']],
    ['attribute <', () => ({ attributes: [{ key: 'income', op: 'LT', value: 55000 }] }), ['c2']],
    [
      'attribute ≤',
      () => ({ attributes: [{ key: 'income', op: 'LTE', value: 55000 }] }),
      ['c2', 'c3'],
    ],
    ['attribute >', () => ({ attributes: [{ key: 'income', op: 'GT', value: 55000 }] }), ['c1']],
    [
      'attribute ≥',
      () => ({ attributes: [{ key: 'income', op: 'GTE', value: 55000 }] }),
      ['c1', 'c3'],
    ],
    ['attribute exists', () => ({ attributes: [{ key: 'vip', op: 'EXISTS' }] }), ['c1', 'c2']],
    ['attribute boolean', () => ({ attributes: [{ key: 'vip', op: 'EQ', value: false }] }), ['c2']],
    [
      'attribute date',
      () => ({ attributes: [{ key: 'joined', op: 'GTE', value: '2022-01-10' }] }),
      ['c2', 'c3'],
    ],
    ['free text on name', () => ({ search: 'carol' }), ['c3']],
    ['free text on email', () => ({ search: 'ACME.cn' }), ['c1', 'c3']],
    ['free text with wildcards', () => ({ search: '%' }), []],
    [
      'combined',
      () => ({
        profile: [{ field: 'REGION', equals: 'South China' }],
        tags: { noneOf: [tax.tags['high-value']] },
        attributes: [{ key: 'income', op: 'GT', value: 1000 }],
      }),
      ['c3'],
    ],
  ])('filters by %s', async (_name, filter, expected) => {
    expect(await externalIds(filter())).toEqual(expected);
  });

  it('counts all matches, not just the page', async () => {
    const data = await t.ok(LIST, {
      first: 1,
      filter: { tags: { anyOf: [tax.tags['wine-lover']] } },
    });
    expect(data.customers.totalCount).toBe(2);
    expect(data.customers.edges).toHaveLength(1);
    expect(data.customers.pageInfo.hasNextPage).toBe(true);
  });

  it.each([
    [{ tags: { anyOf: ['999999'] } }, 'filter.tags.anyOf'],
    [{ tags: { allOf: ['abc'] } }, 'filter.tags.allOf'],
    [{ tagCategoryId: '999999' }, 'filter.tagCategoryId'],
    [{ profile: [{ field: 'BIRTH_YEAR', equals: 'nineteen' }] }, 'filter.profile[0]'],
    [{ profile: [{ field: 'REGION' }] }, 'filter.profile[0]'],
    [{ attributes: [{ key: 'vip', op: 'GT', value: true }] }, 'filter.attributes[0].value'],
    [{ attributes: [{ key: 'income', op: 'LT' }] }, 'filter.attributes[0].value'],
  ])('rejects filter %j naming %s', async (filter, field) => {
    expect(errorOf(await t.gql(LIST, { filter }))).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  it('counts all customers without scanning them, through inserts, deletes and compaction', async () => {
    const total = async () => (await t.ok(LIST, { first: 1 })).customers.totalCount;
    const actual = async () =>
      (await t.sql<{ n: number }>('select count(*)::int as n from customer'))[0]!.n;
    expect(await total()).toBe(await actual());
    for (let i = 0; i < 105; i++) {
      await t.ok(UPSERT, { input: [{ externalId: `count-${i}` }] });
    }
    await t.sql(`delete from customer where external_id in ('count-0', 'count-1')`);
    expect(await total()).toBe(await actual());
    const [deltas] = await t.sql<{ n: number }>(
      'select count(*)::int as n from customer_count_delta',
    );
    expect(deltas!.n).toBe(1);
    expect(await total()).toBe(await actual());
    await t.sql(`delete from customer where external_id like 'count-%'`);
  });

  it('bounds the page size and rejects foreign cursors', async () => {
    expect(errorOf(await t.gql(LIST, { first: 501 }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'first',
    });
    expect(errorOf(await t.gql(LIST, { first: 0 }))).toMatchObject({ field: 'first' });
    expect(errorOf(await t.gql(LIST, { after: 'bogus' }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'after',
    });
  });

  it('returns one customer by id, NOT_FOUND for an unknown one', async () => {
    const data = await t.ok(`query($id: ID!) { customer(id: $id) { externalId attributes } }`, {
      id: ids.c3,
    });
    expect(data.customer).toEqual({
      externalId: 'c3',
      attributes: { income: 55000, joined: '2022-01-10', tier: 'silver' },
    });
    const missing = await t.gql(`{ customer(id: "987654") { id } }`);
    expect(errorOf(missing).code).toBe('NOT_FOUND');
  });
});

describe('pagination stability', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    // Several rows share created_at (one statement), so the id tie-break matters.
    await t.ok(UPSERT, {
      input: Array.from({ length: 30 }, (_, i) => ({
        externalId: `p-${String(i).padStart(2, '0')}`,
        name: `Name ${String((i * 7) % 30).padStart(2, '0')}`,
      })),
    });
  });
  afterAll(() => t?.close());

  it.each([
    ['CREATED_AT', 'ASC'],
    ['CREATED_AT', 'DESC'],
    ['NAME', 'ASC'],
    ['NAME', 'DESC'],
    ['UPDATED_AT', 'ASC'],
    ['UPDATED_AT', 'DESC'],
  ])('walks %s %s without skips or repeats while rows are inserted', async (field, direction) => {
    const before = new Set(
      (await t.sql<{ external_id: string }>('select external_id from customer')).map(
        (r) => r.external_id,
      ),
    );
    const seen: string[] = [];
    let after: string | null = null;
    let page = 0;
    do {
      const data: any = await t.ok(LIST, { first: 7, after, orderBy: { field, direction } });
      seen.push(...data.customers.edges.map((e: any) => e.node.externalId));
      after = data.customers.pageInfo.hasNextPage ? data.customers.pageInfo.endCursor : null;
      // New customers arrive mid-walk; they may or may not appear, but must not disturb the rest.
      await t.ok(UPSERT, {
        input: [{ externalId: `new-${field}-${direction}-${page}`, name: `Name ${page}` }],
      });
      page += 1;
    } while (after);

    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
  });

  it('orders by the requested field', async () => {
    const data = await t.ok(LIST, { first: 5, orderBy: { field: 'NAME', direction: 'DESC' } });
    const names = data.customers.edges.map((e: any) => e.node.name);
    expect(names).toEqual([...names].sort().reverse());
  });
});
