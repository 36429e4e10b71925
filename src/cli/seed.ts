import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_DEMO_SEED } from '../modules/demo/demo.defaults.js';
import { withDatabase } from './context.js';
import { createProgress } from './progress.js';

export function parseCount(value: string): number {
  const n = Number(value.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a whole number ≥ 0');
  return n;
}

export function registerSeedCommand(program: Command): void {
  program
    .command('seed')
    .description(
      'generate demo taxonomy, customers, events and hand-applied tags (COPY-based, idempotent), then compute features',
    )
    .option('--customers <n>', 'demo customers to generate', parseCount, 5000)
    .option('--offset <n>', 'index of the first generated customer (to grow a demo)', parseCount, 0)
    .option(
      '--seed <n>',
      'random seed; the same seed gives the same data',
      parseCount,
      DEFAULT_DEMO_SEED,
    )
    .action(async (options: { customers: number; offset: number; seed: number }) => {
      const [{ refreshFeatures }, { seedDemo }] = await Promise.all([
        import('../jobs/feature-refresh.job.js'),
        import('../modules/demo/demo.service.js'),
      ]);
      await withDatabase(async ({ orm, audit }) => {
        const progress = createProgress();
        const started = Date.now();
        const report = await seedDemo(orm, { ...options, onProgress: progress.update });
        const seeded = Date.now();
        const features = await refreshFeatures(orm, {
          mode: 'full',
          onProgress: (done, total) => progress.update('features', done, total),
        });
        progress.stop();
        await audit({
          operation: 'cli:seed',
          targetType: 'CUSTOMER',
          change: {
            seed: options.seed,
            offset: options.offset,
            customers: report.customers,
            events: report.events,
            appliedTags: report.appliedTags,
            categories: report.categories,
            tags: report.tags,
            skippedRetiredTags: report.skippedRetiredTags,
          },
        });
        console.log(
          `Seeded in ${((seeded - started) / 1000).toFixed(1)} s: ${report.customers} new customers, ` +
            `${report.events} events, ${report.appliedTags} tags applied, ${report.categories} categories ` +
            `and ${report.tags} tags created (existing rows were kept). Features of ` +
            `${features.customers} customers computed in ${(features.ms / 1000).toFixed(1)} s.`,
        );
        const skipped = Object.entries(report.skippedRetiredTags);
        if (skipped.length > 0) {
          console.log(
            `Not applied, because their tag is deprecated or merged away: ` +
              `${skipped.map(([key, n]) => `${n} ${key}`).join(', ')}.`,
          );
        }
      });
    });
}
