import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { VersionComparison } from '../jobs/compare.job.js';
import type { TagEvaluation } from '../ml/classifier/index.js';
import type { ModelVersion } from '../modules/model-registry/model-version.entity.js';
import type { MikroORM } from '@mikro-orm/postgresql';
import { API_KEY_OPTION, readerFor, withDatabase } from './context.js';
import { formatEvaluations, precisionText } from './model-table.js';

const evaluationsOf = (version: ModelVersion): TagEvaluation[] =>
  (version.metrics as { tags?: TagEvaluation[] }).tags ?? [];

/** What train.job records; optional, as a registry row is JSON written by whichever release. */
interface TrainingRecord {
  params: {
    kmeans?: { k: number; candidates?: { k: number }[] };
    classifier?: {
      hiddenUnits: number[];
      linearPath: boolean;
      l2: number;
      learningRate: number;
      batchSize: number;
      minKnownNegatives: number;
    };
  };
  summary: {
    customers?: number;
    epochs?: number;
    bestEpoch?: number;
    split?: { validationFraction: number; testFraction: number };
    rows?: { train: number; validation: number; test: number };
    skippedTags?: { tag: string; reason: string }[];
  };
}

const trainingOf = (v: ModelVersion): TrainingRecord => ({
  params: v.params as TrainingRecord['params'],
  summary: v.trainingSummary as TrainingRecord['summary'],
});

/**
 * A tag's evaluation for scripts. `precision` is only ever a counted one: a PU tag's estimate is
 * `estimatedPrecision`, with the `method` that produced it.
 */
function tagJson(e: TagEvaluation) {
  return {
    tag: e.tag,
    mode: e.mode,
    threshold: e.threshold,
    precision: e.precision,
    estimatedPrecision: e.estimatedPrecision,
    precisionInterval: e.precisionInterval,
    recall: e.recall,
    f1: e.f1,
    rocAuc: e.rocAuc,
    estimatedRocAuc: e.estimatedRocAuc,
    prAuc: e.prAuc,
    positives: e.positives,
    negatives: e.negatives,
    unlabelled: e.unlabelled,
    heldOut: e.heldOut,
    confident: e.confident,
    reason: e.reason,
    method: e.method,
  };
}

function versionJson(v: ModelVersion) {
  const { summary } = trainingOf(v);
  return {
    id: v.id,
    version: v.version,
    status: v.status,
    seed: v.seed,
    backend: v.backend,
    createdAt: v.createdAt,
    createdBy: v.createdBy,
    promotedAt: v.promotedAt,
    artifactPath: path.resolve(v.artifactPath),
    featureSetVersion: v.featureSchema.featureSetVersion,
    customers: summary.customers ?? null,
    split: { ...summary.split, rows: summary.rows ?? null },
    params: v.params,
    silhouette: (v.metrics as { silhouette?: number }).silhouette ?? null,
    tags: evaluationsOf(v).map(tagJson),
  };
}

/** A version's training in a few lines: data, split, segmentation and network settings. */
function describeTraining(v: ModelVersion): string[] {
  const { params, summary } = trainingOf(v);
  const { rows, split } = summary;
  const share = (fraction: number | undefined) =>
    fraction === undefined ? '' : ` (${Math.round(fraction * 100)} %)`;
  const lines = [
    `Model ${v.version} (id ${v.id}), ${v.status}; seed ${v.seed}, ${v.backend} backend, ` +
      `created ${v.createdAt.toISOString()} by ${v.createdBy ?? 'unknown'}` +
      (v.promotedAt ? `, promoted ${v.promotedAt.toISOString()}.` : '.'),
    `${summary.customers ?? '?'} customers on feature set v${v.featureSchema.featureSetVersion} ` +
      `(${v.featureSchema.features.length} features): ${rows?.train ?? '?'} trained on, ` +
      `${rows?.validation ?? '?'} validation${share(split?.validationFraction)} and ` +
      `${rows?.test ?? '?'} test${share(split?.testFraction)} held out (listed in split.json); ` +
      `best epoch ${summary.bestEpoch ?? '?'} of ${summary.epochs ?? '?'}.`,
  ];
  const silhouette = (v.metrics as { silhouette?: number }).silhouette;
  if (params.kmeans) {
    const tried = params.kmeans.candidates?.map((c) => c.k) ?? [];
    lines.push(
      `Segments: k-means k = ${params.kmeans.k}` +
        (tried.length ? ` chosen from ${Math.min(...tried)}–${Math.max(...tried)}` : '') +
        (silhouette === undefined ? '' : ` by silhouette (${silhouette.toFixed(3)})`) +
        '.',
    );
  }
  const c = params.classifier;
  if (c) {
    const targets = [...new Set(evaluationsOf(v).map((e) => e.targetPrecision))];
    lines.push(
      `Classifier: hidden layers ${c.hiddenUnits.join(', ')}${c.linearPath ? ' and a linear path' : ''}, ` +
        `L2 ${c.l2}, learning rate ${c.learningRate}, batch ${c.batchSize}; a tag is learnt on known ` +
        `labels with ≥ ${c.minKnownNegatives} known negatives, else PU; target precision ${targets.join(', ') || '?'}.`,
    );
  }
  lines.push(`Artifacts in ${path.resolve(v.artifactPath)}.`);
  return lines;
}

