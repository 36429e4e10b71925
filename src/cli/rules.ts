import type { Command } from 'commander';
import { withDatabase } from './context.js';
import { createProgress } from './progress.js';

export function registerRulesCommand(program: Command): void {
  const rules = program.command('rules').description('tagging rules');
  rules
    .command('run')
    .description('run every enabled rule now (apply and retract tags set-based) and print a report')
    .option('--dry-run', 'count what would change, change nothing')
    .action(async (options: { dryRun?: boolean }) => {
      const { runRules } = await import('../jobs/rules.job.js');
      await withDatabase(async ({ orm, audit }) => {
        const progress = createProgress();
        const run = await runRules(orm, {
          dryRun: options.dryRun ?? false,
          origin: 'cli',
          createdBy: 'cli',
          onProgress: (done, total) => progress.update('rules', done, total),
        });
        progress.stop();
        await audit({
          operation: 'cli:rules run',
          targetType: 'RULE_RUN',
          targetIds: [run.id],
          change: {
            dryRun: run.dryRun,
            rules: run.reports.length,
            added: run.reports.reduce((n, r) => n + r.added, 0),
            removed: run.reports.reduce((n, r) => n + r.removed, 0),
          },
        });
        console.log(
          `${run.dryRun ? 'Dry run' : 'Run'} ${run.id}: ${run.reports.length} rule(s)${run.dryRun ? ', nothing changed' : ''}`,
        );
        for (const r of run.reports) {
          console.log(
            `  ${r.ruleName.padEnd(30)} ${r.tagKey.padEnd(20)} matched ${r.matched}, +${r.added} -${r.removed}, ` +
              `unchanged ${r.unchanged}, conflicts ${r.conflicts}${r.kept ? ` (${r.kept} kept)` : ''} (${r.ms} ms)${r.error ? ` — ${r.error}` : ''}`,
          );
        }
      });
    });
}
