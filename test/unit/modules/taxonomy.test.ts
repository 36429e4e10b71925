import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../../src/modules/common/domain.errors.js';
import { normalizeKey } from '../../../src/modules/taxonomy/taxonomy.service.js';

describe('normalizeKey', () => {
  it.each([
    ['  High Value ', 'high-value'],
    ['VIP', 'vip'],
    ['wine   lover', 'wine-lover'],
    ['沉睡客户', '沉睡客户'],
    ['tier:gold', 'tier:gold'],
  ])('%j → %j', (raw, key) => {
    expect(normalizeKey(raw, 'input.key')).toBe(key);
  });

  it.each(['', '   ', '-dash', 'a/b', 'x'.repeat(65)])('rejects %j naming the field', (raw) => {
    expect(() => normalizeKey(raw, 'input.key')).toThrow(InvalidInputError);
  });
});
