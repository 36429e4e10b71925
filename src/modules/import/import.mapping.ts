import fs from 'node:fs/promises';
import { z } from 'zod';
import { InvalidInputError } from '../common/domain.errors.js';
import { CategoryKind } from '../taxonomy/tag-category.entity.js';
import { normalizeKey } from '../taxonomy/taxonomy.service.js';
import { ImportError } from './import.errors.js';

const VALUE_TYPES = ['string', 'number', 'integer', 'boolean', 'date'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];
export type Primitive = string | number | boolean;
type Scalar = Primitive | null;

/**
 * The row number (1 for the first data row; blank lines are not rows) wherever a column can be
 * named: `"_row"` or a template such as `"row-{_row}"`. Importing the same file again gives the
 * same numbers, so a file without an id column can still be imported idempotently.
 */
export const ROW_NUMBER = '_row';

/** Where a target value comes from and how it is read. */
export interface FieldSpec {
  /** Source column (CSV header name, or top-level key of an NDJSON object), or ROW_NUMBER. */
  column?: string;
  /** Text with `{Column}` placeholders (`{_row}`: the row number); fills a blank column. */
  template?: string;
  type?: ValueType;
  /** Date layout such as `DD-MM-YYYY` or `YYYY-MM-DD HH:mm`; ISO 8601 when omitted. */
  format?: string;
  /** Source value (trimmed text) → value to use instead; `null` skips the whole row. */
  values?: Record<string, Scalar>;
  /** `omit` drops a value that fails conversion instead of rejecting its row. */
  onInvalid?: 'reject' | 'omit';
  /** Attributes only: the trait is personal (masked for keys without PII); the import marks it. */
  personal?: boolean;
}

export interface CategorySpec {
  key: string;
  name: string;
  kind: CategoryKind;
  description: string | null;
  exclusive: boolean;
  suggestable: boolean;
  parent: string | null;
}

export interface TagSpec {
  key: string;
  name: string;
  category: string;
  description: string | null;
  color: string | null;
}

export interface ImportMapping {
  format?: 'csv' | 'ndjson';
  /**
   * Tags only: the file lists every tag of the categories it touches for each customer in it,
   * so the other tags of those categories are known negatives for them.
   */
  complete?: boolean;
  delimiter?: string;
  fields: Record<string, FieldSpec>;
  attributes?: Record<string, FieldSpec>;
  properties?: Record<string, FieldSpec>;
  taxonomy?: { categories: CategorySpec[]; tags: TagSpec[] };
}

const scalarSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const fieldSpecSchema = z
  .union([
    z
      .string()
      .min(1)
      .transform((column): FieldSpec => ({ column })),
    z
      .strictObject({
        column: z.string().min(1).optional(),
        template: z.string().min(1).optional(),
        type: z.enum(VALUE_TYPES).optional(),
        format: z.string().min(1).optional(),
        values: z.record(z.string(), scalarSchema).optional(),
        onInvalid: z.enum(['reject', 'omit']).optional(),
        personal: z.boolean().optional(),
      })
      .refine((s) => s.column !== undefined || s.template !== undefined, {
        message: 'give a column or a template',
      })
      .refine((s) => s.format === undefined || s.type === undefined || s.type === 'date', {
        message: 'format applies only to dates',
      }),
  ])
  .transform((spec): FieldSpec => spec);

