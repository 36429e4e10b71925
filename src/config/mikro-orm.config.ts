import { DataloaderType, ReflectMetadataProvider } from '@mikro-orm/core';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { migrationsList } from '../../migrations/index.js';
import { AppState } from '../modules/common/app-state.entity.js';
import { ApiKey } from '../modules/auth/api-key.entity.js';
import { AuditEntry } from '../modules/audit/audit-entry.entity.js';
import { Customer, CustomerCountDelta } from '../modules/customer/customer.entity.js';
import { Event } from '../modules/event/event.entity.js';
import {
  Cluster,
  CustomerCluster,
  ModelRun,
  ModelVersion,
} from '../modules/model-registry/model-version.entity.js';
import {
  CustomerFeatures,
  FeatureRefreshQueue,
} from '../modules/feature/customer-features.entity.js';
import {
  ReviewLog,
  SuggestionRun,
  SuggestionTally,
  TagSuggestion,
} from '../modules/suggestion/suggestion.entity.js';
import { Rule, RuleConflict, RuleRun } from '../modules/rule/rule.entity.js';
import { Segment } from '../modules/segment/segment.entity.js';
import { Trait } from '../modules/trait/trait.entity.js';
import { CustomerTag } from '../modules/tagging/customer-tag.entity.js';
import { TagHistory } from '../modules/tagging/tag-history.entity.js';
import { TagNegative } from '../modules/tagging/tag-negative.entity.js';
import { Tag } from '../modules/taxonomy/tag.entity.js';
import { TagCategory } from '../modules/taxonomy/tag-category.entity.js';

export const entities = [
  AppState,
  ApiKey,
  AuditEntry,
  Customer,
  CustomerCountDelta,
  TagCategory,
  Tag,
  CustomerTag,
  TagHistory,
  TagNegative,
  Event,
  CustomerFeatures,
  FeatureRefreshQueue,
  ModelVersion,
  Cluster,
  CustomerCluster,
  ModelRun,
  TagSuggestion,
  ReviewLog,
  SuggestionRun,
  SuggestionTally,
  Segment,
  Rule,
  RuleRun,
  RuleConflict,
  Trait,
];

export interface OrmOptions {
  url: string;
  debug?: boolean;
  poolMax?: number;
  /** Each session's statement_timeout (ms), set when it connects; 0 or unset: none. */
  statementTimeoutMs?: number;
  /** How long a statement waits for a free connection before it fails; knex's default 60 s. */
  acquireTimeoutMs?: number;
  /** Where MikroORM's own messages (migrator progress, debug SQL) go. */
  logger?: (message: string) => void;
}

export function createOrmConfig({
  url,
  debug = false,
  poolMax = 10,
  statementTimeoutMs = 0,
  acquireTimeoutMs = 60_000,
  logger,
}: OrmOptions): Options {
  return defineConfig({
    clientUrl: url,
    entities,
    metadataProvider: ReflectMetadataProvider,
    dataloader: DataloaderType.ALL,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: true },
    pool: { min: 0, max: poolMax },
    driverOptions: {
      acquireConnectionTimeout: acquireTimeoutMs,
      // node-postgres sends it as a startup parameter: no extra round trip per connection.
      ...(statementTimeoutMs > 0 ? { connection: { statement_timeout: statementTimeoutMs } } : {}),
      // knex writes its warnings (a pooled connection found dead after a database restart) to
      // the console, outside the JSON log.
      ...(logger ? { log: { warn: (message: string) => logger(`knex: ${message}`) } } : {}),
    },
    debug,
    ...(logger ? { logger } : {}),
    // A list rather than a glob, so the same migrations run from sources and from dist/.
    migrations: {
      migrationsList,
      path: 'migrations',
      pathTs: 'migrations',
      snapshot: true,
      snapshotName: '.snapshot-tagwise',
      emit: 'ts',
      transactional: true,
      allOrNothing: true,
    },
  });
}

export default createOrmConfig({
  url: process.env.DATABASE_URL ?? 'postgresql://postgres:tagwise@127.0.0.1:5433/tagwise',
});
