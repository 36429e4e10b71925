// The public analysis API (`tagwise/analysis`): what a data scientist needs from a notebook, each
// a thin wrapper over the code the service runs, so an analysis sees what production sees.
import { fileURLToPath } from 'node:url';
import type { MikroORM } from '@mikro-orm/postgresql';
import { openDatabaseForCli } from '../cli/context.js';
import type { AppConfig } from '../config/env.js';
import { compareVersions, type VersionComparison } from '../jobs/compare.job.js';
import { findModelVersion, scoreAllCustomers } from '../jobs/score-all.job.js';
import { trainModels, type TrainOptions, type TrainReport } from '../jobs/train.job.js';
import type { TagEvaluation } from '../ml/classifier/index.js';
import {
  fitPreprocessor,
  transformFeatures,
  type FeatureMatrix,
  type FeatureRow,
} from '../ml/preprocessing.js';
import { AuditService, cliActor } from '../modules/audit/audit.service.js';
import { bigintArray } from '../modules/common/sql.js';
import { featureDefinitions } from '../modules/feature/feature.definitions.js';
import { FeatureRepository } from '../modules/feature/feature.repository.js';
import { ModelRegistryService } from '../modules/model-registry/model-registry.service.js';
import type { ModelVersion } from '../modules/model-registry/model-version.entity.js';
import { SuggestionRepository } from '../modules/suggestion/suggestion.repository.js';
import { onlinePrecision } from '../modules/suggestion/suggestion.service.js';
import { LabelRepository } from '../modules/tagging/label.repository.js';

export { chart, type ChartSpec } from './chart.js';
export {
  assignClusters,
  fitKMeans,
  profileClusters,
  type KCandidate,
  type KMeansModel,
} from '../ml/kmeans.js';
export {
  averagePrecision,
  calibrationCurve,
  precisionRecallAt,
  silhouetteScore,
  thresholdCurve,
  type CalibrationBin,
} from '../ml/metrics.js';
export type { TagEvaluation, TrainReport, VersionComparison };

/** An open database: the embedded one of TAGWISE_DATA_DIR, or DATABASE_URL. Close it when done. */
export interface AnalysisSession {
  orm: MikroORM;
  config: AppConfig;
  close(): Promise<void>;
}

/** The repository: where `npm start` and `npx tagwise` run. */
const REPOSITORY = fileURLToPath(new URL('../..', import.meta.url));

/**
 * Connects as the `tagwise` CLI does (same settings, migrations applied), from the repository
 * root: relative settings (TAGWISE_DATA_DIR's default `.data`) and the model folders versions
 * record relative to where they were trained resolve as they do for the server and the CLI, not
 * from the notebook's folder, where Jupyter starts kernels.
 */
export async function connect(): Promise<AnalysisSession> {
  process.chdir(REPOSITORY);
  const { orm, config, close } = await openDatabaseForCli();
  return { orm, config, close };
}

export interface FeatureTable {
  featureSetVersion: number;
  /** The feature set's columns, in its order. */
  names: string[];
  /** Customer ids (bigint text), aligned with `rows`. */
  customerIds: string[];
  rows: FeatureRow[];
}

/** Every customer's features of the current feature set: the rows a training learns from. */
export async function loadFeatures(session: AnalysisSession): Promise<FeatureTable> {
  const repository = new FeatureRepository(session.orm.em.fork());
  const set = await repository.loadFeatureSet();
  const stored = await repository.valuesOfVersion(set.version);
  return {
    featureSetVersion: set.version,
    names: featureDefinitions(set).map((d) => d.name),
    customerIds: stored.map((r) => r.customerId),
    rows: stored.map((r) => r.values),
  };
}

/** Features scaled, encoded and imputed as a training does: the input of k-means. */
export function modelMatrix(rows: readonly FeatureRow[]): FeatureMatrix {
  return transformFeatures(fitPreprocessor(rows), rows);
}

export interface TagLabelSet {
  tag: string;
  category: string;
  /** Customer ids holding the tag. */
  positives: string[];
  /** Customer ids known not to hold it: rejected by a reviewer, imported as absent, or holding
   * another tag of an exclusive category. */
  knownNegatives: string[];
  /** Customers with features and neither label. */
  unlabelled: number;
}

/**
 * Known labels of every active tag of the suggestable categories, measured over `customerIds`
 * (those of `loadFeatures`): what a training would learn each tag from.
 */
export async function loadLabels(
  session: AnalysisSession,
  customerIds: readonly string[],
): Promise<TagLabelSet[]> {
  const em = session.orm.em.fork();
  const tags = await em.execute<{ id: string; key: string; category: string }[]>(
    `select t.id::text as id, t.key, c.key as category
     from tag t join tag_category c on c.id = t.category_id
     where t.status = 'ACTIVE' and c.suggestable order by c.key, t.key`,
  );
  const known = await new LabelRepository(em).labelsByTagId(tags.map((t) => t.id));
  const population = new Set(customerIds);
  return tags.map((tag, i) => {
    const labels = known[i]!;
    const positives = labels.positives.filter((id) => population.has(id));
    const held = new Set(positives);
    const knownNegatives = [...new Set(Object.values(labels.negatives).flat())].filter(
      (id) => population.has(id) && !held.has(id),
    );
    return {
      tag: tag.key,
      category: tag.category,
      positives,
      knownNegatives,
      unlabelled: population.size - positives.length - knownNegatives.length,
    };
  });
}

