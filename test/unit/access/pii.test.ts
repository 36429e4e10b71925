import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  maskAttributes,
  maskAttributeValue,
  maskEmail,
  maskName,
  maskPhone,
} from '../../../src/modules/access/pii.js';

const SEED = { seed: 20261206, numRuns: 500 };
// Characters that never join the one before them into a grapheme, so `first + rest` starts with
// exactly `first`.
const plain = fc.constantFrom(...'abcxyzABCXYZ0189._-王伟张三丰李娜'.split(''));
const first = fc.oneof(plain, fc.constantFrom('👍🏽', 'é', 'Ж', '김'));
const rest = fc.string({ unit: plain, minLength: 1, maxLength: 30 });
const domain = fc
  .tuple(fc.string({ unit: plain, minLength: 1, maxLength: 12 }), fc.constantFrom('cn', 'com'))
  .map(([host, tld]) => `${host}.${tld}`);
const digits = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'.split('')), minLength: min, maxLength: max });

describe('masking personal data', () => {
  it('masks the documented examples', () => {
    expect(maskEmail('wei@example.cn')).toBe('w***@example.cn');
    expect(maskPhone('13812345678')).toBe('138****5678');
    expect(maskPhone('+86 138-1234-5678')).toBe('861****5678');
    expect(maskPhone('8765 4321')).toBe('****21');
    expect(maskPhone('110')).toBe('****');
    expect(maskName('张三')).toBe('张*');
    expect(maskName('Wei Wang')).toBe('W*');
    expect(maskName('张')).toBe('*');
    expect(maskName('')).toBe('');
    expect(maskEmail('a@example.cn')).toBe('***@example.cn');
    expect(maskEmail('not an address')).toBe('***');
    expect(maskAttributeValue('Married')).toBe('***');
    expect(maskAttributeValue(88000)).toBeNull();
    expect(maskAttributeValue(true)).toBeNull();
  });

  it('an email mask depends only on the first character and the domain', () => {
    fc.assert(
      fc.property(first, rest, rest, domain, (f, a, b, d) => {
        const masked = maskEmail(`${f}${a}@${d}`);
        expect(masked).toBe(maskEmail(`${f}${b}@${d}`));
        expect(masked).toBe(`${f}***@${d}`);
        if (a.length > 1) expect(masked.slice(0, masked.indexOf('@'))).not.toContain(a);
      }),
      SEED,
    );
  });

  it('a phone mask keeps at most the first three and last four digits', () => {
    fc.assert(
      fc.property(digits(3, 3), digits(4, 8), digits(4, 8), digits(4, 4), (head, m1, m2, tail) => {
        const masked = maskPhone(head + m1 + tail);
        expect(masked).toBe(maskPhone(head + m2 + tail));
        expect(masked).toBe(`${head}****${tail}`);
      }),
      SEED,
    );
    fc.assert(
      fc.property(digits(5, 8), digits(5, 8), digits(2, 2), (m1, m2, tail) => {
        fc.pre(m1.length === m2.length);
        expect(maskPhone(m1 + tail)).toBe(maskPhone(m2 + tail));
      }),
      SEED,
    );
    fc.assert(
      fc.property(digits(0, 6), (short) => {
        expect(maskPhone(short)).toBe('****');
      }),
      SEED,
    );
  });

  it('a name mask is the first character and one star, whatever follows', () => {
    fc.assert(
      fc.property(first, rest, rest, (f, a, b) => {
        expect(maskName(f + a)).toBe(`${f}*`);
        expect(maskName(f + a)).toBe(maskName(f + b));
      }),
      SEED,
    );
  });

  it('personal traits never show their values; other traits are untouched', () => {
    const value = fc.oneof(fc.string(), fc.double({ noNaN: true }), fc.boolean());
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), value),
        fc.func(fc.boolean()),
        (attributes, isPersonal) => {
          const personal = new Set(Object.keys(attributes).filter((k) => isPersonal(k)));
          const masked = maskAttributes(attributes, personal);
          expect(Object.keys(masked)).toEqual(Object.keys(attributes));
          for (const [key, original] of Object.entries(attributes)) {
            if (personal.has(key)) {
              expect(masked[key]).toBe(typeof original === 'string' ? '***' : null);
            } else {
              expect(masked[key]).toBe(original);
            }
          }
        },
      ),
      SEED,
    );
  });
});
