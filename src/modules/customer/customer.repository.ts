import type { Knex } from '@mikro-orm/knex';
import type { EntityManager } from '@mikro-orm/postgresql';
import { InvalidInputError } from '../common/domain.errors.js';
import {
  cursorId,
  cursorTimestamp,
  decodeCursor,
  encodeCursor,
  toPage,
  type Page,
} from '../common/pagination.js';
import { bigintArray, likePattern, parseTimestamp } from '../common/sql.js';
import type { Attributes } from './customer.entity.js';
import {
  ComparisonOperator,
  CustomerOrderField,
  OrderDirection,
  ProfileField,
  type AttributeCondition,
  type CustomerFilter,
  type CustomerInput,
} from './customer.input.js';

export interface CustomerRecord {
  id: string;
  externalId: string;
  name: string;
  email: string | null;
  phone: string | null;
  gender: string | null;
  birthYear: number | null;
  region: string | null;
  city: string | null;
  industry: string | null;
  companySize: number | null;
  lifecycleStage: string | null;
  firstSeenAt: Date | null;
  attributes: Attributes;
  createdAt: Date;
  updatedAt: Date;
}

/** Filter ids are validated and known to exist before they reach SQL. */
export interface ResolvedCustomerFilter extends Omit<CustomerFilter, 'tags' | 'tagCategoryId'> {
  tags?: { allOf: string[]; anyOf: string[]; noneOf: string[] } | null;
  tagCategoryId?: string | null;
  /** `{…}` literal of tags the reader may not see, for the category match. */
  hiddenTagIds?: string;
}

/** The customer columns as CustomerRecord fields, for queries that join customers (alias c). */
export const CUSTOMER_COLUMNS = `c.id, c.external_id as "externalId", c.name, c.email, c.phone, c.gender,
  c.birth_year as "birthYear", c.region, c.city, c.industry, c.company_size as "companySize",
  c.lifecycle_stage as "lifecycleStage", c.first_seen_at as "firstSeenAt", c.attributes,
  c.created_at as "createdAt", c.updated_at as "updatedAt"`;

export function withDates<T extends CustomerRecord>(row: T): T {
  row.firstSeenAt = parseTimestamp(row.firstSeenAt);
  row.createdAt = parseTimestamp(row.createdAt);
  row.updatedAt = parseTimestamp(row.updatedAt);
  return row;
}

const COMPACT_AFTER = 100;

function isUnfiltered(filter: ResolvedCustomerFilter | null | undefined): boolean {
  if (!filter) return true;
  const { tags, tagCategoryId, profile, attributes, search } = filter;
  return (
    !tags?.allOf.length &&
    !tags?.anyOf.length &&
    !tags?.noneOf.length &&
    !tagCategoryId &&
    !profile?.length &&
    !attributes?.length &&
    !search?.trim()
  );
}

const INTEGER_FIELDS = new Set([ProfileField.BIRTH_YEAR, ProfileField.COMPANY_SIZE]);

/**
 * Profile columns an upsert may set and their input keys; file imports merge the same ones.
 * Timestamps arrive as ISO 8601 text with an offset (JSON of a Date), so the session's time zone
 * never changes what is stored.
 */
export const PROFILE_COLUMNS: {
  column: string;
  key: keyof CustomerInput;
  type: 'text' | 'int' | 'timestamptz';
}[] = [
  { column: 'email', key: 'email', type: 'text' },
  { column: 'phone', key: 'phone', type: 'text' },
  { column: 'gender', key: 'gender', type: 'text' },
  { column: 'birth_year', key: 'birthYear', type: 'int' },
  { column: 'region', key: 'region', type: 'text' },
  { column: 'city', key: 'city', type: 'text' },
  { column: 'industry', key: 'industry', type: 'text' },
  { column: 'company_size', key: 'companySize', type: 'int' },
  { column: 'lifecycle_stage', key: 'lifecycleStage', type: 'text' },
  { column: 'first_seen_at', key: 'firstSeenAt', type: 'timestamptz' },
];

/** How each profile column is read from a JSON row `json` (e.g. `i.r`). */
export function profileColumnsFrom(json: string): { column: string; key: string; read: string }[] {
  return PROFILE_COLUMNS.map(({ column, key, type }) => ({
    column,
    key,
    read: type === 'text' ? `${json}->>'${key}'` : `(${json}->>'${key}')::${type}`,
  }));
}

/** Columns an upsert may set, with how each is read from the JSON input row. */
const UPSERT_COLUMNS = [
  { column: 'name', key: 'name', read: `coalesce(i.r->>'name', '')` },
  ...profileColumnsFrom('i.r'),
];

export class CustomerRepository {
  constructor(private readonly em: EntityManager) {}

  private get knex(): Knex {
    return this.em.getKnex();
  }

