import { isISO4217CurrencyCode } from 'class-validator';
import { InvalidInputError } from '../common/domain.errors.js';
import { BuiltinEventType, Channel } from '../event/event.entity.js';
import { isEventType } from '../event/event.service.js';
import { normalizeKey } from '../taxonomy/taxonomy.service.js';
import { ImportError } from './import.errors.js';
import {
  DateFormat,
  Invalid,
  ROW_NUMBER,
  SKIP_ROW,
  compileField,
  describe,
  integerBetween,
  show,
  textOf,
  toBoolean,
  toInteger,
  toNumber,
  type Access,
  type ColumnAccess,
  type Convert,
  type FieldSpec,
  type ImportMapping,
  type Primitive,
  type Read,
  type ValueType,
} from './import.mapping.js';

export const IMPORT_KINDS = ['customers', 'events', 'tags'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

/** One staging column: its name and SQL type, in the order `convert` writes the cells. */
export type StagingColumn = readonly [name: string, sqlType: string];

/** How the rows of one file become staging rows for one kind of target. */
export interface RowPlan {
  readonly kind: ImportKind;
  readonly columns: readonly StagingColumn[];
  /**
   * COPY text cells (tab-separated, escaped), a reject reason, or SKIP_ROW. `number` is the
   * row's ordinal among the file's data rows, what ROW_NUMBER reads.
   */
  convert(values: unknown, number: number): string | Invalid | typeof SKIP_ROW;
  /** CSV columns nothing reads. */
  readonly ignoredColumns: readonly string[];
  /** NDJSON fields nothing reads, counted as rows are converted; null for CSV. */
  readonly ignoredFields: FieldTally | null;
  /** Values dropped by `onInvalid: "omit"`. */
  readonly omitted: { count: number };
  /** Tags: the file states every tag of the categories it touches (see ImportMapping). */
  readonly complete: boolean;
  /** Tags: keys of the tags the mapping names (value maps, taxonomy), normalized. */
  readonly namedTags: readonly string[];
}

/** What a kind of target adds to a plan: its staging columns and how a row fills them. */
interface TargetPlan {
  columns: readonly StagingColumn[];
  convert(values: unknown): string | Invalid | typeof SKIP_ROW;
}

/** Distinct names a FieldTally tracks; a file with unbounded keys must not take unbounded memory. */
const MAX_TRACKED_FIELDS = 100;
/** Longer names are cut in the report, never held whole. */
const MAX_FIELD_NAME = 100;

/** Top-level NDJSON fields nothing reads, by the number of records holding each. */
export class FieldTally {
  readonly records = new Map<string, number>();
  /** Records holding a field first seen after MAX_TRACKED_FIELDS names were tracked. */
  untracked = 0;

  constructor(private readonly read: ReadonlySet<string>) {}

  add(record: unknown): void {
    let untracked = false;
    for (const key of Object.keys(record as object)) {
      if (this.read.has(key)) continue;
      const name = key.length > MAX_FIELD_NAME ? `${key.slice(0, MAX_FIELD_NAME)}…` : key;
      const count = this.records.get(name);
      if (count !== undefined) this.records.set(name, count + 1);
      else if (this.records.size < MAX_TRACKED_FIELDS) this.records.set(name, 1);
      else untracked = true;
    }
    if (untracked) this.untracked += 1;
  }
}

interface TargetField {
  type: ValueType;
  required?: boolean;
  describe: string;
  convert: (format: DateFormat) => Convert<unknown>;
}

const MAX_ATTRIBUTES = 200;
/** Like recordEvents: an event more than a day ahead of the clock is a mistake. */
const FUTURE_TOLERANCE_MS = 24 * 3600 * 1000;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Epoch milliseconds of a date not more than FUTURE_TOLERANCE_MS ahead, else why not. */
function pastMillis(format: DateFormat, value: Primitive): number | Invalid {
  const ms = format.toMillis(String(value));
  if (Number.isNaN(ms)) {
    return new Invalid(`${show(value)} is not a valid date (${format.description})`);
  }
  return ms > Date.now() + FUTURE_TOLERANCE_MS ? new Invalid('lies in the future') : ms;
}

const text = (max: number, what = `text up to ${max} characters`): TargetField => ({
  type: 'string',
  describe: what,
  convert: () => textOf(max),
});

const email: Convert<string> = (value) => {
  const address = String(value);
  if (address.length > 320 || !EMAIL.test(address)) {
    return new Invalid(`${show(value)} is not an email address`);
  }
  return address;
};

const CUSTOMER_FIELDS: Record<string, TargetField> = {
  externalId: { ...text(200), required: true },
  name: text(200),
  email: { type: 'string', describe: 'an email address', convert: () => email },
  phone: text(50),
  gender: text(50),
  birthYear: {
    type: 'integer',
    describe: 'a year, 1900–2100',
    convert: () => integerBetween(1900, 2100),
  },
  region: text(100),
  city: text(100),
  industry: text(100),
  companySize: {
    type: 'integer',
    describe: 'a whole number ≥ 0',
    convert: () => integerBetween(0, 2_147_483_647),
  },
  lifecycleStage: text(50),
  firstSeenAt: {
    type: 'date',
    describe:
      'when the customer became known (sign-up, first order): ISO 8601 unless a format is mapped',
    convert: (format) => (value) => {
      const ms = pastMillis(format, value);
      return ms instanceof Invalid ? ms : new Date(ms).toISOString();
    },
  },
};

const CHANNELS = new Set<string>(Object.values(Channel));

const EVENT_FIELDS: Record<string, TargetField> = {
  externalId: text(200, 'unique id of the event; derived from its content when blank'),
  customerExternalId: { ...text(200, "the customer's externalId"), required: true },
  type: {
    type: 'string',
    required: true,
    describe: 'a built-in type such as PURCHASE or an UPPER_SNAKE custom name',
    convert: () => (value) =>
      typeof value === 'string' && isEventType(value)
        ? value
        : new Invalid(
            `${show(value)} is neither a built-in event type nor an UPPER_SNAKE custom name`,
          ),
  },
  occurredAt: {
    type: 'date',
    required: true,
    describe: 'when it happened (ISO 8601 unless a format is mapped; UTC without an offset)',
    convert: (format) => (value) => pastMillis(format, value),
  },
  amount: {
    type: 'number',
    describe: 'a decimal number; ≥ 0 for PURCHASE',
    convert: () => (value) => {
      const n = toNumber(value);
      if (n instanceof Invalid) return n;
      return Math.abs(n) >= 999_999_999_999.995 ? new Invalid(`${show(value)} is out of range`) : n;
    },
  },
  currency: {
    type: 'string',
    describe: 'an ISO 4217 code such as CNY',
    convert: () => (value) => {
      const code = String(value).toUpperCase();
      return isISO4217CurrencyCode(code)
        ? code
        : new Invalid(`${show(value)} is not an ISO 4217 currency code`);
    },
  },
  category: text(100),
  channel: {
    type: 'string',
    describe: [...CHANNELS].join(', '),
    convert: () => (value) =>
      typeof value === 'string' && CHANNELS.has(value)
        ? value
        : new Invalid(`${show(value)} is not a channel (${[...CHANNELS].join(', ')})`),
  },
};

const TAG_FIELDS: Record<string, TargetField> = {
  customerExternalId: { ...text(200, "the customer's externalId"), required: true },
  tag: {
    type: 'string',
    required: true,
    describe: 'the tag key (normalized: trimmed, lower-case, spaces to dashes)',
    convert: () => (value) => {
      try {
        return normalizeKey(String(value), 'tag');
      } catch (error) {
        if (error instanceof InvalidInputError)
          return new Invalid(`${show(value)} is not a tag key`);
        throw error;
      }
    },
  },
  note: text(2000),
};

export const TARGET_FIELDS: Record<ImportKind, Record<string, TargetField>> = {
  customers: CUSTOMER_FIELDS,
  events: EVENT_FIELDS,
  tags: TAG_FIELDS,
};

/** What the file offers: its CSV header (null for NDJSON) and its name for messages. */
export interface PlanSource {
  name: string;
  columns: readonly string[] | null;
}

/** Compiles the mapping against the file's columns; every mistake surfaces here, before rows. */
export function planRows(kind: ImportKind, mapping: ImportMapping, source: PlanSource): RowPlan {
  const sections = { customers: 'attributes', events: 'properties', tags: 'taxonomy' } as const;
  for (const section of ['attributes', 'properties', 'taxonomy'] as const) {
    if (mapping[section] !== undefined && sections[kind] !== section) {
      throw new ImportError(
        `mapping: "${section}" does not apply to ${kind}`,
        `mapping.${section}`,
      );
    }
  }
  if (mapping.complete && kind !== 'tags') {
    throw new ImportError(
      `mapping: "complete" applies only to tags, not ${kind}`,
      'mapping.complete',
    );
  }
  const context = new PlanContext(kind, mapping, source);
  const plan =
    kind === 'customers'
      ? planCustomers(context)
      : kind === 'events'
        ? planEvents(context)
        : planTags(context);
  const convert = plan.convert;
  const skips = context.skippers;
  const ignoredFields = source.columns === null ? new FieldTally(context.used) : null;
  return {
    kind,
    columns: plan.columns,
    convert(row, number) {
      context.row = number;
      ignoredFields?.add(row);
      // A row a value map skips is skipped even when another of its values is bad.
      for (const skip of skips) if (skip(row) === SKIP_ROW) return SKIP_ROW;
      return convert(row);
    },
    ignoredColumns: (source.columns ?? []).filter((c) => c !== '' && !context.used.has(c)),
    ignoredFields,
    omitted: context.omitted,
    complete: kind === 'tags' && mapping.complete === true,
    namedTags: kind === 'tags' ? tagsNamedBy(mapping) : [],
  };
}

class PlanContext {
  /** Columns (NDJSON: keys) some target reads. */
  readonly used = new Set<string>();
  readonly omitted = { count: 0 };
  readonly skippers: Read<unknown>[] = [];
  readonly access: ColumnAccess;
  /** The number of the row being converted, for ROW_NUMBER. */
  row = 0;

  constructor(
    readonly kind: ImportKind,
    readonly mapping: ImportMapping,
    readonly source: PlanSource,
  ) {
    const columns = source.columns;
    const index = new Map(columns?.map((c, i) => [c, i]));
    const rowNumber = () => this.row;
    this.access = (column, usedFor, path) => {
      if (column === ROW_NUMBER) {
        // Which one a mapping meant would be a guess; an NDJSON key of that name is reported
        // among the fields not imported instead.
        if (columns?.includes(ROW_NUMBER)) {
          throw new ImportError(
            `mapping: ${path}: "${ROW_NUMBER}" is the row number, but ${source.name} also has a column "${ROW_NUMBER}"; rename that column to import it`,
            `mapping.${path}`,
          );
        }
        return rowNumber;
      }
      this.used.add(column);
      if (columns === null) return (row) => (row as Record<string, unknown>)[column];
      const i = index.get(column);
      if (i === undefined) {
        throw new ImportError(
          `${source.name} has no column "${column}" (needed for ${usedFor}); its columns are ${columns.join(', ')}`,
          `mapping.${path}`,
        );
      }
      return (row) => (row as string[])[i];
    };
    const fields = TARGET_FIELDS[kind];
    for (const name of Object.keys(mapping.fields)) {
      if (!(name in fields)) {
        throw new ImportError(
          `mapping: fields.${name} is not a field of ${kind} (${Object.keys(fields).join(', ')})`,
          `mapping.fields.${name}`,
        );
      }
    }
  }

  /**
   * The mapped field, else the same-named column, else (NDJSON) the same-named key. `spec` null:
   * the mapping covers this field another way, so no column is read for it. `nullSkipsRow`
   * false: a value mapped to null is returned as SKIP_ROW for the plan to interpret.
   */
  field(
    name: string,
    spec: FieldSpec | null | undefined = this.mapping.fields[name],
    { nullSkipsRow = true }: { nullSkipsRow?: boolean } = {},
  ): Read<unknown> | null {
    const def = TARGET_FIELDS[this.kind][name]!;
    const path = `fields.${name}`;
    if (spec === null) return null;
    if (spec === undefined) {
      const columns = this.source.columns;
      if (columns === null || columns.includes(name)) spec = { column: name };
      else if (def.required) {
        const hint =
          name === 'externalId'
            ? `; a file without ids can number its rows: "externalId": { "template": "row-{${ROW_NUMBER}}" }`
            : '';
        throw new ImportError(
          `${this.source.name} has no column "${name}" and the mapping does not say where ${name} comes from; its columns are ${columns.join(', ')}${hint}`,
          `mapping.${path}`,
        );
      } else return null;
    }
    if (spec.type !== undefined && spec.type !== def.type) {
      throw new ImportError(
        `mapping: ${path}.type: ${name} is always ${def.type}`,
        `mapping.${path}.type`,
      );
    }
    if (spec.format !== undefined && def.type !== 'date') {
      throw new ImportError(
        `mapping: ${path}.format: ${name} is not a date`,
        `mapping.${path}.format`,
      );
    }
    const convert = def.convert(this.dateFormat(spec, path));
    return this.compile(name, path, spec, convert, nullSkipsRow);
  }

  /** Typed values for an `attributes` / `properties` section, or null when there is none. */
  section(section: 'attributes' | 'properties'): [string, Read<unknown>][] | null {
    const specs = this.mapping[section];
    if (specs === undefined) return null;
    return Object.entries(specs).map(([key, spec]) => {
      const path = `${section}.${key}`;
      const format = this.dateFormat(spec, path);
      return [key, this.compile(key, path, spec, valueConverter(spec.type, format))];
    });
  }

  private compile<T>(
    label: string,
    path: string,
    spec: FieldSpec,
    convert: Convert<T>,
    nullSkipsRow = true,
  ): Read<T> {
    const read = compileField(label, spec, this.access, convert, this.omitted, path);
    if (nullSkipsRow && spec.values && Object.values(spec.values).includes(null)) {
      this.skippers.push(read);
    }
    return read;
  }

  private dateFormat(spec: FieldSpec, path: string): DateFormat {
    try {
      return new DateFormat(spec.format);
    } catch (error) {
      if (error instanceof ImportError) {
        throw new ImportError(`mapping: ${path}: ${error.message}`, `mapping.${path}.format`);
      }
      throw error;
    }
  }
}

function valueConverter(type: ValueType = 'string', format: DateFormat): Convert<unknown> {
  switch (type) {
    case 'string':
      return (value) => (typeof value === 'string' ? value : String(value));
    case 'number':
      return toNumber;
    case 'integer':
      return toInteger;
    case 'boolean':
      return toBoolean;
    case 'date':
      return (value) =>
        format.toIso(String(value)) ??
        new Invalid(`${show(value)} is not a valid date (${format.description})`);
  }
}

function isProblem(value: unknown): value is Invalid | typeof SKIP_ROW {
  return value instanceof Invalid || value === SKIP_ROW;
}

function required(name: string): Invalid {
  return new Invalid(`${name} is required`);
}

const NULL_CELL = '\\N';
const COPY_SPECIAL = /[\\\t\n\r]/;
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\t': '\\t',
  '\n': '\\n',
  '\r': '\\r',
};

