import { describe, expect, it } from 'vitest';
import {
  DEMO_TAXONOMY,
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
    expect(agreeing / tagged).toBeGreaterThan(0.85);
    expect(agreeing / tagged).toBeLessThan(0.97);
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
