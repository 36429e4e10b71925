import { findInputProblem } from '../common/text.js';
import { isUtf8 } from 'node:buffer';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CsvError, parse } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { ImportError } from './import.errors.js';

export type SourceFormat = 'csv' | 'ndjson';

/** Candidates for the delimiter of a CSV file, in order of preference on a tie. */
const DELIMITERS = [',', ';', '\t', '|'];
const CHUNK_SIZE = 1 << 16;
/** Rows handed over at a time: amortizes the async iteration over many rows. */
const BATCH_SIZE = 1024;

export interface SourceRow {
  /** Line of the file where the row starts (1 is the CSV header). */
  line: number;
  /** The row as written, without its line break. */
  raw: string;
  /** string[] for CSV, a plain object for NDJSON. */
  values: unknown;
  /** Why the row cannot be read at all (bad bytes, wrong field count, malformed JSON). */
  problem: string | null;
}

export interface Source {
  readonly file: string;
  readonly name: string;
  readonly format: SourceFormat;
  readonly size: number;
  /** CSV only. */
  readonly delimiter: string | null;
  /** The CSV header; null for NDJSON, whose rows name their own fields. */
  readonly columns: readonly string[] | null;
  /** Bytes read so far, for progress. */
  bytesRead(): number;
  /** The data rows, in file order, a batch at a time. Call once. */
  rows(): AsyncGenerator<SourceRow[]>;
}

export interface SourceOptions {
  format?: SourceFormat | undefined;
  delimiter?: string | undefined;
}

/** Opens FILE, decides its format and (for CSV) delimiter and header; reads no rows yet. */
export async function openSource(file: string, options: SourceOptions = {}): Promise<Source> {
  const stat = await fsp.stat(file).catch((error: NodeJS.ErrnoException) => {
    throw new ImportError(
      error.code === 'ENOENT' ? `${file}: no such file` : `${file}: ${error.code ?? error.message}`,
    );
  });
  if (!stat.isFile()) throw new ImportError(`${file} is not a file`);
  const format = options.format ?? formatOf(file);
  const counter = { bytes: 0 };
  const base = {
    file,
    name: path.basename(file),
    format,
    size: stat.size,
    bytesRead: () => counter.bytes,
  };
  if (format === 'ndjson') {
    return { ...base, delimiter: null, columns: null, rows: () => ndjsonRows(file, counter) };
  }
  const head = await readHead(file);
  if (head.length === 0) throw new ImportError(`${file} is empty: a CSV file needs a header line`);
  const delimiter = options.delimiter ?? sniffDelimiter(head);
  const columns = readHeader(head, delimiter, file);
  return {
    ...base,
    delimiter,
    columns,
    rows: () => csvRows(file, delimiter, columns.length, counter),
  };
}

function formatOf(file: string): SourceFormat {
  const ext = path.extname(file).toLowerCase();
  return ext === '.ndjson' || ext === '.jsonl' ? 'ndjson' : 'csv';
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await fsp.open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(CHUNK_SIZE), 0, CHUNK_SIZE, 0);
    const head = buffer.subarray(0, bytesRead);
    return head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? head.subarray(3) : head;
  } finally {
    await handle.close();
  }
}

/** The candidate that occurs most often outside quotes on the header line. */
export function sniffDelimiter(head: Buffer): string {
  const counts = new Map(DELIMITERS.map((d) => [d, 0]));
  let quoted = false;
  for (const byte of head) {
    const char = String.fromCharCode(byte);
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === '\n' || char === '\r')) break;
    else if (!quoted && counts.has(char)) counts.set(char, counts.get(char)! + 1);
  }
  let best = ',';
  for (const [delimiter, count] of counts) if (count > counts.get(best)!) best = delimiter;
  return best;
}

