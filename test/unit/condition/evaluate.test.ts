import { describe, expect, it } from 'vitest';
import {
  evaluateCondition,
  parseCondition,
  type CustomerSnapshot,
} from '../../../src/modules/segment/condition/index.js';

const NOW = new Date('2026-06-30T00:00:00.000Z');
const DAY = 86_400_000;
const customer: CustomerSnapshot = {
  profile: {
    name: 'ｚ',
    region: null,
    company_size: 800,
    created_at: new Date('2025-01-01T00:00:00Z'),
  },
  attributes: { income: 60000, plan: 'pro', score: '7', vip: false, note: null },
  tags: [{ key: 'wine-lover', categories: ['food', 'interest'] }],
  features: { spend_365d: 1200, days_since_last_purchase: null, region: 'South China' },
  events: [
    { type: 'PURCHASE', category: 'wine', occurredAt: new Date(NOW.getTime() - 30 * DAY) },
    { type: 'PURCHASE', category: 'meat', occurredAt: new Date(NOW.getTime() - 30 * DAY - 1) },
    { type: 'PAGE_VIEW', category: null, occurredAt: new Date(NOW.getTime() + DAY) },
  ],
  cluster: { id: '17', index: 2 },
};
const holds = (text: string, who: CustomerSnapshot = customer) =>
  evaluateCondition(parseCondition(text), who, {
    now: NOW,
    resolveSegment: (key) => (key === 'rich' ? parseCondition('attr.income > 50000') : undefined),
  });

describe('evaluateCondition', () => {
  it.each<[string, boolean]>([
    // A missing value fails every comparison, != included; NOT of that holds.
    ['region != "South China"', false],
    ['NOT region = "South China"', true],
    ['region not in ("x")', false],
    ['region exists', false],
    ['company_size between 500 and 800', true],
    ['company_size in (1, 800)', true],
    ['created_at < "2025-01-01T08:00:00+08:00"', false],
    ['created_at <= "2025-01-01"', true],
    // Attributes compare only with literals of their own JSON type.
    ['attr.score > 5', false],
    ['attr.score > "5"', true],
    ['attr.score != 7', false],
    ['attr.vip = false', true],
    ['attr.vip != true', true],
    ['attr.note exists', false],
    ['attr.missing exists', false],
    ['attr.plan starts with "p"', true],
    ['attr.plan contains "R"', false],
    ['feature.spend_365d >= 1200', true],
    ['days_since_last_purchase > 1', false],
    ['NOT days_since_last_purchase > 1', true],
    ['feature.region = 0', false],
    // Code points, not UTF-16 units: U+FF5A sorts before U+1F600.
    ['name < "😀"', true],
    ['tag:any(x, wine-lover)', true],
    ['tag:all(x, wine-lover)', false],
    ['tag:none(x)', true],
    ['category:interest', true],
    ['category:food', true],
    ['cluster:2 AND cluster:id:17', true],
    ['segment:rich', true],
    // The window includes its start and excludes the future.
    ['events(PURCHASE) = 1 within 30d', true],
    ['events(PURCHASE) = 2 within 31d', true],
    ['events(PURCHASE, category "meat") >= 1 within 30d', false],
    ['event:PAGE_VIEW within 365d', false],
    ['events(ANY) < 1 within 29d', true],
  ])('%s → %s', (text, expected) => {
    expect(holds(text)).toBe(expected);
  });

  it('does not match feature comparisons without a features row', () => {
    expect(holds('spend_365d >= 0', { ...customer, features: null })).toBe(false);
    expect(holds('NOT spend_365d >= 0', { ...customer, features: null })).toBe(true);
  });
});
