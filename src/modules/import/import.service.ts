import fsp from 'node:fs/promises';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { positionalSql, type SqlRunner } from '../rule/rule.repository.js';
import { applyTriggerRules } from '../rule/rule.service.js';
import { ImportError } from './import.errors.js';
import { Invalid, SKIP_ROW, type ImportMapping } from './import.mapping.js';
import { ImportRepository, type MergeCounts } from './import.repository.js';
import { openSource, type Source, type SourceFormat } from './import.source.js';
import { copyCell, planRows, type ImportKind, type RowPlan } from './import.targets.js';

export interface ImportOptions {
  kind: ImportKind;
  file: string;
  mapping?: ImportMapping | undefined;
  /** Default: from the extension (.ndjson/.jsonl), else the mapping, else CSV. */
  format?: SourceFormat | undefined;
  /** Default: the mapping's, else sniffed from the header line. */
  delimiter?: string | undefined;
  /** Do everything, report, roll back. */
  dryRun?: boolean | undefined;
  /** Import the valid rows even when some are rejected (default: all or nothing). */
  allowPartial?: boolean | undefined;
  /**
   * Tags: the file lists every tag of the categories it touches for each of its customers (as
   * the mapping's `complete`); the other tags of those categories become known negatives.
   */
  complete?: boolean | undefined;
  /** Default: `<file>.rejects.csv`. */
  rejectsFile?: string | undefined;
}

export interface ImportProgress {
  phase: 'reading' | 'merging';
  bytes: number;
  totalBytes: number;
  rows: number;
}

export interface ImportReport {
  kind: ImportKind;
  /** Tags trigger rules applied to the customers of imported events. */
  triggered: number;
  file: string;
  format: SourceFormat;
  delimiter: string | null;
  /** Data rows read (blank lines are not rows). */
  rows: number;
  inserted: number;
  updated: number;
  /** Unchanged, already present, repeated in the file, or sent to null by a value map. */
  skipped: number;
  rejected: number;
  /** Tags: held tags of an exclusive category that an imported tag replaced. */
  replaced: number;
  /**
   * Tags imported complete: the categories the file touches (keys), the customers it lists, and
   * the negatives written for them (pairs already known negative are not counted again). Null
   * when the import is not complete.
   */
  complete: { categories: string[]; customers: number; negatives: number } | null;
  /** Tags: earlier IMPORT negatives that tags of this file contradicted, removed. */
  negativesRemoved: number;
  /** Values dropped by `onInvalid: "omit"` (their rows were imported without them). */
  omittedValues: number;
  /** Taxonomy the mapping created (tags only). */
  taxonomy: { categories: number; tags: number } | null;
  /** CSV columns the mapping does not use. */
  ignoredColumns: string[];
  /** NDJSON fields nothing maps, with the number of records holding each, most frequent first. */
  ignoredFields: { name: string; records: number }[];
  /** NDJSON records holding further unmapped fields, beyond the names listed (at most 100). */
  ignoredFieldsUntracked: number;
  /** Where the rejected rows were written; null when there were none. */
  rejectsFile: string | null;
  dryRun: boolean;
  /** Rejected rows stopped an all-or-nothing import: no merge ran. */
  blocked: boolean;
  /** False after a dry run or when blocked. */
  committed: boolean;
  elapsedMs: number;
}

/** A file opened and its mapping compiled: every input mistake has surfaced, no database yet. */
export interface PreparedImport {
  options: ImportOptions;
  mapping: ImportMapping;
  source: Source;
  plan: RowPlan;
}

const COPY_BATCH_CHARS = 1 << 16;

export async function prepareImport(options: ImportOptions): Promise<PreparedImport> {
  if (options.complete && options.kind !== 'tags') {
    throw new ImportError(`complete applies only to tags, not ${options.kind}`, 'complete');
  }
  const given = options.mapping ?? { fields: {} };
  const mapping = options.complete ? { ...given, complete: true } : given;
  // A rejected row may hold a tag of a customer the file lists; the negatives written without it
  // would contradict the file.
  if (mapping.complete && options.allowPartial) {
    throw new ImportError(
      'a complete import is all or nothing: a rejected row could hold a tag of a listed customer, ' +
        'whose negatives would then be wrong; drop --allow-partial and fix the rejected rows',
      'allowPartial',
    );
  }
  const source = await openSource(options.file, {
    format: options.format ?? mapping.format,
    delimiter: options.delimiter ?? mapping.delimiter,
  });
  const plan = planRows(options.kind, mapping, source);
  return { options, mapping, source, plan };
}

/**
 * Reads the file once, streaming: rows are parsed, converted and COPYed (bad ones with their
 * reason) into a temporary staging table, then one set-based merge runs — all in one
 * transaction, committed only when nothing was rejected (or `allowPartial`) and not a dry run.
 */
