import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportError } from '../../src/modules/import/import.errors.js';
import { parseMapping } from '../../src/modules/import/import.mapping.js';
import { importFile, type ImportOptions } from '../../src/modules/import/import.service.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const EVENT_HEADER =
  'externalId,customerExternalId,type,occurredAt,amount,currency,category,channel';

describe('file import', () => {
  let t: TestApp;
  let dir: string;
  let tax: Taxonomy;

  beforeAll(async () => {
    t = await createTestApp();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-import-'));
    tax = await createTaxonomy(t);
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function write(name: string, content: string | Buffer): Promise<string> {
    const file = path.join(dir, name);
    await fs.writeFile(file, content);
    return file;
  }

  const run = (options: ImportOptions) => importFile(t.app.orm, options);

  async function rejects(file: string): Promise<{ line: number; reason: string; raw: string }[]> {
    const text = await fs.readFile(`${file}.rejects.csv`, 'utf8');
    const { parse } = await import('csv-parse/sync');
    return (parse(text, { columns: true }) as Record<string, string>[]).map((r) => ({
      line: Number(r.line),
      reason: r.reason!,
      raw: r.raw!,
    }));
  }

  async function count(sql: string, params: unknown[] = []): Promise<number> {
    const [row] = await t.sql<{ n: number }>(`select count(*)::int as n from ${sql}`, params);
    return row!.n;
  }

  async function customer(externalId: string) {
    const [row] = await t.sql(
      `select name, email, birth_year as "birthYear", region, company_size as "companySize",
              attributes, updated_at::text as "updatedAt"
       from customer where external_id = ?`,
      [externalId],
    );
    return row;
  }

  async function seedCustomers(prefix: string, n: number): Promise<void> {
    const rows = Array.from({ length: n }, (_, i) => `${prefix}${i + 1},Person ${i + 1}`);
    const file = await write(`${prefix}customers.csv`, `externalId,name\n${rows.join('\n')}\n`);
    expect((await run({ kind: 'customers', file })).inserted).toBe(n);
  }

  describe('customers', () => {
    it('inserts, changes nothing on a second run, and updates only what changed', async () => {
      const csv = [
        'externalId,name,email,region,companySize,ignored',
        'c-1,Wang Wei,wei@example.cn,East China,800,x',
        'c-2,Li Na,,South China,,y',
      ].join('\n');
      const file = await write('customers.csv', csv);
      const first = await run({ kind: 'customers', file });
      expect(first).toMatchObject({
        rows: 2,
        inserted: 2,
        updated: 0,
        skipped: 0,
        rejected: 0,
        committed: true,
        rejectsFile: null,
        ignoredColumns: ['ignored'],
      });
      const before = await customer('c-1');
      const again = await run({ kind: 'customers', file });
      expect(again).toMatchObject({ inserted: 0, updated: 0, skipped: 2 });
      expect(await customer('c-1')).toEqual(before);

      // A blank cell is "no value": it keeps what is stored; a present value overwrites.
      const change = await write('customers-2.csv', 'externalId,region,email\nc-1,North China,\n');
      expect(await run({ kind: 'customers', file: change })).toMatchObject({
        inserted: 0,
        updated: 1,
      });
      expect(await customer('c-1')).toMatchObject({
        name: 'Wang Wei',
        email: 'wei@example.cn',
        region: 'North China',
        companySize: 800,
      });
    });

    it('merges attributes key by key from NDJSON, where null removes a key', async () => {
      const first = await write(
        'traits.ndjson',
        [
          '{"externalId":"n-1","name":"Zhao","attributes":{"income":5000,"vip":true}}',
          '',
          '{"externalId":"n-2","attributes":{"income":7000}}',
        ].join('\n'),
      );
      expect(await run({ kind: 'customers', file: first })).toMatchObject({ inserted: 2 });
      const second = await write(
        'traits-2.jsonl',
        '{"externalId":"n-1","email":null,"attributes":{"income":6000,"vip":null,"tier":"gold"}}\n',
      );
      expect(await run({ kind: 'customers', file: second })).toMatchObject({ updated: 1 });
      expect(await customer('n-1')).toMatchObject({
        name: 'Zhao',
        email: null,
        attributes: { income: 6000, tier: 'gold' },
      });
    });

    it('skips identical repeats of an externalId and rejects conflicting ones', async () => {
      const file = await write(
        'repeats.csv',
        'externalId,name\nr-1,Ann\nr-1,Ann\nr-2,Bo\nr-2,Bob\n',
      );
      const report = await run({ kind: 'customers', file, allowPartial: true });
      expect(report).toMatchObject({ inserted: 2, skipped: 1, rejected: 1 });
      expect(await rejects(file)).toEqual([
        {
          line: 5,
          reason: 'externalId "r-2" repeats line 4 with different values',
          raw: 'r-2,Bob',
        },
      ]);
    });
  });

  describe('formats', () => {
    it('reads a BOM, semicolons, and quoted fields holding delimiters, quotes and newlines', async () => {
      const csv =
        '\uFEFFexternalId;name;city\r\n' +
        'q-1;"Smith; John";"Line one\r\nline two"\r\n' +
        '\r\n' +
        'q-2;"Say ""hi""";Xi\'an\r\n' +
        'q-3;Wrong;field;count\r\n';
      const file = await write('quoted.csv', csv);
      const report = await run({ kind: 'customers', file, allowPartial: true });
      expect(report).toMatchObject({ delimiter: ';', inserted: 2, rejected: 1 });
      expect(await customer('q-1')).toMatchObject({ name: 'Smith; John' });
      expect(await customer('q-2')).toMatchObject({ name: 'Say "hi"' });
      const [row] = await t.sql(`select city from customer where external_id = 'q-1'`);
      expect(row!.city).toBe('Line one\r\nline two');
      // The quoted newline and the blank line still count: q-3 is on line 6.
      expect(await rejects(file)).toEqual([
        { line: 6, reason: 'expected 3 fields, got 4', raw: 'q-3;Wrong;field;count' },
      ]);
    });

    it('sniffs tabs and pipes, and takes the delimiter from the option or the mapping', async () => {
      const tab = await write('tab.tsv', 'externalId\tname\tregion\nt-1\tTab, Person\tWest\n');
      expect(await run({ kind: 'customers', file: tab })).toMatchObject({
        delimiter: '\t',
        inserted: 1,
      });
      expect(await customer('t-1')).toMatchObject({ name: 'Tab, Person', region: 'West' });

      const pipes = await write('pipes.txt', 'externalId|name\np-1|Pipe, Person\n');
      expect(await run({ kind: 'customers', file: pipes })).toMatchObject({ delimiter: '|' });

      // One column only: nothing to sniff, the mapping says.
      const semi = await write('one.csv', 'externalId\ns-1\n');
      const mapping = parseMapping({ delimiter: ';' });
      expect(await run({ kind: 'customers', file: semi, mapping })).toMatchObject({
        delimiter: ';',
        inserted: 1,
      });
    });
  });

  describe('rejects', () => {
    it('writes every bad row with its line and reason, and imports nothing by default', async () => {
      await seedCustomers('rj-', 2);
      const bad = Buffer.concat([
        Buffer.from(
          [
            EVENT_HEADER,
            'e-ok,rj-1,PURCHASE,2024-03-01T10:00:00Z,19.90,EUR,wine,STORE',
            'e-date,rj-1,PURCHASE,2024-02-30,5,,,',
            'e-neg,rj-1,PURCHASE,2024-03-01,-5,,,WEB',
            'e-who,nobody,PAGE_VIEW,2024-03-01,,,,WEB',
            'e-cols,rj-1,PAGE_VIEW',
            'e-num,rj-2,PURCHASE,2024-03-01,ten,,,',
            'e-type,rj-2,purchase,2024-03-01,,,,',
            'e-chan,rj-2,PAGE_VIEW,2024-03-01,,,,FAX',
            '',
          ].join('\n'),
        ),
        Buffer.from('e-utf,rj-2,PAGE_VIEW,2024-03-01,,,caf'),
        Buffer.from([0xe9]), // Latin-1 "é": not UTF-8
        Buffer.from(',WEB\n'),
        Buffer.from('e-ok2,rj-2,PAGE_VIEW,2024-03-02,,,,APP\n'),
      ]);
      const file = await write('bad-events.csv', bad);
      const report = await run({ kind: 'events', file });
      expect(report).toMatchObject({
        rows: 10,
        rejected: 8,
        inserted: 0,
        blocked: true,
        committed: false,
        rejectsFile: `${file}.rejects.csv`,
      });
      expect(
        await count(
          `event e join customer c on c.id = e.customer_id where c.external_id like 'rj-%'`,
        ),
      ).toBe(0);
      const rows = await rejects(file);
      expect(rows.map((r) => [r.line, r.reason])).toEqual([
        [3, 'occurredAt: "2024-02-30" is not a valid date (ISO 8601)'],
        [4, 'amount: a PURCHASE cannot be negative (-5)'],
        [5, 'unknown customer "nobody"'],
        [6, 'expected 8 fields, got 3'],
        [7, 'amount: "ten" is not a number'],
        [8, 'type: "purchase" is neither a built-in event type nor an UPPER_SNAKE custom name'],
        [
          9,
          'channel: "FAX" is not a channel (WEB, APP, STORE, CATALOG, EMAIL, EVENT, PHONE, OTHER)',
        ],
        [10, 'invalid UTF-8 bytes'],
      ]);
      expect(rows[1]!.raw).toBe('e-neg,rj-1,PURCHASE,2024-03-01,-5,,,WEB');

      const partial = await run({ kind: 'events', file, allowPartial: true });
      expect(partial).toMatchObject({ inserted: 2, rejected: 8, committed: true });
      const [stored] = await t.sql(
        `select type, amount::text, currency, category, channel,
                occurred_at = '2024-03-01T10:00:00Z' as at
         from event where external_id = 'e-ok'`,
      );
      expect(stored).toEqual({
        type: 'PURCHASE',
        amount: '19.90',
        currency: 'EUR',
        category: 'wine',
        channel: 'STORE',
        at: true,
      });
    });

    it('rejects malformed NDJSON lines and keeps the rest', async () => {
      await seedCustomers('nj-', 1);
      const file = await write(
        'events.ndjson',
        [
          '{"customerExternalId":"nj-1","type":"EMAIL_OPEN","occurredAt":"2024-05-01T08:00:00+08:00"}',
          '{"customerExternalId":"nj-1","type":"EMAIL_OPEN",',
          '[1,2]',
          '',
          '{"customerExternalId":"nj-1","type":"PURCHASE","occurredAt":"2024-05-02","amount":12.5,"properties":{"sku":"A1"}}',
        ].join('\n'),
      );
      const report = await run({ kind: 'events', file, allowPartial: true });
      expect(report).toMatchObject({ format: 'ndjson', rows: 4, inserted: 2, rejected: 2 });
      const rows = await rejects(file);
      expect(rows.map((r) => r.line)).toEqual([2, 3]);
      expect(rows[0]!.reason).toMatch(/^malformed JSON: /);
      expect(rows[1]!.reason).toBe('expected a JSON object');
      const stored = await t.sql(
        `select type, occurred_at = '2024-05-01T00:00:00Z'::timestamptz as utc, properties
         from event e join customer c on c.id = e.customer_id where c.external_id = 'nj-1'
         order by occurred_at`,
      );
      expect(stored).toEqual([
        { type: 'EMAIL_OPEN', utc: true, properties: {} },
        { type: 'PURCHASE', utc: false, properties: { sku: 'A1' } },
      ]);
    });

    it('rejects NDJSON lines spelling unstorable text or nesting without bound', async () => {
      await seedCustomers('ns-', 1);
      const deep = `${'{"a":'.repeat(150)}1${'}'.repeat(150)}`;
      const file = await write(
        'hostile.ndjson',
        [
          '{"customerExternalId":"ns-1","type":"EMAIL_OPEN","occurredAt":"2024-05-01"}',
          '{"customerExternalId":"ns-1","type":"EMAIL_OPEN","occurredAt":"2024-05-02","properties":{"x":"\\ud800"}}',
          `{"customerExternalId":"ns-1","type":"EMAIL_OPEN","occurredAt":"2024-05-03","properties":${deep}}`,
        ].join('\n'),
      );
      const report = await run({ kind: 'events', file, allowPartial: true });
      expect(report).toMatchObject({ rows: 3, inserted: 1, rejected: 2 });
      const rows = await rejects(file);
      expect(rows.map((r) => r.line)).toEqual([2, 3]);
      expect(rows[0]!.reason).toMatch(/unpaired UTF-16 surrogates at properties\.x$/);
      expect(rows[1]!.reason).toMatch(/^nested deeper than 100 levels at properties/);
    });

    it('removes a stale rejects file once the file imports cleanly', async () => {
      const file = await write('fixed.csv', 'externalId,birthYear\nf-1,1850\n');
      expect((await run({ kind: 'customers', file })).rejected).toBe(1);
      await write('fixed.csv', 'externalId,birthYear\nf-1,1950\n');
      expect((await run({ kind: 'customers', file })).rejected).toBe(0);
      await expect(fs.access(`${file}.rejects.csv`)).rejects.toThrow();
    });
  });

  describe('events', () => {
    it('is idempotent, derives ids for events without one, and skips repeats in the file', async () => {
      await seedCustomers('ev-', 3);
      const csv = [
        EVENT_HEADER,
        'x-1,ev-1,PURCHASE,2024-01-05T12:00:00Z,100,CNY,wine,STORE',
        'x-1,ev-2,PURCHASE,2024-01-06T12:00:00Z,5,CNY,meat,WEB',
        ',ev-2,PAGE_VIEW,2024-01-07T09:30:00Z,,,,WEB',
        ',ev-2,PAGE_VIEW,2024-01-07T09:30:00.000+00:00,,,,WEB',
        ',ev-3,MY_CUSTOM_EVENT,2024-01-08,0,,,',
      ].join('\n');
      const file = await write('events.csv', csv);
      const dry = await run({ kind: 'events', file, dryRun: true });
      expect(dry).toMatchObject({ inserted: 3, skipped: 2, committed: false });
      expect(await count(`event where external_id = 'x-1'`)).toBe(0);

      expect(await run({ kind: 'events', file })).toMatchObject({ inserted: 3, skipped: 2 });
      expect(await run({ kind: 'events', file })).toMatchObject({
        inserted: 0,
        updated: 0,
        skipped: 5,
      });
      const stored = await t.sql<{ external_id: string; customer: string }>(
        `select e.external_id, c.external_id as customer from event e
         join customer c on c.id = e.customer_id where c.external_id like 'ev-%' order by e.occurred_at`,
      );
      expect(stored.map((r) => r.customer)).toEqual(['ev-1', 'ev-2', 'ev-3']);
      expect(stored[0]!.external_id).toBe('x-1');
      expect(stored[1]!.external_id).toMatch(/^import:[0-9a-f]{32}$/);
    });

    it('reads dates in a mapped format and maps foreign column names', async () => {
      await seedCustomers('fm-', 1);
      const file = await write(
        'foreign.csv',
        'Kunde;Art;Datum;Betrag\nfm-1;Kauf;31.12.2023 23:59;12.5\nfm-1;Besuch;01.01.2024 08:00;\n',
      );
      const mapping = parseMapping({
        fields: {
          customerExternalId: 'Kunde',
          type: { column: 'Art', values: { Kauf: 'PURCHASE', Besuch: 'PAGE_VIEW' } },
          occurredAt: { column: 'Datum', format: 'DD.MM.YYYY HH:mm' },
          amount: 'Betrag',
        },
      });
      expect(await run({ kind: 'events', file, mapping })).toMatchObject({ inserted: 2 });
      const rows = await t.sql(
        `select type, amount::float as amount, occurred_at = '2023-12-31T23:59:00Z' as at
         from event e join customer c on c.id = e.customer_id where c.external_id = 'fm-1'
         order by occurred_at`,
      );
      expect(rows).toEqual([
        { type: 'PURCHASE', amount: 12.5, at: true },
        { type: 'PAGE_VIEW', amount: null, at: false },
      ]);
    });
  });

  describe('mapping', () => {
    it('converts types, date formats, value maps and a name template', async () => {
      await t.sql(`insert into customer (external_id, name) values ('m-2', 'Named Already')`);
      const file = await write(
        'mapped.csv',
        [
          'Id,Joined,Score,Member,Kids,Tier,Born',
          'm-1,04-09-2012,7.5,yes,2,G,1980',
          'm-2,29-02-2016,,no,0,S,1890',
          'm-3,01-01-2020,1,1,1,X,',
        ].join('\n'),
      );
      const mapping = parseMapping({
        fields: {
          externalId: 'Id',
          name: { template: 'Customer {Id}' },
          birthYear: { column: 'Born', onInvalid: 'omit' },
        },
        attributes: {
          enrolled_at: { column: 'Joined', type: 'date', format: 'DD-MM-YYYY' },
          score: { column: 'Score', type: 'number' },
          member: { column: 'Member', type: 'boolean' },
          kids: { column: 'Kids', type: 'integer' },
          tier: { column: 'Tier', values: { G: 'gold', S: 'silver', X: null } },
        },
      });
      const report = await run({ kind: 'customers', file, mapping });
      expect(report).toMatchObject({
        rows: 3,
        inserted: 1,
        updated: 1,
        skipped: 1,
        omittedValues: 1,
      });
      expect(await customer('m-1')).toMatchObject({
        name: 'Customer m-1',
        birthYear: 1980,
        attributes: { enrolled_at: '2012-09-04', score: 7.5, member: true, kids: 2, tier: 'gold' },
      });
      // The template fills empty names only; the bad birth year was left out, not rejected.
      expect(await customer('m-2')).toMatchObject({
        name: 'Named Already',
        birthYear: null,
        attributes: { enrolled_at: '2016-02-29', member: false, kids: 0, tier: 'silver' },
      });
      expect(await customer('m-3')).toBeUndefined();
    });

    it('names the problem in one line when the mapping or file does not fit', async () => {
      const file = await write('plain.csv', 'Id,Name\nz-1,Zed\n');
      await expect(run({ kind: 'customers', file })).rejects.toThrow(
        /plain\.csv has no column "externalId" and the mapping does not say where externalId comes from/,
      );
      await expect(
        run({ kind: 'customers', file, mapping: parseMapping({ fields: { externalId: 'ID' } }) }),
      ).rejects.toThrow(/plain\.csv has no column "ID" \(needed for externalId\)/);
      expect(() => parseMapping({ fields: { externalId: { type: 'date' } } })).toThrow(
        'mapping: fields.externalId: give a column or a template',
      );
      expect(() => parseMapping({ attributes: { a: { column: 'x', type: 'decimal' } } })).toThrow(
        ImportError,
      );
      await expect(
        run({ kind: 'events', file, mapping: parseMapping({ attributes: { a: 'Name' } }) }),
      ).rejects.toThrow('mapping: "attributes" does not apply to events');
      await expect(run({ kind: 'customers', file: path.join(dir, 'missing.csv') })).rejects.toThrow(
        /missing\.csv: no such file/,
      );
    });
  });

  describe('nothing dropped silently', () => {
    it('reports NDJSON fields nothing imports, with the records holding each', async () => {
      const file = await write(
        'fields.ndjson',
        [
          '{"externalId":"nf-1","name":"Ann","nickname":"An","score":3}',
          '{"externalId":"nf-2","nickname":"Bo","attributes":{"tier":"gold"}}',
          'not json',
          '{"externalId":"nf-3","_row":7}',
        ].join('\n'),
      );
      const report = await run({ kind: 'customers', file, allowPartial: true });
      expect(report).toMatchObject({ inserted: 3, rejected: 1, ignoredFieldsUntracked: 0 });
      expect(report.ignoredFields).toEqual([
        { name: 'nickname', records: 2 },
        ...[
          { name: '_row', records: 1 },
          { name: 'score', records: 1 },
        ].sort((a, b) => a.name.localeCompare(b.name)),
      ]);
      expect(await customer('nf-2')).toMatchObject({ attributes: { tier: 'gold' } });

      // A typed attributes section reads top-level keys: the nested object is then not imported.
      const typed = await run({
        kind: 'customers',
        file,
        allowPartial: true,
        mapping: parseMapping({ attributes: { nickname: 'nickname' } }),
      });
      expect(typed.ignoredFields.map((f) => f.name).sort()).toEqual(
        ['_row', 'attributes', 'score'].sort(),
      );
    });

    it('tracks at most 100 field names, counting records with further ones', async () => {
      const lines = Array.from({ length: 105 }, (_, i) =>
        JSON.stringify({ externalId: `nm-${i}`, [`k${i}`]: i }),
      );
      const file = await write('many.ndjson', lines.join('\n'));
      const report = await run({ kind: 'customers', file, dryRun: true });
      expect(report.ignoredFields).toHaveLength(100);
      expect(report.ignoredFieldsUntracked).toBe(5);
    });

    it('numbers rows for a file without ids, the same numbers on every import', async () => {
      const file = await write(
        'no-ids.csv',
        'name,email\nAnn,ann@example.com\n\nBob,\n,cy@example.com\n',
      );
      const mapping = parseMapping({ fields: { externalId: { template: 'rn-{_row}' } } });
      expect(await run({ kind: 'customers', file, mapping })).toMatchObject({ inserted: 3 });
      const stored = await t.sql(
        `select external_id as id, name, email from customer where external_id like 'rn-%' order by 1`,
      );
      // The blank line is not a row, so Bob is row 2.
      expect(stored).toEqual([
        { id: 'rn-1', name: 'Ann', email: 'ann@example.com' },
        { id: 'rn-2', name: 'Bob', email: null },
        { id: 'rn-3', name: '', email: 'cy@example.com' },
      ]);
      expect(await run({ kind: 'customers', file, mapping })).toMatchObject({
        inserted: 0,
        updated: 0,
        skipped: 3,
      });

      // A column wins where it has a value; the row number fills in where it is blank.
      const mixed = await write('some-ids.csv', 'ID,name\nrx-a,Dee\n,Eve\n');
      const fallback = parseMapping({
        fields: { externalId: { column: 'ID', template: 'rx-{_row}' } },
      });
      expect(await run({ kind: 'customers', file: mixed, mapping: fallback })).toMatchObject({
        inserted: 2,
      });
      expect(await customer('rx-a')).toMatchObject({ name: 'Dee' });
      expect(await customer('rx-2')).toMatchObject({ name: 'Eve' });

      // NDJSON: "_row" names the number wherever a column could be named.
      const nd = await write('no-ids.ndjson', '{"name":"Fay"}\n{"name":"Gus"}\n');
      const direct = parseMapping({ fields: { externalId: '_row', name: 'name' } });
      expect(await run({ kind: 'customers', file: nd, mapping: direct })).toMatchObject({
        inserted: 2,
        ignoredFields: [],
      });
      expect(await customer('2')).toMatchObject({ name: 'Gus' });
    });

    it('names the mapping entry when a row number cannot be read, or is needed', async () => {
      const clash = await write('clash.csv', '_row,name\n1,Hal\n');
      const mapping = parseMapping({ fields: { externalId: { template: 'r-{_row}' } } });
      await expect(run({ kind: 'customers', file: clash, mapping })).rejects.toMatchObject({
        field: 'mapping.fields.externalId.template',
        message: expect.stringContaining(
          '"_row" is the row number, but clash.csv also has a column "_row"',
        ),
      });
      const noIds = await write('names.csv', 'name\nIvy\n');
      await expect(run({ kind: 'customers', file: noIds })).rejects.toMatchObject({
        field: 'mapping.fields.externalId',
        message: expect.stringContaining('"externalId": { "template": "row-{_row}" }'),
      });
      await expect(
        run({
          kind: 'customers',
          file: noIds,
          mapping: parseMapping({ fields: { externalId: { template: 'x-{Id}' } } }),
        }),
      ).rejects.toMatchObject({ field: 'mapping.fields.externalId.template' });
    });
  });

  describe('firstSeenAt', () => {
    it('imports a mapped date, rejects bad and future ones, and reads back over GraphQL', async () => {
      const file = await write(
        'first-seen.csv',
        ['ID,Joined', 'fs-1,04-09-2012', 'fs-2,31-02-2013', 'fs-3,01-01-2999', 'fs-4,'].join('\n'),
      );
      const mapping = parseMapping({
        fields: { externalId: 'ID', firstSeenAt: { column: 'Joined', format: 'DD-MM-YYYY' } },
      });
      const report = await run({ kind: 'customers', file, mapping, allowPartial: true });
      expect(report).toMatchObject({ inserted: 2, rejected: 2 });
      expect((await rejects(file)).map((r) => [r.line, r.reason])).toEqual([
        [3, 'firstSeenAt: "31-02-2013" is not a valid date (DD-MM-YYYY)'],
        [4, 'firstSeenAt: lies in the future'],
      ]);
      expect(await run({ kind: 'customers', file, mapping, allowPartial: true })).toMatchObject({
        inserted: 0,
        updated: 0,
        skipped: 2,
      });

      const ids = await t.sql<{ id: string }>(
        `select id from customer where external_id in ('fs-1', 'fs-4') order by external_id`,
      );
      const read = (id: string) =>
        t.ok(`query($id: ID!) { customer(id: $id) { externalId firstSeenAt } }`, { id });
      expect(await read(ids[0]!.id)).toEqual({
        customer: { externalId: 'fs-1', firstSeenAt: '2012-09-04T00:00:00.000Z' },
      });
      expect(await read(ids[1]!.id)).toEqual({
        customer: { externalId: 'fs-4', firstSeenAt: null },
      });

      // A timestamp with an offset is stored as the instant it names.
      const precise = await write(
        'first-seen-2.csv',
        'externalId,firstSeenAt\nfs-1,2012-09-04T08:30:00+08:00\n',
      );
      expect(await run({ kind: 'customers', file: precise })).toMatchObject({ updated: 1 });
      expect(await read(ids[0]!.id)).toMatchObject({
        customer: { firstSeenAt: '2012-09-04T00:30:00.000Z' },
      });
    });

    it('is set by upsertCustomers: omitted keeps, null clears, out of range is refused', async () => {
      const upsert = (input: Record<string, unknown>[]) =>
        t.gql(
          `mutation($input: [CustomerInput!]!) { upsertCustomers(input: $input) { created updated unchanged } }`,
          {
            input,
          },
        );
      const stored = async () => {
        const [row] = await t.sql<{ at: string | null }>(
          `select to_char(first_seen_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') as at
           from customer where external_id = 'fg-1'`,
        );
        return row!.at;
      };
      expect(
        (await upsert([{ externalId: 'fg-1', firstSeenAt: '2020-05-06T07:08:09Z' }])).data,
      ).toEqual({ upsertCustomers: { created: 1, updated: 0, unchanged: 0 } });
      expect(await stored()).toBe('2020-05-06T07:08:09');
      expect((await upsert([{ externalId: 'fg-1', name: 'Fig' }])).data).toMatchObject({
        upsertCustomers: { updated: 1 },
      });
      expect(await stored()).toBe('2020-05-06T07:08:09');
      expect(
        (await upsert([{ externalId: 'fg-1', firstSeenAt: '2020-05-06T09:08:09+02:00' }])).data,
      ).toMatchObject({ upsertCustomers: { unchanged: 1 } });

      for (const [value, message] of [
        ['2999-01-01T00:00:00Z', 'input[0].firstSeenAt lies in the future'],
        ['0500-01-01T00:00:00Z', 'input[0].firstSeenAt: must be in the year 1000 or later'],
      ]) {
        const refused = await upsert([{ externalId: 'fg-1', firstSeenAt: value }]);
        expect(errorOf(refused)).toEqual({
          code: 'BAD_USER_INPUT',
          field: 'input[0].firstSeenAt',
          message,
        });
      }
      const garbage = await upsert([
        { externalId: 'fg-1', firstSeenAt: `x\u0000${'9'.repeat(100_000)}` },
      ]);
      expect(errorOf(garbage).code).toBe('BAD_USER_INPUT');

      expect((await upsert([{ externalId: 'fg-1', firstSeenAt: null }])).data).toMatchObject({
        upsertCustomers: { updated: 1 },
      });
      expect(await stored()).toBeNull();
    });
  });

  describe('tags', () => {
    it('applies tags idempotently, replaces held exclusive tags and writes history', async () => {
      await seedCustomers('tg-', 3);
      const held = await write('held.csv', 'customerExternalId,tag\ntg-1,low-value\n');
      expect(await run({ kind: 'tags', file: held })).toMatchObject({ inserted: 1 });

      const file = await write(
        'tags.csv',
        [
          'customerExternalId,tag,note',
          'tg-1,High Value,upgraded',
          'tg-1,reader,',
          'tg-2,high-value,',
          'tg-2,low-value,',
          'tg-2,high-value,',
          'tg-3,wine-lover,',
        ].join('\n'),
      );
      const report = await run({ kind: 'tags', file, allowPartial: true });
      expect(report).toMatchObject({ inserted: 4, replaced: 1, rejected: 1, skipped: 1 });
      expect((await rejects(file)).map((r) => [r.line, r.reason])).toEqual([
        [
          5,
          'tag "low-value" conflicts with "high-value" on line 4: category "value-tier" is exclusive (one tag per customer)',
        ],
      ]);
      const tags = await t.sql(
        `select c.external_id as customer, t.key, ct.source, ct.applied_by as "appliedBy", ct.note
         from customer_tag ct join customer c on c.id = ct.customer_id join tag t on t.id = ct.tag_id
         where c.external_id like 'tg-%' order by 1, 2`,
      );
      expect(tags).toEqual([
        {
          customer: 'tg-1',
          key: 'high-value',
          source: 'IMPORT',
          appliedBy: 'import:tags.csv',
          note: 'upgraded',
        },
        {
          customer: 'tg-1',
          key: 'reader',
          source: 'IMPORT',
          appliedBy: 'import:tags.csv',
          note: null,
        },
        {
          customer: 'tg-2',
          key: 'high-value',
          source: 'IMPORT',
          appliedBy: 'import:tags.csv',
          note: null,
        },
        {
          customer: 'tg-3',
          key: 'wine-lover',
          source: 'IMPORT',
          appliedBy: 'import:tags.csv',
          note: null,
        },
      ]);
      const history = await t.sql(
        `select h.action, t.key, r.key as related, h.actor, h.before->>'appliedBy' as "before",
                h.after->>'source' as "after"
         from tag_history h join customer c on c.id = h.customer_id join tag t on t.id = h.tag_id
         left join tag r on r.id = h.related_tag_id
         where c.external_id = 'tg-1' order by h.id`,
      );
      expect(history).toEqual([
        {
          action: 'APPLIED',
          key: 'low-value',
          related: null,
          actor: 'import:held.csv',
          before: null,
          after: 'IMPORT',
        },
        {
          action: 'REPLACED',
          key: 'low-value',
          related: 'high-value',
          actor: 'import:tags.csv',
          before: 'import:held.csv',
          after: null,
        },
        {
          action: 'APPLIED',
          key: 'high-value',
          related: null,
          actor: 'import:tags.csv',
          before: null,
          after: 'IMPORT',
        },
        {
          action: 'APPLIED',
          key: 'reader',
          related: null,
          actor: 'import:tags.csv',
          before: null,
          after: 'IMPORT',
        },
      ]);

      const historyRows = await count('tag_history');
      expect(await run({ kind: 'tags', file, allowPartial: true })).toMatchObject({
        inserted: 0,
        updated: 0,
        replaced: 0,
      });
      expect(await count('tag_history')).toBe(historyRows);
    });

    it('rejects unknown customers, unknown and deprecated tags', async () => {
      await seedCustomers('tu-', 1);
      await t.sql(`update tag set status = 'DEPRECATED' where id = ?`, [
        tax.tags['event-attendee'],
      ]);
      const file = await write(
        'tags-bad.csv',
        'customerExternalId,tag\nghost,reader\ntu-1,no-such-tag\ntu-1,event-attendee\ntu-1,frequent-buyer\n',
      );
      expect(await run({ kind: 'tags', file })).toMatchObject({
        rejected: 3,
        inserted: 0,
        blocked: true,
      });
      expect((await rejects(file)).map((r) => r.reason)).toEqual([
        'unknown customer "ghost"',
        'unknown tag "no-such-tag"',
        'tag "event-attendee" is deprecated',
      ]);
      expect(
        await count(
          `customer_tag ct join customer c on c.id = ct.customer_id where c.external_id = 'tu-1'`,
        ),
      ).toBe(0);
    });
  });

  it('runs from the command line and exits 1 when rows are rejected', async () => {
    const file = await write('cli.csv', 'externalId,birthYear\ncli-1,1980\ncli-2,nineteen\n');
    const cli = (...args: string[]) =>
      promisify(execFile)('node', [path.join(ROOT, 'bin/tagwise.js'), ...args], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'silent' },
      });
    const failed = await cli('import', 'customers', file).catch((e: any) => e);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/1 of 2 rows rejected, so nothing was imported/);
    const ok = await cli('import', 'customers', file, '--allow-partial');
    expect(ok.stdout).toMatch(/inserted 1, updated 0, skipped 0, rejected 1/);
    expect(await count(`customer where external_id like 'cli-%'`)).toBe(1);
  });
});
