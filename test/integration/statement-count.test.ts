import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { createCustomers, createTaxonomy } from '../support/fixtures.js';

const PAGE = `query($first: Int) {
  customers(first: $first) {
    totalCount
    edges { node {
      id name createdAt updatedAt
      tags { source appliedAt tag { key customerCount category { key parent { key } } } }
      tagHistory(first: 3) { edges { node { action tag { key } relatedTag { key } } } }
    } }
  }
}`;

describe('no N+1', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
    const tax = await createTaxonomy(t);
    const ids = await createCustomers(
      t,
      Array.from({ length: 60 }, (_, i) => ({ externalId: `n${i}`, name: `N ${i}` })),
    );
    const tagIds = Object.values(tax.tags);
    // Every customer gets a different mix of tags, from several categories.
    await Promise.all(
      Object.values(ids).map((id, i) =>
        t.ok(
          `mutation($c: [ID!]!, $t: [ID!]!) { applyTags(customerIds: $c, tagIds: $t) { applied } }`,
          {
            c: [id],
            t: [tagIds[i % 3]!, tagIds[3 + (i % 3)]!, tagIds[6 + (i % 2)]!],
          },
        ),
      ),
    );
  });
  afterAll(() => t?.close());

  it('costs the same statements for 50 customers as for 5', async () => {
    const small = await t.countStatements(() => t.ok(PAGE, { first: 5 }));
    const large = await t.countStatements(async () => {
      const data = await t.ok(PAGE, { first: 50 });
      expect(data.customers.edges).toHaveLength(50);
      expect(data.customers.edges.every((e: any) => e.node.tags.length === 3)).toBe(true);
    });
    expect(large.count).toBe(small.count);
    // customers, their tags with categories, count, tag counts, history, parent categories,
    // history tags; and one audit entry for reading names in clear (test keys carry PII).
    expect(large.count).toBeLessThanOrEqual(8);
  });
});
