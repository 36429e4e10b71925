import { describe, expect, it } from 'vitest';
import {
  attributeMisfit,
  eventAggregates,
  featureDefinitions,
  featureSetSchema,
  featureWording,
  type AttributeValueCounts,
} from '../../../src/modules/feature/feature.definitions.js';

const counts = (partial: Partial<AttributeValueCounts>): AttributeValueCounts => ({
  number: 0,
  string: 0,
  boolean: 0,
  object: 0,
  array: 0,
  dates: 0,
  ...partial,
});

describe('attributeMisfit', () => {
  it('names an attribute no customer holds a value under', () => {
    expect(attributeMisfit('loyalty', 'numeric', undefined)).toBe(
      'no customer has attribute "loyalty"',
    );
    expect(attributeMisfit('loyalty', 'categorical', counts({}))).toBe(
      'no customer has attribute "loyalty"',
    );
  });

  it('says what a refused attribute holds instead of the declared kind', () => {
    expect(attributeMisfit('vip', 'numeric', counts({ boolean: 40 }))).toBe(
      'attribute "vip" holds booleans (true/false), not numbers',
    );
    expect(
      attributeMisfit('code', 'numeric', counts({ string: 1200, boolean: 300, number: 5 })),
    ).toBe(
      'attribute "code" holds text for 1,200 and booleans (true/false) for 300 of its 1,505 customers, not numbers',
    );
    expect(attributeMisfit('joined', 'date', counts({ string: 10, dates: 2, number: 3 }))).toBe(
      'attribute "joined" holds text that is not a date for 8 and numbers for 3 of its 13 customers, not dates',
    );
    expect(attributeMisfit('address', 'categorical', counts({ object: 7 }))).toBe(
      'attribute "address" holds objects, not single values (text, numbers or true/false)',
    );
  });

  it('accepts an attribute most of whose holders have a value the feature reads', () => {
    expect(attributeMisfit('income', 'numeric', counts({ number: 90, string: 10 }))).toBeNull();
    expect(attributeMisfit('income', 'numeric', counts({ number: 5, string: 5 }))).toBeNull();
    expect(attributeMisfit('joined', 'date', counts({ string: 10, dates: 9 }))).toBeNull();
    expect(
      attributeMisfit('vip', 'categorical', counts({ boolean: 3, string: 2, number: 1 })),
    ).toBeNull();
    expect(attributeMisfit('income', 'numeric', counts({ number: 4, string: 5 }))).not.toBeNull();
  });
});

describe('engagement features', () => {
  const set = {
    version: 1,
    ...featureSetSchema.parse({ spendCategories: ['wine'], engagementCategories: ['Red wine'] }),
  };
  const definitions = featureDefinitions(set);

  it('counts engagement per category in each window, with a share next to the spend share', () => {
    const names = definitions.map((d) => d.name);
    const engagement = names.filter((n) => n.startsWith('engagement_'));
    expect(engagement).toEqual([
      'engagement_red_wine_30d',
      'engagement_red_wine_90d',
      'engagement_red_wine_365d',
      'engagement_share_red_wine',
    ]);
    expect(names.indexOf('engagement_red_wine_30d')).toBe(names.indexOf('spend_share_wine') + 1);
  });

  it('words the features for explanations, and a missing share as what it means', () => {
    const { descriptions, missing } = featureWording(definitions);
    expect(descriptions.engagement_red_wine_90d).toBe(
      'engagement with Red wine in the last 90 days',
    );
    expect(descriptions.engagement_share_red_wine).toBe('share of engagement on Red wine');
    expect(missing.engagement_share_red_wine).toBe(
      'no engagement with a category yet, so no share of engagement on Red wine',
    );
    expect(missing).not.toHaveProperty('engagement_red_wine_30d');
  });

  it('computes every aggregate the definitions read', () => {
    const aggregates = new Set(eventAggregates(set).map((a) => a.split(' as ').at(-1)));
    const read = definitions.flatMap((d) => [...d.sql.matchAll(/\bev\.(\w+)/g)].map((m) => m[1]));
    expect(read.filter((name) => !aggregates.has(name))).toEqual([]);
    expect(read).toContain('engagement_categorised');
  });

  it('leaves engagement categories open until a full refresh fixes them', () => {
    expect(featureSetSchema.parse({}).engagementCategories).toBeNull();
    expect(
      featureDefinitions({ version: 1, ...featureSetSchema.parse({}) }).some((d) =>
        d.name.startsWith('engagement_'),
      ),
    ).toBe(false);
  });
});