/** A PostgreSQL COPY text cell: \N for null; backslash, tab and line breaks escaped. */
export function copyCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return NULL_CELL;
  if (typeof value !== 'string') return String(value);
  return COPY_SPECIAL.test(value)
    ? value.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]!)
    : value;
}

/** Reads a whole JSON object from NDJSON (`attributes`, `properties`). */
function objectReader(access: Access, label: string, check: (object: object) => string | null) {
  return (row: unknown): Record<string, unknown> | undefined | Invalid => {
    const value = access(row);
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      return new Invalid(
        `${label}: expected an object, not ${typeof value === 'object' ? describe(value) : show(value as string)}`,
      );
    }
    const problem = check(value);
    return problem === null
      ? (value as Record<string, unknown>)
      : new Invalid(`${label}: ${problem}`);
  };
}

function checkAttributes(attributes: object): string | null {
  const entries = Object.entries(attributes);
  if (entries.length > MAX_ATTRIBUTES) return `at most ${MAX_ATTRIBUTES} keys`;
  for (const [key, value] of entries) {
    if (key.length === 0 || key.length > 100) return 'keys must be 1 to 100 characters';
    const ok =
      value === null ||
      typeof value === 'string' ||
      typeof value === 'boolean' ||
      (typeof value === 'number' && Number.isFinite(value));
    if (!ok) return `${key}: traits are numbers, strings, booleans or ISO dates`;
  }
  return null;
}

