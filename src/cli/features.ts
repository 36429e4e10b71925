import fs from 'node:fs/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { InvalidInputError } from '../modules/common/domain.errors.js';
import { withDatabase } from './context.js';
import { createProgress } from './progress.js';

function parseDate(value: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgumentError('must be an ISO date or timestamp');
  return date;
}

export function registerFeaturesCommand(program: Command): void {
  const features = program
    .command('features')
    .description('compute customer features (recency, frequency, monetary, mix, traits) in SQL')
    .option('--incremental', 'only customers with new events or profile changes since the last run')
    .option(
      '--as-of <time>',
      'reference time for windows and "days since" (default: now)',
      parseDate,
    )
    .action(async (options: { incremental?: boolean; asOf?: Date }) => {
      const { refreshFeatures } = await import('../jobs/feature-refresh.job.js');
      await withDatabase(async ({ orm, audit }) => {
        const progress = createProgress();
        const report = await refreshFeatures(orm, {
          mode: options.incremental ? 'incremental' : 'full',
          asOf: options.asOf,
          onProgress: (done, total) => progress.update('features', done, total),
        });
        progress.stop();
        await audit({
          operation: 'cli:features',
          targetType: 'FEATURE_SET',
          targetIds: [String(report.featureSetVersion)],
          change: {
            mode: report.mode,
            customers: report.customers,
            asOf: report.asOf.toISOString(),
          },
        });
        console.log(
          `${report.mode === 'full' ? 'Full' : 'Incremental'} refresh: ${report.customers} customers ` +
            `(feature set v${report.featureSetVersion}, as of ${report.asOf.toISOString()}) in ${(report.ms / 1000).toFixed(1)} s`,
        );
      });
    });

  features
    .command('configure <file>')
    .description('set which traits and profile fields become features (JSON; bumps the version)')
    .action(async (file: string) => {
      let config: unknown;
      try {
        config = JSON.parse(await fs.readFile(file, 'utf8'));
      } catch (error) {
        if (!(error instanceof SyntaxError)) throw error;
        throw new InvalidInputError('file', `${file} is not valid JSON: ${error.message}`);
      }
      const { FeatureService } = await import('../modules/feature/feature.service.js');
      await withDatabase(async ({ orm, audit }) => {
        const set = await new FeatureService(orm.em.fork()).configure(config);
        await audit({
          operation: 'cli:features configure',
          targetType: 'FEATURE_SET',
          targetIds: [String(set.version)],
          change: { after: { version: set.version } },
        });
        console.log(`Feature set v${set.version} saved; run \`tagwise features\` to compute it.`);
      });
    });

  features
    .command('list')
    .description('print the features of the current feature set')
    .action(async () => {
      const { FeatureService } = await import('../modules/feature/feature.service.js');
      await withDatabase(async ({ orm }) => {
        const { set, definitions } = await new FeatureService(orm.em.fork()).describe();
        console.log(`Feature set v${set.version}`);
        for (const d of definitions)
          console.log(`  ${d.name.padEnd(34)} ${d.kind.padEnd(12)} ${d.description}`);
      });
    });
}
