import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { initBackend } from '../ml/backend.js';
import { saveClassifier, trainClassifier, type TagEvaluation } from '../ml/classifier/index.js';
import {
  assignClusters,
  distanceColumnNames,
  fitKMeans,
  profileClusters,
  type ClusterProfile,
} from '../ml/kmeans.js';
import { concatColumns } from '../ml/matrix.js';
import type { CalibrationBin } from '../ml/metrics.js';
import { fitPreprocessor, transformFeatures } from '../ml/preprocessing.js';
import { calibrationByTag, distinctiveColumns, renderTrainingReport } from '../ml/report/index.js';
import { InvalidInputError } from '../modules/common/domain.errors.js';
import { textArray } from '../modules/common/sql.js';
import { HOLDERS_FILE, holderMedians } from './holder-medians.js';
import { REPORT_FILE } from '../modules/model-registry/model-report.service.js';
import { featureDefinitions, slug } from '../modules/feature/feature.definitions.js';
import { FeatureRepository } from '../modules/feature/feature.repository.js';
import {
  MIN_POSITIVES,
  MIN_TRAINING_CUSTOMERS,
  ModelRegistryService,
} from '../modules/model-registry/model-registry.service.js';
import { LabelRepository } from '../modules/tagging/label.repository.js';

export interface TrainOptions {
  seed?: number;
  /** Tag keys to learn; default: every active tag of a suggestable category. */
  tags?: string[];
  promote?: boolean;
  createdBy?: string | null;
  /** Where model folders go (the config's `modelsDir`). */
  modelsDir: string;
  maxEpochs?: number;
  /** Each tag's threshold is the lowest reaching this precision on held-out customers (default 0.9). */
  targetPrecision?: number;
  /** Share of customers held out for thresholds and metrics only (default 0.2). */
  testSize?: number;
  /** Share of customers held out for early stopping, and then for thresholds and metrics too (default 0.16). */
  validationSize?: number;
  onProgress?: (phase: string, done: number, total: number, detail?: string) => void;
  /** Aborts the training at its next step (a cancelled or lost run). */
  signal?: AbortSignal;
  /** Told the model folder before anything is written there, so a lost run's files can go. */
  onArtifacts?: (dir: string) => Promise<void>;
  /** Runs in the transaction registering (and promoting) the version: a run ends there. */
  onRegistered?: (em: EntityManager, modelVersionId: string) => Promise<void>;
}

export interface TrainReport {
  version: string;
  modelVersionId: string;
  customers: number;
  clusters: number;
  silhouette: number;
  backend: string;
  metrics: TagEvaluation[];
  skippedTags: { tag: string; reason: string }[];
  promoted: boolean;
  ms: number;
  /** Of `ms`, the classifier's own training and evaluation. */
  classifierMs: number;
  /** The training report's path (report.html beside the manifest). */
  report: string;
  /** Of `ms`, writing the report. */
  reportMs: number;
  epochs: number;
  /** Reliability bins per KNOWN tag on the held-out customers, as the report draws them. */
  calibration: Record<string, CalibrationBin[]>;
}

/**
 * Trains a segmentation and a tag classifier on the current features and labels, writes the
 * artifacts to `<modelsDir>/<version>/` and registers the version as a CANDIDATE (ACTIVE with
 * promote).
 *
 * Labels are the known ones (LabelRepository): holders are positives; customers known not to hold
 * a tag — another tag of its exclusive category, a complete import, a reviewer's rejection — are
 * negatives; everyone else is unlabelled, not a negative. Each tag is then learnt and measured
 * from known labels, or from positive and unlabelled customers (see ml/classifier/labels.ts).
 */