/** Builds the object of a typed section; undefined when none of its values is present. */
function sectionObject(
  readers: [string, Read<unknown>][],
  row: unknown,
): Record<string, unknown> | undefined | Invalid {
  let object: Record<string, unknown> | undefined;
  for (const [key, read] of readers) {
    const value = read(row);
    if (value instanceof Invalid) return value;
    if (value === undefined || value === SKIP_ROW) continue;
    (object ??= {})[key] = value;
  }
  return object;
}

function planCustomers(c: PlanContext): TargetPlan {
  const externalId = c.field('externalId')!;
  const { template, ...nameSpec } = c.mapping.fields.name ?? {};
  // A templated name only fills customers without one, so it never overwrites a real name.
  const nameFallback =
    template === undefined
      ? null
      : compileField('name', { template }, c.access, textOf(200), c.omitted, 'fields.name');
  const profile: [string, Read<unknown>][] = [];
  for (const name of Object.keys(CUSTOMER_FIELDS)) {
    if (name === 'externalId') continue;
    const spec =
      name !== 'name' || template === undefined ? undefined : nameSpec.column ? nameSpec : null;
    const read = c.field(name, spec);
    if (read) profile.push([name, read]);
  }
  const typed = c.section('attributes');
  const passthrough =
    typed === null && c.source.columns === null
      ? objectReader(
          c.access('attributes', 'attributes', 'attributes'),
          'attributes',
          checkAttributes,
        )
      : null;
  return {
    columns: [
      ['external_id', 'text'],
      ['data', 'jsonb'],
      ['name_fallback', 'text'],
    ],
    convert(row) {
      const id = externalId(row);
      if (isProblem(id)) return id;
      if (id === undefined || id === null) return required('externalId');
      const data: Record<string, unknown> = {};
      for (const [name, read] of profile) {
        const value = read(row);
        if (isProblem(value)) return value;
        if (value !== undefined) data[name] = value;
      }
      const attributes = typed ? sectionObject(typed, row) : passthrough?.(row);
      if (attributes instanceof Invalid) return attributes;
      if (attributes !== undefined) data.attributes = attributes;
      const fallback = nameFallback?.(row);
      return `${copyCell(id as string)}\t${copyCell(JSON.stringify(data))}\t${copyCell(fallback as string | undefined)}`;
    },
  };
}

