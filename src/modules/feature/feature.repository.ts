import type { EntityManager } from '@mikro-orm/postgresql';
import { AppState } from '../common/app-state.entity.js';
import { bigintArray, parseTimestamp } from '../common/sql.js';
import {
  eventAggregates,
  featureDefinitions,
  featureSetSchema,
  type FeatureSet,
} from './feature.definitions.js';

const FEATURE_SET_KEY = 'feature_set';
/** jsonb_build_object takes at most 100 arguments; values are built in slices and concatenated. */
const PAIRS_PER_OBJECT = 40;

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

  /** The product categories with the most purchase spend: the default spend-share features. */
  async topSpendCategories(limit: number): Promise<string[]> {
    const rows = await this.em.execute<{ category: string }[]>(
      `select category from event where type = 'PURCHASE' and category is not null
       group by category order by sum(amount) desc nulls last, category limit ?`,
      [limit],
    );
    return rows.map((r) => r.category);
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
    const definitions = featureDefinitions(set);
    const slices: string[] = [];
    for (let i = 0; i < definitions.length; i += PAIRS_PER_OBJECT) {
      const pairs = definitions
        .slice(i, i + PAIRS_PER_OBJECT)
        .map((d) => `'${d.name}', ${d.sql}`)
        .join(', ');
      slices.push(`jsonb_build_object(${pairs})`);
    }
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
         select c.id, ?, p.as_of, ${slices.join(' || ')}
         from customer c cross join p
         left join ev on ev.customer_id = c.id
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
