import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportError } from '../../src/modules/import/import.errors.js';
import { parseMapping } from '../../src/modules/import/import.mapping.js';
import { importFile, type ImportOptions } from '../../src/modules/import/import.service.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { createTaxonomy, type Taxonomy } from '../support/fixtures.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/**
 * Tag imports that state negatives (`--complete`, `"complete": true`): what tag_negative holds
 * afterwards, row by row, in a database of their own so no other test's negatives mix in.
 */
describe('complete tag imports', () => {
  let t: TestApp;
  let dir: string;
  let tax: Taxonomy;

  beforeAll(async () => {
    t = await createTestApp();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-complete-'));
    tax = await createTaxonomy(t);
    // A deprecated tag of a touched category: nobody can be given it, so it gets no negatives.
    await t.sql(
      `insert into tag (key, name, category_id, status) values ('old-value', 'old-value', ?, 'DEPRECATED')`,
      [tax.categories['value-tier']],
    );
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  async function write(name: string, content: string): Promise<string> {
    const file = path.join(dir, name);
    await fs.writeFile(file, content);
    return file;
  }

  const run = (options: ImportOptions) => importFile(t.app.orm, options);

  async function seedCustomers(...ids: string[]): Promise<void> {
    const file = await write(`${ids[0]}-customers.csv`, `externalId\n${ids.join('\n')}\n`);
    expect((await run({ kind: 'customers', file })).inserted).toBe(ids.length);
  }

  /** `customer tag source actor` per negative of customers whose externalId starts with prefix. */
  async function negatives(prefix: string): Promise<string[]> {
    const rows = await t.sql<{ line: string }>(
      `select concat_ws(' ', c.external_id, t.key, n.source, n.actor) as line
       from tag_negative n join customer c on c.id = n.customer_id join tag t on t.id = n.tag_id
       where c.external_id like ? order by c.external_id, t.key`,
      [`${prefix}%`],
    );
    return rows.map((r) => r.line);
  }

  async function holdings(prefix: string): Promise<string[]> {
    const rows = await t.sql<{ line: string }>(
      `select c.external_id || ' ' || t.key as line
       from customer_tag ct join customer c on c.id = ct.customer_id join tag t on t.id = ct.tag_id
       where c.external_id like ? order by 1`,
      [`${prefix}%`],
    );
    return rows.map((r) => r.line);
  }

  async function addNegative(customer: string, tag: string, source: string, actor: string) {
    await t.sql(
      `insert into tag_negative (customer_id, tag_id, source, actor)
       select c.id, t.id, ?, ? from customer c, tag t where c.external_id = ? and t.key = ?`,
      [source, actor, customer, tag],
    );
  }

  it('--complete gives listed customers a negative for every other tag of the touched categories', async () => {
    await seedCustomers('ck-1', 'ck-2', 'ck-3', 'ck-4');
    // What an earlier file said: ck-1 lacks wine-lover (this file contradicts it), ck-2 lacks
    // meat-lover (this file agrees; the stored row is kept as it is), and a reviewer's verdict.
    await addNegative('ck-1', 'wine-lover', 'IMPORT', 'import:old.csv');
    await addNegative('ck-2', 'meat-lover', 'IMPORT', 'import:old.csv');
    await addNegative('ck-3', 'normal-value', 'REVIEW', 'reviewer');
    const before = await negatives('ck-');

    const file = await write(
      'complete.csv',
      [
        'customerExternalId,tag',
        'ck-1,wine-lover',
        'ck-1,high-value',
        'ck-2,-',
        'ck-3,normal-value',
      ].join('\n'),
    );
    const mapping = parseMapping({ fields: { tag: { column: 'tag', values: { '-': null } } } });
    const options: ImportOptions = { kind: 'tags', file, mapping, complete: true };

    const dry = await run({ ...options, dryRun: true });
    expect(dry).toMatchObject({
      inserted: 3,
      skipped: 1,
      committed: false,
      negativesRemoved: 1,
      complete: { categories: ['food', 'value-tier'], customers: 3, negatives: 11 },
    });
    expect(await negatives('ck-')).toEqual(before);
    expect(await holdings('ck-')).toEqual([]);

    const report = await run(options);
    expect(report).toMatchObject({
      inserted: 3,
      skipped: 1,
      rejected: 0,
      committed: true,
      negativesRemoved: 1,
      complete: { categories: ['food', 'value-tier'], customers: 3, negatives: 11 },
    });
    const actor = 'import:complete.csv';
    // Touched: food (wine-lover, meat-lover) and value-tier (high, normal, low; old-value is
    // deprecated). Not touched: interest (reader) and behaviour. ck-4 is not in the file.
    expect(await negatives('ck-')).toEqual([
      `ck-1 low-value IMPORT ${actor}`,
      `ck-1 meat-lover IMPORT ${actor}`,
      `ck-1 normal-value IMPORT ${actor}`,
      `ck-2 high-value IMPORT ${actor}`,
      `ck-2 low-value IMPORT ${actor}`,
      'ck-2 meat-lover IMPORT import:old.csv',
      `ck-2 normal-value IMPORT ${actor}`,
      `ck-2 wine-lover IMPORT ${actor}`,
      `ck-3 high-value IMPORT ${actor}`,
      `ck-3 low-value IMPORT ${actor}`,
      `ck-3 meat-lover IMPORT ${actor}`,
      'ck-3 normal-value REVIEW reviewer',
      `ck-3 wine-lover IMPORT ${actor}`,
    ]);
    expect(await holdings('ck-')).toEqual([
      'ck-1 high-value',
      'ck-1 wine-lover',
      'ck-3 normal-value',
    ]);

    const after = await negatives('ck-');
    expect(await run(options)).toMatchObject({
      inserted: 0,
      negativesRemoved: 0,
      complete: { categories: ['food', 'value-tier'], customers: 3, negatives: 0 },
    });
    expect(await negatives('ck-')).toEqual(after);
  });

  it('"complete": true in the mapping counts tags the mapping names as touched', async () => {
    await seedCustomers('cm-1', 'cm-2', 'cm-3', 'cm-4', 'cm-5');
    const tagMapping = (complete: boolean) =>
      parseMapping({
        ...(complete ? { complete: true } : {}),
        fields: {
          customerExternalId: 'ID',
          tag: { column: 'Response', values: { '1': 'campaign-responder', '0': null } },
        },
        taxonomy: {
          categories: [{ key: 'campaign-response', name: 'Campaign response', kind: 'BEHAVIOUR' }],
          tags: [{ key: 'campaign-responder', name: 'Responder', category: 'campaign-response' }],
        },
      });

    const file = await write('response.csv', 'ID,Response\ncm-1,1\ncm-2,0\ncm-3,0\n');
    expect(await run({ kind: 'tags', file, mapping: tagMapping(true) })).toMatchObject({
      inserted: 1,
      skipped: 2,
      complete: { categories: ['campaign-response'], customers: 3, negatives: 2 },
    });
    expect(await negatives('cm-')).toEqual([
      'cm-2 campaign-responder IMPORT import:response.csv',
      'cm-3 campaign-responder IMPORT import:response.csv',
    ]);

    // No row applies a tag here: the category is touched because the mapping names the tag.
    const zeros = await write('zeros.csv', 'ID,Response\ncm-4,0\n');
    expect(await run({ kind: 'tags', file: zeros, mapping: tagMapping(true) })).toMatchObject({
      inserted: 0,
      complete: { categories: ['campaign-response'], customers: 1, negatives: 1 },
    });

    // Without complete, Response = 0 rows are skipped and state nothing...
    const plain = await write('plain.csv', 'ID,Response\ncm-5,0\ncm-2,1\n');
    const report = await run({ kind: 'tags', file: plain, mapping: tagMapping(false) });
    expect(report).toMatchObject({ inserted: 1, skipped: 1, complete: null });
    // ...but a tag a file applies still clears the IMPORT negative it contradicts.
    expect(report.negativesRemoved).toBe(1);
    expect(await negatives('cm-')).toEqual([
      'cm-3 campaign-responder IMPORT import:response.csv',
      'cm-4 campaign-responder IMPORT import:zeros.csv',
    ]);
    expect(await holdings('cm-')).toEqual(['cm-1 campaign-responder', 'cm-2 campaign-responder']);
  });

  it('writes nothing when a row is rejected, and refuses a partial complete import', async () => {
    await seedCustomers('cr-1');
    const file = await write('bad.csv', 'customerExternalId,tag\ncr-1,reader\nghost,reader\n');
    expect(await run({ kind: 'tags', file, complete: true })).toMatchObject({
      rejected: 1,
      blocked: true,
      complete: null,
    });
    expect(await negatives('cr-')).toEqual([]);
    expect(await holdings('cr-')).toEqual([]);

    const refusal = await run({ kind: 'tags', file, complete: true, allowPartial: true }).catch(
      (error: unknown) => error,
    );
    expect(refusal).toBeInstanceOf(ImportError);
    expect(refusal).toMatchObject({
      field: 'allowPartial',
      message: expect.stringMatching(/^a complete import is all or nothing/),
    });
    await expect(run({ kind: 'customers', file, complete: true })).rejects.toMatchObject({
      field: 'complete',
    });
    await expect(
      run({ kind: 'customers', file, mapping: parseMapping({ complete: true }) }),
    ).rejects.toMatchObject({
      field: 'mapping.complete',
      message: 'mapping: "complete" applies only to tags, not customers',
    });
    expect(() => parseMapping({ complete: 'yes' })).toThrow(
      expect.objectContaining({ field: 'mapping.complete' }),
    );
  });

  it('runs --complete from the command line and reports the negatives', async () => {
    await seedCustomers('cc-1', 'cc-2');
    const file = await write('cli.csv', 'customerExternalId,tag\ncc-1,reader\ncc-2,\n');
    const mapping = await write(
      'cli.mapping.json',
      JSON.stringify({ fields: { tag: { column: 'tag', values: { '': null } } } }),
    );
    const cli = (...args: string[]) =>
      promisify(execFile)('node', [path.join(ROOT, 'bin/tagwise.js'), ...args], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'silent' },
      });
    const help = await cli('import', 'tags', '--help');
    expect(help.stdout).toMatch(/--complete/);
    expect(help.stdout).toMatch(/"complete": true/);

    const dry = await cli('import', 'tags', file, '--mapping', mapping, '--complete', '--dry-run');
    expect(dry.stdout).toMatch(
      /complete for category interest: 2 customers listed, would write 1 negatives/,
    );
    expect(await negatives('cc-')).toEqual([]);
    const real = await cli('import', 'tags', file, '--mapping', mapping, '--complete');
    expect(real.stdout).toMatch(
      /complete for category interest: 2 customers listed, wrote 1 negatives/,
    );
    expect(await negatives('cc-')).toEqual(['cc-2 reader IMPORT import:cli.csv']);
  });
});
