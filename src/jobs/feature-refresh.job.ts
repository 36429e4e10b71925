import type { MikroORM } from '@mikro-orm/postgresql';
import {
  TOP_ENGAGEMENT_CATEGORIES,
  TOP_SPEND_CATEGORIES,
  type FeatureSet,
} from '../modules/feature/feature.definitions.js';
import { FeatureRepository } from '../modules/feature/feature.repository.js';
import { Rule } from '../modules/rule/rule.entity.js';
import { runRules } from './rules.job.js';

export interface RefreshOptions {
  /** full: every customer; incremental: customers queued by new events or profile changes. */
  mode: 'full' | 'incremental';
  /** Reference time of every window and "days since"; defaults to now. */
  asOf?: Date;
  /** Customer ids per statement in a full refresh: bounds memory and gives progress. */
  chunkSize?: number;
  /** Statements run at once in a full refresh; one per core of the database server. */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  /** Run the enabled rules on the fresh features afterwards (default true). */
  runRules?: boolean;
}

export interface RefreshReport {
  mode: 'full' | 'incremental';
  customers: number;
  featureSetVersion: number;
  asOf: Date;
  ms: number;
  /** The rule run that followed, when there were enabled rules. */
  ruleRunId?: string;
}

/** Recomputes customer features set-based in SQL; see feature.definitions.ts for what. */
export async function refreshFeatures(
  orm: MikroORM,
  options: RefreshOptions,
): Promise<RefreshReport> {
  const started = Date.now();
  const asOf = options.asOf ?? new Date();
  const em = orm.em.fork();
  const repository = new FeatureRepository(em);
  let set = await repository.loadFeatureSet();

  if (options.mode === 'incremental') {
    const customers = await em.transactional(async (tx) => {
      const scoped = new FeatureRepository(tx);
      const queued = await scoped.takeQueue(set.version);
      return queued > 0 ? scoped.refresh(set, 'queued', asOf) : 0;
    });
    options.onProgress?.(1, 1);
    return {
      mode: 'incremental',
      customers,
      featureSetVersion: set.version,
      asOf,
      ms: Date.now() - started,
      ...(await rulesAfterRefresh(orm, options)),
    };
  }

  if (set.spendCategories === null || set.engagementCategories === null) {
    set = await freezeCategories(repository, set);
  }
  // Queue entries committed from here on are for changes this refresh may not see.
  await repository.clearQueue();
  const range = await repository.customerIdRange();
  const chunk = BigInt(options.chunkSize ?? 50_000);
  let customers = 0;
  if (range) {
    const min = BigInt(range.min);
    const max = BigInt(range.max);
    const total = Number((max - min) / chunk) + 1;
    let done = 0;
    for (let from = min; from <= max; from += chunk) {
      customers += await repository.refresh(
        set,
        { from: String(from), to: String(from + chunk) },
        asOf,
      );
      options.onProgress?.(++done, total);
    }
  }
  return {
    mode: 'full',
    customers,
    featureSetVersion: set.version,
    asOf,
    ms: Date.now() - started,
    ...(await rulesAfterRefresh(orm, options)),
  };
}

/** Rules read features, so every refresh is followed by a rule run (when there are rules). */
async function rulesAfterRefresh(
  orm: MikroORM,
  options: RefreshOptions,
): Promise<{ ruleRunId?: string }> {
  if (options.runRules === false) return {};
  if ((await orm.em.fork().count(Rule, { enabled: true })) === 0) return {};
  const run = await runRules(orm, { origin: 'feature-refresh' });
  return { ruleRunId: run.id };
}

/**
 * Fixes the categories left open (null) to the top ones by spend and by engagement, under a new
 * version: features are only comparable between customers while their categories stay the same.
 */
async function freezeCategories(
  repository: FeatureRepository,
  set: FeatureSet,
): Promise<FeatureSet> {
  const top = await repository.topCategories({
    spend: TOP_SPEND_CATEGORIES,
    engagement: TOP_ENGAGEMENT_CATEGORIES,
  });
  const frozen = {
    ...set,
    version: set.version + 1,
    spendCategories: set.spendCategories ?? top.bySpend,
    engagementCategories: set.engagementCategories ?? top.byEngagement,
  };
  await repository.saveFeatureSet(frozen);
  return frozen;
}
