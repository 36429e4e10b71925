import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';

describe('limits a client cannot sidestep', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp({
      TAGWISE_RATE_LIMIT: '60',
      TAGWISE_MAX_ALIASES: '5',
      TAGWISE_MAX_ROOT_FIELDS: '3',
      TAGWISE_MAX_BODY_BYTES: '4096',
    });
    base = await t.serve();
  });
  afterAll(() => t?.close());

  it('refuses more aliases than allowed, fragments counted at every use, naming the limit', async () => {
    const five = Array.from({ length: 5 }, (_, i) => `a${i}: tags(first: 1) { totalCount }`);
    expect((await t.gql(`{ ${five.slice(0, 3).join(' ')} }`)).errors).toBeUndefined();
    const viaFragments = await t.gql(
      `query { ...A } fragment A on Query { x: tags(first: 1) { totalCount } ...B }
       fragment B on Query { y: tagCategories(first: 1) { totalCount } z: tags(first: 2) { totalCount } }`,
    );
    expect(viaFragments.errors).toBeUndefined();
    const nested = await t.gql(
      `{ tags(first: 1) { edges { node { ${five.map((_, i) => `k${i}: key`).join(' ')} n: name } } } }`,
    );
    expect(nested.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      limit: 'maxAliases',
      max: 5,
    });
  });

  it('refuses more root fields than allowed', async () => {
    const result = await t.gql(
      '{ tags(first: 1) { totalCount } tagCategories(first: 1) { totalCount } customers(first: 1) { totalCount } segments(first: 1) { totalCount } }',
    );
    expect(errorOf(result).code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.extensions).toMatchObject({ limit: 'maxRootFields', max: 3 });
  });

  it('measures fragments that spread others twice over without expanding them', async () => {
    // 40 levels expand to 2^40 spreads: measured by expanding them, this never finishes.
    const levels = 40;
    const fragments = Array.from(
      { length: levels },
      (_, i) => `fragment F${i} on Tag { ...F${i + 1} ...F${i + 1} }`,
    );
    fragments.push(`fragment F${levels} on Tag { key name }`);
    const result = await t.gql(
      `{ tags(first: 1) { edges { node { ...F0 } } } } ${fragments.join(' ')}`,
    );
    expect(result.errors).toBeUndefined();
  });

  it('refuses a body over TAGWISE_MAX_BODY_BYTES, naming the limit', async () => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.keys.ADMIN}` },
      body: JSON.stringify({ query: `{ __typename } # ${'x'.repeat(5000)}` }),
    });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { errors: { extensions: unknown }[] };
    expect(body.errors[0]!.extensions).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      limit: 'requestBodyBytes',
      max: 4096,
    });
  });

  it('answers 400, not 500, for text PostgreSQL cannot store', async () => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.keys.ADMIN}` },
      body: JSON.stringify({
        query: 'query($s: String) { customers(filter: { search: $s }) { totalCount } }',
        variables: { s: 'abc\u0000def' },
      }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { errors: { extensions: unknown }[] };
    expect(body.errors[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 's' });
  });

  it('answers 429 with Retry-After once a key used up its rate, other keys unaffected', async () => {
    const post = (key: string) =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
    // 60 a minute: bursts of 6.
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await post(t.keys.VIEWER));
    const statuses = answers.map((a) => a.status);
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toEqual([429, 429]);
    const refused = answers[7]!;
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const body = (await refused.json()) as { errors: { extensions: unknown }[] };
    expect(body.errors[0]!.extensions).toMatchObject({
      code: 'RATE_LIMITED',
      limit: 'requestsPerMinute',
      max: 60,
    });
    expect((await post(t.keys.REVIEWER)).status).toBe(200);
  });
});