function readHeader(head: Buffer, delimiter: string, file: string): string[] {
  let records: string[][];
  try {
    records = parseSync(head, { delimiter, to: 1, relax_column_count: true, relax_quotes: true });
  } catch (error) {
    throw new ImportError(`${file}: cannot read the header line: ${(error as Error).message}`);
  }
  const columns = (records[0] ?? []).map((c) => c.trim());
  if (columns.every((c) => c === '')) {
    throw new ImportError(`${file}: the first line must be a header naming the columns`);
  }
  const seen = new Set<string>();
  for (const column of columns) {
    if (column !== '' && seen.has(column)) {
      throw new ImportError(`${file}: the header names column "${column}" twice`);
    }
    seen.add(column);
  }
  return columns;
}

/**
 * Checks UTF-8 chunk by chunk with the native validator. A character may straddle two chunks, so
 * an incomplete sequence at the end of a chunk is carried over to the next one.
 */
class Utf8Check {
  private carry: Buffer | null = null;

  check(chunk: Buffer): boolean {
    const buffer = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    const end = completeLength(buffer);
    this.carry = end < buffer.length ? Buffer.from(buffer.subarray(end)) : null;
    return isUtf8(buffer.subarray(0, end));
  }

  /** False when the input ended inside a character. */
  end(): boolean {
    return this.carry === null;
  }
}

function completeLength(buffer: Buffer): number {
  for (let i = buffer.length - 1; i >= 0 && i >= buffer.length - 4; i--) {
    const byte = buffer[i]!;
    if (byte < 0x80) return buffer.length;
    if (byte >= 0xc0) {
      const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
      return buffer.length - i < needed ? i : buffer.length;
    }
  }
  return buffer.length;
}

const NUL_PROBLEM = 'contains a NUL character, which PostgreSQL text cannot store';
const UTF8_PROBLEM = 'invalid UTF-8 bytes';

/**
 * csv-parse decodes fields with replacement characters, so bytes are validated on the way in;
 * only once a chunk failed does any row get checked for U+FFFD (rows are whole lines of text
 * by then, and a row whose bytes were fine cannot contain a replacement it did not have).
 */
async function* csvRows(
  file: string,
  delimiter: string,
  width: number,
  counter: { bytes: number },
): AsyncGenerator<SourceRow[]> {
  const utf8 = new Utf8Check();
  let dirty = false;
  const parser = parse({
    delimiter,
    bom: true,
    raw: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
  });
  const feeding = pipeline(
    fs.createReadStream(file, { highWaterMark: CHUNK_SIZE }),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        counter.bytes += chunk.length;
        if (!utf8.check(chunk)) dirty = true;
        yield chunk;
      }
      if (!utf8.end()) dirty = true;
    },
    parser,
  );
  // Failures reach the loop below through the parser, which the pipeline destroys with them.
  feeding.catch(() => {});

  let next = 1;
  let header = true;
  let batch: SourceRow[] = [];
  try {
    for await (const { record, raw } of parser as AsyncIterable<{
      record: string[];
      raw: string;
    }>) {
      // raw holds the row's bytes plus line breaks around it (skipped empty lines before it, its
      // own break after it); counting them keeps line numbers right for multi-line rows.
      let line = next;
      let content = raw;
      const lf = raw.indexOf('\n');
      const cr = raw.indexOf('\r');
      const last = raw.length - 1;
      if (lf === -1 && cr === -1) {
        // the last line, without a break
      } else if ((lf === last && cr === -1) || (cr === last && lf === -1)) {
        content = raw.slice(0, last);
        next += 1;
      } else {
        const spans = lineSpans(raw);
        line = next + spans.before;
        content = spans.content;
        next = line + spans.within + spans.after;
      }
      if (header) {
        header = false;
        continue;
      }
      if (isBlank(record)) continue;
      let problem: string | null = null;
      if (dirty && content.includes('\uFFFD')) problem = UTF8_PROBLEM;
      else if (content.includes('\0')) problem = NUL_PROBLEM;
      else if (record.length !== width) problem = `expected ${width} fields, got ${record.length}`;
      batch.push({ line, raw: content, values: record, problem });
      if (batch.length === BATCH_SIZE) {
        yield batch;
        batch = [];
      }
    }
  } catch (error) {
    if (error instanceof CsvError) {
      throw new ImportError(
        `${file}: ${error.message.replace(/\.$/, '')}; the file is not valid CSV`,
      );
    }
    throw error;
  } finally {
    parser.destroy();
  }
  if (batch.length > 0) yield batch;
}

