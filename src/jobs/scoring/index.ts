export {
  CANDIDATE_COLUMNS,
  DEFAULT_BATCH_SIZE,
  DEFAULT_EXPLAIN,
  scoreCustomers,
  type ExplainSettings,
  type ScoreOptions,
  type ScoreReport,
  type ScoringModel,
} from './scoring.job.js';
export { DEFAULT_VALUE_FEATURE, loadScoringModel } from './scoring-model.js';
export { ArtifactError } from './scorer.js';