const mappingSchema = z.strictObject({
  description: z.string().optional(),
  format: z.enum(['csv', 'ndjson']).optional(),
  delimiter: z.string().optional(),
  complete: z.boolean().optional(),
  fields: z.record(z.string(), fieldSpecSchema).optional(),
  attributes: z.record(z.string().min(1).max(100), fieldSpecSchema).optional(),
  properties: z.record(z.string().min(1).max(100), fieldSpecSchema).optional(),
  taxonomy: z
    .strictObject({
      categories: z
        .array(
          z.strictObject({
            key: z.string(),
            name: z.string().trim().min(1).max(100),
            kind: z.enum(CategoryKind),
            description: z.string().max(2000).optional(),
            exclusive: z.boolean().default(false),
            suggestable: z.boolean().default(false),
            parent: z.string().optional(),
          }),
        )
        .default([]),
      tags: z
        .array(
          z.strictObject({
            key: z.string(),
            name: z.string().trim().min(1).max(100),
            category: z.string(),
            description: z.string().max(2000).optional(),
            color: z
              .string()
              .regex(/^#(?:[0-9a-f]{3}|[0-9a-f]{6})$/i, 'must be a hex colour like #1f77b4')
              .optional(),
          }),
        )
        .default([]),
    })
    .optional(),
});

/** Validates a mapping (parsed JSON); `origin` names it in error messages. */
export function parseMapping(json: unknown, origin = 'mapping'): ImportMapping {
  const parsed = mappingSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = formatPath(issue.path);
    throw new ImportError(
      `${origin}: ${where ? `${where}: ` : ''}${issue.message}`,
      where ? `mapping.${where}` : 'mapping',
    );
  }
  const m = parsed.data;
  for (const [section, specs] of [
    ['fields', m.fields],
    ['properties', m.properties],
  ] as const) {
    const named = Object.entries(specs ?? {}).find(([, spec]) => spec.personal !== undefined);
    if (named) {
      throw new ImportError(
        `${origin}: ${section}.${named[0]}.personal: only attributes are marked personal (name, email and phone always are)`,
        `mapping.${section}.${named[0]}.personal`,
      );
    }
  }
  try {
    return {
      ...(m.format ? { format: m.format } : {}),
      ...(m.complete !== undefined ? { complete: m.complete } : {}),
      ...(m.delimiter !== undefined ? { delimiter: parseDelimiter(m.delimiter, origin) } : {}),
      fields: m.fields ?? {},
      ...(m.attributes ? { attributes: m.attributes } : {}),
      ...(m.properties ? { properties: m.properties } : {}),
      ...(m.taxonomy
        ? {
            taxonomy: {
              categories: m.taxonomy.categories.map((c, i) => ({
                key: normalizeKey(c.key, `taxonomy.categories[${i}].key`),
                name: c.name,
                kind: c.kind,
                description: c.description ?? null,
                exclusive: c.exclusive,
                suggestable: c.suggestable,
                parent: c.parent
                  ? normalizeKey(c.parent, `taxonomy.categories[${i}].parent`)
                  : null,
              })),
              tags: m.taxonomy.tags.map((t, i) => ({
                key: normalizeKey(t.key, `taxonomy.tags[${i}].key`),
                name: t.name,
                category: normalizeKey(t.category, `taxonomy.tags[${i}].category`),
                description: t.description ?? null,
                color: t.color?.toLowerCase() ?? null,
              })),
            },
          }
        : {}),
    };
  } catch (error) {
    if (error instanceof InvalidInputError) {
      throw new ImportError(`${origin}: ${error.message}`, `mapping.${error.field}`);
    }
    throw error;
  }
}

export async function loadMapping(file: string): Promise<ImportMapping> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new ImportError(`mapping ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ImportError(`mapping ${file} is not valid JSON: ${(error as Error).message}`);
  }
  return parseMapping(json, `mapping ${file}`);
}

/** `,` `;` `|`, a tab (`\t` or `tab`), or any other single character. */
export function parseDelimiter(value: string, origin = '--delimiter'): string {
  const delimiter = value === 'tab' || value === '\\t' ? '\t' : value;
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new ImportError(
      `${origin}: delimiter must be one character such as , ; | or tab (got ${JSON.stringify(value)})`,
    );
  }
  return delimiter;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`))
    .join('');
}

/** A value that failed conversion; the reason ends up in the rejects file. */
export class Invalid {
  constructor(readonly reason: string) {}
}

/** Returned for a row a value map sends to `null`: skipped, not rejected. */
export const SKIP_ROW: unique symbol = Symbol('skip row');

export type Convert<T> = (value: Primitive) => T | Invalid;
export type Access = (row: unknown) => unknown;
/**
 * Resolves a source column to an accessor; throws ImportError when the file lacks it. `usedFor`
 * names the target in messages, `path` the mapping entry (`fields.externalId.template`).
 */
export type ColumnAccess = (column: string, usedFor: string, path: string) => Access;
/** A target value: undefined when absent or blank, null when explicitly null (NDJSON). */
export type Read<T> = (row: unknown) => T | undefined | null | Invalid | typeof SKIP_ROW;

export function show(value: Primitive): string {
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}..."` : text;
}

