import { validate } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { featureSetSchema } from '../../../src/modules/feature/feature.definitions.js';
import {
  ConditionField,
  ConditionInput,
  ConditionOperator,
  conditionFromInput,
  TagConditionInput,
} from '../../../src/modules/segment/condition.input.js';
import {
  ConditionError,
  conditionFromJson,
  numericFeatureNames,
  parseCondition,
  PROFILE_FIELDS,
  referencedSegments,
  shapeIssues,
  validateCondition,
  type Condition,
  type ConditionSchema,
} from '../../../src/modules/segment/condition/index.js';

const SEGMENTS: Record<string, Condition> = {
  vip: parseCondition('tag:high-value'),
  loop1: parseCondition('segment:loop2 AND tag:a'),
  loop2: parseCondition('NOT segment:loop1'),
  uses_vip: parseCondition('segment:vip OR tag:a'),
  broken: { and: [] } as unknown as Condition,
};

const schema: ConditionSchema = {
  tagKeys: new Set(['high-value', 'a', 'b']),
  categoryKeys: new Set(['value-tier']),
  featureNames: numericFeatureNames({ version: 1, ...featureSetSchema.parse({}) }),
  resolveSegment: (key) => SEGMENTS[key],
};

const issuesOf = (text: string, s: ConditionSchema = schema) =>
  validateCondition(parseCondition(text), s);