  async findByIds(ids: readonly string[]): Promise<CustomerRecord[]> {
    const rows = await this.em.execute<CustomerRecord[]>(
      `select ${CUSTOMER_COLUMNS} from customer c where c.id = any(?::bigint[])`,
      [bigintArray(ids)],
    );
    return rows.map(withDates);
  }

  async findById(id: string): Promise<CustomerRecord | null> {
    const [row] = await this.em.execute<CustomerRecord[]>(
      `select ${CUSTOMER_COLUMNS} from customer c where c.id = ?`,
      [id],
    );
    return row ? withDates(row) : null;
  }

  /**
   * Keyset pagination over (sort column, id): rows inserted between pages never shift the ones
   * after the cursor, so nothing is skipped or repeated. Timestamps travel in the cursor as
   * PostgreSQL text to keep their microseconds.
   */
  async findPage(
    filter: ResolvedCustomerFilter | null | undefined,
    order: { field: CustomerOrderField; direction: OrderDirection },
    first: number,
    after: string | null | undefined,
  ): Promise<Page<CustomerRecord>> {
    const column = `c.${order.field}`;
    const isTime = order.field !== CustomerOrderField.NAME;
    const qb = this.filtered(filter)
      .select(this.knex.raw(CUSTOMER_COLUMNS))
      .select(this.knex.raw(`${column}${isTime ? '::text' : ''} as "sortKey"`))
      .orderBy([
        { column, order: order.direction },
        { column: 'c.id', order: order.direction },
      ])
      .limit(first + 1);
    if (after) {
      const [key, id] = decodeCursor(after, 2);
      const op = order.direction === OrderDirection.ASC ? '>' : '<';
      qb.whereRaw(`(${column}, c.id) ${op} (?${isTime ? '::timestamptz' : ''}, ?::bigint)`, [
        isTime ? cursorTimestamp(key) : String(key),
        cursorId(id),
      ]);
    }
    const rows = await this.em.execute<(CustomerRecord & { sortKey: string })[]>(qb);
    return toPage(
      rows.map(withDates),
      first,
      (c) => encodeCursor([c.sortKey, Number(c.id)]),
      () => (isUnfiltered(filter) ? this.countAll() : this.countMatching(filter)),
    );
  }

  /**
   * Inserts new external ids, then updates the rest in a second statement, so a row another
   * transaction inserted meanwhile is seen (and updated) rather than silently skipped. SET
   * expressions read the row itself, so a concurrent update of other fields is not lost.
   */
  async upsert(rows: CustomerInput[]): Promise<{ created: number; updated: number }> {
    const payload = JSON.stringify(rows);
    const inserted = await this.em.execute<{ externalId: string }[]>(
      `with input as (select r from jsonb_array_elements(?::jsonb) as e(r))
       insert into customer (external_id, ${UPSERT_COLUMNS.map((c) => c.column).join(', ')}, attributes)
       select i.r->>'externalId', ${UPSERT_COLUMNS.map((c) => c.read).join(', ')},
              coalesce(jsonb_strip_nulls(i.r->'attributes'), '{}'::jsonb)
       from input i
       on conflict (external_id) do nothing
       returning external_id as "externalId"`,
      [payload],
    );
    const next = (c: (typeof UPSERT_COLUMNS)[number]) =>
      `case when jsonb_exists(i.r, '${c.key}') then ${c.read} else c.${c.column} end`;
    const nextAttributes = `case when jsonb_exists(i.r, 'attributes')
      then jsonb_strip_nulls(c.attributes || (i.r->'attributes')) else c.attributes end`;
    const updated = await this.em.execute<{ id: string }[]>(
      `with input as (select r from jsonb_array_elements(?::jsonb) as e(r))
       update customer c set
         ${UPSERT_COLUMNS.map((col) => `${col.column} = ${next(col)}`).join(',\n         ')},
         attributes = ${nextAttributes},
         updated_at = now()
       from input i
       where c.external_id = i.r->>'externalId'
         and c.external_id not in (select jsonb_array_elements_text(?::jsonb))
         and (${UPSERT_COLUMNS.map((col) => `c.${col.column}`).join(', ')}, c.attributes)
             is distinct from (${UPSERT_COLUMNS.map(next).join(', ')}, ${nextAttributes})
       returning c.id`,
      [payload, JSON.stringify(inserted.map((r) => r.externalId))],
    );
    return { created: inserted.length, updated: updated.length };
  }

  private async countMatching(filter: ResolvedCustomerFilter | null | undefined): Promise<number> {
    const [row] = await this.em.execute<{ n: string }[]>(this.filtered(filter).count({ n: '*' }));
    return Number(row!.n);
  }

  /** Sums the trigger-maintained deltas, folding them into one row now and then. */
  private async countAll(): Promise<number> {
    const [row] = await this.em.execute<{ n: string; rows: number }[]>(
      'select coalesce(sum(n), 0)::text as n, count(*)::int as rows from customer_count_delta',
    );
    if (row!.rows > COMPACT_AFTER) {
      // Each delta row is deleted by exactly one compaction, so concurrent ones stay correct.
      await this.em.execute(
        `with folded as (delete from customer_count_delta returning n)
         insert into customer_count_delta (n) select coalesce(sum(n), 0) from folded`,
      );
    }
    return Number(row!.n);
  }

