import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { initBackend } from '../ml/backend.js';
import { saveClassifier, trainClassifier, type TagMetrics } from '../ml/classifier.js';
import {
  assignClusters,
  distanceColumnNames,
  fitKMeans,
  profileClusters,
  type ClusterProfile,
} from '../ml/kmeans.js';
import { concatColumns } from '../ml/matrix.js';
import { fitPreprocessor, transformFeatures, type FeatureRow } from '../ml/preprocessing.js';
import { InvalidInputError } from '../modules/common/domain.errors.js';
import { featureDefinitions, slug } from '../modules/feature/feature.definitions.js';
import { FeatureRepository } from '../modules/feature/feature.repository.js';
import { ModelRegistryService } from '../modules/model-registry/model-registry.service.js';

export interface TrainOptions {
  seed?: number;
  /** Tag keys to learn; default: every active tag of a suggestable category. */
  tags?: string[];
  promote?: boolean;
  createdBy?: string | null;
  /** Where model folders go; default `models/` of the working directory. */
  modelsDir?: string;
  /** Label weight of customers without the tag and no negative label: some do deserve it. */
  unlabelledWeight?: number;
  maxEpochs?: number;
  /** Each tag's threshold is the lowest reaching this precision on validation data (default 0.9). */
  targetPrecision?: number;
  onProgress?: (phase: string, done: number, total: number, detail?: string) => void;
}

export interface TrainReport {
  version: string;
  modelVersionId: string;
  customers: number;
  clusters: number;
  silhouette: number;
  backend: string;
  metrics: TagMetrics[];
  skippedTags: { tag: string; reason: string }[];
  promoted: boolean;
  ms: number;
}

const MIN_POSITIVES = 5;
const DEFAULT_UNLABELLED_WEIGHT = 0.3;

/**
 * Trains a segmentation and a tag classifier on the current features and labels, writes the
 * artifacts to models/<version>/ and registers the version as a CANDIDATE (ACTIVE with promote).
 *
 * Labels: customers holding a tag are positives; customers for whom a reviewer rejected the tag,
 * or who hold another tag of the same exclusive category, are negatives; every other customer is
 * a negative with a low weight, because an unlabelled customer is only probably not one.
 */