describe('validateCondition', () => {
  it('accepts the business examples', () => {
    for (const text of [
      'region = "South China" AND industry = "manufacturing" AND company_size >= 500',
      'spend_365d > 100000',
      'days_since_last_interaction >= 30 OR NOT event:ANY within 30d',
      'tag:a AND purchases_30d >= 3 AND NOT tag:b',
      'category:value-tier AND segment:uses_vip AND cluster:2',
      'created_at between "2025-01-01" and "2026-01-01T08:00:00+08:00"',
    ]) {
      expect(issuesOf(text), text).toEqual([]);
    }
  });

  it('names unknown tags, categories, features and segments by path', () => {
    expect(
      issuesOf(
        'tag:x AND tag:any(a, y) AND category:nope AND monetary_365d > 1 AND segment:gold AND region = "x"',
      ),
    ).toEqual([
      { path: 'and[0].tag.has', message: 'unknown tag "x"' },
      { path: 'and[1].tag.anyOf[1]', message: 'unknown tag "y"' },
      { path: 'and[2].category', message: 'unknown tag category "nope"' },
      { path: 'and[3].feature.name', message: 'unknown feature "monetary_365d"' },
      { path: 'and[4].segment', message: 'unknown segment "gold"' },
    ]);
  });

  it('only offers the numeric features of the feature set', () => {
    expect(schema.featureNames.has('spend_365d')).toBe(true);
    expect(schema.featureNames.has('region')).toBe(false);
    expect(issuesOf('feature.region = 1')).toEqual([
      { path: 'feature.name', message: 'unknown feature "region"' },
    ]);
  });

  it('reports segment cycles with the cycle spelled out', () => {
    expect(issuesOf('tag:a OR segment:loop1')).toEqual([
      { path: 'or[1].segment', message: 'segment cycle: loop1 → loop2 → loop1' },
    ]);
    // A definition about to be saved as vip must not reference vip, even indirectly.
    expect(issuesOf('segment:uses_vip', { ...schema, segmentKey: 'vip' })).toEqual([
      { path: 'segment', message: 'segment cycle: vip → uses_vip → vip' },
    ]);
    expect(issuesOf('segment:broken')[0]!.message).toMatch(/^segment "broken" is invalid: and: /);
  });

  it('flags reversed bounds and event types that are not UPPER_SNAKE', () => {
    expect(issuesOf('birth_year between 1990 and 1980 AND event:purchase within 3d')).toEqual([
      { path: 'and[0].field.low', message: 'BETWEEN bounds are reversed: low is above high' },
      {
        path: 'and[1].events.type',
        message: 'event types are UPPER_SNAKE names, got "purchase"',
      },
    ]);
    expect(issuesOf('created_at between "2026-01-02" and "2026-01-01T23:00:00-05:00"')).toEqual([]);
    // Attributes compare lexically, so the same bounds are reversed there.
    expect(issuesOf('attr.since between "2026-01-02" and "2026-01-01T23:00:00-05:00"')).toEqual([
      { path: 'attribute.low', message: 'BETWEEN bounds are reversed: low is above high' },
    ]);
  });

  it.each<[string, string, string]>([
    ['region = 5', 'field.value', 'expected a string, got number 5'],
    ['company_size >= "big"', 'field.value', 'expected a finite number, got "big"'],
    ['company_size contains "1"', 'field.op', 'CONTAINS does not apply to integer fields'],
    ['created_at < "yesterday"', 'field.value', 'expected an ISO date'],
    ['created_at < "2026-02-30"', 'field.value', 'expected an ISO date'],
    ['created_at < "2026-01-01T10:00"', 'field.value', 'expected an ISO date'],
    ['created_at in ("2026-01-01")', 'field.op', 'IN does not apply to timestamp fields'],
    ['spend_365d > "a lot"', 'feature.value', 'expected a finite number'],
    ['spend_365d exists', 'feature.op', 'EXISTS does not apply to features'],
    ['attr.vip < true', 'attribute.value', 'booleans compare only with EQ and NE'],
    ['attr.plan in ("a", 1)', 'attribute.values[1]', 'expected a string like the first operand'],
    ['attr.plan between 1 and "z"', 'attribute.high', 'expected a number like the first operand'],
    ['attr."" exists', 'attribute.key', 'expected a non-empty string'],
    ['tag:""', 'tag.has', 'expected a non-empty string'],
    ['region = "a\\u0000b"', 'field.value', 'a string cannot contain NUL or unpaired surrogates'],
    ['region = "\\ud800"', 'field.value', 'a string cannot contain NUL or unpaired surrogates'],
    ['events(PURCHASE) >= 1 within 0d', 'events.withinDays', 'expected a whole number from 1'],
    ['events(PURCHASE) >= 1 within 40000d', 'events.withinDays', 'to 36500'],
    ['events(ANY, category "x") < 2000000 within 1d', 'events.count', 'to 1000000'],
  ])('%s → %s', (text, path, message) => {
    const [issue, ...rest] = issuesOf(text);
    expect(rest).toEqual([]);
    expect(issue!.path).toBe(path);
    expect(issue!.message).toContain(message);
  });

  it.each<[unknown, string, string]>([
    [{}, '', 'expected exactly one of and, or, not, tag, category, field'],
    [{ tag: { has: 'a' }, category: 'b' }, '', 'got tag, category'],
    [{ and: [{ tag: { has: 'a' } }] }, 'and', 'expected a list of at least two conditions'],
    [{ or: [{ tag: { has: 'a' } }, 'tag:b'] }, 'or[1]', 'got "tag:b"'],
    [{ field: { name: 'password', op: 'EQ', value: 'x' } }, 'field.name', 'unknown profile field'],
    [{ field: { name: 'constructor', op: 'EXISTS' } }, 'field.name', 'unknown profile field'],
    [{ field: { name: 'region', op: 'LIKE', value: 'x' } }, 'field.op', 'expected one of EQ'],
    [{ field: { name: 'region', op: 'IN', values: [] } }, 'field.values', 'non-empty list'],
    [{ field: { name: 'region', op: 'IN' } }, 'field.values', 'IN needs values'],
    [{ field: { name: 'region', op: 'EXISTS', value: 1 } }, 'field.value', 'unexpected member'],
    [{ tag: { has: 'a', anyOf: ['b'] } }, 'tag', 'expected exactly one of has, anyOf'],
    [{ tag: { anyOf: Array(501).fill('a') } }, 'tag.anyOf', 'at most 500 items'],
    [{ events: { withinDays: 1, op: 'GTE', count: -1 } }, 'events.count', 'from 0'],
    [{ events: { withinDays: 1, op: 'IN', count: 1 } }, 'events.op', 'expected one of EQ'],
    [{ events: { withinDays: 1, op: 'GTE', count: 1, days: 2 } }, 'events.days', 'unexpected'],
    [{ events: { op: 'GTE', count: 1 } }, 'events.withinDays', 'withinDays is required'],
    [{ cluster: { id: "1'; drop" } }, 'cluster.id', 'expected a cluster id'],
    [{ cluster: { index: -1 } }, 'cluster.index', 'from 0'],
    [{ not: null }, 'not', 'got null'],
    [{ attribute: { key: 'plan', op: 'CONTAINS', value: 1 } }, 'attribute.value', 'got number 1'],
  ])('shape %j', (tree, path, message) => {
    const [issue] = shapeIssues(tree);
    expect(issue!.path).toBe(path);
    expect(issue!.message).toContain(message);
  });

  it('limits depth and size', () => {
    let deep: Condition = { tag: { has: 'a' } };
    for (let i = 0; i < 21; i++) deep = { not: deep };
    expect(shapeIssues(deep)).toEqual([
      { path: 'not'.concat('.not'.repeat(20)), message: 'conditions nest at most 20 deep' },
    ]);
    const wide = { or: Array.from({ length: 101 }, () => ({ tag: { has: 'a' } })) };
    expect(shapeIssues(wide)).toEqual([
      { path: '', message: 'a condition has at most 100 predicates, got 101' },
    ]);
  });

  it('conditionFromJson accepts stored trees and rejects anything else', () => {
    const tree = parseCondition('tag:a AND NOT spend_365d > 1');
    expect(conditionFromJson(JSON.parse(JSON.stringify(tree)))).toEqual(tree);
    expect(() => conditionFromJson({ and: 'x' }, 'definition')).toThrow(
      new ConditionError(
        [{ path: 'and', message: 'expected a list of at least two conditions' }],
        'definition',
      ),
    );
    try {
      conditionFromJson({ and: 'x' }, 'definition');
    } catch (error) {
      expect((error as ConditionError).field).toBe('definition.and');
      expect((error as ConditionError).message).toBe(
        'definition.and: expected a list of at least two conditions',
      );
    }
  });
});

