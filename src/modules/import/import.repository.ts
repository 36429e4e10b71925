import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { profileColumnsFrom } from '../customer/customer.repository.js';
import { snapshotSql } from '../tagging/tagging.repository.js';
import { ImportError } from './import.errors.js';
import type { ImportMapping } from './import.mapping.js';
import type { ImportKind, RowPlan } from './import.targets.js';

type Taxonomy = NonNullable<ImportMapping['taxonomy']>;

export interface RejectedRow {
  line: string;
  reason: string;
  raw: string;
}

export interface MergeCounts {
  inserted: number;
  updated: number;
  /** Tags: assignments of exclusive categories the imported tag replaced. */
  replaced: number;
}

const STAGING_TABLE: Record<ImportKind, string> = {
  customers: 'import_customers',
  events: 'import_events',
  tags: 'import_tags',
};

/**
 * Columns only the merge uses. An event without an externalId gets one derived from its content
 * (computed by PostgreSQL while COPY streams in), so importing the same file again adds nothing.
 */
const STAGING_EXTRA: Record<ImportKind, string> = {
  customers: 'duplicate boolean not null default false',
  events: `event_id text generated always as (coalesce(external_id, 'import:' || md5(
      customer_external_id || chr(31) || type || chr(31) || occurred_ms::text || chr(31) ||
      coalesce(amount::text, '') || chr(31) || coalesce(currency, '') || chr(31) ||
      coalesce(category, '') || chr(31) || coalesce(channel, '') || chr(31) ||
      coalesce(properties::text, '')))) stored`,
  tags: 'customer_id bigint, tag_id bigint, category_id bigint, exclusive boolean',
};

/** Profile columns read from a staged customer's `data`, exactly as upsertCustomers sets them. */
const CUSTOMER_COLUMNS = profileColumnsFrom('s.data');

/**
 * Staging and merge SQL for file imports, on one raw connection (COPY needs it) whose
 * transaction the caller owns. Every statement is set-based over the staging table.
 */
export class ImportRepository {
  constructor(private readonly client: pg.ClientBase) {}

  /**
   * A temporary table: source line, reject reason (null: valid), raw row, converted columns. The
   * key on line (cheap: lines arrive in order) keeps every join on it an index lookup even when
   * the planner misjudges row counts.
   */
  async createStaging(plan: RowPlan): Promise<string> {
    const table = STAGING_TABLE[plan.kind];
    await this.client.query(
      `create temp table ${table} (
         line bigint primary key, reason text, raw text not null,
         ${plan.columns.map(([name, type]) => `${name} ${type}`).join(', ')},
         ${STAGING_EXTRA[plan.kind]}
       ) on commit drop`,
    );
    return table;
  }

  /** Streams ready COPY text into the staging table; backpressure paces the producer. */
  async copy(table: string, plan: RowPlan, text: AsyncIterable<string>): Promise<void> {
    const columns = ['line', 'reason', 'raw', ...plan.columns.map(([name]) => name)];
    await pipeline(
      Readable.from(text, { objectMode: false }),
      this.client.query(copyFrom(`copy ${table} (${columns.join(', ')}) from stdin`)),
    );
    // Temporary tables are never auto-analyzed; the merges join them with large tables.
    await this.client.query(`analyze ${table}`);
  }

  async countRows(table: string): Promise<{ valid: number; rejected: number }> {
    const { rows } = await this.client.query<{ valid: number; rejected: number }>(
      `select count(*) filter (where reason is null)::int as valid,
              count(*) filter (where reason is not null)::int as rejected
       from ${table}`,
    );
    return rows[0]!;
  }

  /** Rejected rows in line order, a batch at a time (a cursor: constant memory). */
  async *rejects(table: string): AsyncGenerator<RejectedRow[]> {
    await this.client.query(
      `declare import_rejects no scroll cursor for
       select line, reason, raw from ${table} where reason is not null order by line`,
    );
    for (;;) {
      const { rows } = await this.client.query<RejectedRow>('fetch 5000 from import_rejects');
      if (rows.length === 0) break;
      yield rows;
    }
    await this.client.query('close import_rejects');
  }

