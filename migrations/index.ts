import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261123090944 } from './Migration20261123090944_core.js';
import { Migration20261123092158 } from './Migration20261123092158_events_features.js';
import { Migration20261123094413 } from './Migration20261123094413_customer_count.js';
import { Migration20261123105605 } from './Migration20261123105605_model_registry.js';
import { Migration20261123110801 } from './Migration20261123110801_model_run.js';
import { Migration20261123113536 } from './Migration20261123113536_suggestions.js';
import { Migration20261123121854 } from './Migration20261123121854_segments_rules.js';
import { Migration20261123125025 } from './Migration20261123125025_suggestion_indexes.js';
import { Migration20261123132500 } from './Migration20261123132500_suggestion_insert_tally.js';
import { Migration20261123133705 } from './Migration20261123133705_suggestion_customer_cascade.js';
import { Migration20261123164905 } from './Migration20261123164905_customer_erasure.js';
import { Migration20261123173255 } from './Migration20261123173255_tag_reference_checks.js';
import { Migration20261205141539 } from './Migration20261205141539_labels.js';
import { Migration20261206093000 } from './Migration20261206093000_retire_stale_suggestions.js';
import { Migration20261206100000 } from './Migration20261206100000_api_key_lifecycle.js';
import { Migration20261206110000 } from './Migration20261206110000_tag_departments.js';
import { Migration20261206120000 } from './Migration20261206120000_audit_log.js';
import { Migration20261206130000 } from './Migration20261206130000_personal_traits.js';
import { Migration20261206140000 } from './Migration20261206140000_run_heartbeat.js';
import { Migration20261206150000 } from './Migration20261206150000_rule_run_params.js';
import { Migration20261206160000 } from './Migration20261206160000_rule_conflict_resolution.js';

/** Every migration, in order. `tagwise migrate --create` writes new ones; list them here. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261123090944_core', class: Migration20261123090944 },
  { name: 'Migration20261123092158_events_features', class: Migration20261123092158 },
  { name: 'Migration20261123094413_customer_count', class: Migration20261123094413 },
  { name: 'Migration20261123105605_model_registry', class: Migration20261123105605 },
  { name: 'Migration20261123110801_model_run', class: Migration20261123110801 },
  { name: 'Migration20261123113536_suggestions', class: Migration20261123113536 },
  { name: 'Migration20261123121854_segments_rules', class: Migration20261123121854 },
  { name: 'Migration20261123125025_suggestion_indexes', class: Migration20261123125025 },
  { name: 'Migration20261123132500_suggestion_insert_tally', class: Migration20261123132500 },
  { name: 'Migration20261123133705_suggestion_customer_cascade', class: Migration20261123133705 },
  { name: 'Migration20261123164905_customer_erasure', class: Migration20261123164905 },
  { name: 'Migration20261123173255_tag_reference_checks', class: Migration20261123173255 },
  { name: 'Migration20261205141539_labels', class: Migration20261205141539 },
  {
    name: 'Migration20261206093000_retire_stale_suggestions',
    class: Migration20261206093000,
  },
  { name: 'Migration20261206100000_api_key_lifecycle', class: Migration20261206100000 },
  { name: 'Migration20261206110000_tag_departments', class: Migration20261206110000 },
  { name: 'Migration20261206120000_audit_log', class: Migration20261206120000 },
  { name: 'Migration20261206130000_personal_traits', class: Migration20261206130000 },
  { name: 'Migration20261206140000_run_heartbeat', class: Migration20261206140000 },
  { name: 'Migration20261206150000_rule_run_params', class: Migration20261206150000 },
  {
    name: 'Migration20261206160000_rule_conflict_resolution',
    class: Migration20261206160000,
  },
];