export async function runImport(
  orm: MikroORM,
  prepared: PreparedImport,
  onProgress?: (progress: ImportProgress) => void,
): Promise<ImportReport> {
  const started = performance.now();
  const { options, mapping, source, plan } = prepared;
  const client = new pg.Client({
    connectionString: orm.config.get('clientUrl'),
    application_name: 'tagwise import',
  });
  await client.connect();
  try {
    await client.query('begin');
    // The merges hash-join the staging table with large tables; keep those joins in memory.
    await client.query(`set local work_mem = '64MB'`);
    const repository = new ImportRepository(client);
    const taxonomy = mapping.taxonomy ? await repository.ensureTaxonomy(mapping.taxonomy) : null;
    if (plan.kind === 'customers') {
      await repository.markPersonalTraits(
        Object.entries(mapping.attributes ?? {})
          .filter(([, spec]) => spec.personal)
          .map(([key]) => key),
      );
    }
    const table = await repository.createStaging(plan);
    const read = { rows: 0, skipped: 0 };
    await repository.copy(table, plan, stagingText(source, plan, read, onProgress));
    onProgress?.({
      phase: 'merging',
      bytes: source.size,
      totalBytes: source.size,
      rows: read.rows,
    });

    if (plan.kind === 'customers') await repository.checkCustomers();
    else if (plan.kind === 'events') await repository.checkEvents();
    else await repository.checkTags();
    const { valid, rejected } = await repository.countRows(table);
    const blocked = rejected > 0 && !options.allowPartial;
    let merged: MergeCounts = { inserted: 0, updated: 0, replaced: 0 };
    let negativesRemoved = 0;
    let complete: ImportReport['complete'] = null;
    if (!blocked && valid > 0) {
      if (plan.kind === 'customers') merged = await repository.mergeCustomers();
      else if (plan.kind === 'events') merged = await repository.mergeEvents();
      else {
        const actor = `import:${source.name}`;
        merged = await repository.mergeTags(actor);
        negativesRemoved = await repository.removeContradictedNegatives();
        if (plan.complete) {
          const { written, customers, categories } = await repository.writeNegatives(
            plan.namedTags,
            actor,
          );
          complete = { categories, customers, negatives: written };
        }
      }
    }
    // Behaviour triggers for the customers of the imported events, in the import's transaction.
    let triggered = 0;
    if (plan.kind === 'events' && merged.inserted > 0) {
      const sql: SqlRunner = async (text, params) =>
        (await client.query(positionalSql(text), params)).rows;
      const outcome = await applyTriggerRules(orm.em.fork(), sql, {
        sql: `c.external_id in (select customer_external_id from import_events where reason is null)`,
        params: [],
      });
      triggered = outcome.applied;
    }
    const rejectsFile = await writeRejects(
      repository.rejects(table),
      rejected,
      options.rejectsFile ?? `${options.file}.rejects.csv`,
    );
    const commit = !blocked && !options.dryRun;
    await client.query(commit ? 'commit' : 'rollback');
    return {
      kind: plan.kind,
      file: options.file,
      format: source.format,
      delimiter: source.delimiter,
      rows: read.rows,
      inserted: merged.inserted,
      updated: merged.updated,
      skipped: read.skipped + (blocked ? 0 : valid - merged.inserted - merged.updated),
      rejected,
      replaced: merged.replaced,
      complete,
      negativesRemoved,
      triggered,
      omittedValues: plan.omitted.count,
      taxonomy,
      ignoredColumns: [...plan.ignoredColumns],
      ignoredFields: [...(plan.ignoredFields?.records ?? [])]
        .map(([name, records]) => ({ name, records }))
        .sort((a, b) => b.records - a.records || a.name.localeCompare(b.name)),
      ignoredFieldsUntracked: plan.ignoredFields?.untracked ?? 0,
      rejectsFile,
      dryRun: options.dryRun ?? false,
      blocked,
      committed: commit,
      elapsedMs: performance.now() - started,
    };
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    await client.end();
  }
}

export async function importFile(
  orm: MikroORM,
  options: ImportOptions,
  onProgress?: (progress: ImportProgress) => void,
): Promise<ImportReport> {
  return runImport(orm, await prepareImport(options), onProgress);
}

/**
 * The staging table's COPY text, 64 KB at a time. Kept lean: this loop runs once per row of
 * files with millions of rows.
 */
async function* stagingText(
  source: Source,
  plan: RowPlan,
  read: { rows: number; skipped: number },
  onProgress: ((progress: ImportProgress) => void) | undefined,
): AsyncGenerator<string> {
  const rejectTail = '\t\\N'.repeat(plan.columns.length);
  let text = '';
  for await (const rows of source.rows()) {
    for (const row of rows) {
      read.rows += 1;
      const cells =
        row.problem === null ? plan.convert(row.values, read.rows) : new Invalid(row.problem);
      if (cells === SKIP_ROW) {
        read.skipped += 1;
      } else if (cells instanceof Invalid) {
        text += `${row.line}\t${copyCell(cells.reason)}\t${copyCell(row.raw)}${rejectTail}\n`;
      } else {
        text += `${row.line}\t\\N\t${copyCell(row.raw)}\t${cells}\n`;
      }
    }
    onProgress?.({
      phase: 'reading',
      bytes: source.bytesRead(),
      totalBytes: source.size,
      rows: read.rows,
    });
    if (text.length >= COPY_BATCH_CHARS) {
      yield text;
      text = '';
    }
  }
  if (text.length > 0) yield text;
}

/** `line,reason,raw`, in line order; a stale rejects file from an earlier run is removed. */
async function writeRejects(
  batches: AsyncGenerator<{ line: string; reason: string; raw: string }[]>,
  rejected: number,
  file: string,
): Promise<string | null> {
  if (rejected === 0) {
    await fsp.rm(file, { force: true });
    return null;
  }
  const handle = await fsp.open(file, 'w').catch((error: NodeJS.ErrnoException) => {
    throw new ImportError(`cannot write the rejects file ${file}: ${error.code ?? error.message}`);
  });
  try {
    await handle.write('line,reason,raw\n');
    for await (const rows of batches) {
      let text = '';
      for (const r of rows) text += `${r.line},${csvField(r.reason)},${csvField(r.raw)}\n`;
      await handle.write(text);
    }
  } finally {
    await handle.close();
  }
  return file;
}

function csvField(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}