  /**
   * A later row repeating an externalId is skipped when it says the same, rejected when it
   * differs: which one should win is the file's ambiguity to fix, not ours to guess.
   */
  async checkCustomers(): Promise<void> {
    await this.client.query(
      `update import_customers s
       set duplicate = f.same,
           reason = case when f.same then null
             else format('externalId "%s" repeats line %s with different values', s.external_id, f.first_line) end
       from (select line, first_value(line) over w as first_line,
                    data = first_value(data) over w
                      and name_fallback is not distinct from first_value(name_fallback) over w as same
             from import_customers where reason is null
             window w as (partition by external_id order by line)) f
       where s.line = f.line and f.line > f.first_line`,
    );
  }

  /**
   * upsertCustomers' semantics: new externalIds are inserted; existing customers change only
   * where the file says something different — fields present overwrite, attributes merge key by
   * key (null removes one) — and keep updated_at otherwise. A templated name fills empty names.
   */
  async mergeCustomers(): Promise<MergeCounts> {
    const valid = `s.reason is null and not s.duplicate`;
    const inserted = await this.client.query(
      `insert into customer (external_id, name, ${CUSTOMER_COLUMNS.map((c) => c.column).join(', ')}, attributes)
       select s.external_id, coalesce(s.data->>'name', s.name_fallback, ''),
              ${CUSTOMER_COLUMNS.map((c) => c.read).join(', ')},
              coalesce(jsonb_strip_nulls(s.data->'attributes'), '{}'::jsonb)
       from import_customers s where ${valid}
       order by s.line
       on conflict (external_id) do nothing`,
    );
    const next = CUSTOMER_COLUMNS.map(
      (c) => `case when jsonb_exists(s.data, '${c.key}') then ${c.read} else c.${c.column} end`,
    );
    const nextName = `case when jsonb_exists(s.data, 'name') then coalesce(s.data->>'name', s.name_fallback, '')
      when c.name = '' then coalesce(s.name_fallback, '') else c.name end`;
    const nextAttributes = `case when jsonb_exists(s.data, 'attributes')
      then jsonb_strip_nulls(c.attributes || (s.data->'attributes')) else c.attributes end`;
    // Rows inserted just above compare equal to themselves here, so they are not counted twice.
    const updated = await this.client.query(
      `update customer c set
         name = ${nextName},
         ${CUSTOMER_COLUMNS.map((c, i) => `${c.column} = ${next[i]}`).join(',\n         ')},
         attributes = ${nextAttributes},
         updated_at = now()
       from import_customers s
       where c.external_id = s.external_id and ${valid}
         and (c.name, ${CUSTOMER_COLUMNS.map((c) => `c.${c.column}`).join(', ')}, c.attributes)
             is distinct from (${nextName}, ${next.join(', ')}, ${nextAttributes})`,
    );
    return { inserted: inserted.rowCount ?? 0, updated: updated.rowCount ?? 0, replaced: 0 };
  }

  async checkEvents(): Promise<void> {
    await this.client.query(
      `update import_events s set reason = format('unknown customer "%s"', s.customer_external_id)
       where s.reason is null
         and not exists (select 1 from customer c where c.external_id = s.customer_external_id)`,
    );
  }

  /**
   * One insert of the events not stored yet, the first of each externalId in the file. No plan
   * here can go quadratic whatever the estimates (PostgreSQL assumes an anti-join against a
   * bigger table removes almost everything): the file is deduplicated by sorting, and event and
   * customer are probed by unique key. The anti-join spares ON CONFLICT's per-row speculative
   * insertion (about a third of the statement's time); should a concurrent writer store one of
   * the same externalIds meanwhile, the statement is retried with ON CONFLICT.
   */
  async mergeEvents(): Promise<MergeCounts> {
    const insert = (onConflict: string) =>
      `insert into event (external_id, customer_id, type, occurred_at, amount, currency, category, channel, properties)
       select s.event_id, c.id, s.type, timestamptz 'epoch' + s.occurred_ms * interval '1 millisecond',
              s.amount, s.currency, s.category, s.channel, coalesce(s.properties, '{}'::jsonb)
       from (select distinct on (event_id) event_id, customer_external_id, type, occurred_ms,
                    amount, currency, category, channel, properties
             from import_events where reason is null order by event_id, line) s
       join customer c on c.external_id = s.customer_external_id
       where not exists (select 1 from event e where e.external_id = s.event_id)
       ${onConflict}`;
    await this.client.query('savepoint import_events_merge');
    let result: pg.QueryResult;
    try {
      result = await this.client.query(insert(''));
    } catch (error) {
      if ((error as { code?: string }).code !== '23505') throw error;
      await this.client.query('rollback to savepoint import_events_merge');
      result = await this.client.query(insert('on conflict (external_id) do nothing'));
    }
    await this.client.query('release savepoint import_events_merge');
    return { inserted: result.rowCount ?? 0, updated: 0, replaced: 0 };
  }

