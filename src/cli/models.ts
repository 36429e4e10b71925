import type { Command } from 'commander';
import { compareVersions, type VersionComparison } from '../jobs/compare.job.js';
import { findModelVersion } from '../jobs/score-all.job.js';
import type { TagEvaluation } from '../ml/classifier/index.js';
import { ModelRegistryService } from '../modules/model-registry/model-registry.service.js';
import { ModelStatus, ModelVersion } from '../modules/model-registry/model-version.entity.js';
import { withDatabase } from './context.js';
import { formatEvaluations, precisionText } from './model-table.js';

const evaluationsOf = (version: ModelVersion): TagEvaluation[] =>
  (version.metrics as { tags?: TagEvaluation[] }).tags ?? [];

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
  return {
    id: v.id,
    version: v.version,
    status: v.status,
    seed: v.seed,
    backend: v.backend,
    createdAt: v.createdAt,
    createdBy: v.createdBy,
    promotedAt: v.promotedAt,
    customers: (v.trainingSummary as { customers?: number }).customers ?? null,
    tags: evaluationsOf(v).map(tagJson),
  };
}

const num = (v: number | null | undefined, digits = 3) =>
  v === null || v === undefined ? '–' : v.toFixed(digits);
const signed = (a: number | null, b: number | null) =>
  a === null || b === null ? '–' : `${b - a >= 0 ? '+' : ''}${(b - a).toFixed(3)}`;

/** Per tag, A | B | B − A for each measure, on the customers both held out. */
export function formatComparison(c: VersionComparison): string {
  const lines = [
    `A = ${c.a.version} (id ${c.a.id}), B = ${c.b.version} (id ${c.b.id}), on ${c.customers} customers held out from both, against the labels known now; each tag at each version's own threshold.`,
    '',
  ];
  const measures: [string, (e: TagEvaluation) => number | null, (e: TagEvaluation) => string][] = [
    [
      'ROC AUC',
      (e) => e.rocAuc ?? e.estimatedRocAuc,
      (e) =>
        `${e.rocAuc === null && e.estimatedRocAuc !== null ? '~' : ''}${num(e.rocAuc ?? e.estimatedRocAuc)}`,
    ],
    ['PR AUC', (e) => e.prAuc, (e) => num(e.prAuc)],
    ['precision', (e) => e.precision ?? e.estimatedPrecision, precisionText],
    ['recall', (e) => e.recall, (e) => num(e.recall)],
    ['F1', (e) => e.f1, (e) => num(e.f1)],
    ['threshold', (e) => e.threshold, (e) => num(e.threshold)],
  ];
  for (const { tag, a, b } of c.tags) {
    lines.push(
      `${tag} (${a.mode}${a.mode === b.mode ? '' : ` / ${b.mode}`}; ${a.heldOut.positives} positive, ${a.heldOut.negatives} negative labels among them)`,
    );
    lines.push(
      `  ${'measure'.padEnd(10)}${'A'.padStart(9)}${'B'.padStart(9)}${'B − A'.padStart(9)}`,
    );
    for (const [name, value, text] of measures) {
      lines.push(
        `  ${name.padEnd(10)}${text(a).padStart(9)}${text(b).padStart(9)}${signed(value(a), value(b)).padStart(9)}`,
      );
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
    lines.push('~ marks estimates from positive and unlabelled customers (see `models show`).');
  }
  return lines.join('\n');
}

export function registerModelsCommand(program: Command): void {
  const models = program
    .command('models')
    .description('trained model versions: list, show, compare on the same customers, promote');

  models
    .command('list')
    .description('every version, newest first, with its status and how many tags are confident')
    .option('--json', 'print the versions as JSON, each with a `tags` array of per-tag metrics')
    .action(async (options: { json?: boolean }) => {
      await withDatabase(async ({ orm }) => {
        const versions = await orm.em.fork().find(ModelVersion, {}, { orderBy: { id: 'desc' } });
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
    .action(async (ref: string, options: { json?: boolean }) => {
      await withDatabase(async ({ orm }) => {
        const v = await findModelVersion(orm, ref);
        if (options.json) {
          console.log(JSON.stringify(versionJson(v), null, 2));
          return;
        }
        const summary = v.trainingSummary as {
          customers?: number;
          epochs?: number;
          bestEpoch?: number;
          rows?: Record<string, number>;
          skippedTags?: { tag: string; reason: string }[];
        };
        console.log(
          `Model ${v.version} (id ${v.id}), ${v.status}; seed ${v.seed}, ${v.backend} backend, ` +
            `created ${v.createdAt.toISOString()} by ${v.createdBy ?? 'unknown'}.`,
        );
        console.log(
          `${summary.customers ?? '?'} customers: ${summary.rows?.train ?? '?'} trained on, ` +
            `${summary.rows?.validation ?? '?'} validation and ${summary.rows?.test ?? '?'} test ` +
            `held out; best epoch ${summary.bestEpoch ?? '?'} of ${summary.epochs ?? '?'}. Artifacts in ${v.artifactPath}.`,
        );
        console.log('');
        console.log(formatEvaluations(evaluationsOf(v)));
        for (const s of summary.skippedTags ?? []) console.log(`skipped ${s.tag}: ${s.reason}`);
      });
    });

  models
    .command('compare <a> <b>')
    .description(
      'score two versions on the customers both held out and print per-tag metrics side by side',
    )
    .option('--json', 'print the comparison as JSON')
    .action(async (a: string, b: string, options: { json?: boolean }) => {
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
    .command('promote <version>')
    .description(
      'make a version ACTIVE (by id or version string); promoting an older one rolls back',
    )
    .action(async (ref: string) => {
      await withDatabase(async ({ orm }) => {
        const target = await findModelVersion(orm, ref);
        const before = await orm.em.fork().findOne(ModelVersion, { status: ModelStatus.ACTIVE });
        const promoted = await new ModelRegistryService(orm.em.fork()).promote(target.id);
        console.log(
          before && before.id !== promoted.id
            ? `${promoted.version} is ACTIVE; ${before.version} is RETIRED.`
            : `${promoted.version} is ACTIVE.`,
        );
      });
    });
}