export async function trainModels(orm: MikroORM, options: TrainOptions): Promise<TrainReport> {
  const started = Date.now();
  const seed = options.seed ?? 42;
  const report = options.onProgress ?? (() => {});
  const progress: NonNullable<TrainOptions['onProgress']> = (...args) => {
    options.signal?.throwIfAborted();
    report(...args);
  };
  const em = orm.em.fork();
  const backend = await initBackend();

  progress('features', 0, 1);
  const featureRepository = new FeatureRepository(em);
  const set = await featureRepository.loadFeatureSet();
  const names = featureDefinitions(set).map((d) => d.name);
  const stored = await featureRepository.valuesOfVersion(set.version);
  if (stored.length < MIN_TRAINING_CUSTOMERS) {
    throw new InvalidInputError(
      'features',
      `only ${stored.length} customers have features of feature set v${set.version}; run \`tagwise features\` first`,
    );
  }
  const rows = stored.map((r) => r.values);
  const customerIds = stored.map((r) => r.customerId);
  progress('features', 1, 1);

  progress('clustering', 0, 1);
  const preprocessor = fitPreprocessor(rows);
  const inputs = transformFeatures(preprocessor, rows);
  const kmeans = fitKMeans(inputs, { seed });
  const assignment = assignClusters(kmeans, inputs);
  const column = (name: string) =>
    rows.map((r) => (typeof r[name] === 'number' ? (r[name] as number) : null));
  const categoryShares = Object.fromEntries(
    (set.spendCategories ?? []).map((c) => [c, `spend_share_${slug(c)}`]),
  );
  const profiled = [
    'days_since_last_purchase',
    'purchases_365d',
    'spend_365d',
    ...Object.values(categoryShares),
  ];
  const profiles = profileClusters(
    {
      clusters: assignment.clusters,
      k: kmeans.k,
      values: Object.fromEntries(
        profiled.filter((n) => names.includes(n)).map((n) => [n, column(n)]),
      ),
    },
    {
      recency: names.includes('days_since_last_purchase') ? 'days_since_last_purchase' : null,
      frequency: names.includes('purchases_365d') ? 'purchases_365d' : null,
      monetary: names.includes('spend_365d') ? 'spend_365d' : null,
      categoryShares,
    },
  );
  progress('clustering', 1, 1);

  const { tags, labels, trainOnly, skipped } = await loadLabels(em, customerIds, options.tags);
  const features = concatColumns(inputs, assignment.distances);
  const columns = [...inputs.columns, ...distanceColumnNames(kmeans.k)];
  const maxEpochs = options.maxEpochs ?? 200;
  const { model, splits, heldOut, trainingMs } = await trainClassifier(
    {
      features,
      columns,
      tags: tags.map((t) => t.key),
      labels,
      trainOnly,
      groups: tags.map((t) => t.categoryId),
      exclusive: tags.map((t) => (t.exclusive ? t.categoryId : null)),
    },
    {
      seed,
      maxEpochs,
      ...(options.targetPrecision !== undefined
        ? { targetPrecision: options.targetPrecision }
        : {}),
      ...(options.testSize !== undefined ? { testFraction: options.testSize } : {}),
      ...(options.validationSize !== undefined
        ? { validationFraction: options.validationSize }
        : {}),
      onEpoch: (e) =>
        progress(
          'epochs',
          e.epoch + 1,
          maxEpochs,
          `loss ${e.loss.toFixed(4)} · validation ${e.validationLoss.toFixed(4)}`,
        ),
    },
  );

  // Time to the millisecond plus a random suffix: two trainings in the same instant stay distinct.
  const stamp = new Date().toISOString().replace(/[-:.Z]/g, '');
  const version = `${stamp}-s${seed}-${randomBytes(2).toString('hex')}`;
  const modelsDir = path.resolve(options.modelsDir);
  const dir = path.join(modelsDir, version);
  options.signal?.throwIfAborted();
  await options.onArtifacts?.(dir);
  await fs.mkdir(path.join(dir, 'classifier'), { recursive: true });
  const manifest = {
    version,
    seed,
    backend,
    createdAt: new Date().toISOString(),
    featureSetVersion: set.version,
    features: names,
    tags: tags.map((t) => t.key),
    files: [
      'preprocessor.json',
      'kmeans.json',
      'clusters.json',
      'split.json',
      HOLDERS_FILE,
      'classifier/model.json',
      REPORT_FILE,
    ],
  };
  await fs.writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await fs.writeFile(path.join(dir, 'preprocessor.json'), JSON.stringify(preprocessor));
  await fs.writeFile(path.join(dir, 'kmeans.json'), JSON.stringify(kmeans));
  await fs.writeFile(path.join(dir, 'clusters.json'), JSON.stringify(profiles));
  const t = tags.length;
  const holders = tags.map((tag, j) => ({
    key: tag.key,
    holders: customerIds.flatMap((_id, i) => (labels[i * t + j] === 1 ? [i] : [])),
  }));
  await fs.writeFile(
    path.join(dir, HOLDERS_FILE),
    JSON.stringify(holderMedians(preprocessor, rows, holders)),
  );
  // Which customers the weights never learnt from: comparing versions on the same customers needs it.
  const ids = (rows: Uint32Array) => Array.from(rows, (i) => customerIds[i]!);
  await fs.writeFile(
    path.join(dir, 'split.json'),
    JSON.stringify({ validation: ids(splits.validation), test: ids(splits.test) }),
  );
  await saveClassifier(model, path.join(dir, 'classifier'));
  model.network.dispose();

  const registry = new ModelRegistryService(em);
  // Written inside the folder before the version registers, so a run that fails or is cancelled
  // after this loses its report with the rest of its files.
  const reportStarted = performance.now();
  const previous = await registry.active();
  const calibration = calibrationByTag(heldOut, model.meta.evaluations);
  const distinctive = distinctiveColumns(inputs, inputs.columns, assignment.clusters, kmeans.k);
  await fs.writeFile(
    path.join(dir, REPORT_FILE),
    renderTrainingReport({
      version,
      createdAt: manifest.createdAt,
      createdBy: options.createdBy ?? null,
      seed,
      backend,
      data: {
        customers: customerIds.length,
        featureSetVersion: set.version,
        features: names,
        inputColumns: columns.length,
        rows: model.meta.params.rows,
        split: model.meta.params.split,
        epochs: model.meta.epochs,
        bestEpoch: model.meta.bestEpoch,
      },
      evaluations: model.meta.evaluations,
      skippedTags: skipped,
      calibration,
      segments: {
        k: kmeans.k,
        silhouette: kmeans.silhouette,
        candidates: kmeans.candidates,
        clusters: profiles.clusters.map((p) => ({
          ...p,
          index: p.cluster,
          label: clusterLabel(p),
          distinctive: distinctive[p.cluster] ?? [],
        })),
      },
      previous: previous && {
        id: previous.id,
        version: previous.version,
        evaluations: (previous.metrics as { tags?: TagEvaluation[] }).tags ?? [],
      },
    }),
  );
  const reportMs = performance.now() - reportStarted;
  options.signal?.throwIfAborted();
  const modelVersion = await registry.register(
    {
      version,
      seed,
      backend,
      artifactPath: path.relative(process.cwd(), dir) || dir,
      createdBy: options.createdBy ?? null,
      params: {
        kmeans: { k: kmeans.k, candidates: kmeans.candidates },
        classifier: model.meta.params,
      },
      featureSchema: { featureSetVersion: set.version, features: names },
      trainingSummary: {
        customers: customerIds.length,
        tags: model.meta.evaluations.map((e) => ({
          key: e.tag,
          mode: e.mode,
          positives: e.positives,
          negatives: e.negatives,
          unlabelled: e.unlabelled,
        })),
        skippedTags: skipped,
        epochs: model.meta.epochs,
        bestEpoch: model.meta.bestEpoch,
        split: model.meta.params.split,
        rows: model.meta.params.rows,
      },
      metrics: { silhouette: kmeans.silhouette, tags: model.meta.evaluations },
      clusters: profiles.clusters.map((p: ClusterProfile) => ({
        index: p.cluster,
        label: clusterLabel(p),
        size: p.size,
        profile: { ...p, centroid: kmeans.centroids[p.cluster] },
      })),
      assignments: {
        customerIds,
        clusters: assignment.clusters,
        distances: Array.from(
          assignment.clusters,
          (c, i) => assignment.distances.data[i * kmeans.k + c]!,
        ),
      },
    },
    async (tx, registered) => {
      if (options.promote) await new ModelRegistryService(tx).promote(registered.id);
      await options.onRegistered?.(tx, registered.id);
    },
  );

  return {
    version,
    modelVersionId: modelVersion.id,
    customers: customerIds.length,
    clusters: kmeans.k,
    silhouette: kmeans.silhouette,
    backend,
    metrics: model.meta.evaluations,
    skippedTags: skipped,
    promoted: options.promote ?? false,
    ms: Date.now() - started,
    classifierMs: trainingMs,
    report: path.join(dir, REPORT_FILE),
    reportMs,
    epochs: model.meta.epochs,
    calibration,
  };
}

