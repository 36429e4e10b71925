import fs from 'node:fs/promises';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadClassifier, type TagClassifier } from '../ml/classifier/index.js';
import type { KMeansModel } from '../ml/kmeans.js';
import { FeatureSchemaError, loadPreprocessor, type Preprocessor } from '../ml/preprocessing.js';
import { ConflictError, NotFoundError } from '../modules/common/domain.errors.js';
import { featureDefinitions, type FeatureSet } from '../modules/feature/feature.definitions.js';
import { FeatureRepository } from '../modules/feature/feature.repository.js';
import { ModelVersion } from '../modules/model-registry/model-version.entity.js';

export interface LoadedModel {
  version: ModelVersion;
  preprocessor: Preprocessor;
  kmeans: KMeansModel;
  classifier: TagClassifier;
}

/**
 * Refuses a version trained on another feature set version than the current one: a reconfigured
 * set refreshes every customer's row to the new version, so the old model would match no row
 * (and, where names changed, could not read them). Names what differs.
 */
export function assertCurrentFeatureSet(version: ModelVersion, set: FeatureSet): void {
  const current = featureDefinitions(set).map((d) => d.name);
  const trained = version.featureSchema.features;
  const missing = trained.filter((name) => !current.includes(name));
  const unexpected = current.filter((name) => !trained.includes(name));
  const sameNames = missing.length === 0 && unexpected.length === 0;
  if (version.featureSchema.featureSetVersion === set.version && sameNames) return;
  throw new ConflictError(
    `Model ${version.version} was trained on feature set v${version.featureSchema.featureSetVersion}; ` +
      `the current set is v${set.version}` +
      (sameNames ? '' : ` (${new FeatureSchemaError(missing, unexpected).message})`) +
      '. Retrain (tagwise train) first.',
    { missing, unexpected },
  );
}

/** Loads a registered version's artifacts for scoring; see assertCurrentFeatureSet. */
export async function loadModel(orm: MikroORM, modelVersionId: string): Promise<LoadedModel> {
  const em = orm.em.fork();
  const version = await em.findOne(ModelVersion, { id: modelVersionId });
  if (!version) throw new NotFoundError('ModelVersion', modelVersionId);
  assertCurrentFeatureSet(version, await new FeatureRepository(em).loadFeatureSet());
  const dir = path.resolve(version.artifactPath);
  const preprocessor = loadPreprocessor(
    JSON.parse(await fs.readFile(path.join(dir, 'preprocessor.json'), 'utf8')),
  );
  const kmeans = JSON.parse(
    await fs.readFile(path.join(dir, 'kmeans.json'), 'utf8'),
  ) as KMeansModel;
  const classifier = await loadClassifier(path.join(dir, 'classifier'));
  return { version, preprocessor, kmeans, classifier };
}
