import type { Command } from 'commander';
import { InvalidInputError } from '../modules/common/domain.errors.js';
import { textArray } from '../modules/common/sql.js';
import { DEFAULT_COOLDOWN_DAYS } from '../modules/suggestion/suggestion.defaults.js';
import { withDatabase } from './context.js';
import { createProgress } from './progress.js';
import { parseCount } from './seed.js';

export function registerSuggestCommand(program: Command): void {
  program
    .command('suggest')
    .description('score customers with the active model and fill the review queue')
    .option('--model <id>', 'model version id (default: the ACTIVE version)')
    .option('--tags <keys>', 'comma-separated tag keys (default: every suggestable tag)')
    .option(
      '--cooldown-days <n>',
      'do not re-propose a tag a reviewer rejected within this many days',
      parseCount,
      DEFAULT_COOLDOWN_DAYS,
    )
    .option('--workers <n>', 'scoring threads (default: one per core)', parseCount)
    .action(
      async (options: {
        model?: string;
        tags?: string;
        cooldownDays: number;
        workers?: number;
      }) => {
        const { generateSuggestions } = await import('../jobs/suggest.job.js');
        await withDatabase(async ({ orm, audit }) => {
          const keys = options.tags
            ?.split(',')
            .map((t) => t.trim())
            .filter(Boolean);
          let tagIds: string[] | undefined;
          if (keys?.length) {
            const rows = await orm.em
              .fork()
              .execute<{ id: string; key: string }[]>(
                'select id, key from tag where key = any(?::text[])',
                [textArray(keys)],
              );
            const missing = keys.filter((k) => !rows.some((r) => r.key === k));
            if (missing.length) {
              throw new InvalidInputError('--tags', `--tags: unknown tag(s) ${missing.join(', ')}`);
            }
            tagIds = rows.map((r) => r.id);
          }
          const progress = createProgress();
          const report = await generateSuggestions(orm, {
            modelVersionId: options.model ?? null,
            tagIds: tagIds ?? null,
            cooldownDays: options.cooldownDays,
            ...(options.workers ? { workers: options.workers } : {}),
            onProgress: progress.update,
          });
          progress.stop();
          await audit({
            operation: 'cli:suggest',
            targetType: 'SUGGESTION',
            change: {
              modelVersion: report.modelVersion,
              customers: report.customers,
              created: report.created,
              corrections: report.corrections,
              autoApplied: report.autoApplied,
              superseded: report.superseded,
            },
          });
          console.log(
            `Model ${report.modelVersion}: scored ${report.customers} customers in ` +
              `${(report.ms / 1000).toFixed(1)} s (${report.backend}, ${report.workers} worker(s)).`,
          );
          console.log(
            `${report.created} new suggestions (${report.corrections} corrections, ` +
              `${report.autoApplied} auto-applied, ${report.sampledForReview} auto-applied and sampled for review); ` +
              `${report.superseded} superseded; skipped: ${report.alreadyHeld} already held, ` +
              `${report.inCooldown} rejected recently, ${report.knownNegative} known not to hold it by a complete import, ` +
              `${report.outranked} outranked in an exclusive category, ` +
              `${report.alreadyPending} already pending.`,
          );
        });
      },
    );
}