const num = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined ? '–' : v.toFixed(digits);
const signed = (a: number | null, b: number | null) =>
  a === null || b === null ? '–' : `${b - a >= 0 ? '+' : ''}${(b - a).toFixed(3)}`;

const interval = (e: TagEvaluation) =>
  e.precisionInterval
    ? `${num(e.precisionInterval.low, 2)}–${num(e.precisionInterval.high, 2)}`
    : '–';

/** A measure's name, its value for B − A, and its text. */
type Measure = [string, (e: TagEvaluation) => number | null, (e: TagEvaluation) => string];

const MEASURES: Measure[] = [
  ['mode', () => null, (e) => e.mode],
  [
    'ROC AUC',
    (e) => e.rocAuc ?? e.estimatedRocAuc,
    (e) =>
      `${e.rocAuc === null && e.estimatedRocAuc !== null ? '~' : ''}${num(e.rocAuc ?? e.estimatedRocAuc)}`,
  ],
  ['PR AUC', (e) => e.prAuc, (e) => num(e.prAuc)],
  ['precision', (e) => e.precision ?? e.estimatedPrecision, precisionText],
  ['interval', () => null, interval],
  ['recall', (e) => e.recall, (e) => num(e.recall)],
  ['F1', (e) => e.f1, (e) => num(e.f1)],
  ['threshold', (e) => e.threshold, (e) => num(e.threshold)],
];

/** Per tag, A | B | B − A for each measure, on the customers both held out. */
export function formatComparison(c: VersionComparison): string {
  const lines = [
    `A = ${c.a.version} (id ${c.a.id}), B = ${c.b.version} (id ${c.b.id}), on ${c.customers} customers held out from both, against the labels known now; each tag at each version's own threshold.`,
    '',
  ];
  const row = (cells: string[]) =>
    `  ${cells[0]!.padEnd(10)}${cells
      .slice(1)
      .map((x) => x.padStart(11))
      .join('')}`;
  for (const { tag, a, b } of c.tags) {
    lines.push(
      `${tag}: ${a.heldOut.positives} positive and ${a.heldOut.negatives} negative known labels among them`,
    );
    lines.push(row(['measure', 'A', 'B', 'B − A']));
    for (const [name, value, text] of MEASURES) {
      // A counted measure minus an estimated one is no difference anyone can read.
      const difference = a.mode === b.mode ? signed(value(a), value(b)) : '–';
      lines.push(row([name, text(a), text(b), difference]));
    }
    for (const [side, e] of [
      ['A', a],
      ['B', b],
    ] as const) {
      if (e.reason) lines.push(`  ${side}: ${e.reason}`);
    }
    lines.push('');
  }
  if (c.tags.some(({ a, b }) => a.mode === 'PU' || b.mode === 'PU')) {
    lines.push(
      '~ marks estimates from positive and unlabelled customers (PU): how each was made is in `models show`.',
    );
  }
  return lines.join('\n');
}

/** Versions as the key's departments see them: tags hidden from it drop out of the JSON. */
async function visibleVersions(
  orm: MikroORM,
  apiKey: string | undefined,
  versions: ModelVersion[],
): Promise<ModelVersion[]> {
  const viewer = await readerFor(orm, apiKey);
  if (!viewer) return versions;
  const { TaxonomyVisibility, withoutHiddenTags } =
    await import('../modules/taxonomy/visibility.js');
  const { tagKeys } = await new TaxonomyVisibility(orm.em.fork(), viewer).hiddenTaxonomy();
  const hidden = new Set(tagKeys);
  return versions.map((v) => ({
    ...v,
    params: withoutHiddenTags(v.params, hidden),
    trainingSummary: withoutHiddenTags(v.trainingSummary, hidden),
    metrics: withoutHiddenTags(v.metrics, hidden),
  }));
}

