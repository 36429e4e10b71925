import fs from 'node:fs/promises';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadClassifier, type TagClassifier } from '../ml/classifier/index.js';
import type { KMeansModel } from '../ml/kmeans.js';
import {
  assertFeatureSchema,
  FeatureSchemaError,
  loadPreprocessor,
  type Preprocessor,
} from '../ml/preprocessing.js';
import { ConflictError, NotFoundError } from '../modules/common/domain.errors.js';
import { featureDefinitions } from '../modules/feature/feature.definitions.js';
import { FeatureRepository } from '../modules/feature/feature.repository.js';
import { ModelVersion } from '../modules/model-registry/model-version.entity.js';

export interface LoadedModel {
  version: ModelVersion;
  preprocessor: Preprocessor;
  kmeans: KMeansModel;
  classifier: TagClassifier;
}

/**
 * Loads a registered version's artifacts for scoring, refusing — with the differing feature
 * names — when the current feature set no longer matches what the model was trained on.
 */
export async function loadModel(orm: MikroORM, modelVersionId: string): Promise<LoadedModel> {
  const em = orm.em.fork();
  const version = await em.findOne(ModelVersion, { id: modelVersionId });
  if (!version) throw new NotFoundError('ModelVersion', modelVersionId);
  const set = await new FeatureRepository(em).loadFeatureSet();
  const current = featureDefinitions(set).map((d) => d.name);
  const dir = path.resolve(version.artifactPath);
  const preprocessor = loadPreprocessor(
    JSON.parse(await fs.readFile(path.join(dir, 'preprocessor.json'), 'utf8')),
  );
  try {
    assertFeatureSchema(preprocessor, current);
  } catch (error) {
    if (!(error instanceof FeatureSchemaError)) throw error;
    throw new ConflictError(
      `Model ${version.version} was trained on feature set v${version.featureSchema.featureSetVersion}; ` +
        `the current set v${set.version} differs (${error.message}). Retrain, or restore that feature set.`,
      { missing: error.missing, unexpected: error.unexpected },
    );
  }
  const kmeans = JSON.parse(
    await fs.readFile(path.join(dir, 'kmeans.json'), 'utf8'),
  ) as KMeansModel;
  const classifier = await loadClassifier(path.join(dir, 'classifier'));
  return { version, preprocessor, kmeans, classifier };
}