  /**
   * Marks the traits the mapping declares personal, in the import's transaction (a dry run or a
   * refused import marks nothing). `personal: false` leaves a flag alone: unmarking is an
   * admin's decision, not a file's.
   */
  async markPersonalTraits(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.client.query(
      `insert into trait (key, personal, updated_by)
       select k, true, 'import' from unnest($1::text[]) k order by k collate "C"
       on conflict (key) do update set personal = true, updated_by = 'import', updated_at = now()
         where not trait.personal`,
      [[...keys]],
    );
  }

  /** Creates the mapping's categories and tags that do not exist yet; existing ones are kept. */
  async ensureTaxonomy(taxonomy: Taxonomy): Promise<{ categories: number; tags: number }> {
    let categories = 0;
    for (const [i, c] of taxonomy.categories.entries()) {
      if (c.parent !== null && !(await this.exists('tag_category', c.parent))) {
        throw new ImportError(
          `mapping: taxonomy.categories[${i}].parent: category "${c.parent}" does not exist`,
        );
      }
      const result = await this.client.query(
        `insert into tag_category (key, name, kind, description, exclusive, suggestable, parent_id)
         values ($1, $2, $3, $4, $5, $6, (select id from tag_category where key = $7))
         on conflict (key) do nothing`,
        [c.key, c.name, c.kind, c.description, c.exclusive, c.suggestable, c.parent],
      );
      categories += result.rowCount ?? 0;
    }
    let tags = 0;
    for (const [i, t] of taxonomy.tags.entries()) {
      if (!(await this.exists('tag_category', t.category))) {
        throw new ImportError(
          `mapping: taxonomy.tags[${i}].category: category "${t.category}" does not exist`,
        );
      }
      const result = await this.client.query(
        `insert into tag (key, name, description, color, category_id)
         select $1, $2, $3, $4, id from tag_category where key = $5
         on conflict (key) do nothing`,
        [t.key, t.name, t.description, t.color, t.category],
      );
      tags += result.rowCount ?? 0;
    }
    return { categories, tags };
  }

  /**
   * Resolves customers and tags (unknown or deprecated: rejected), then rejects a row giving a
   * customer a second, different tag of an exclusive category within the file. A row without a
   * tag (a complete file listing a customer) needs only its customer.
   */
  async checkTags(): Promise<void> {
    await this.client.query(
      `update import_tags s
       set customer_id = r.customer_id, tag_id = r.tag_id, category_id = r.category_id,
           exclusive = r.exclusive,
           reason = case when r.customer_id is null then format('unknown customer "%s"', s.customer_external_id)
                         when s.tag_key is not null and r.tag_id is null then format('unknown tag "%s"', s.tag_key)
                         when r.status <> 'ACTIVE' then format('tag "%s" is deprecated', s.tag_key) end
       from (select i.line, c.id as customer_id, t.id as tag_id, t.category_id, t.status, tc.exclusive
             from import_tags i
             left join customer c on c.external_id = i.customer_external_id
             left join tag t on t.key = i.tag_key
             left join tag_category tc on tc.id = t.category_id
             where i.reason is null) r
       where s.line = r.line`,
    );
    await this.client.query(
      `update import_tags s
       set reason = format('tag "%s" conflicts with "%s" on line %s: category "%s" is exclusive (one tag per customer)',
                           s.tag_key, f.first_key, f.first_line, tc.key)
       from (select line, first_value(tag_id) over w as first_tag, first_value(tag_key) over w as first_key,
                    first_value(line) over w as first_line
             from import_tags where reason is null and exclusive
             window w as (partition by customer_id, category_id order by line)) f,
            tag_category tc
       where s.line = f.line and s.tag_id <> f.first_tag and tc.id = s.category_id`,
    );
  }

