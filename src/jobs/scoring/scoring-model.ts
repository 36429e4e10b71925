import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { NotFoundError } from '../../modules/common/domain.errors.js';
import { ArtifactError } from './scorer.js';
import type { ScoringModel } from './scoring.job.js';

/** The value feature used when the caller names none and the model has it. */
export const DEFAULT_VALUE_FEATURE = 'spend_365d';

/**
 * Builds the ScoringModel of a registered version: its artifact folder, the tag row id for each
 * classifier output (in the order model.json stores the tags), and the cluster rows by index.
 */
export async function loadScoringModel(
  client: pg.ClientBase,
  modelVersionId: string,
  options: { valueFeature?: string | null } = {},
): Promise<ScoringModel> {
  const { rows: versions } = await client.query<{
    artifactPath: string;
    featureSchema: { featureSetVersion: number; features: string[] };
  }>(
    `select artifact_path as "artifactPath", feature_schema as "featureSchema"
     from model_version where id = $1`,
    [modelVersionId],
  );
  const version = versions[0];
  if (!version) throw new NotFoundError('ModelVersion', modelVersionId);
  const artifactDir = path.resolve(version.artifactPath);
  const modelFile = path.join(artifactDir, 'classifier', 'model.json');
  let tags: string[];
  try {
    const saved = JSON.parse(await fs.readFile(modelFile, 'utf8')) as {
      userDefinedMetadata?: { tagwise?: { tags?: string[] } };
    };
    tags = saved.userDefinedMetadata?.tagwise?.tags ?? [];
  } catch (error) {
    throw new ArtifactError(`cannot read ${modelFile}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (tags.length === 0) throw new ArtifactError(`${modelFile} names no tags`);
  const { rows: tagRows } = await client.query<{ id: string; key: string; name: string }>(
    'select id::text as id, key, name from tag where key = any($1::text[])',
    [tags],
  );
  const idOf = new Map(tagRows.map((t) => [t.key, t.id]));
  const nameOf = new Map(tagRows.map((t) => [t.key, t.name]));
  const missing = tags.filter((key) => !idOf.has(key));
  if (missing.length > 0) throw new NotFoundError('Tag', missing.join(', '));
  const { rows: clusters } = await client.query<{ id: string; index: number; label: string }>(
    `select id::text as id, index, label from cluster where model_version_id = $1 order by index`,
    [modelVersionId],
  );
  if (clusters.some((c, i) => c.index !== i)) {
    throw new ArtifactError(`model version ${modelVersionId}: cluster indexes are not 0…k−1`);
  }
  const valueFeature =
    options.valueFeature !== undefined
      ? options.valueFeature
      : version.featureSchema.features.includes(DEFAULT_VALUE_FEATURE)
        ? DEFAULT_VALUE_FEATURE
        : null;
  return {
    artifactDir,
    featureSetVersion: version.featureSchema.featureSetVersion,
    tagIds: tags.map((key) => idOf.get(key)!),
    tagNames: tags.map((key) => nameOf.get(key)!),
    clusterIds: clusters.map((c) => c.id),
    clusterLabels: clusters.map((c) => c.label),
    valueFeature,
  };
}