export function registerModelsCommand(program: Command): void {
  const models = program
    .command('models')
    .description(
      'trained model versions: list, show, compare on the same customers, training reports, promote',
    );

  models
    .command('list')
    .description('every version, newest first, with its status and how many tags are confident')
    .option('--json', 'print the versions as JSON, each with a `tags` array of per-tag metrics')
    .option(...API_KEY_OPTION)
    .action(async (options: { json?: boolean; apiKey?: string }) => {
      const { ModelVersion } = await import('../modules/model-registry/model-version.entity.js');
      await withDatabase(async ({ orm }) => {
        const versions = await visibleVersions(
          orm,
          options.apiKey,
          await orm.em.fork().find(ModelVersion, {}, { orderBy: { id: 'desc' } }),
        );
        if (options.json) {
          console.log(JSON.stringify(versions.map(versionJson), null, 2));
          return;
        }
        if (versions.length === 0) {
          console.log('No model versions yet: `tagwise train` makes one.');
          return;
        }
        console.log(
          `${'id'.padStart(5)}  ${'version'.padEnd(34)}${'status'.padEnd(11)}${'created'.padEnd(22)}${'customers'.padStart(10)}  confident tags`,
        );
        for (const v of versions) {
          const evaluations = evaluationsOf(v);
          const json = versionJson(v);
          console.log(
            `${v.id.padStart(5)}  ${v.version.padEnd(34)}${v.status.padEnd(11)}${v.createdAt.toISOString().slice(0, 19).padEnd(22)}` +
              `${String(json.customers ?? '–').padStart(10)}  ${evaluations.filter((e) => e.confident).length} of ${evaluations.length}`,
          );
        }
      });
    });

  models
    .command('show <version>')
    .description('one version (by id or version string): training data, split, per-tag metrics')
    .option('--json', 'print the version as JSON with a `tags` array of per-tag metrics')
    .option(...API_KEY_OPTION)
    .action(async (ref: string, options: { json?: boolean; apiKey?: string }) => {
      const { findModelVersion } = await import('../jobs/score-all.job.js');
      await withDatabase(async ({ orm }) => {
        const [v] = await visibleVersions(orm, options.apiKey, [await findModelVersion(orm, ref)]);
        if (options.json) {
          console.log(JSON.stringify(versionJson(v), null, 2));
          return;
        }
        console.log(describeTraining(v).join('\n'));
        console.log('');
        console.log(formatEvaluations(evaluationsOf(v)));
        for (const s of trainingOf(v).summary.skippedTags ?? []) {
          console.log(`skipped ${s.tag}: ${s.reason}`);
        }
      });
    });

  models
    .command('compare <a> <b>')
    .description(
      'score two versions on the customers both held out and print per-tag metrics side by side',
    )
    .option('--json', 'print the comparison as JSON')
    .action(async (a: string, b: string, options: { json?: boolean }) => {
      const { compareVersions } = await import('../jobs/compare.job.js');
      await withDatabase(async ({ orm }) => {
        const comparison = await compareVersions(orm, a, b);
        if (options.json) {
          console.log(
            JSON.stringify(
              {
                ...comparison,
                tags: comparison.tags.map((t) => ({
                  tag: t.tag,
                  a: tagJson(t.a),
                  b: tagJson(t.b),
                })),
              },
              null,
              2,
            ),
          );
          return;
        }
        console.log(formatComparison(comparison));
      });
    });

  models
    .command('report <version>')
    .description(
      "print the path of a version's training report (report.html; by id or version string)",
    )
    .option(
      '--write',
      'for a version trained before reports existed: write one from the metrics the registry stored',
    )
    .action(async (ref: string, options: { write?: boolean }) => {
      const [{ findModelVersion }, { reportPath }, { ConflictError }] = await Promise.all([
        import('../jobs/score-all.job.js'),
        import('../modules/model-registry/model-report.service.js'),
        import('../modules/common/domain.errors.js'),
      ]);
      await withDatabase(async ({ orm }) => {
        const version = await findModelVersion(orm, ref);
        const file = reportPath(version);
        const exists = await fs.stat(file).then(
          (s) => s.isFile(),
          () => false,
        );
        if (exists) {
          console.log(file);
          return;
        }
        if (!options.write) {
          throw new ConflictError(
            `model ${version.version} has no training report at ${file} (trained before reports existed, or its folder is gone); \`tagwise models report ${ref} --write\` writes one from the registry's stored metrics`,
          );
        }
        const { writeStoredReport } = await import('../jobs/model-report.job.js');
        console.log(await writeStoredReport(orm, version));
      });
    });

  models
    .command('promote <version>')
    .description(
      'make a version ACTIVE (by id or version string); promoting an older one rolls back',
    )
    .action(async (ref: string) => {
      const [{ findModelVersion }, { ModelRegistryService }, { ModelStatus, ModelVersion }] =
        await Promise.all([
          import('../jobs/score-all.job.js'),
          import('../modules/model-registry/model-registry.service.js'),
          import('../modules/model-registry/model-version.entity.js'),
        ]);
      await withDatabase(async ({ orm, audit }) => {
        const target = await findModelVersion(orm, ref);
        const before = await orm.em.fork().findOne(ModelVersion, { status: ModelStatus.ACTIVE });
        const promoted = await new ModelRegistryService(orm.em.fork()).promote(target.id);
        await audit({
          operation: 'cli:models promote',
          targetType: 'MODEL_VERSION',
          targetIds: [promoted.id],
          change: {
            before: { activeVersionId: before?.id ?? null },
            after: { activeVersionId: promoted.id },
          },
        });
        console.log(
          before && before.id !== promoted.id
            ? `${promoted.version} is ACTIVE; ${before.version} is RETIRED.`
            : `${promoted.version} is ACTIVE.`,
        );
      });
    });
}