export function textOf(max: number): Convert<string> {
  return (value) => {
    const text = typeof value === 'string' ? value : String(value);
    return text.length > max ? new Invalid(`longer than ${max} characters`) : text;
  };
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export const toNumber: Convert<number> = (value) => {
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : new Invalid(`${show(value)} is not a number`);
  }
  if (typeof value === 'string' && NUMBER.test(value)) return Number(value);
  return new Invalid(`${show(value)} is not a number`);
};

export function integerBetween(min: number, max: number): Convert<number> {
  return (value) => {
    const n = toNumber(value);
    if (n instanceof Invalid) return n;
    if (!Number.isInteger(n)) return new Invalid(`${show(value)} is not a whole number`);
    if (n < min || n > max) return new Invalid(`${show(value)} is out of range ${min}–${max}`);
    return n;
  };
}

export const toInteger = integerBetween(Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);

const TRUE_WORDS = new Set(['true', 't', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'f', 'no', 'n', '0']);

export const toBoolean: Convert<boolean> = (value) => {
  if (typeof value === 'boolean') return value;
  const word = String(value).toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return new Invalid(`${show(value)} is not a boolean (true/false, yes/no, 1/0)`);
};

interface DateSlots {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  fraction: number;
  offset: number;
}

const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?$/;
const ISO_SLOTS: DateSlots = {
  year: 1,
  month: 2,
  day: 3,
  hour: 4,
  minute: 5,
  second: 6,
  fraction: 7,
  offset: 8,
};

const DATE_TOKENS: Record<string, [keyof DateSlots, string]> = {
  YYYY: ['year', '(\\d{4})'],
  MM: ['month', '(\\d{1,2})'],
  M: ['month', '(\\d{1,2})'],
  DD: ['day', '(\\d{1,2})'],
  D: ['day', '(\\d{1,2})'],
  HH: ['hour', '(\\d{1,2})'],
  H: ['hour', '(\\d{1,2})'],
  mm: ['minute', '(\\d{2})'],
  ss: ['second', '(\\d{2})'],
  SSS: ['fraction', '(\\d{1,9})'],
  Z: ['offset', '([Zz]|[+-]\\d{2}(?::?\\d{2})?)'],
};
const DATE_TOKEN = /YYYY|SSS|MM|DD|HH|mm|ss|M|D|H|Z/g;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * A compiled date layout. Times without an offset are UTC. Ranges are checked (no 31 February),
 * years run from 1000 to 9999.
 */
export class DateFormat {
  private readonly pattern: RegExp;
  private readonly slots: DateSlots;

  constructor(readonly layout: string | undefined) {
    if (layout === undefined) {
      this.pattern = ISO_PATTERN;
      this.slots = ISO_SLOTS;
      return;
    }
    const slots: DateSlots = {
      year: 0,
      month: 0,
      day: 0,
      hour: 0,
      minute: 0,
      second: 0,
      fraction: 0,
      offset: 0,
    };
    let source = '^';
    let last = 0;
    let group = 0;
    for (const match of layout.matchAll(DATE_TOKEN)) {
      const [slot, regex] = DATE_TOKENS[match[0]]!;
      if (slots[slot] !== 0) throw new ImportError(`date format "${layout}" repeats the ${slot}`);
      source += escapeRegex(layout.slice(last, match.index)) + regex;
      slots[slot] = ++group;
      last = match.index + match[0].length;
    }
    source += `${escapeRegex(layout.slice(last))}$`;
    if (!slots.year || !slots.month || !slots.day) {
      throw new ImportError(`date format "${layout}" needs YYYY, MM and DD`);
    }
    this.pattern = new RegExp(source);
    this.slots = slots;
  }

  get description(): string {
    return this.layout ?? 'ISO 8601';
  }

  /** Epoch milliseconds, or NaN when the text is not a valid date in this layout. */
  toMillis(text: string): number {
    const match = this.pattern.exec(text);
    return match === null ? NaN : this.millisOf(match);
  }