  private filtered(filter: ResolvedCustomerFilter | null | undefined): Knex.QueryBuilder {
    const knex = this.knex;
    const qb = knex({ c: 'customer' });
    if (!filter) return qb;
    const holds = (tagIds: string[]) =>
      knex
        .select(knex.raw('1'))
        .from({ ct: 'customer_tag' })
        .whereRaw('ct.customer_id = c.id')
        .whereRaw('ct.tag_id = any(?::bigint[])', [bigintArray(tagIds)]);
    for (const id of filter.tags?.allOf ?? []) qb.whereExists(holds([id]));
    if (filter.tags?.anyOf.length) qb.whereExists(holds(filter.tags.anyOf));
    if (filter.tags?.noneOf.length) qb.whereNotExists(holds(filter.tags.noneOf));
    if (filter.tagCategoryId) {
      qb.whereExists(
        knex
          .select(knex.raw('1'))
          .from({ ct: 'customer_tag' })
          .join({ t: 'tag' }, 't.id', 'ct.tag_id')
          .whereRaw('ct.customer_id = c.id')
          // The category's hidden tags do not count: holding only those must not show.
          .whereRaw('not ct.tag_id = any(?::bigint[])', [filter.hiddenTagIds ?? '{}'])
          .whereRaw(
            `t.category_id in (
               with recursive sub(id) as (
                 select ?::bigint
                 union all select tc.id from tag_category tc join sub on tc.parent_id = sub.id
               ) select id from sub)`,
            [filter.tagCategoryId],
          ),
      );
    }
    filter.profile?.forEach((condition, i) => {
      const field = `filter.profile[${i}]`;
      const column = `c.${condition.field}`;
      const parse = (value: string) => {
        if (!INTEGER_FIELDS.has(condition.field)) return value;
        if (!/^-?\d{1,9}$/.test(value)) {
          throw new InvalidInputError(
            field,
            `${field}: ${condition.field} takes whole numbers, got "${value}"`,
          );
        }
        return Number(value);
      };
      if (condition.equals != null) qb.where(column, parse(condition.equals));
      else if (condition.in != null) qb.whereIn(column, condition.in.map(parse));
      else throw new InvalidInputError(field, `${field}: give equals or in`);
    });
    filter.attributes?.forEach((condition, i) =>
      applyAttribute(qb, condition, `filter.attributes[${i}]`),
    );
    if (filter.search?.trim()) {
      qb.whereRaw(`lower(c.name || ' ' || coalesce(c.email, '')) like ?`, [
        likePattern(filter.search.trim().toLowerCase()),
      ]);
    }
    return qb;
  }
}

const COMPARATORS: Partial<Record<ComparisonOperator, string>> = {
  [ComparisonOperator.LT]: '<',
  [ComparisonOperator.LTE]: '<=',
  [ComparisonOperator.GT]: '>',
  [ComparisonOperator.GTE]: '>=',
};

/**
 * Typed comparison on one trait. EQ uses containment so the GIN index applies; ordering
 * comparisons only match values of the same JSON type (numbers numerically, strings — and so ISO
 * dates — lexically), guarded by CASE because PostgreSQL does not promise AND evaluates in order.
 */
function applyAttribute(qb: Knex.QueryBuilder, condition: AttributeCondition, field: string): void {
  const { key, op, value } = condition;
  if (op === ComparisonOperator.EXISTS) {
    qb.whereRaw('jsonb_exists(c.attributes, ?)', [key]);
    return;
  }
  if (value === null || value === undefined || typeof value === 'object') {
    throw new InvalidInputError(
      `${field}.value`,
      `${field}.value: ${op} needs a number, string or boolean`,
    );
  }
  const contains = JSON.stringify({ [key]: value });
  if (op === ComparisonOperator.EQ) {
    qb.whereRaw('c.attributes @> ?::jsonb', [contains]);
    return;
  }
  if (op === ComparisonOperator.NE) {
    qb.whereRaw('jsonb_exists(c.attributes, ?) and not c.attributes @> ?::jsonb', [key, contains]);
    return;
  }
  if (typeof value === 'boolean') {
    throw new InvalidInputError(
      `${field}.value`,
      `${field}.value: booleans support only EQ, NE and EXISTS`,
    );
  }
  const comparator = COMPARATORS[op]!;
  if (typeof value === 'number') {
    qb.whereRaw(
      `(case when jsonb_typeof(c.attributes->?) = 'number' then (c.attributes->>?)::numeric end) ${comparator} ?`,
      [key, key, value],
    );
  } else {
    qb.whereRaw(
      `(case when jsonb_typeof(c.attributes->?) = 'string' then c.attributes->>? end) ${comparator} ?`,
      [key, key, value],
    );
  }
}
