import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { createCustomers } from '../support/fixtures.js';

const RECORD = `mutation($input: [EventInput!]!) { recordEvents(input: $input) { recorded duplicates } }`;
const EVENTS = `query($id: ID!, $first: Int, $after: String, $filter: EventFilter) {
  customer(id: $id) {
    events(first: $first, after: $after, filter: $filter) {
      totalCount
      edges { node { externalId type occurredAt amount currency category channel properties } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

describe('recordEvents and customer.events', () => {
  let t: TestApp;
  let ids: Record<string, string>;
  beforeAll(async () => {
    t = await createTestApp();
    ids = await createCustomers(t, [{ externalId: 'e1' }, { externalId: 'e2' }]);
  });
  afterAll(() => t?.close());

  const eventCount = async () =>
    (await t.sql<{ n: number }>('select count(*)::int as n from event'))[0]!.n;

  it('records events by customer external id or id, skipping repeated external ids', async () => {
    const input = [
      {
        externalId: 'ev-1',
        customerExternalId: 'e1',
        type: 'PURCHASE',
        occurredAt: '2026-03-01T10:00:00Z',
        amount: 120.5,
        currency: 'cny',
        category: 'wine',
        channel: 'STORE',
        properties: { sku: 'W-1' },
      },
      {
        externalId: 'ev-2',
        customerId: ids.e1,
        type: 'PAGE_VIEW',
        occurredAt: '2026-03-02T10:00:00Z',
        channel: 'WEB',
      },
      {
        externalId: 'ev-2',
        customerExternalId: 'e1',
        type: 'PAGE_VIEW',
        occurredAt: '2026-03-02T10:00:00Z',
      },
      { customerExternalId: 'e2', type: 'WEBINAR_WATCHED', occurredAt: '2026-03-03T10:00:00Z' },
    ];
    expect((await t.ok(RECORD, { input })).recordEvents).toEqual({ recorded: 3, duplicates: 1 });
    expect((await t.ok(RECORD, { input: input.slice(0, 2) })).recordEvents).toEqual({
      recorded: 0,
      duplicates: 2,
    });
    const data = await t.ok(EVENTS, { id: ids.e1, first: 10 });
    expect(data.customer.events.totalCount).toBe(2);
    expect(data.customer.events.edges.map((e: any) => e.node)).toEqual([
      expect.objectContaining({
        externalId: 'ev-2',
        type: 'PAGE_VIEW',
        channel: 'WEB',
        amount: null,
      }),
      {
        externalId: 'ev-1',
        type: 'PURCHASE',
        occurredAt: '2026-03-01T10:00:00.000Z',
        amount: 120.5,
        currency: 'CNY',
        category: 'wine',
        channel: 'STORE',
        properties: { sku: 'W-1' },
      },
    ]);
  });

  it('rejects unknown customers, listing the rows, and writes nothing', async () => {
    const before = await eventCount();
    const result = await t.gql(RECORD, {
      input: [
        { customerExternalId: 'e1', type: 'PAGE_VIEW', occurredAt: '2026-03-04T10:00:00Z' },
        { customerExternalId: 'ghost-1', type: 'PAGE_VIEW', occurredAt: '2026-03-04T10:00:00Z' },
        { customerExternalId: 'ghost-2', type: 'PAGE_VIEW', occurredAt: '2026-03-04T10:00:00Z' },
      ],
    });
    const error = errorOf(result);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input[1].customerExternalId' });
    expect(error.message).toContain('input[1] (ghost-1)');
    expect(error.message).toContain('input[2] (ghost-2)');
    expect(result.errors?.[0]?.extensions?.rows).toEqual([1, 2]);
    expect(await eventCount()).toBe(before);
  });

  it.each([
    [
      { customerExternalId: 'e1', type: 'purchase', occurredAt: '2026-03-01T00:00:00Z' },
      'input[0].type',
    ],
    [
      {
        customerExternalId: 'e1',
        type: 'PURCHASE',
        amount: -5,
        occurredAt: '2026-03-01T00:00:00Z',
      },
      'input[0].amount',
    ],
    [
      {
        customerExternalId: 'e1',
        type: 'PURCHASE',
        currency: 'XX',
        occurredAt: '2026-03-01T00:00:00Z',
      },
      'input[0].currency',
    ],
    [{ type: 'PURCHASE', occurredAt: '2026-03-01T00:00:00Z' }, 'input[0].customerExternalId'],
    [
      { customerExternalId: 'e1', type: 'PURCHASE', occurredAt: '2999-01-01T00:00:00Z' },
      'input[0].occurredAt',
    ],
  ])('rejects %j naming %s', async (event, field) => {
    const before = await eventCount();
    expect(errorOf(await t.gql(RECORD, { input: [event] }))).toMatchObject({
      code: 'BAD_USER_INPUT',
      field,
    });
    expect(await eventCount()).toBe(before);
  });

  it('rejects a malformed timestamp as bad input', async () => {
    const result = await t.gql(RECORD, {
      input: [{ customerExternalId: 'e1', type: 'PURCHASE', occurredAt: '31-12-2025' }],
    });
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input[0].occurredAt' });
  });

  it('filters by type and time window and pages newest first', async () => {
    await t.ok(RECORD, {
      input: Array.from({ length: 7 }, (_, i) => ({
        externalId: `w-${i}`,
        customerExternalId: 'e2',
        type: i % 2 ? 'EMAIL_OPEN' : 'PURCHASE',
        amount: i % 2 ? null : 10 * i,
        occurredAt: `2026-04-0${i + 1}T08:00:00Z`,
      })),
    });
    const purchases = await t.ok(EVENTS, {
      id: ids.e2,
      first: 10,
      filter: { types: ['PURCHASE'], from: '2026-04-02T00:00:00Z', to: '2026-04-07T00:00:00Z' },
    });
    expect(purchases.customer.events.edges.map((e: any) => e.node.externalId)).toEqual([
      'w-4',
      'w-2',
    ]);
    expect(purchases.customer.events.totalCount).toBe(2);

    const seen: string[] = [];
    let after: string | null = null;
    do {
      const page: any = await t.ok(EVENTS, { id: ids.e2, first: 3, after });
      seen.push(...page.customer.events.edges.map((e: any) => e.node.occurredAt));
      after = page.customer.events.pageInfo.hasNextPage
        ? page.customer.events.pageInfo.endCursor
        : null;
    } while (after);
    expect(seen).toHaveLength(8);
    expect([...seen].sort().reverse()).toEqual(seen);
  });

  it('loads events for a page of customers in one statement', async () => {
    const query = `query($first: Int) { customers(first: $first) { edges { node { events(first: 2) { edges { node { type } } } } } } }`;
    const { count } = await t.countStatements(() => t.ok(query, { first: 2 }));
    expect(count).toBe(2);
  });

  it('is for admins and data scientists', async () => {
    const result = await t.gql(
      RECORD,
      {
        input: [
          { customerExternalId: 'e1', type: 'PAGE_VIEW', occurredAt: '2026-03-04T10:00:00Z' },
        ],
      },
      { as: 'VIEWER' as never },
    );
    expect(errorOf(result).code).toBe('FORBIDDEN');
  });
});