function isBlank(record: string[]): boolean {
  for (const field of record) if (field.trim() !== '') return false;
  return true;
}

/** Line breaks before, inside and after a raw row (`\r\n`, `\r` and `\n` each count once). */
function lineSpans(raw: string): {
  before: number;
  within: number;
  after: number;
  content: string;
} {
  const isBreak = (i: number) => raw[i] === '\n' || raw[i] === '\r';
  const step = (i: number) => (raw[i] === '\r' && raw[i + 1] === '\n' ? 2 : 1);
  let start = 0;
  let before = 0;
  while (start < raw.length && isBreak(start)) {
    start += step(start);
    before += 1;
  }
  let end = raw.length;
  let after = 0;
  if (end > start && raw[end - 1] === '\n') end -= raw[end - 2] === '\r' ? 2 : 1;
  else if (end > start && raw[end - 1] === '\r') end -= 1;
  if (end < raw.length) after = 1;
  let within = 0;
  for (let i = start; i < end; i++) {
    if (isBreak(i)) {
      within += 1;
      i += step(i) - 1;
    }
  }
  return { before, within, after, content: raw.slice(start, end) };
}

async function* ndjsonRows(file: string, counter: { bytes: number }): AsyncGenerator<SourceRow[]> {
  const utf8 = new Utf8Check();
  // Not fatal: a bad line is rejected, the rest of the file still imports. Strips a BOM.
  const decoder = new TextDecoder('utf-8');
  let dirty = false;
  let rest = '';
  let line = 0;
  let batch: SourceRow[] = [];
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_SIZE })) {
    counter.bytes += chunk.length;
    if (!utf8.check(chunk as Buffer)) dirty = true;
    const text = rest + decoder.decode(chunk as Buffer, { stream: true });
    let start = 0;
    for (let lf = text.indexOf('\n'); lf !== -1; lf = text.indexOf('\n', start)) {
      line += 1;
      const row = ndjsonRow(text.slice(start, lf), line, dirty);
      if (row) batch.push(row);
      start = lf + 1;
    }
    rest = text.slice(start);
    if (batch.length >= BATCH_SIZE) {
      yield batch;
      batch = [];
    }
  }
  rest += decoder.decode();
  if (!utf8.end()) dirty = true;
  const row = rest === '' ? null : ndjsonRow(rest, line + 1, dirty);
  if (row) batch.push(row);
  if (batch.length > 0) yield batch;
}

function ndjsonRow(text: string, line: number, dirty: boolean): SourceRow | null {
  const raw = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (raw.trim() === '') return null;
  if (dirty && raw.includes('\uFFFD')) return { line, raw, values: null, problem: UTF8_PROBLEM };
  if (raw.includes('\0') || raw.includes('\\u0000')) {
    return { line, raw, values: null, problem: NUL_PROBLEM };
  }
  let values: unknown;
  try {
    values = JSON.parse(raw);
  } catch (error) {
    return { line, raw, values: null, problem: `malformed JSON: ${(error as Error).message}` };
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values)) {
    return { line, raw, values: null, problem: 'expected a JSON object' };
  }
  // JSON escapes can spell a lone surrogate ("\ud800") or nest without bound; PostgreSQL would
  // refuse the first mid-COPY and the second could exhaust the stack further on.
  const unstorable = findInputProblem(values, '');
  if (unstorable) {
    const where = unstorable.path ? ` at ${unstorable.path}` : '';
    return { line, raw, values: null, problem: `${unstorable.reason}${where}` };
  }
  return { line, raw, values, problem: null };
}