const clusterLabel = (p: ClusterProfile) => p.label || `segment ${p.cluster + 1}`;

interface LabelTag {
  id: string;
  key: string;
  categoryId: string;
  exclusive: boolean;
}

async function loadLabels(
  em: ReturnType<MikroORM['em']['fork']>,
  customerIds: string[],
  keys: string[] | undefined,
) {
  const candidates = await em.execute<LabelTag[]>(
    `select t.id, t.key, t.category_id as "categoryId", c.exclusive
     from tag t join tag_category c on c.id = t.category_id
     where t.status = 'ACTIVE' and ${keys ? 't.key = any(?::text[])' : 'c.suggestable'}
     order by t.key`,
    keys ? [textArray(keys)] : [],
  );
  if (keys) {
    const missing = keys.filter((k) => !candidates.some((t) => t.key === k));
    if (missing.length > 0) {
      throw new InvalidInputError(
        'tags',
        `tags: unknown or deprecated tag(s) ${missing.join(', ')}`,
      );
    }
  }
  const known = await new LabelRepository(em).labelsByTagId(candidates.map((t) => t.id));
  const row = new Map(customerIds.map((id, i) => [id, i]));
  const skipped: { tag: string; reason: string }[] = [];
  const kept = candidates.flatMap((tag, k) => {
    const positives = known[k]!.positives.filter((id) => row.has(id)).length;
    if (positives >= MIN_POSITIVES) return [{ tag, labels: known[k]! }];
    skipped.push({ tag: tag.key, reason: `${positives} positive(s); need ≥ ${MIN_POSITIVES}` });
    return [];
  });
  if (kept.length === 0) {
    throw new InvalidInputError(
      'tags',
      `no tag has ${MIN_POSITIVES} or more labelled customers to learn from`,
    );
  }
  const t = kept.length;
  const labels = new Float32Array(customerIds.length * t).fill(Number.NaN);
  const trainOnly = new Uint8Array(customerIds.length * t);
  kept.forEach(({ labels: tagLabels }, j) => {
    const set = (ids: readonly string[], value: number, reviewOnly: boolean) => {
      for (const id of ids) {
        const i = row.get(id);
        if (i === undefined) continue;
        labels[i * t + j] = value;
        trainOnly[i * t + j] = reviewOnly ? 1 : 0;
      }
    };
    set(tagLabels.negatives.REVIEW, 0, true);
    set(tagLabels.negatives.IMPORT, 0, false);
    set(tagLabels.negatives.EXCLUSIVE, 0, false);
    set(tagLabels.positives, 1, false);
  });
  return { tags: kept.map((k) => k.tag), labels, trainOnly, skipped };
}
