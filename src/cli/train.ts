import { InvalidArgumentError, type Command } from 'commander';
import { withDatabase } from './context.js';
import { formatEvaluations } from './model-table.js';
import { createProgress } from './progress.js';
import { parseCount } from './seed.js';

function parsePrecision(value: string): number {
  const p = Number(value);
  if (!(p > 0 && p < 1)) {
    throw new InvalidArgumentError('a precision between 0 and 1, e.g. 0.8');
  }
  return p;
}

function parseShare(value: string): number {
  const p = Number(value);
  if (!(p > 0 && p < 0.5)) throw new InvalidArgumentError('a share between 0 and 0.5, e.g. 0.2');
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
      'suggest a tag only above the threshold reaching this precision on held-out customers (default 0.9)',
      parsePrecision,
    )
    .option(
      '--test-size <share>',
      'share of customers held out for thresholds and metrics (default 0.2)',
      parseShare,
    )
    .option(
      '--validation-size <share>',
      'share of customers held out for early stopping, then for thresholds and metrics (default 0.16)',
      parseShare,
    )
    .option(
      '--models-dir <dir>',
      'where model folders are written (default: TAGWISE_MODELS_DIR, else <TAGWISE_DATA_DIR>/models)',
    )
    .action(
      async (options: {
        seed: number;
        tags?: string;
        promote?: boolean;
        modelsDir?: string;
        targetPrecision?: number;
        testSize?: number;
        validationSize?: number;
      }) => {
        const { trainModels } = await import('../jobs/train.job.js');
        await withDatabase(async ({ orm, config, audit }) => {
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
            ...(options.testSize !== undefined ? { testSize: options.testSize } : {}),
            ...(options.validationSize !== undefined
              ? { validationSize: options.validationSize }
              : {}),
            createdBy: 'cli',
            modelsDir: options.modelsDir ?? config.modelsDir,
            onProgress: progress.update,
          });
          progress.stop();
          await audit({
            operation: 'cli:train',
            targetType: 'MODEL_VERSION',
            targetIds: [report.modelVersionId],
            change: {
              version: report.version,
              promoted: report.promoted,
              customers: report.customers,
              seed: options.seed,
            },
          });
          console.log(
            `Model ${report.version} (${report.promoted ? 'ACTIVE' : 'CANDIDATE'}, id ${report.modelVersionId}) on ` +
              `${report.customers} customers, ${report.backend} backend, ${(report.ms / 1000).toFixed(1)} s; ` +
              `${report.clusters} segments (silhouette ${report.silhouette.toFixed(3)}).`,
          );
          console.log(formatEvaluations(report.metrics));
          for (const s of report.skippedTags) console.log(`skipped ${s.tag}: ${s.reason}`);
          console.log(`Training report: ${report.report}`);
        });
      },
    );
}