function planEvents(c: PlanContext): TargetPlan {
  const f = {
    externalId: c.field('externalId'),
    customerExternalId: c.field('customerExternalId')!,
    type: c.field('type')!,
    occurredAt: c.field('occurredAt')!,
    amount: c.field('amount'),
    currency: c.field('currency'),
    category: c.field('category'),
    channel: c.field('channel'),
  };
  const typed = c.section('properties');
  const passthrough =
    typed === null && c.source.columns === null
      ? objectReader(c.access('properties', 'properties', 'properties'), 'properties', () => null)
      : null;
  const optional = (read: Read<unknown> | null, row: unknown) =>
    read === null ? undefined : read(row);
  return {
    columns: [
      ['external_id', 'text'],
      ['customer_external_id', 'text'],
      ['type', 'text'],
      ['occurred_ms', 'bigint'],
      ['amount', 'numeric(14,2)'],
      ['currency', 'text'],
      ['category', 'text'],
      ['channel', 'text'],
      ['properties', 'jsonb'],
    ],
    convert(row) {
      const externalId = optional(f.externalId, row);
      if (isProblem(externalId)) return externalId;
      const customer = f.customerExternalId(row);
      if (isProblem(customer)) return customer;
      if (customer === undefined || customer === null) return required('customerExternalId');
      const type = f.type(row);
      if (isProblem(type)) return type;
      if (type === undefined || type === null) return required('type');
      const occurredAt = f.occurredAt(row);
      if (isProblem(occurredAt)) return occurredAt;
      if (occurredAt === undefined || occurredAt === null) return required('occurredAt');
      const amount = optional(f.amount, row);
      if (isProblem(amount)) return amount;
      if (type === BuiltinEventType.PURCHASE && (amount as number) < 0) {
        return new Invalid(`amount: a PURCHASE cannot be negative (${amount})`);
      }
      const currency = optional(f.currency, row);
      if (isProblem(currency)) return currency;
      const category = optional(f.category, row);
      if (isProblem(category)) return category;
      const channel = optional(f.channel, row);
      if (isProblem(channel)) return channel;
      const properties = typed ? sectionObject(typed, row) : passthrough?.(row);
      if (properties instanceof Invalid) return properties;
      return (
        `${copyCell(externalId as string)}\t${copyCell(customer as string)}\t${type as string}\t${occurredAt as number}\t` +
        `${copyCell(amount as number)}\t${copyCell(currency as string)}\t${copyCell(category as string)}\t` +
        `${copyCell(channel as string)}\t${properties === undefined ? NULL_CELL : copyCell(JSON.stringify(properties))}`
      );
    },
  };
}

