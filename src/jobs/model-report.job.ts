import fs from 'node:fs/promises';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { TagEvaluation } from '../ml/classifier/index.js';
import type { ClusterProfile, KCandidate } from '../ml/kmeans.js';
import { renderTrainingReport, type TrainingReportInput } from '../ml/report/index.js';
import { ConflictError } from '../modules/common/domain.errors.js';
import { reportPath } from '../modules/model-registry/model-report.service.js';
import { Cluster, ModelVersion } from '../modules/model-registry/model-version.entity.js';

/** What train.job records in the registry; optional, as rows were written by several releases. */
interface Stored {
  summary: {
    customers?: number;
    epochs?: number;
    bestEpoch?: number;
    split?: { validationFraction: number; testFraction: number };
    rows?: { train: number; validation: number; test: number };
    skippedTags?: { tag: string; reason: string }[];
  };
  params: { kmeans?: { k: number; candidates?: KCandidate[] } };
  metrics: { silhouette?: number; tags?: TagEvaluation[] };
}

/**
 * Writes the training report of a version trained before reports existed, from what the registry
 * stored: every metric and curve is there, the held-out scores (calibration) and the clusters'
 * distinctive features are not. Which version was ACTIVE at its training was not recorded either:
 * the one promoted last before it was trained stands in. Refused when its folder is gone.
 * Returns the report's path.
 */
export async function writeStoredReport(orm: MikroORM, version: ModelVersion): Promise<string> {
  const em = orm.em.fork();
  const file = reportPath(version);
  const folder = path.dirname(file);
  if (
    !(await fs.stat(folder).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  ) {
    throw new ConflictError(
      `model ${version.version} has no folder at ${folder}: its artifacts are gone, so no report can be written beside them`,
    );
  }
  const stored: Stored = {
    summary: version.trainingSummary as Stored['summary'],
    params: version.params as Stored['params'],
    metrics: version.metrics as Stored['metrics'],
  };
  const clusters = await em.find(
    Cluster,
    { modelVersion: version.id },
    { orderBy: { index: 'asc' } },
  );
  const previous = await em.findOne(
    ModelVersion,
    { id: { $ne: version.id }, promotedAt: { $ne: null, $lte: version.createdAt } },
    { orderBy: { promotedAt: 'desc' } },
  );
  const input: TrainingReportInput = {
    version: version.version,
    createdAt: version.createdAt.toISOString(),
    createdBy: version.createdBy,
    seed: version.seed,
    backend: version.backend,
    data: {
      customers: stored.summary.customers ?? 0,
      featureSetVersion: version.featureSchema.featureSetVersion,
      features: version.featureSchema.features,
      inputColumns: null,
      rows: stored.summary.rows ?? null,
      split: stored.summary.split ?? null,
      epochs: stored.summary.epochs ?? null,
      bestEpoch: stored.summary.bestEpoch ?? null,
    },
    evaluations: stored.metrics.tags ?? [],
    skippedTags: stored.summary.skippedTags ?? [],
    calibration: null,
    segments: {
      k: stored.params.kmeans?.k ?? clusters.length,
      silhouette: stored.metrics.silhouette ?? null,
      candidates: stored.params.kmeans?.candidates ?? [],
      clusters: clusters.map((c) => {
        const profile = c.profile as Partial<ClusterProfile>;
        return {
          index: c.index,
          label: c.label,
          size: c.size,
          fraction: profile.fraction ?? 0,
          medians: profile.medians ?? {},
          topCategories: profile.topCategories ?? [],
          distinctive: null,
        };
      }),
    },
    previous: previous && {
      id: previous.id,
      version: previous.version,
      evaluations: (previous.metrics as Stored['metrics']).tags ?? [],
    },
    notice:
      `Written on ${new Date().toISOString()} from the model registry, for a version trained before ` +
      'reports existed: the held-out scores were not kept (no calibration curves), nor which ' +
      'version was ACTIVE at training (the one promoted last before it stands in).',
  };
  await fs.writeFile(file, renderTrainingReport(input));
  return file;
}