describe('referencedSegments', () => {
  it('lists direct references once, in order', () => {
    expect(
      referencedSegments(parseCondition('segment:b AND (segment:a OR NOT segment:b)')),
    ).toEqual(['b', 'a']);
    expect(referencedSegments(parseCondition('segment:uses_vip'))).toEqual(['uses_vip']);
    expect(referencedSegments(parseCondition('tag:a'))).toEqual([]);
  });
});

describe('ConditionInput', () => {
  const input = (value: Partial<ConditionInput>) => Object.assign(new ConditionInput(), value);

  it('offers exactly the profile fields the compiler knows', () => {
    expect(Object.values(ConditionField).sort()).toEqual(Object.keys(PROFILE_FIELDS).sort());
  });

  it('converts to the tree, one-operand groups becoming their operand', () => {
    const tree = conditionFromInput(
      input({
        and: [
          input({ tag: Object.assign(new TagConditionInput(), { has: 'a', anyOf: null }) }),
          input({
            or: [input({ feature: { name: 'spend_365d', op: ConditionOperator.GT, value: 5 } })],
          }),
          input({
            not: input({
              events: {
                type: 'PURCHASE',
                category: null,
                withinDays: 30,
                op: ConditionOperator.GTE,
                count: 1,
              },
            }),
          }),
          input({
            field: {
              name: ConditionField.REGION,
              op: ConditionOperator.IN,
              values: ['x'],
              value: null,
            },
          }),
          input({ cluster: { id: null, index: 2 } }),
        ],
      }),
    );
    expect(tree).toEqual(
      parseCondition(
        'tag:a AND spend_365d > 5 AND NOT event:PURCHASE within 30d AND region in ("x") AND cluster:2',
      ),
    );
  });

  it('names the input path of every problem', () => {
    const attempt = () =>
      conditionFromInput(
        input({
          and: [
            input({ tag: { has: 'a' } }),
            input({ segment: 'vip' }),
            input({
              tag: { has: 'a' },
              feature: { name: 'x', op: ConditionOperator.GT, value: 1 },
            }),
            input({ feature: { name: 'x', op: ConditionOperator.GT } }),
            input({ or: [] }),
            input({}),
          ],
        }),
      );
    expect(attempt).toThrow(ConditionError);
    try {
      attempt();
    } catch (error) {
      expect((error as ConditionError).issues).toEqual([
        {
          path: 'definition.and[2]',
          message: expect.stringContaining('set exactly one of and, or, not, tag') as string,
        },
        { path: 'definition.and[3].feature.value', message: 'GT needs value' },
        { path: 'definition.and[4].or', message: 'expected at least one condition' },
        { path: 'definition.and[5]', message: expect.stringContaining('got none') as string },
      ]);
      expect((error as ConditionError).field).toBe('definition.and[2]');
    }
  });

  it('fails class validation on a member set next to another', async () => {
    const [error] = await validate(
      input({ and: [input({ tag: { has: 'a' } }), input({ tag: { has: 'a' }, segment: 'vip' })] }),
      { skipMissingProperties: true, forbidUnknownValues: false },
    );
    const nested = error!.children![0]!.children![0]!;
    expect(`${error!.property}[${error!.children![0]!.property}].${nested.property}`).toBe(
      'and[1].tag',
    );
    expect(nested.constraints?.isOnlyMemberSet).toContain('got tag, segment');
  });
});
