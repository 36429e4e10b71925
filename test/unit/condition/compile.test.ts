import { describe, expect, it } from 'vitest';
import {
  compileCondition,
  ConditionError,
  parseCondition,
  type Condition,
} from '../../../src/modules/segment/condition/index.js';

const SEGMENTS: Record<string, Condition> = {
  vip: parseCondition('tag:high-value OR attr.vip = true'),
  'big-vip': parseCondition('segment:vip AND company_size >= 500'),
  a: parseCondition('segment:b'),
  b: parseCondition('NOT segment:a'),
};
const context = { featureSetVersion: 3, resolveSegment: (key: string) => SEGMENTS[key] };
const compile = (text: string) => compileCondition(parseCondition(text), context);
const PLACEHOLDER = /\?::[a-z]+(\[\])?/g;

describe('compileCondition', () => {
  it('binds every name and value, with one typed placeholder per parameter', () => {
    const { sql, params } = compile(
      'tag:"x\'y" AND tag:any("a\\"b", "c,d") AND category:"?" AND region in ("?", "\\\\") ' +
        'AND attr."k\'" > 5 AND attr.plan = "pro" AND feature."f?" between 1 and 2 ' +
        'AND events("T\'", category "c?") >= 3 within 30d AND cluster:id:9 AND name starts with "O\'"',
    );
    expect(sql.match(PLACEHOLDER)).toHaveLength(params.length);
    expect(sql.replace(PLACEHOLDER, '')).not.toContain('?');
    for (const text of ["x'y", "k'", "T'", "O'", 'c,d']) expect(sql).not.toContain(text);
    expect(params).toEqual([
      "x'y",
      '{"a\\"b","c,d"}',
      '?',
      '{"?","\\\\"}',
      "k'",
      "k'",
      5,
      '{"plan":"pro"}',
      'plan',
      3,
      'f?',
      'f?',
      1,
      2,
      720,
      "T'",
      'c?',
      3,
      '9',
      "O'",
    ]);
  });

  it('reads profile columns from the whitelist only', () => {
    const tree = {
      field: { name: 'email; drop table customer', op: 'EXISTS' },
    } as unknown as Condition;
    expect(() => compileCondition(tree, context)).toThrow(ConditionError);
    expect(compile('lifecycle_stage exists').sql).toBe('(c.lifecycle_stage is not null)');
  });

  it('turns one event into EXISTS and counts into one grouped set', () => {
    expect(compile('event:PURCHASE within 30d').sql).toMatch(
      /^exists \(select 1 from event e where e\.customer_id = c\.id and /,
    );
    expect(compile('events(PURCHASE) >= 3 within 30d').sql).toMatch(
      /^c\.id in \(select e\.customer_id from event e where .* group by e\.customer_id having count\(\*\) >= \?::int\)$/,
    );
    expect(compile('events(ANY) >= 0 within 30d').sql).toBe('true');
    expect(compile('events(ANY) < 1 within 30d').sql).toMatch(/^\(not exists /);
    expect(compile('event:ANY within 1d').sql).toContain('now() - make_interval(hours => ?::int)');
    const fixed = compileCondition(parseCondition('event:ANY within 1d'), {
      ...context,
      now: new Date('2026-01-01T00:00:00Z'),
    });
    expect(fixed.params).toEqual(['2026-01-01T00:00:00.000Z', 24, '2026-01-01T00:00:00.000Z']);
  });

  it('normalizes timestamps to UTC before they reach SQL', () => {
    expect(compile('created_at >= "2026-01-01T08:00:00+08:00"').params).toEqual([
      '2026-01-01T00:00:00.000Z',
    ]);
  });

  it('inlines segments and refuses unknown and cyclic ones', () => {
    expect(compile('segment:big-vip')).toEqual(
      compile('(tag:high-value OR attr.vip = true) AND company_size >= 500'),
    );
    expect(() => compile('tag:x OR segment:nope')).toThrow('or[1].segment: unknown segment "nope"');
    expect(() => compile('segment:a')).toThrow('segment: segment cycle: a → b → a');
    expect(() => compileCondition(parseCondition('segment:vip'), { featureSetVersion: 1 })).toThrow(
      'unknown segment "vip"',
    );
  });

  it('refuses an ill-formed tree before writing any SQL', () => {
    expect(() =>
      compileCondition({ field: { name: 'region', op: 'IN', values: [] } } as Condition, context),
    ).toThrow('field.values: expected a non-empty list');
  });
});
