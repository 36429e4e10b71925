import { describe, expect, it } from 'vitest';
import {
  DateFormat,
  Invalid,
  parseDelimiter,
  parseMapping,
  toBoolean,
  toNumber,
} from '../../../src/modules/import/import.mapping.js';
import { sniffDelimiter } from '../../../src/modules/import/import.source.js';

describe('DateFormat', () => {
  it('reads ISO 8601 dates and timestamps; no offset means UTC', () => {
    const iso = new DateFormat(undefined);
    expect(iso.toMillis('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    expect(iso.toMillis('2024-03-01T10:00:00Z')).toBe(Date.UTC(2024, 2, 1, 10));
    expect(iso.toMillis('2024-03-01 10:00:00.25+08:00')).toBe(Date.UTC(2024, 2, 1, 2, 0, 0, 250));
    expect(iso.toMillis('2024-03-01T10:00-0130')).toBe(Date.UTC(2024, 2, 1, 11, 30));
    expect(iso.toIso('2012-09-04')).toBe('2012-09-04');
    expect(iso.toIso('2012-09-04T01:02:03+02:00')).toBe('2012-09-03T23:02:03.000Z');
  });

  it.each([
    '2023-02-29',
    '2024-13-01',
    '2024-04-31',
    '2024-01-01T24:00',
    '04-09-2012',
    '0999-01-01',
  ])('rejects %s', (text) => {
    expect(new DateFormat(undefined).toMillis(text)).toBeNaN();
    expect(new DateFormat(undefined).toIso(text)).toBeUndefined();
  });

  it('compiles layouts such as DD-MM-YYYY and D/M/YYYY HH:mm', () => {
    expect(new DateFormat('DD-MM-YYYY').toIso('04-09-2012')).toBe('2012-09-04');
    expect(new DateFormat('DD-MM-YYYY').toIso('31-04-2012')).toBeUndefined();
    expect(new DateFormat('D/M/YYYY HH:mm').toMillis('4/9/2012 07:05')).toBe(
      Date.UTC(2012, 8, 4, 7, 5),
    );
    expect(new DateFormat('YYYY.MM.DD').toMillis('2012x09x04')).toBeNaN();
    expect(() => new DateFormat('MM-YYYY')).toThrow('needs YYYY, MM and DD');
  });
});

describe('value conversion', () => {
  it('reads numbers and booleans strictly', () => {
    expect(toNumber('-1.5e3')).toBe(-1500);
    expect(toNumber(' 1')).toBeInstanceOf(Invalid);
    expect(toNumber('0x10')).toBeInstanceOf(Invalid);
    expect(toNumber('1,5')).toBeInstanceOf(Invalid);
    expect([toBoolean('Yes'), toBoolean('0'), toBoolean(false)]).toEqual([true, false, false]);
    expect(toBoolean('maybe')).toBeInstanceOf(Invalid);
  });
});

describe('delimiters', () => {
  it('sniffs the most frequent candidate on the header line, outside quotes', () => {
    expect(sniffDelimiter(Buffer.from('a;b;c\n1,2;3;4'))).toBe(';');
    expect(sniffDelimiter(Buffer.from('a\tb\tc'))).toBe('\t');
    expect(sniffDelimiter(Buffer.from('"a;b";c|d|e\n'))).toBe('|');
    expect(sniffDelimiter(Buffer.from('single\n'))).toBe(',');
  });

  it('accepts one character or "tab"', () => {
    expect(parseDelimiter('tab')).toBe('\t');
    expect(() => parseDelimiter(';;')).toThrow('delimiter must be one character');
  });
});

describe('parseMapping', () => {
  it('normalizes shorthand columns and taxonomy keys', () => {
    const mapping = parseMapping({
      fields: { externalId: 'ID' },
      taxonomy: {
        categories: [{ key: 'Campaign Response', name: 'Campaign response', kind: 'BEHAVIOUR' }],
        tags: [{ key: 'Responder', name: 'Responder', category: 'campaign response' }],
      },
    });
    expect(mapping.fields.externalId).toEqual({ column: 'ID' });
    expect(mapping.taxonomy!.categories[0]).toMatchObject({
      key: 'campaign-response',
      exclusive: false,
    });
    expect(mapping.taxonomy!.tags[0]).toMatchObject({
      key: 'responder',
      category: 'campaign-response',
    });
  });

  it('names the offending path in one line', () => {
    expect(() => parseMapping({ fields: { a: { column: 'x', type: 'text' } } })).toThrow(
      /^mapping: fields\.a/,
    );
    expect(() => parseMapping({ taxonomy: { tags: [{ key: 'a', name: 'A' }] } })).toThrow(
      /^mapping: taxonomy\.tags\[0\]\.category/,
    );
    expect(() => parseMapping({ extra: 1 })).toThrow(/^mapping: Unrecognized key/);
  });

  it('marks attributes personal, and only attributes', () => {
    expect(
      parseMapping({ attributes: { income: { column: 'Income', personal: true } } }).attributes,
    ).toEqual({ income: { column: 'Income', personal: true } });
    expect(() => parseMapping({ fields: { name: { column: 'Name', personal: true } } })).toThrow(
      /^mapping: fields\.name\.personal: only attributes are marked personal/,
    );
  });
});
