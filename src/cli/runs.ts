import type { Command } from 'commander';
import type { RunRecord } from '../modules/run/run.repository.js';
import type { RunFilter } from '../modules/run/run.service.js';

// Only types at the top (erased when compiled): `tagwise --help` loads every command's file, and
// the database, the ORM and the entities are for the action alone.

const KINDS = ['train', 'suggest', 'rules'] as const;
const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
const MAX_LIMIT = 10_000;

interface ListOptions {
  kind?: string;
  status?: string;
  limit: string;
  json?: boolean;
}

export function registerRunsCommand(program: Command): void {
  const runs = program
    .command('runs')
    .description('training, scoring and rule runs on the job queue, of every kind');
  runs
    .command('list')
    .description('runs newest first: kind, id, status, who, when, progress or error')
    .option('--kind <kind>', `only runs of this kind: ${KINDS.join(', ')}`)
    .option('--status <statuses>', `comma-separated: ${STATUSES.join(', ')} (default: any)`)
    .option('--limit <n>', `at most this many (1 to ${MAX_LIMIT})`, '20')
    .option('--json', 'print the runs as JSON')
    .action(async (options: ListOptions) => {
      const { InvalidInputError } = await import('../modules/common/domain.errors.js');
      const kind = options.kind?.toLowerCase();
      if (kind !== undefined && !(KINDS as readonly string[]).includes(kind)) {
        throw new InvalidInputError('--kind', `--kind: one of ${KINDS.join(', ')}`);
      }
      const statuses = options.status?.split(',').map((s) => s.trim().toLowerCase());
      const unknown = statuses?.find((s) => !(STATUSES as readonly string[]).includes(s));
      if (unknown !== undefined) {
        throw new InvalidInputError(
          '--status',
          `--status: "${unknown}" is not one of ${STATUSES.join(', ')}`,
        );
      }
      const limit = Number(options.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
        throw new InvalidInputError('--limit', `--limit: a whole number from 1 to ${MAX_LIMIT}`);
      }
      const { withDatabase } = await import('./context.js');
      const { RunService } = await import('../modules/run/run.service.js');
      const { MAX_PAGE_SIZE } = await import('../modules/common/pagination.js');
      await withDatabase(async ({ orm }) => {
        const service = new RunService(orm.em.fork());
        const filter = {
          kind: kind?.toUpperCase(),
          statuses: statuses?.map((s) => s.toUpperCase()),
        } as RunFilter;
        const found: RunRecord[] = [];
        for (let after: string | null = null; found.length < limit;) {
          const page = await service.list(filter, {
            first: Math.min(MAX_PAGE_SIZE, limit - found.length),
            after,
          });
          found.push(...page.nodes);
          if (!page.hasNextPage) break;
          after = page.cursors.at(-1)!;
        }
        if (options.json) {
          console.log(
            JSON.stringify(
              found.map(({ sortKey: _, ...run }) => run),
              null,
              2,
            ),
          );
          return;
        }
        if (found.length === 0) {
          console.log('No runs match.');
          return;
        }
        console.log(formatRuns(found));
      });
    });
  runs
    .command('cancel')
    .description(
      'stop a run: a queued one at once, a running one within seconds (its worker rolls back what it wrote)',
    )
    .argument('<kind>', KINDS.join(', '))
    .argument('<id>', 'the run id (unique within its kind)')
    .action(async (kindName: string, id: string) => {
      const { InvalidInputError } = await import('../modules/common/domain.errors.js');
      const kind = kindName.toLowerCase();
      if (!(KINDS as readonly string[]).includes(kind)) {
        throw new InvalidInputError('kind', `kind: one of ${KINDS.join(', ')}`);
      }
      const { withDatabase } = await import('./context.js');
      const { RunService } = await import('../modules/run/run.service.js');
      await withDatabase(async ({ orm, audit }) => {
        const run = await new RunService(orm.em.fork()).cancel(
          kind.toUpperCase() as RunRecord['kind'],
          id,
        );
        await audit({
          operation: 'cli:runs cancel',
          targetType: 'RUN',
          targetIds: [run.id],
          change: { kind: run.kind, status: run.status },
        });
        console.log(
          run.status === 'CANCELLED'
            ? `${run.kind} run ${run.id} cancelled.`
            : `${run.kind} run ${run.id} is ${run.status}: its worker stops it within seconds (see \`tagwise runs list\`).`,
        );
      });
    });
}

const time = (d: Date | null) => (d ? d.toISOString().slice(0, 19).replace('T', ' ') : '–');

/** One line per run; the last column is the error of a failed run, else its latest progress. */
function formatRuns(runs: readonly RunRecord[]): string {
  const header =
    `${'kind'.padEnd(8)}${'id'.padStart(6)}  ${'status'.padEnd(10)}${'created'.padEnd(21)}` +
    `${'finished'.padEnd(21)}${'by'.padEnd(20)}progress / error`;
  const lines = runs.map((r) => {
    const note = r.error
      ? oneLine(r.error, 80)
      : r.progress && r.status === 'RUNNING'
        ? `${r.progress.phase} ${r.progress.done}/${r.progress.total}`
        : '';
    return (
      `${r.kind.padEnd(8)}${r.id.padStart(6)}  ${r.status.padEnd(10)}${time(r.createdAt).padEnd(21)}` +
      `${time(r.finishedAt).padEnd(21)}${oneLine(r.createdBy ?? '–', 19).padEnd(20)}${note}`
    ).trimEnd();
  });
  return [header, ...lines].join('\n');
}

function oneLine(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
}
