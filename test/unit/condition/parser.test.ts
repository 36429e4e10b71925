import { describe, expect, it } from 'vitest';
import { createRng, randomInt, type Rng } from '../../../src/ml/random.js';
import {
  ConditionSyntaxError,
  parseCondition,
  printCondition,
  PROFILE_FIELDS,
  shapeIssues,
  type Condition,
  type ProfileFieldName,
} from '../../../src/modules/segment/condition/index.js';

describe('parseCondition', () => {
  it.each<[string, Condition]>([
    ['tag:high-value', { tag: { has: 'high-value' } }],
    ['tag:any(a, b)', { tag: { anyOf: ['a', 'b'] } }],
    ['tag:ALL(a,b)', { tag: { allOf: ['a', 'b'] } }],
    ['tag:none("x y")', { tag: { noneOf: ['x y'] } }],
    ['tag:any', { tag: { has: 'any' } }],
    ['category:value-tier', { category: 'value-tier' }],
    ['segment:vip', { segment: 'vip' }],
    ['cluster:3', { cluster: { index: 3 } }],
    ['cluster:id:123', { cluster: { id: '123' } }],
    ['region = "South China"', { field: { name: 'region', op: 'EQ', value: 'South China' } }],
    ['Region ≠ "华南"', { field: { name: 'region', op: 'NE', value: '华南' } }],
    ['company_size ≥ 500', { field: { name: 'company_size', op: 'GTE', value: 500 } }],
    [
      'birth_year between 1980 and 1990',
      { field: { name: 'birth_year', op: 'BETWEEN', low: 1980, high: 1990 } },
    ],
    [
      'region in ("South China", "East China")',
      { field: { name: 'region', op: 'IN', values: ['South China', 'East China'] } },
    ],
    ['region not in ("x")', { field: { name: 'region', op: 'NOT_IN', values: ['x'] } }],
    ['email starts with "li"', { field: { name: 'email', op: 'STARTS_WITH', value: 'li' } }],
    ['name contains "Li"', { field: { name: 'name', op: 'CONTAINS', value: 'Li' } }],
    ['created_at < "2026-01-01"', { field: { name: 'created_at', op: 'LT', value: '2026-01-01' } }],
    ['attr.income >= 50000', { attribute: { key: 'income', op: 'GTE', value: 50000 } }],
    ['attr.vip exists', { attribute: { key: 'vip', op: 'EXISTS' } }],
    ['attr.vip = true', { attribute: { key: 'vip', op: 'EQ', value: true } }],
    ['attr.address.city = "SZ"', { attribute: { key: 'address.city', op: 'EQ', value: 'SZ' } }],
    ['attr."a b" <= -1.5e2', { attribute: { key: 'a b', op: 'LTE', value: -150 } }],
    ['spend_365d > 100000', { feature: { name: 'spend_365d', op: 'GT', value: 100000 } }],
    ['feature.spend_365d < 1', { feature: { name: 'spend_365d', op: 'LT', value: 1 } }],
    ['feature.company_size < 1', { feature: { name: 'company_size', op: 'LT', value: 1 } }],
    [
      'event:PURCHASE within 30d',
      { events: { type: 'PURCHASE', withinDays: 30, op: 'GTE', count: 1 } },
    ],
    ['event:any within 7 days', { events: { withinDays: 7, op: 'GTE', count: 1 } }],
    [
      'events(PURCHASE, category "wine") >= 3 within 90d',
      { events: { type: 'PURCHASE', category: 'wine', withinDays: 90, op: 'GTE', count: 3 } },
    ],
    [
      'events("custom type") = 0 within 1d',
      { events: { type: 'custom type', withinDays: 1, op: 'EQ', count: 0 } },
    ],
  ])('%s', (text, tree) => {
    expect(parseCondition(text)).toEqual(tree);
  });

  it('binds NOT tighter than AND, and AND tighter than OR', () => {
    const [a, b, c] = ['a', 'b', 'c'].map((has) => ({ tag: { has } }));
    expect(parseCondition('tag:a OR tag:b AND tag:c')).toEqual({ or: [a, { and: [b, c] }] });
    expect(parseCondition('tag:a AND tag:b OR tag:c')).toEqual({ or: [{ and: [a, b] }, c] });
    expect(parseCondition('NOT tag:a AND tag:b')).toEqual({ and: [{ not: a }, b] });
    expect(parseCondition('NOT (tag:a AND tag:b)')).toEqual({ not: { and: [a, b] } });
    expect(parseCondition('(tag:a OR tag:b) AND tag:c')).toEqual({ and: [{ or: [a, b] }, c] });
    expect(parseCondition('tag:a and tag:b and tag:c')).toEqual({ and: [a, b, c] });
    // Parentheses keep the grouping the user wrote.
    expect(parseCondition('tag:a AND (tag:b AND tag:c)')).toEqual({ and: [a, { and: [b, c] }] });
    expect(parseCondition('((tag:a))')).toEqual(a);
  });

  it.each<[string, string, number]>([
    ['', 'expected a condition at 1:1', 0],
    ['region = ', 'expected a value after "=" at 1:10', 9],
    ['region = South China', 'expected a value after "=" at 1:10', 9],
    ['tag:a AND', 'expected a condition after "AND" at 1:10', 9],
    ['(tag:a OR tag:b', 'expected ")" after "b" at 1:16', 15],
    ['region = "abc', 'unterminated string at 1:10', 9],
    ['name = "a\\qb"', 'invalid escape "\\q" at 1:10', 9],
    ['foo:bar', 'unknown predicate "foo:" at 1:1', 0],
    ['events(PURCHASE) >= 3 within 30', 'expected a duration like 30d after "within" at 1:30', 29],
    ['tag:a tag:b', 'expected AND, OR or end of input after "a" at 1:7', 6],
    ['tag:a AND\n  region == "x"', 'expected a value after "=" at 2:11', 20],
    ['region # 5', 'unexpected character "#" at 1:8', 7],
    ['birth_year between 1 or 2', 'expected "and" after "1" at 1:22', 21],
    ['cluster:x', 'expected a cluster index after ":" at 1:9', 8],
    ['attr.vip = yes', 'expected a value after "=" at 1:12', 11],
    ['region in ()', 'expected a value after "(" at 1:12', 11],
    ['tag:any(a,', 'expected a tag key after "," at 1:11', 10],
    ['x > 1e999', 'number out of range at 1:5', 4],
    ['x between true and 1', 'expected a number or a string after "between" at 1:11', 10],
    ['events(PURCHASE) >= -1 within 1d', 'expected a whole number after ">=" at 1:21', 20],
    [`${'('.repeat(50)}tag:a${')'.repeat(50)}`, 'conditions nest at most 40 deep at 1:41', 40],
  ])('rejects %j', (text, message, position) => {
    let error: unknown;
    try {
      parseCondition(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConditionSyntaxError);
    const syntax = error as ConditionSyntaxError;
    expect(syntax.message).toBe(message);
    expect(syntax.position).toBe(position);
    expect(`${syntax.line}:${syntax.column}`).toBe(message.slice(message.lastIndexOf(' ') + 1));
  });
});

describe('printCondition', () => {
  it.each([
    ['tag:a and not REGION = "x"', 'tag:a AND NOT region = "x"'],
    ['a > 1 or b < 2 and c >= 3', 'a > 1 OR b < 2 AND c >= 3'],
    ['(a > 1 or b < 2) and c ≥ 3', '(a > 1 OR b < 2) AND c >= 3'],
    ['tag:a AND (tag:b AND tag:c)', 'tag:a AND (tag:b AND tag:c)'],
    ['tag:a OR (tag:b OR tag:c)', 'tag:a OR (tag:b OR tag:c)'],
    ['NOT NOT tag:a', 'NOT NOT tag:a'],
    ['not (tag:a or tag:b)', 'NOT (tag:a OR tag:b)'],
    ['event:purchase within 30 days', 'event:purchase within 30d'],
    ['events(any) >= 1 within 7d', 'event:ANY within 7d'],
    [
      'events(PURCHASE, CATEGORY "wine") > 2 WITHIN 90D',
      'events(PURCHASE, category "wine") > 2 within 90d',
    ],
    [
      'events(PURCHASE, category "w") >= 1 within 9d',
      'events(PURCHASE, category "w") >= 1 within 9d',
    ],
    ['events("any") < 1 within 9d', 'events("any") < 1 within 9d'],
    ['tag:"high-value"', 'tag:high-value'],
    ['tag:"plan:basic"', 'tag:"plan:basic"'],
    ['tag:"2024-vip"', 'tag:"2024-vip"'],
    ['tag:"any"', 'tag:any'],
    ['tag:any AND segment:and', 'tag:any AND segment:and'],
    ['tag:ANY(a,b)', 'tag:any(a, b)'],
    ['attr."weird key" exists', 'attr."weird key" exists'],
    ['attr.address.city = "SZ"', 'attr.address.city = "SZ"'],
    ['feature.spend_365d > 1e3', 'spend_365d > 1000'],
    ['feature.region = 1', 'feature.region = 1'],
    ['feature.and > 1', 'feature.and > 1'],
    ['x != -0.5', 'x != -0.5'],
    ['x = -0', 'x = 0'],
    ['x = 1e21', 'x = 1e+21'],
    ['name = "\\u534e\\u5357\\n"', 'name = "华南\\n"'],
    ['cluster:ID:7', 'cluster:id:7'],
    ['region NOT IN ("a","b")', 'region not in ("a", "b")'],
    ['email STARTS WITH "li"', 'email starts with "li"'],
    ['attr.vip = TRUE', 'attr.vip = true'],
    ['birth_year BETWEEN 1980 AND 1990', 'birth_year between 1980 and 1990'],
  ])('%s → %s', (text, canonical) => {
    const printed = printCondition(parseCondition(text));
    expect(printed).toBe(canonical);
    expect(printCondition(parseCondition(printed))).toBe(canonical);
  });
});

const STRINGS = [
  '',
  '"',
  '\\',
  'a"b\\c',
  '华南',
  '😀',
  '\n\t\u0001\u2028',
  "it's",
  'and',
  'ANY',
  'Not',
  '30d',
  '2024-vip',
  'a.b',
  'a..b',
  '.a',
  ' lead',
  'x?y',
  'ｚ',
  'région',
  'e\u0301',
  'region',
  'tag:x',
  '1e5',
];
const NUMBERS = [0, 1, -1, 0.5, -2.25, 1e21, 1e-7, 123456789, 365];

/** Syntax-first random trees: every string position gets the awkward strings above. */
function randomTree(rng: Rng, depth = 0): Condition {
  const pick = <T>(items: readonly T[]): T => items[randomInt(rng, items.length)]!;
  const text = () => pick(STRINGS);
  const scalar = () => pick<string | number | boolean>([text(), pick(NUMBERS), rng() < 0.5]);
  const bound = () => (rng() < 0.5 ? text() : pick(NUMBERS));
  const comparison = () =>
    pick([
      { op: pick(['EQ', 'NE', 'LT', 'LTE', 'GT', 'GTE'] as const), value: scalar() },
      { op: 'BETWEEN' as const, low: bound(), high: bound() },
      { op: pick(['IN', 'NOT_IN'] as const), values: [scalar(), scalar()] },
      { op: 'EXISTS' as const },
      { op: pick(['CONTAINS', 'STARTS_WITH'] as const), value: text() },
    ]);
  if (depth < 4 && rng() < 0.4) {
    const operands = [randomTree(rng, depth + 1), randomTree(rng, depth + 1)];
    if (rng() < 0.3) operands.push(randomTree(rng, depth + 1));
    return pick<Condition>([{ and: operands }, { or: operands }, { not: operands[0]! }]);
  }
  const type = rng() < 0.3 ? {} : { type: text() };
  const category = rng() < 0.5 ? {} : { category: text() };
  return pick<Condition>([
    { tag: { has: text() } },
    { tag: { anyOf: [text(), text()] } },
    { tag: { allOf: [text()] } },
    { tag: { noneOf: [text(), text(), text()] } },
    { category: text() },
    { segment: text() },
    { cluster: { index: randomInt(rng, 10) } },
    { cluster: { id: String(1 + randomInt(rng, 1e6)) } },
    { field: { name: pick(Object.keys(PROFILE_FIELDS) as ProfileFieldName[]), ...comparison() } },
    { attribute: { key: text(), ...comparison() } },
    { feature: { name: pick([...STRINGS, 'spend_365d', 'company_size']), ...comparison() } },
    {
      events: {
        ...type,
        ...category,
        withinDays: 1 + randomInt(rng, 400),
        op: pick(['EQ', 'NE', 'LT', 'LTE', 'GT', 'GTE'] as const),
        count: pick([0, 1, 1, 2, 10]),
      },
    },
  ]);
}

describe('round trips', () => {
  it('parse(print(tree)) deep-equals 2,000 random trees, and print is idempotent', () => {
    const rng = createRng(42);
    for (let i = 0; i < 2000; i++) {
      const tree = randomTree(rng);
      const text = printCondition(tree);
      const parsed = parseCondition(text);
      expect(parsed, text).toStrictEqual(tree);
      expect(printCondition(parsed)).toBe(text);
    }
  });

  it('keeps the business examples readable', () => {
    const text =
      'tag:high-value AND region = "South China" AND monetary_365d > 100000 AND NOT event:PURCHASE within 30d';
    expect(printCondition(parseCondition(text))).toBe(text);
    expect(shapeIssues(parseCondition(text))).toEqual([]);
  });
});
