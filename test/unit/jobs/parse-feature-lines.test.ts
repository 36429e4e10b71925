import { describe, expect, it } from 'vitest';
import { parseFeatureLines } from '../../../src/jobs/scoring/scorer.js';

const encode = (text: string) => new TextEncoder().encode(text);

describe('parseFeatureLines', () => {
  it('reads COPY text lines of customer ids and feature JSON, non-ASCII and escapes included', () => {
    // jsonb prints a quote as \" and a tab as \t; COPY text then doubles every backslash.
    const copy =
      '7\t{"region": "华东", "spend_365d": 1523.35}\n' +
      '12\t{"note": "a\\\\"b\\\\\\\\c", "tab": "x\\\\ty"}\n' +
      '13\t{}';
    const batch = parseFeatureLines(encode(copy));
    expect(batch.customerIds).toEqual(['7', '12', '13']);
    expect(batch.rows).toEqual([
      { region: '华东', spend_365d: 1523.35 },
      { note: 'a"b\\c', tab: 'x\ty' },
      {},
    ]);
  });

  it('reads a batch that is a slice of a larger buffer, as a transferred task is', () => {
    const whole = encode('xx1\t{"a": 1}\n2\t{"a": 2}\nyy');
    const batch = parseFeatureLines(whole.subarray(2, whole.length - 2));
    expect(batch.customerIds).toEqual(['1', '2']);
    expect(batch.rows).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('refuses a line without a customer id column', () => {
    expect(() => parseFeatureLines(encode('1\t{"a": 1}\n{"a": 2}\n'))).toThrow(
      /malformed feature line: \{"a": 2\}/,
    );
  });
});
