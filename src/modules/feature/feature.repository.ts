import type { EntityManager } from '@mikro-orm/postgresql';
import { AppState } from '../common/app-state.entity.js';
import { bigintArray, parseTimestamp, textArray, tokenArray } from '../common/sql.js';
import {
  CATEGORY_ENGAGEMENT_TYPES,
  eventAggregates,
  featureDefinitions,
  featureSetSchema,
  type AttributeValueCounts,
  type FeatureSet,
} from './feature.definitions.js';

const FEATURE_SET_KEY = 'feature_set';

export interface StoredFeatures {
  customerId: string;
  featureSetVersion: number;
  computedAt: Date;
  values: Record<string, number | string | null>;
}

/** Which customers a refresh statement covers. */
export type RefreshScope = { from: string; to: string } | 'queued';

export class FeatureRepository {
  constructor(private readonly em: EntityManager) {}

  async loadFeatureSet(): Promise<FeatureSet> {
    const state = await this.em.findOne(AppState, { key: FEATURE_SET_KEY });
    if (!state) return { version: 1, ...featureSetSchema.parse({}) };
    const { version, ...config } = state.value as FeatureSet;
    return { version, ...featureSetSchema.parse(config) };
  }

  async saveFeatureSet(set: FeatureSet): Promise<void> {
    await this.em.upsert(AppState, { key: FEATURE_SET_KEY, value: set, updatedAt: new Date() });
  }

  /**
   * The categories with the most purchase spend and those with the most engagement (see
   * CATEGORY_ENGAGEMENT_TYPES), in one pass over events: the defaults of a feature set.
   */
  async topCategories(limits: {
    spend: number;
    engagement: number;
  }): Promise<{ bySpend: string[]; byEngagement: string[] }> {
    const [row] = await this.em.execute<{ bySpend: string[]; byEngagement: string[] }[]>(
      `with totals as (
         select category,
                count(*) filter (where type = 'PURCHASE') as purchases,
                sum(amount) filter (where type = 'PURCHASE') as spend,
                count(*) filter (where type = any(?::text[])) as engagement
         from event where category is not null
         group by category
       )
       select
         array(select category from totals where purchases > 0
               order by spend desc nulls last, category limit ?) as "bySpend",
         array(select category from totals where engagement > 0
               order by engagement desc, category limit ?) as "byEngagement"`,
      [tokenArray(CATEGORY_ENGAGEMENT_TYPES), limits.spend, limits.engagement],
    );
    return row!;
  }

  /** Per attribute named, how many customers hold each JSON type under it (one pass). */
  async attributeValueCounts(
    names: readonly string[],
    dateNames: readonly string[],
  ): Promise<Map<string, AttributeValueCounts>> {
    const rows = await this.em.execute<({ name: string } & AttributeValueCounts)[]>(
      `select kv.key as name,
              count(*) filter (where jsonb_typeof(kv.value) = 'number')::int as "number",
              count(*) filter (where jsonb_typeof(kv.value) = 'string')::int as "string",
              count(*) filter (where jsonb_typeof(kv.value) = 'boolean')::int as "boolean",
              count(*) filter (where jsonb_typeof(kv.value) = 'object')::int as "object",
              count(*) filter (where jsonb_typeof(kv.value) = 'array')::int as "array",
              count(*) filter (
                where kv.key = any(?::text[]) and jsonb_typeof(kv.value) = 'string'
                  and tagwise_try_date(kv.value #>> '{}') is not null
              )::int as "dates"
       from customer c cross join lateral jsonb_each(c.attributes) as kv
       where kv.key = any(?::text[])
       group by kv.key`,
      [textArray(dateNames), textArray(names)],
    );
    return new Map(rows.map(({ name, ...counts }) => [name, counts]));
  }

  async customerIdRange(): Promise<{ min: string; max: string } | null> {
    const [row] = await this.em.execute<{ min: string | null; max: string | null }[]>(
      'select min(id)::text as min, max(id)::text as max from customer',
    );
    return row?.min && row.max ? { min: row.min, max: row.max } : null;
  }

  /** Moves the queue into this transaction's scope; rows queued later stay for the next run. */
  async takeQueue(currentVersion: number): Promise<number> {
    await this.em.execute(
      `create temp table if not exists refresh_scope (customer_id bigint primary key) on commit drop`,
    );
    const [row] = await this.em.execute<{ n: number }[]>(
      `with taken as (delete from feature_refresh_queue returning customer_id),
       scoped as (
         insert into refresh_scope (customer_id)
         select customer_id from taken
         union
         select customer_id from customer_features where feature_set_version <> ?
         on conflict do nothing
         returning 1
       )
       select count(*)::int as n from scoped`,
      [currentVersion],
    );
    return row!.n;
  }

  async clearQueue(): Promise<void> {
    await this.em.execute('delete from feature_refresh_queue');
  }

  /** Computes and stores the features of the scope's customers in one set-based statement. */
  async refresh(set: FeatureSet, scope: RefreshScope, asOf: Date): Promise<number> {
    // Feature names are [a-z0-9_] (see slug), so they are safe as column names. One row turned
    // into jsonb costs a sixth less than jsonb_build_object slices (it takes at most 100
    // arguments) joined with ||, and building values is most of a refresh.
    const columns = featureDefinitions(set)
      .map((d) => `${d.sql} as "${d.name}"`)
      .join(',\n           ');
    const inScope = (column: string) =>
      scope === 'queued'
        ? `${column} in (select customer_id from refresh_scope)`
        : `${column} >= ?::bigint and ${column} < ?::bigint`;
    const range = scope === 'queued' ? [] : [scope.from, scope.to];
    const [row] = await this.em.execute<{ n: number }[]>(
      `with p as (select ?::timestamptz as as_of),
       ev as (
         select e.customer_id, ${eventAggregates(set).join(',\n           ')}
         from event e cross join p
         where ${inScope('e.customer_id')} and e.occurred_at <= p.as_of
         group by e.customer_id
       ),
       stored as (
         insert into customer_features (customer_id, feature_set_version, computed_at, values)
         select c.id, ?, p.as_of, to_jsonb(f)
         from customer c cross join p
         left join ev on ev.customer_id = c.id
         cross join lateral (select ${columns}) as f
         where ${inScope('c.id')}
         on conflict (customer_id) do update set
           feature_set_version = excluded.feature_set_version,
           computed_at = excluded.computed_at,
           values = excluded.values
         returning 1
       )
       select count(*)::int as n from stored`,
      [asOf.toISOString(), ...range, set.version, ...range],
    );
    return row!.n;
  }

  /** Every customer's values of one feature set version, in customer order: what a model learns from. */
  async valuesOfVersion(
    featureSetVersion: number,
  ): Promise<{ customerId: string; values: Record<string, number | string | null> }[]> {
    return this.em.execute(
      `select customer_id as "customerId", values from customer_features
       where feature_set_version = ? order by customer_id`,
      [featureSetVersion],
    );
  }

  async findByCustomerIds(customerIds: readonly string[]): Promise<StoredFeatures[]> {
    const rows = await this.em.execute<StoredFeatures[]>(
      `select customer_id as "customerId", feature_set_version as "featureSetVersion",
              computed_at as "computedAt", values
       from customer_features where customer_id = any(?::bigint[])`,
      [bigintArray(customerIds)],
    );
    return rows.map((r) => ({ ...r, computedAt: parseTimestamp(r.computedAt) }));
  }
}