export async function trainModels(orm: MikroORM, options: TrainOptions = {}): Promise<TrainReport> {
  const started = Date.now();
  const seed = options.seed ?? 42;
  const progress = options.onProgress ?? (() => {});
  const em = orm.em.fork();
  const backend = await initBackend();

  progress('features', 0, 1);
  const set = await new FeatureRepository(em).loadFeatureSet();
  const names = featureDefinitions(set).map((d) => d.name);
  const stored = await em.execute<{ customerId: string; values: FeatureRow }[]>(
    `select customer_id as "customerId", values from customer_features
     where feature_set_version = ? order by customer_id`,
    [set.version],
  );
  if (stored.length < 50) {
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

  const { tags, labels, weights, skipped, reviewedNegatives } = await loadLabels(
    em,
    customerIds,
    options.tags,
    options.unlabelledWeight ?? DEFAULT_UNLABELLED_WEIGHT,
  );
  const features = concatColumns(inputs, assignment.distances);
  const columns = [...inputs.columns, ...distanceColumnNames(kmeans.k)];
  const maxEpochs = options.maxEpochs ?? 200;
  const { model } = await trainClassifier(
    { features, columns, tags: tags.map((t) => t.key), labels, weights },
    {
      seed,
      maxEpochs,
      ...(options.targetPrecision !== undefined
        ? { targetPrecision: options.targetPrecision }
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
  const modelsDir = path.resolve(options.modelsDir ?? 'models');
  const dir = path.join(modelsDir, version);
  await fs.mkdir(path.join(dir, 'classifier'), { recursive: true });
  const manifest = {
    version,
    seed,
    backend,
    createdAt: new Date().toISOString(),
    featureSetVersion: set.version,
    features: names,
    tags: tags.map((t) => t.key),
    files: ['preprocessor.json', 'kmeans.json', 'clusters.json', 'classifier/model.json'],
  };
  await fs.writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  await fs.writeFile(path.join(dir, 'preprocessor.json'), JSON.stringify(preprocessor));
  await fs.writeFile(path.join(dir, 'kmeans.json'), JSON.stringify(kmeans));
  await fs.writeFile(path.join(dir, 'clusters.json'), JSON.stringify(profiles));
  await saveClassifier(model, path.join(dir, 'classifier'));
  model.network.dispose();

  const registry = new ModelRegistryService(em);
  const modelVersion = await registry.register({
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
      tags: tags.map((t, i) => ({
        key: t.key,
        positives: countPositives(labels, tags.length, i),
        reviewedNegatives: reviewedNegatives[t.key] ?? 0,
      })),
      skippedTags: skipped,
      epochs: model.meta.epochs,
      bestEpoch: model.meta.bestEpoch,
    },
    metrics: {
      silhouette: kmeans.silhouette,
      split: model.meta.metricsSplit,
      tags: model.meta.metrics,
    },
    clusters: profiles.clusters.map((p: ClusterProfile) => ({
      index: p.cluster,
      label: p.label || `segment ${p.cluster + 1}`,
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
  });
  if (options.promote) await registry.promote(modelVersion.id);

  return {
    version,
    modelVersionId: modelVersion.id,
    customers: customerIds.length,
    clusters: kmeans.k,
    silhouette: kmeans.silhouette,
    backend,
    metrics: model.meta.metrics,
    skippedTags: skipped,
    promoted: options.promote ?? false,
    ms: Date.now() - started,
  };
}

function countPositives(labels: Float32Array, tagCount: number, tag: number): number {
  let n = 0;
  for (let i = tag; i < labels.length; i += tagCount) if (labels[i] === 1) n += 1;
  return n;
}

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
  unlabelledWeight: number,
) {
  const candidates = await em.execute<LabelTag[]>(
    `select t.id, t.key, t.category_id as "categoryId", c.exclusive
     from tag t join tag_category c on c.id = t.category_id
     where t.status = 'ACTIVE' and ${keys ? 't.key = any(?::text[])' : 'c.suggestable'}
     order by t.key`,
    keys ? [`{${keys.map((k) => `"${k.replace(/["\\]/g, '')}"`).join(',')}}`] : [],
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
  const held = await em.execute<{ customerId: string; tagId: string; categoryId: string }[]>(
    `select ct.customer_id as "customerId", ct.tag_id as "tagId", t.category_id as "categoryId"
     from customer_tag ct join tag t on t.id = ct.tag_id
     join tag_category c on c.id = t.category_id
     where c.suggestable or t.id = any(?::bigint[])`,
    [`{${candidates.map((t) => t.id).join(',')}}`],
  );
  // Reviewers' rejections (and corrections away from a tag) are the surest negatives there are.
  const rejected = await em.execute<{ customerId: string; tagId: string }[]>(
    `select distinct customer_id as "customerId", tag_id as "tagId" from tag_suggestion
     where status in ('REJECTED', 'CORRECTED') and tag_id = any(?::bigint[])`,
    [`{${candidates.map((t) => t.id).join(',')}}`],
  );
  const row = new Map(customerIds.map((id, i) => [id, i]));
  const negatives = new Map<string, Set<number>>();
  for (const r of rejected) {
    const i = row.get(r.customerId);
    if (i === undefined) continue;
    if (!negatives.has(r.tagId)) negatives.set(r.tagId, new Set());
    negatives.get(r.tagId)!.add(i);
  }
  const positives = new Map<string, Set<number>>();
  const inCategory = new Map<string, Set<number>>();
  for (const h of held) {
    const i = row.get(h.customerId);
    if (i === undefined) continue;
    if (!positives.has(h.tagId)) positives.set(h.tagId, new Set());
    positives.get(h.tagId)!.add(i);
    if (!inCategory.has(h.categoryId)) inCategory.set(h.categoryId, new Set());
    inCategory.get(h.categoryId)!.add(i);
  }
  const skipped: { tag: string; reason: string }[] = [];
  const tags = candidates.filter((t) => {
    const n = positives.get(t.id)?.size ?? 0;
    if (n >= MIN_POSITIVES) return true;
    skipped.push({ tag: t.key, reason: `${n} positive(s), fewer than ${MIN_POSITIVES}` });
    return false;
  });
  if (tags.length === 0) {
    throw new InvalidInputError(
      'tags',
      `no tag has ${MIN_POSITIVES} or more labelled customers to learn from`,
    );
  }
  const n = customerIds.length;
  const labels = new Float32Array(n * tags.length);
  const weights = new Float32Array(n * tags.length);
  tags.forEach((tag, j) => {
    const pos = positives.get(tag.id)!;
    const sameCategory = inCategory.get(tag.categoryId);
    for (let i = 0; i < n; i++) {
      const k = i * tags.length + j;
      if (pos.has(i)) {
        labels[k] = 1;
        weights[k] = 1;
      } else {
        labels[k] = 0;
        weights[k] =
          (tag.exclusive && sameCategory?.has(i)) || negatives.get(tag.id)?.has(i)
            ? 1
            : unlabelledWeight;
      }
    }
  });
  const reviewedNegatives = Object.fromEntries(
    tags.map((t) => [
      t.key,
      [...(negatives.get(t.id) ?? [])].filter((i) => !positives.get(t.id)!.has(i)).length,
    ]),
  );
  return { tags, labels, weights, skipped, reviewedNegatives };
}
