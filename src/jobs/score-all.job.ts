import type { MikroORM } from '@mikro-orm/postgresql';
import { predictTags } from '../ml/classifier/index.js';
import { assignClusters } from '../ml/kmeans.js';
import { concatColumns } from '../ml/matrix.js';
import { transformFeatures, type FeatureRow } from '../ml/preprocessing.js';
import { InvalidInputError, NotFoundError } from '../modules/common/domain.errors.js';
import { textArray } from '../modules/common/sql.js';
import { ModelStatus, ModelVersion } from '../modules/model-registry/model-version.entity.js';
import { loadModel, type LoadedModel } from './model-loader.js';

/** A version by its id or its version string; null: the ACTIVE one. */
export async function findModelVersion(
  orm: MikroORM,
  ref: string | null | undefined,
): Promise<ModelVersion> {
  const em = orm.em.fork();
  if (ref === null || ref === undefined) {
    const active = await em.findOne(ModelVersion, { status: ModelStatus.ACTIVE });
    if (!active) {
      throw new InvalidInputError(
        'model',
        'there is no ACTIVE model version: name one with --model, or promote one',
      );
    }
    return active;
  }
  const found = await em.findOne(
    ModelVersion,
    /^[0-9]{1,19}$/.test(ref) ? { $or: [{ id: ref }, { version: ref }] } : { version: ref },
  );
  if (!found) throw new NotFoundError('ModelVersion', ref);
  return found;
}

/** The artifacts of a version given by id or version string (default ACTIVE); see loadModel. */
export async function loadCurrentModel(
  orm: MikroORM,
  ref: string | null | undefined,
): Promise<LoadedModel> {
  return loadModel(orm, (await findModelVersion(orm, ref)).id);
}

export interface ScoredPage {
  customerIds: string[];
  externalIds: string[];
  /** customers × tags (the tags asked for, in that order), row-major. */
  probabilities: Float32Array;
}

/** The classifier's input for feature rows: scaled features and distances to the segments. */
export function modelInputs(model: LoadedModel, rows: readonly FeatureRow[]) {
  const x = transformFeatures(model.preprocessor, rows);
  return concatColumns(x, assignClusters(model.kmeans, x).distances);
}

export interface ScoreAllOptions {
  /** Version id or string; default the ACTIVE version. */
  model?: string | null;
  /** Tag keys, a subset of the model's; default all of them. */
  tags?: readonly string[] | null;
  /** Customers per page: memory stays that of one page whatever the customer count. */
  pageSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Every customer with current features, in id order, with the model's probability of each tag —
 * a page at a time (keyset), so a million customers never sit in memory at once. The probability
 * is the network's output; how precise a threshold on it is lives in the version's evaluations.
 */
export async function* scoreAllCustomers(
  orm: MikroORM,
  options: ScoreAllOptions = {},
): AsyncGenerator<ScoredPage & { tags: string[] }> {
  const model = await loadCurrentModel(orm, options.model);
  const { version } = model;
  try {
    const all = model.classifier.meta.tags;
    const tags = options.tags?.length ? [...new Set(options.tags)] : all;
    const em = orm.em.fork();
    const lacking = tags.filter((tag) => !all.includes(tag));
    if (lacking.length > 0) {
      const existing = await em.execute<{ key: string }[]>(
        `select key from tag where key = any(?::text[])`,
        [textArray(lacking)],
      );
      const unknown = lacking.filter((tag) => !existing.some((r) => r.key === tag));
      throw new InvalidInputError(
        'tags',
        unknown.length > 0
          ? `tags: there is no tag ${unknown.join(', ')}`
          : `tags: model ${version.version} did not learn ${lacking.join(', ')} (it learnt ${all.join(', ')})`,
      );
    }
    const columns = tags.map((tag) => all.indexOf(tag));
    const pageSize = options.pageSize ?? 10_000;
    const featureSet = version.featureSchema.featureSetVersion;
    const [{ total }] = (await em.execute(
      `select count(*)::int as total from customer_features where feature_set_version = ?`,
      [featureSet],
    )) as [{ total: number }];
    let after = '0';
    let done = 0;
    options.onProgress?.(0, total);
    for (;;) {
      const rows = await em.execute<{ id: string; externalId: string; values: FeatureRow }[]>(
        `select f.customer_id::text as id, c.external_id as "externalId", f.values
         from customer_features f join customer c on c.id = f.customer_id
         where f.feature_set_version = ? and f.customer_id > ?
         order by f.customer_id limit ?`,
        [featureSet, after, pageSize],
      );
      if (rows.length === 0) break;
      const probabilities = await predictTags(
        model.classifier,
        modelInputs(
          model,
          rows.map((r) => r.values),
        ),
      );
      const t = all.length;
      const picked = new Float32Array(rows.length * tags.length);
      for (let i = 0; i < rows.length; i++) {
        columns.forEach((j, k) => (picked[i * tags.length + k] = probabilities[i * t + j]!));
      }
      yield {
        tags,
        customerIds: rows.map((r) => r.id),
        externalIds: rows.map((r) => r.externalId),
        probabilities: picked,
      };
      done += rows.length;
      after = rows.at(-1)!.id;
      options.onProgress?.(done, total);
    }
  } finally {
    model.classifier.network.dispose();
  }
}