  /** `YYYY-MM-DD` for a date alone, a UTC ISO timestamp when the text has a time. */
  toIso(text: string): string | undefined {
    const match = this.pattern.exec(text);
    if (match === null) return undefined;
    const ms = this.millisOf(match);
    if (Number.isNaN(ms)) return undefined;
    const s = this.slots;
    const hasTime = (s.hour && match[s.hour] !== undefined) || (s.offset && match[s.offset]);
    return hasTime ? new Date(ms).toISOString() : new Date(ms).toISOString().slice(0, 10);
  }

  private millisOf(m: RegExpExecArray): number {
    const s = this.slots;
    const year = Number(m[s.year]);
    const month = Number(m[s.month]);
    const day = Number(m[s.day]);
    const hour = s.hour && m[s.hour] !== undefined ? Number(m[s.hour]) : 0;
    const minute = s.minute && m[s.minute] !== undefined ? Number(m[s.minute]) : 0;
    const second = s.second && m[s.second] !== undefined ? Number(m[s.second]) : 0;
    const fraction = s.fraction ? m[s.fraction] : undefined;
    const ms = fraction === undefined ? 0 : Number(`${fraction}00`.slice(0, 3));
    const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
    if (
      year < 1000 ||
      month < 1 ||
      month > 12 ||
      day < 1 ||
      day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0) ||
      hour > 23 ||
      minute > 59 ||
      second > 59
    ) {
      return NaN;
    }
    const utc = Date.UTC(year, month - 1, day, hour, minute, second, ms);
    const offset = s.offset ? m[s.offset] : undefined;
    return offset === undefined ? utc : utc - offsetMinutes(offset) * 60_000;
  }
}

function offsetMinutes(offset: string): number {
  if (offset === 'Z' || offset === 'z') return 0;
  const sign = offset[0] === '-' ? -1 : 1;
  const digits = offset.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || 0));
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Builds the reader of one target value: column (trimmed; blank is "no value"), then the value
 * map, then the template when still blank, then the conversion. Everything that can be decided
 * once — column positions, the date layout, the value map — is decided here, not per row.
 */
export function compileField<T>(
  label: string,
  spec: FieldSpec,
  access: ColumnAccess,
  convert: Convert<T>,
  omitted: { count: number },
  path: string = label,
): Read<T> {
  const read = spec.column === undefined ? undefined : access(spec.column, label, `${path}.column`);
  const template =
    spec.template === undefined
      ? undefined
      : compileTemplate(spec.template, access, label, `${path}.template`);
  const values = spec.values ? new Map(Object.entries(spec.values)) : undefined;
  const omit = spec.onInvalid === 'omit';
  return (row) => {
    let value = read === undefined ? undefined : read(row);
    if (typeof value === 'string') {
      value = value.trim();
      if (value === '') value = undefined;
    }
    if (values !== undefined && value !== null && typeof value !== 'object') {
      const mapped = values.get(value === undefined ? '' : String(value));
      if (mapped === null) return SKIP_ROW;
      if (mapped !== undefined) value = mapped === '' ? undefined : mapped;
    }
    if (value === undefined && template !== undefined) value = template(row);
    if (value === undefined || value === null) return value;
    if (typeof value === 'object') {
      return new Invalid(`${label}: expected a single value, not ${describe(value)}`);
    }
    const converted = convert(value as Primitive);
    if (converted instanceof Invalid) {
      if (omit) {
        omitted.count += 1;
        return undefined;
      }
      return new Invalid(`${label}: ${converted.reason}`);
    }
    return converted;
  };
}

/** `Customer {ID}`: blank when any placeholder is blank, so a fallback never reads "Customer ". */
function compileTemplate(
  template: string,
  access: ColumnAccess,
  label: string,
  path: string,
): Access {
  const parts: (string | Access)[] = [];
  let last = 0;
  for (const match of template.matchAll(/\{([^{}]+)\}/g)) {
    parts.push(template.slice(last, match.index), access(match[1]!.trim(), label, path));
    last = match.index + match[0].length;
  }
  parts.push(template.slice(last));
  return (row) => {
    let out = '';
    for (const part of parts) {
      if (typeof part === 'string') {
        out += part;
        continue;
      }
      const value = part(row);
      if (value === null || value === undefined || typeof value === 'object') return undefined;
      const text = String(value).trim();
      if (text === '') return undefined;
      out += text;
    }
    return out;
  };
}

export function describe(value: object): string {
  return Array.isArray(value) ? 'a list' : 'an object';
}
