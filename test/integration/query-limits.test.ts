import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';

const PAGE = (first: number) =>
  `{ customers(first: ${first}) { totalCount edges { cursor node { id name tags { source appliedAt tag { key category { key } } } } } } }`;

describe('query depth and cost limits', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  it('serves the largest page with tags and categories', async () => {
    const data = await t.ok(PAGE(500), {}, Role.VIEWER);
    expect(data.customers.totalCount).toBe(0);
  });

  it('refuses nested pages that could resolve millions of values, before running them', async () => {
    const query = `{ customers(first: 500) { edges { node { id events(first: 500) { edges { node { type occurredAt } } } } } } }`;
    const { count, sql } = await t.countStatements(async () => {
      const result = await t.gql(query, {}, { as: Role.VIEWER });
      expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'query' });
      expect(errorOf(result).message).toMatch(
        /could resolve up to 1002001 values; at most 100000 are allowed/,
      );
      expect(result.data).toBeUndefined();
    });
    // Only the API key lookup: no resolver ran.
    expect(sql.filter((s) => !/api_key/.test(s))).toEqual([]);
    expect(count).toBeLessThanOrEqual(1);
  });

  it('counts a page size given as a variable', async () => {
    const query = `query($n: Int!) { customers(first: $n) { edges { node { events(first: $n) { totalCount } } } } }`;
    expect((await t.gql(query, { n: 20 }, { as: Role.VIEWER })).errors).toBeUndefined();
    expect(errorOf(await t.gql(query, { n: 400 }, { as: Role.VIEWER })).code).toBe(
      'BAD_USER_INPUT',
    );
  });

  it('refuses queries nested deeper than 12 fields', async () => {
    // tagCategories > edges > node > parent × n > key: n + 4 fields deep.
    const nested = (n: number) =>
      `{ tagCategories { edges { node { ${'parent { '.repeat(n)}key${' }'.repeat(n)} } } } }`;
    expect((await t.gql(nested(8), {}, { as: Role.VIEWER })).errors).toBeUndefined();
    const result = await t.gql(nested(9), {}, { as: Role.VIEWER });
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'query' });
    expect(errorOf(result).message).toMatch(/nests 13 fields deep; at most 12/);
  });

  it('answers 400 over HTTP for a refused query, every time it comes', async () => {
    const query = `{ customers(first: 500) { edges { node { events(first: 500) { totalCount } } } } }`;
    for (let i = 0; i < 2; i++) {
      const contextValue = await t.app.contextFor({ authorization: `Bearer ${t.keys.VIEWER}` });
      const response = await t.app.server.executeOperation({ query }, { contextValue });
      expect(response.http.status).toBe(400);
    }
  });

  it('leaves introspection free, so schema tooling works', async () => {
    const result = await t.gql(getIntrospectionQuery(), {}, { as: Role.VIEWER });
    expect(result.errors).toBeUndefined();
  });

  it('still names a variable of the wrong type', async () => {
    const result = await t.gql(
      `query($n: Int!) { customers(first: $n) { totalCount } }`,
      { n: 'many' },
      { as: Role.VIEWER },
    );
    expect(errorOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'n' });
  });
});