/**
 * Trains and registers a candidate exactly as `tagwise train` does (CANDIDATE unless `promote`),
 * into the configured models folder. The report holds per-tag metrics with their precision–recall
 * curves and the held-out calibration.
 */
export async function train(
  session: AnalysisSession,
  options: Partial<TrainOptions> = {},
): Promise<TrainReport> {
  return trainModels(session.orm, {
    modelsDir: session.config.modelsDir,
    createdBy: 'analysis',
    ...options,
  });
}

/** A version by id or version string; no ref: the ACTIVE one. */
export async function modelVersion(
  session: AnalysisSession,
  ref?: string | null,
): Promise<ModelVersion> {
  return findModelVersion(session.orm, ref);
}

/** The per-tag metrics (with precision–recall curves) a version recorded at training. */
export async function evaluation(
  session: AnalysisSession,
  ref?: string | null,
): Promise<TagEvaluation[]> {
  const version = await findModelVersion(session.orm, ref);
  return (version.metrics as { tags?: TagEvaluation[] }).tags ?? [];
}

export interface Scores {
  customerIds: string[];
  tags: string[];
  /** customers × tags, row-major. */
  probabilities: Float32Array;
}

/** Every customer with current features scored by a version (default ACTIVE), as `tagwise score`. */
export async function score(
  session: AnalysisSession,
  options: { model?: string | null; tags?: readonly string[] } = {},
): Promise<Scores> {
  const customerIds: string[] = [];
  const chunks: Float32Array[] = [];
  let tags: string[] = [];
  for await (const page of scoreAllCustomers(session.orm, options)) {
    customerIds.push(...page.customerIds);
    chunks.push(page.probabilities);
    tags = page.tags;
  }
  const probabilities = new Float32Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((offset, c) => (probabilities.set(c, offset), offset + c.length), 0);
  return { customerIds, tags, probabilities };
}

/** Two versions on the customers both held out, against today's labels: `tagwise models compare`. */
export async function compare(
  session: AnalysisSession,
  a: string,
  b: string,
): Promise<VersionComparison> {
  return compareVersions(session.orm, a, b);
}

export interface TagFeedback {
  tag: string;
  approved: number;
  rejected: number;
  corrected: number;
  /** Share of the reviewed suggestions approved; null before the first decision. */
  online: number | null;
  /** The precision the version measured (KNOWN) or estimated (PU) on held-out customers. */
  offline: number | null;
}

/** Reviewer decisions on a version's suggestions (default ACTIVE): online vs offline precision. */
export async function feedback(
  session: AnalysisSession,
  ref?: string | null,
): Promise<{ version: string; tags: TagFeedback[] }> {
  const version = await findModelVersion(session.orm, ref);
  const em = session.orm.em.fork();
  const decided = (await new SuggestionRepository(em).decisionCounts([version.id])).map(
    onlinePrecision,
  );
  const evaluations = (version.metrics as { tags?: TagEvaluation[] }).tags ?? [];
  const keys = new Map(
    (
      await em.execute<{ id: string; key: string }[]>(
        'select id::text as id, key from tag where id = any(?::bigint[])',
        [bigintArray(decided.map((d) => d.tagId))],
      )
    ).map((t) => [t.id, t.key]),
  );
  return {
    version: version.version,
    tags: evaluations.map((e) => {
      const row = decided.find((d) => keys.get(d.tagId) === e.tag);
      return {
        tag: e.tag,
        approved: row?.approved ?? 0,
        rejected: row?.rejected ?? 0,
        corrected: row?.corrected ?? 0,
        online: row?.precision ?? null,
        offline: e.precision ?? e.estimatedPrecision,
      };
    }),
  };
}

/** Makes a version ACTIVE (the previous one RETIRED), audited as `tagwise models promote` is. */
export async function promote(session: AnalysisSession, ref: string): Promise<ModelVersion> {
  const target = await findModelVersion(session.orm, ref);
  const before = await findModelVersion(session.orm, null).catch(() => null);
  const promoted = await new ModelRegistryService(session.orm.em.fork()).promote(target.id);
  await new AuditService(session.orm.em.fork()).record(cliActor(), {
    operation: 'analysis:promote',
    targetType: 'MODEL_VERSION',
    targetIds: [promoted.id],
    change: {
      before: { activeVersionId: before?.id ?? null },
      after: { activeVersionId: promoted.id },
    },
  });
  return promoted;
}