/**
 * A complete file lists its customers with all their tags of the categories it touches, so a
 * row whose tag maps to null still lists its customer: it is staged without a tag (tag_key
 * null) instead of skipped.
 */
function planTags(c: PlanContext): TargetPlan {
  const complete = c.mapping.complete === true;
  const customer = c.field('customerExternalId')!;
  const tag = c.field('tag', undefined, { nullSkipsRow: !complete })!;
  const note = c.field('note');
  return {
    columns: [
      ['customer_external_id', 'text'],
      ['tag_key', 'text'],
      ['note', 'text'],
    ],
    convert(row) {
      const id = customer(row);
      if (isProblem(id)) return id;
      if (id === undefined || id === null) return required('customerExternalId');
      const read = tag(row);
      const key = complete && read === SKIP_ROW ? null : read;
      if (isProblem(key)) return key;
      if (key === undefined) return required('tag');
      const remark = note === null ? undefined : note(row);
      if (isProblem(remark)) return remark;
      return `${copyCell(id as string)}\t${copyCell(key as string | null)}\t${copyCell(remark as string | undefined)}`;
    },
  };
}

/**
 * The tags a tags mapping names: the values its `tag` value map gives and the tags of its
 * taxonomy section. A key that is not a valid tag key names nothing (rows giving it are
 * rejected).
 */
function tagsNamedBy(mapping: ImportMapping): string[] {
  const keys = new Set(mapping.taxonomy?.tags.map((t) => t.key));
  const toKey = TAG_FIELDS.tag!.convert(new DateFormat(undefined));
  for (const value of Object.values(mapping.fields.tag?.values ?? {})) {
    if (value === null || value === '') continue;
    const key = toKey(value);
    if (typeof key === 'string') keys.add(key);
  }
  return [...keys];
}
