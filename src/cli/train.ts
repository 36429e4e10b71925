import { InvalidArgumentError, type Command } from 'commander';
import { trainModels } from '../jobs/train.job.js';
import { withDatabase } from './context.js';
import { createProgress } from './progress.js';
import { parseCount } from './seed.js';

function parsePrecision(value: string): number {
  const p = Number(value);
  if (!(p > 0 && p < 1)) {
    throw new InvalidArgumentError('a precision between 0 and 1, e.g. 0.8');
  }
  return p;
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description('train the segmentation and tag classifier on current features and labels')
    .option('--seed <n>', 'random seed; the same data and seed give the same model', parseCount, 42)
    .option('--tags <keys>', 'comma-separated tag keys (default: tags of suggestable categories)')
    .option('--promote', 'make the new version ACTIVE right away')
    .option(
      '--target-precision <p>',
      'suggest a tag only above the threshold reaching this validation precision (default 0.9)',
      parsePrecision,
    )
    .option(
      '--models-dir <dir>',
      'where model folders are written (default: TAGWISE_MODELS_DIR or models)',
    )
    .action(
      async (options: {
        seed: number;
        tags?: string;
        promote?: boolean;
        modelsDir: string;
        targetPrecision?: number;
      }) => {
        await withDatabase(async ({ orm, config }) => {
          const progress = createProgress();
          const report = await trainModels(orm, {
            seed: options.seed,
            tags: options.tags
              ?.split(',')
              .map((t) => t.trim())
              .filter(Boolean),
            promote: options.promote,
            ...(options.targetPrecision !== undefined
              ? { targetPrecision: options.targetPrecision }
              : {}),
            createdBy: 'cli',
            modelsDir: options.modelsDir ?? config.modelsDir,
            onProgress: progress.update,
          });
          progress.stop();
          console.log(
            `Model ${report.version} (${report.promoted ? 'ACTIVE' : 'CANDIDATE'}, id ${report.modelVersionId}) on ` +
              `${report.customers} customers, ${report.backend} backend, ${(report.ms / 1000).toFixed(1)} s; ` +
              `${report.clusters} segments (silhouette ${report.silhouette.toFixed(3)}).`,
          );
          const fmt = (v: number | null) => (v === null ? '   –' : v.toFixed(3));
          console.log(
            'tag                         support  ROC AUC  PR AUC  precision  recall  threshold  confident',
          );
          for (const m of report.metrics) {
            console.log(
              `${m.tag.padEnd(28)}${String(m.support).padStart(7)}  ${fmt(m.rocAuc).padStart(7)}  ${fmt(m.prAuc).padStart(6)}  ` +
                `${fmt(m.precision).padStart(9)}  ${fmt(m.recall).padStart(6)}  ${fmt(m.threshold).padStart(9)}  ${m.confident ? 'yes' : 'no'}`,
            );
          }
          for (const s of report.skippedTags) console.log(`skipped ${s.tag}: ${s.reason}`);
        });
      },
    );
}
