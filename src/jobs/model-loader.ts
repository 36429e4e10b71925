import fs from 'node:fs/promises';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import { loadClassifier, type TagClassifier } from '../ml/classifier/index.js';
import type { KMeansModel } from '../ml/kmeans.js';
import { loadPreprocessor, type Preprocessor } from '../ml/preprocessing.js';
import { NotFoundError } from '../modules/common/domain.errors.js';
import { FeatureRepository } from '../modules/feature/feature.repository.js';
import { assertCurrentFeatureSet } from '../modules/model-registry/model-registry.service.js';
import { ModelVersion } from '../modules/model-registry/model-version.entity.js';

export interface LoadedModel {
  version: ModelVersion;
  preprocessor: Preprocessor;
  kmeans: KMeansModel;
  classifier: TagClassifier;
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
