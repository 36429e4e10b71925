import type { EntityManager } from '@mikro-orm/postgresql';
import { bigintArray, parseTimestamp, tokenArray } from '../common/sql.js';
import type { Channel } from './event.entity.js';

export interface EventRecord {
  id: string;
  customerId: string;
  externalId: string | null;
  type: string;
  occurredAt: Date;
  amount: number | null;
  currency: string | null;
  category: string | null;
  channel: Channel | null;
  properties: Record<string, unknown>;
}

/** A validated event ready to insert; exactly one of the customer keys is set. */
export interface NewEvent {
  externalId: string | null;
  customerExternalId: string | null;
  customerId: string | null;
  type: string;
  occurredAt: string;
  amount: number | null;
  currency: string | null;
  category: string | null;
  channel: Channel | null;
  properties: Record<string, unknown>;
}

export interface EventWindow {
  types: string[] | null;
  from: Date | null;
  to: Date | null;
}

const INPUT = `input as (
  select e.ord, e.r,
         coalesce(c.id, ci.id) as customer_id
  from jsonb_array_elements(?::jsonb) with ordinality as e(r, ord)
  left join customer c on c.external_id = e.r->>'customerExternalId'
  left join customer ci on ci.id = (e.r->>'customerId')::bigint
)`;

export class EventRepository {
  constructor(private readonly em: EntityManager) {}

  /** Positions (0-based) of rows whose customer does not exist. */
  async findUnknownCustomers(payload: string): Promise<number[]> {
    const rows = await this.em.execute<{ ord: string }[]>(
      `with ${INPUT} select ord from input where customer_id is null order by ord`,
      [payload],
    );
    return rows.map((r) => Number(r.ord) - 1);
  }

  /** Inserts in one statement; a repeated externalId (stored or earlier in the batch) is skipped. */
  async insert(payload: string): Promise<number> {
    const [row] = await this.em.execute<{ n: number }[]>(
      `with ${INPUT},
       inserted as (
         insert into event (external_id, customer_id, type, occurred_at, amount, currency, category, channel, properties)
         select r->>'externalId', customer_id, r->>'type', (r->>'occurredAt')::timestamptz,
                (r->>'amount')::numeric, r->>'currency', r->>'category', r->>'channel',
                coalesce(r->'properties', '{}'::jsonb)
         from input order by ord
         on conflict (external_id) do nothing
         returning 1
       )
       select count(*)::int as n from inserted`,
      [payload],
    );
    return row!.n;
  }

  /** Newest first, a lateral page per customer: one statement for a page of customers. */
  async findPages(
    customerIds: readonly string[],
    window: EventWindow,
    first: number,
    after: { occurredAt: string; id: string } | null,
  ): Promise<(EventRecord & { cursorKey: string })[]> {
    const rows = await this.em.execute<
      (EventRecord & { amount: string | null; occurredAt: string })[]
    >(
      `select e.id, e.customer_id as "customerId", e.external_id as "externalId", e.type,
              e.occurred_at as "occurredAt", e.amount, e.currency, e.category, e.channel, e.properties
       from unnest(?::bigint[]) as c(id)
       cross join lateral (
         select * from event
         where customer_id = c.id
           and (?::text[] is null or type = any(?::text[]))
           and (?::timestamptz is null or occurred_at >= ?::timestamptz)
           and (?::timestamptz is null or occurred_at < ?::timestamptz)
           and (?::timestamptz is null or (occurred_at, id) < (?::timestamptz, ?::bigint))
         order by occurred_at desc, id desc
         limit ?
       ) e`,
      [
        bigintArray(customerIds),
        ...Array(2).fill(window.types ? tokenArray(window.types) : null),
        ...Array(2).fill(window.from?.toISOString() ?? null),
        ...Array(2).fill(window.to?.toISOString() ?? null),
        after?.occurredAt ?? null,
        after?.occurredAt ?? null,
        after?.id ?? null,
        first + 1,
      ],
    );
    // The raw timestamp text keeps microseconds for the cursor.
    return rows.map((r) => ({
      ...r,
      cursorKey: r.occurredAt,
      occurredAt: parseTimestamp(r.occurredAt),
      amount: r.amount === null ? null : Number(r.amount),
    }));
  }

  async count(customerId: string, window: EventWindow): Promise<number> {
    const qb = this.em.getKnex()('event').where('customer_id', customerId).count({ n: '*' });
    if (window.types) qb.whereIn('type', window.types);
    if (window.from) qb.where('occurred_at', '>=', window.from.toISOString());
    if (window.to) qb.where('occurred_at', '<', window.to.toISOString());
    const [row] = await this.em.execute<{ n: string }[]>(qb);
    return Number(row!.n);
  }
}
