import type { EntityManager } from '@mikro-orm/postgresql';
import { decodeCursor, encodeCursor, toPage, type Page } from '../common/pagination.js';
import { textArray } from '../common/sql.js';

export interface TraitRecord {
  key: string;
  personal: boolean;
  /** Customers holding the key now. */
  customers: number;
  updatedAt: Date | null;
  updatedBy: string | null;
}

/**
 * Every key described in `trait` or held by a customer. Customers' keys are read from the table
 * itself (one scan: this is an ADMIN's governance list, not a hot path), so a key imported a
 * minute ago is listed without anything registering it.
 */
const KNOWN_TRAITS = `
  with held as (
    select k as key, count(*)::int as customers
    from customer c, jsonb_object_keys(c.attributes) k
    group by k
  )
  select coalesce(t.key, h.key) as key, coalesce(t.personal, false) as personal,
         coalesce(h.customers, 0) as customers, t.updated_at as "updatedAt",
         t.updated_by as "updatedBy"
  from trait t full join held h on h.key = t.key`;

export class TraitRepository {
  constructor(private readonly em: EntityManager) {}

  /** Known traits in key order (code points), keyed by the last key seen. */
  async findPage(
    filter: { personal?: boolean | null },
    first: number,
    after: string | null | undefined,
  ): Promise<Page<TraitRecord>> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.personal != null) {
      where.push('personal = ?');
      params.push(filter.personal);
    }
    const matching = `select * from (${KNOWN_TRAITS}) known ${where.length ? `where ${where.join(' and ')}` : ''}`;
    const pageWhere = [...where];
    const pageParams = [...params];
    if (after) {
      pageWhere.push('key collate "C" > ?');
      pageParams.push(String(decodeCursor(after, 1)[0]));
    }
    const rows = await this.em.execute<TraitRecord[]>(
      `select * from (${KNOWN_TRAITS}) known
       ${pageWhere.length ? `where ${pageWhere.join(' and ')}` : ''}
       order by key collate "C" limit ?`,
      [...pageParams, first + 1],
    );
    return toPage(
      rows.map((r) => ({ ...r, updatedAt: r.updatedAt ? new Date(r.updatedAt) : null })),
      first,
      (r) => encodeCursor([r.key]),
      async () => {
        const [row] = await this.em.execute<{ n: number }[]>(
          `select count(*)::int as n from (${matching}) m`,
          params,
        );
        return row!.n;
      },
    );
  }

  /** The keys marked personal: one small statement, read at most once per request. */
  async findPersonalKeys(): Promise<Set<string>> {
    const rows = await this.em.execute<{ key: string }[]>('select key from trait where personal');
    return new Set(rows.map((r) => r.key));
  }

  /** Sets the flag of each key, creating rows for keys not described yet. */
  async setPersonal(keys: readonly string[], personal: boolean, actor: string): Promise<void> {
    if (keys.length === 0) return;
    // Sorted, so concurrent callers lock the same keys in the same order.
    await this.em.execute(
      `insert into trait (key, personal, updated_by)
       select k, ?, ? from unnest(?::text[]) k order by k collate "C"
       on conflict (key) do update
         set personal = excluded.personal, updated_by = excluded.updated_by, updated_at = now()
         where trait.personal is distinct from excluded.personal`,
      [personal, actor, textArray([...new Set(keys)])],
    );
  }

  async findOne(key: string): Promise<TraitRecord> {
    const [row] = await this.em.execute<TraitRecord[]>(
      `select ?::text as key, coalesce(t.personal, false) as personal,
              (select count(*)::int from customer c where jsonb_exists(c.attributes, ?)) as customers,
              t.updated_at as "updatedAt", t.updated_by as "updatedBy"
       from (select 1) one left join trait t on t.key = ?`,
      [key, key, key],
    );
    return { ...row!, updatedAt: row!.updatedAt ? new Date(row!.updatedAt) : null };
  }
}
