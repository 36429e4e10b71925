import fs from 'node:fs/promises';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import {
  countLabels,
  DEFAULT_CLASSIFIER_OPTIONS,
  type EvaluationInput,
  evaluateTags,
  predictTags,
  type TagEvaluation,
} from '../ml/classifier/index.js';
import { exclusiveWins } from '../ml/classifier/exclusive.js';
import type { FeatureRow } from '../ml/preprocessing.js';
import { ConflictError } from '../modules/common/domain.errors.js';
import { bigintArray, textArray } from '../modules/common/sql.js';
import { LabelRepository } from '../modules/tagging/label.repository.js';
import type { LoadedModel } from './model-loader.js';
import { loadCurrentModel, modelInputs } from './score-all.job.js';

export interface VersionComparison {
  a: { id: string; version: string };
  b: { id: string; version: string };
  /** Customers held out from training by both versions, with current features: the metrics' base. */
  customers: number;
  /** Per tag both versions learnt, each measured at its own threshold on those customers. */
  tags: { tag: string; a: TagEvaluation; b: TagEvaluation }[];
}

/** Fewer shared customers than this and the comparison says nothing. */
const MIN_SHARED = 50;

async function heldOut(model: LoadedModel): Promise<Set<string>> {
  const file = path.join(path.resolve(model.version.artifactPath), 'split.json');
  try {
    const split = JSON.parse(await fs.readFile(file, 'utf8')) as {
      validation: string[];
      test: string[];
    };
    return new Set([...split.validation, ...split.test]);
  } catch (error) {
    throw new ConflictError(
      `model ${model.version.version} has no readable ${file} (${(error as Error).message}); versions trained before splits were saved cannot be compared`,
    );
  }
}

/**
 * Two versions on the same customers: those both held out from training, scored by each, and
 * measured against the labels known *now*, each tag at each version's own threshold and in the
 * mode (KNOWN or PU) it learnt the tag in. Both must have learnt the current feature set.
 */
export async function compareVersions(
  orm: MikroORM,
  refA: string,
  refB: string,
): Promise<VersionComparison> {
  const a = await loadCurrentModel(orm, refA);
  const b = await loadCurrentModel(orm, refB).catch((error: unknown) => {
    a.classifier.network.dispose();
    throw error;
  });
  const [versionA, versionB] = [a.version, b.version];
  try {
    const [outA, outB] = [await heldOut(a), await heldOut(b)];
    const shared = [...outA].filter((id) => outB.has(id));
    const em = orm.em.fork();
    const rows = await em.execute<{ id: string; values: FeatureRow }[]>(
      `select customer_id::text as id, values from customer_features
       where feature_set_version = ? and customer_id = any(?::bigint[]) order by customer_id`,
      [a.version.featureSchema.featureSetVersion, bigintArray(shared)],
    );
    if (rows.length < MIN_SHARED) {
      throw new ConflictError(
        `${versionA.version} and ${versionB.version} share ${rows.length} held-out customers with current features; ` +
          `at least ${MIN_SHARED} are needed to compare them (versions trained with the same seed on the same customers share the most)`,
      );
    }
    const tags = a.classifier.meta.tags.filter((tag) => b.classifier.meta.tags.includes(tag));
    const tagRows = await em.execute<{ id: string; key: string; categoryId: string }[]>(
      `select id::text as id, key, category_id::text as "categoryId" from tag where key = any(?::text[])`,
      [textArray(tags)],
    );
    const byKey = new Map(tagRows.map((r) => [r.key, r]));
    const known = await new LabelRepository(em).labelsByTagId(tags.map((t) => byKey.get(t)!.id));
    const row = new Map(rows.map((r, i) => [r.id, i]));
    const t = tags.length;
    const labels = new Float32Array(rows.length * t).fill(Number.NaN);
    const measurable = new Uint8Array(rows.length * t).fill(1);
    known.forEach((k, j) => {
      const set = (ids: readonly string[], value: number, measured: boolean) => {
        for (const id of ids) {
          const i = row.get(id);
          if (i === undefined) continue;
          labels[i * t + j] = value;
          measurable[i * t + j] = measured ? 1 : 0;
        }
      };
      set(k.negatives.REVIEW, 0, false);
      set(k.negatives.IMPORT, 0, true);
      set(k.negatives.EXCLUSIVE, 0, true);
      set(k.positives, 1, true);
    });
    const evaluate = async (model: LoadedModel) => {
      const { meta } = model.classifier;
      const all = await predictTags(
        model.classifier,
        modelInputs(
          model,
          rows.map((r) => r.values),
        ),
      );
      const wins = exclusiveWins(all, meta.exclusive);
      const inputs = tags.map((tag, j): EvaluationInput => {
        const m = meta.tags.indexOf(tag);
        const column = <T extends Float32Array | Uint8Array>(values: T, width: number, c: number) =>
          values.filter((_v, cell) => cell % width === c) as T;
        const counts = countLabels({ labels, measurable }, t, j);
        return {
          tag,
          // The threshold was chosen to meet a counted precision (KNOWN) or an estimated one (PU);
          // it is measured the same way, and the table shows when the two versions differ.
          mode: meta.evaluations[m]!.mode,
          counts,
          targetPrecision: meta.targetPrecisions[m]!,
          scores: column(all, meta.tags.length, m),
          labels: column(labels, t, j),
          measurable: column(measurable, t, j),
          group: byKey.get(tag)!.categoryId,
          threshold: meta.thresholds[m] ?? null,
          ...(wins[m] ? { wins: wins[m] } : {}),
        };
      });
      return evaluateTags(inputs, DEFAULT_CLASSIFIER_OPTIONS);
    };
    const [ea, eb] = [await evaluate(a), await evaluate(b)];
    return {
      a: { id: versionA.id, version: versionA.version },
      b: { id: versionB.id, version: versionB.version },
      customers: rows.length,
      tags: tags.map((tag, j) => ({ tag, a: ea[j]!, b: eb[j]! })),
    };
  } finally {
    a.classifier.network.dispose();
    b.classifier.network.dispose();
  }
}
