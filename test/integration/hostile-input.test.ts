import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';

const CATEGORY =
  'mutation($n: String!) { createTagCategory(input: { name: $n, kind: OTHER }) { id } }';
const SEARCH = 'query($s: String!) { customers(first: 1, filter: { search: $s }) { totalCount } }';
const UPSERT = 'mutation($c: [CustomerInput!]!) { upsertCustomers(input: $c) { created } }';
const PREVIEW =
  'query($d: ConditionInput!) { previewSegment(definition: { definition: $d }) { count } }';

const cursor = (values: unknown) => Buffer.from(JSON.stringify(values)).toString('base64url');
const nested = (depth: number, wrap: (inner: object) => object) => {
  let value: object = { tag: { key: 'x' } };
  for (let i = 0; i < depth; i++) value = wrap(value);
  return value;
};

/** Strings as hostile as they come: NUL, lone surrogates, controls, any Unicode, long runs. */
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 64 }),
  fc.constantFrom('\u0000', '\uD800', '\uDFFF', 'a\uDC00b', "'; drop table customer; --", '%_\\'),
  fc
    .tuple(fc.string({ maxLength: 8 }), fc.constantFrom('\u0000', '\uD83D', '\uDE00'))
    .map(([a, b]) => a + b + a),
);

describe('hostile input gets a coded error, never INTERNAL_SERVER_ERROR, and writes nothing', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  const count = async (table: string) =>
    (await t.sql<{ n: number }>(`select count(*)::int as n from ${table}`))[0]!.n;

  it.each([
    ['a NUL byte in a name', CATEGORY, { n: 'wine\u0000lover' }, 'n'],
    ['a lone surrogate in a name', CATEGORY, { n: 'wine\uD800' }, 'n'],
    ['a NUL byte in a search', SEARCH, { s: 'wang\u0000' }, 's'],
    [
      'a NUL byte inside attribute JSON',
      UPSERT,
      { c: [{ externalId: 'h1', name: 'n', attributes: { note: 'a\u0000' } }] },
      'c[0].attributes.note',
    ],
    [
      'a timezone offset of +25:00',
      UPSERT,
      { c: [{ externalId: 'h2', name: 'n', firstSeenAt: '2024-01-01T00:00:00+25:00' }] },
      'c[0].firstSeenAt',
    ],
    ['a condition tree 5,000 deep', PREVIEW, { d: nested(5000, (d) => ({ not: d })) }, 'd.not'],
    [
      'a list-nested condition tree 5,000 deep',
      PREVIEW,
      { d: nested(5000, (d) => ({ and: [d] })) },
      'd.and[0]',
    ],
  ])('%s', async (_what, query, variables, field) => {
    const before = [await count('tag_category'), await count('customer')];
    const error = errorOf(await t.gql(query, variables));
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(String(error.field)).toMatch(new RegExp(`^${field.replace(/[[\].$]/g, '\\$&')}`));
    expect([await count('tag_category'), await count('customer')]).toEqual(before);
  });

  it.each([
    ['not base64 JSON', 'bm90IGpzb24'],
    ['an infinite number', Buffer.from('[1e999]').toString('base64url')],
    ['a NUL byte inside', cursor(['\u0000'])],
    ['the wrong arity', cursor([1, 2, 3])],
    ['text where an id belongs', cursor(['abc'])],
    ['text where a key and an id belong', cursor(['abc', 'def'])],
    ['a fraction', cursor([1.5])],
  ])('refuses a forged cursor: %s', async (_what, after) => {
    const lists = ['customers', 'tags', 'tagCategories', 'segments', 'rules', 'ruleRuns'];
    for (const list of [...lists, 'modelVersions', 'apiKeys', 'reviewQueue']) {
      const error = errorOf(
        await t.gql(`query($a: String!) { ${list}(first: 1, after: $a) { totalCount } }`, {
          a: after,
        }),
      );
      expect(error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });

  it('never answers INTERNAL_SERVER_ERROR to any string in names, searches, attributes and conditions', async () => {
    const before = await count('tag_category');
    let created = 0;
    await fc.assert(
      fc.asyncProperty(hostileString, async (text) => {
        const results = await Promise.all([
          t.gql(CATEGORY, { n: text }),
          t.gql(SEARCH, { s: text }),
          t.gql(PREVIEW, { d: { attribute: { key: text, op: 'EQ', value: text } } }),
          t.gql('query($t: String!) { previewSegment(definition: { text: $t }) { count } }', {
            t: text,
          }),
        ]);
        for (const result of results) {
          const codes = (result.errors ?? []).map((e) => e.extensions?.code);
          expect(codes).not.toContain('INTERNAL_SERVER_ERROR');
        }
        if (!results[0]!.errors) created++;
      }),
      { numRuns: 300, seed: 13 },
    );
    // Whatever was refused left nothing behind: only accepted names became categories.
    expect(await count('tag_category')).toBe(before + created);
  }, 120_000);
});
