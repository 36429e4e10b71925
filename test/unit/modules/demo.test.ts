import { describe, expect, it } from 'vitest';
import {
  DEMO_TAXONOMY,
  demoEvents,
  demoHandTags,
  demoPersona,
  mulberry32,
} from '../../../src/modules/demo/demo.generator.js';

describe('demo generator', () => {
  it('is deterministic per seed and index', () => {
    expect(demoPersona(7, 123)).toEqual(demoPersona(7, 123));
    expect(demoPersona(7, 123)).not.toEqual(demoPersona(8, 123));
    expect(mulberry32(1)()).toBe(mulberry32(1)());
  });

  it('hand-tags about a third of customers, mostly in line with their persona', () => {
    const tagKeys = new Set(DEMO_TAXONOMY.flatMap((c) => c.tags.map((t) => t.key)));
    let tagged = 0;
    let agreeing = 0;
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const persona = demoPersona(42, i);
      const tags = demoHandTags(42, persona);
      for (const key of tags) expect(tagKeys).toContain(key);
      if (tags.length === 0) continue;
      tagged += 1;
      if (tags.includes(`${persona.valueTier}-value`)) agreeing += 1;
    }
    expect(tagged / n).toBeGreaterThan(0.3);
    expect(tagged / n).toBeLessThan(0.4);
    // 3 % of value tiers are drawn at random (a quarter of those by chance the right one).
    expect(agreeing / tagged).toBeGreaterThan(0.96);
    expect(agreeing / tagged).toBeLessThan(0.99);
  });

  it('never gives a customer two tags of an exclusive category', () => {
    const exclusive = DEMO_TAXONOMY.filter((c) => c.exclusive).map(
      (c) => new Set(c.tags.map((t) => t.key)),
    );
    for (let i = 0; i < 2000; i++) {
      const tags = demoHandTags(42, demoPersona(42, i));
      for (const keys of exclusive)
        expect(tags.filter((k) => keys.has(k)).length).toBeLessThanOrEqual(1);
    }
  });
});

describe('demo events', () => {
  const now = Date.parse('2026-06-30T00:00:00Z');
  const summarize = (tier: string) => {
    let spend = 0;
    let customers = 0;
    for (let i = 0; i < 3000; i++) {
      const persona = demoPersona(42, i);
      if (persona.valueTier !== tier || persona.lifecycle !== 'active') continue;
      customers += 1;
      for (const e of demoEvents(42, persona, now)) spend += e.amount ?? 0;
    }
    return spend / customers;
  };

  it('is deterministic and stays within the last two years', () => {
    const persona = demoPersona(42, 9);
    expect(demoEvents(42, persona, now)).toEqual(demoEvents(42, persona, now));
    for (let i = 0; i < 200; i++) {
      for (const e of demoEvents(42, demoPersona(42, i), now)) {
        expect(e.occurredAt.getTime()).toBeLessThanOrEqual(now);
        expect(e.occurredAt.getTime()).toBeGreaterThan(now - 731 * 86_400_000);
      }
    }
  });

  it('carries the persona: high-value customers spend far more than low-value ones', () => {
    expect(summarize('high')).toBeGreaterThan(5 * summarize('low'));
  });

  it('puts most purchases in the persona’s interests', () => {
    let inInterest = 0;
    let purchases = 0;
    for (let i = 0; i < 1000; i++) {
      const persona = demoPersona(42, i);
      for (const e of demoEvents(42, persona, now)) {
        if (e.type !== 'PURCHASE') continue;
        purchases += 1;
        if (persona.interests.includes(e.category as never)) inInterest += 1;
      }
    }
    expect(inInterest / purchases).toBeGreaterThan(0.7);
  });

  it('puts most engagement in the persona’s interests too, and only engagement about a product', () => {
    const topical = [
      'PAGE_VIEW',
      'DOWNLOAD',
      'EMAIL_CLICK',
      'EVENT_REGISTRATION',
      'EVENT_ATTENDANCE',
    ];
    let inInterest = 0;
    let engaged = 0;
    for (let i = 0; i < 1000; i++) {
      const persona = demoPersona(42, i);
      const events = demoEvents(42, persona, now);
      for (const [j, e] of events.entries()) {
        if (e.type === 'PURCHASE') continue;
        if (!topical.includes(e.type)) {
          expect(e.category).toBeNull();
          continue;
        }
        if (e.type === 'EVENT_ATTENDANCE') expect(e.category).toBe(events[j - 1]!.category);
        if (e.type === 'EVENT_REGISTRATION') continue;
        engaged += 1;
        if (persona.interests.includes(e.category as never)) inInterest += 1;
      }
    }
    expect(engaged / 1000).toBeGreaterThan(5);
    expect(inInterest / engaged).toBeGreaterThan(0.7);
    expect(inInterest / engaged).toBeLessThan(0.95);
  });
});