  /**
   * Like applyTags: customers are locked in id order (exclusive categories are enforced by
   * delete-then-insert, which concurrent writers must not interleave), held tags of the incoming
   * exclusive categories are replaced and logged REPLACED, new assignments logged APPLIED.
   */
  async mergeTags(actor: string): Promise<MergeCounts> {
    await this.client.query(
      `select count(*) from (
         select id from customer where id in (select customer_id from import_tags where reason is null)
         order by id for no key update
       ) locked`,
    );
    const replaced = await this.client.query<{ n: number }>(
      `with incoming as (
         select distinct on (customer_id, category_id) customer_id, tag_id, category_id, note
         from import_tags where reason is null and exclusive
         order by customer_id, category_id, line
       ),
       removed as (
         delete from customer_tag ct using tag held, incoming i
         where ct.customer_id = i.customer_id and held.id = ct.tag_id
           and held.category_id = i.category_id and ct.tag_id <> i.tag_id
         returning ct.*, i.tag_id as replaced_by, i.note as incoming_note
       ),
       logged as (
         insert into tag_history (customer_id, tag_id, action, source, related_tag_id, before, actor, note)
         select customer_id, tag_id, 'REPLACED', 'IMPORT', replaced_by, ${snapshotSql('removed')}, $1, incoming_note
         from removed returning 1
       )
       select count(*)::int as n from logged`,
      [actor],
    );
    const inserted = await this.client.query<{ n: number }>(
      `with incoming as (
         select distinct on (customer_id, tag_id) customer_id, tag_id, note
         from import_tags where reason is null and tag_id is not null
         order by customer_id, tag_id, line
       ),
       inserted as (
         insert into customer_tag (customer_id, tag_id, source, applied_by, note)
         select customer_id, tag_id, 'IMPORT', $1, note from incoming
         on conflict do nothing
         returning *
       ),
       logged as (
         insert into tag_history (customer_id, tag_id, action, source, after, actor, note)
         select customer_id, tag_id, 'APPLIED', source, ${snapshotSql('inserted')}, applied_by, note
         from inserted returning 1
       )
       select count(*)::int as n from logged`,
      [actor],
    );
    return { inserted: inserted.rows[0]!.n, updated: 0, replaced: replaced.rows[0]!.n };
  }

  /**
   * Drops IMPORT negatives of the (customer, tag) pairs the file applies: the newer file says the
   * customer holds the tag. A reviewer's negative (REVIEW) stays; label derivation lets the
   * holding win over it.
   */
  async removeContradictedNegatives(): Promise<number> {
    const result = await this.client.query(
      `delete from tag_negative n
       using (select distinct customer_id, tag_id from import_tags
              where reason is null and tag_id is not null) s
       where n.customer_id = s.customer_id and n.tag_id = s.tag_id and n.source = 'IMPORT'`,
    );
    return result.rowCount ?? 0;
  }

  /**
   * A complete file's negatives, in one statement: every customer it lists gets a NEGATIVE for
   * each active tag of the categories it touches — those of the tags its rows apply and of
   * `namedTags` (the mapping's) — that the file does not give them. A negative already stored
   * (another file's, a reviewer's) is kept as it is. Customers join `customer` so that one
   * erased since the check (mergeTags locked the rest) gets none.
   */
  async writeNegatives(
    namedTags: readonly string[],
    actor: string,
  ): Promise<{ written: number; customers: number; categories: string[] }> {
    const { rows } = await this.client.query<{
      written: number;
      customers: number;
      categories: string[];
    }>(
      `with given as (
         select distinct customer_id, tag_id from import_tags where reason is null and tag_id is not null
       ),
       touched as (
         select distinct t.category_id as id from tag t
         where t.id in (select tag_id from given) or t.key = any($1::text[])
       ),
       listed as (
         select c.id from customer c
         where c.id in (select customer_id from import_tags where reason is null)
       ),
       written as (
         insert into tag_negative (customer_id, tag_id, source, actor)
         select l.id, t.id, 'IMPORT', $2
         from listed l cross join tag t
         where t.category_id in (select id from touched) and t.status = 'ACTIVE'
           and not exists (select 1 from given g where g.customer_id = l.id and g.tag_id = t.id)
         on conflict (customer_id, tag_id) do nothing
         returning 1
       )
       select (select count(*)::int from written) as written,
              (select count(*)::int from listed) as customers,
              array(select tc.key from tag_category tc where tc.id in (select id from touched)
                    order by tc.key) as categories`,
      [namedTags, actor],
    );
    return rows[0]!;
  }

  private async exists(table: 'tag_category', key: string): Promise<boolean> {
    const { rowCount } = await this.client.query(`select 1 from ${table} where key = $1`, [key]);
    return (rowCount ?? 0) > 0;
  }
}
