import fs from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidArgumentError, type Command } from 'commander';
import type { AuditEntry } from '../modules/audit/audit-entry.entity.js';
import type { AuditFilterInput } from '../modules/audit/audit.service.js';
import { csvField } from '../modules/common/csv.js';
import { withDatabase } from './context.js';

type ExportFormat = 'ndjson' | 'csv';

function parseTime(value: string): Date {
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    throw new InvalidArgumentError('must be an ISO date or date-time, e.g. 2026-12-01T00:00:00Z');
  }
  return date;
}

function parseFormat(value: string): ExportFormat {
  if (value !== 'ndjson' && value !== 'csv') throw new InvalidArgumentError('ndjson or csv');
  return value;
}

const CSV_COLUMNS = [
  'id',
  'at',
  'actor_kind',
  'actor_key_id',
  'actor_name',
  'operation',
  'target_type',
  'target_ids',
  'change',
];

function entryJson(e: AuditEntry) {
  return {
    id: e.id,
    at: e.at.toISOString(),
    actorKind: e.actorKind,
    actorKeyId: e.actorKeyId,
    actorName: e.actorName,
    operation: e.operation,
    targetType: e.targetType,
    targetIds: e.targetIds,
    change: e.change,
  };
}

function entryLine(e: AuditEntry, format: ExportFormat): string {
  if (format === 'ndjson') return `${JSON.stringify(entryJson(e))}\n`;
  return `${[
    e.id,
    e.at,
    e.actorKind,
    e.actorKeyId,
    e.actorName,
    e.operation,
    e.targetType,
    e.targetIds.join(' '),
    JSON.stringify(e.change),
  ]
    .map(csvField)
    .join(',')}\n`;
}

export function registerAuditCommand(program: Command): void {
  const audit = program.command('audit').description('the audit log (append-only)');
  audit
    .command('export')
    .description('write audit entries, oldest first, as NDJSON or CSV (streamed in batches)')
    .option('--from <time>', 'entries at or after this ISO time', parseTime)
    .option('--to <time>', 'entries before this ISO time', parseTime)
    .option('--operation <op>', 'only this operation, e.g. updateTag or "cli:import customers"')
    .option('--format <format>', 'ndjson or csv', parseFormat, 'ndjson' as ExportFormat)
    .option('--out <file>', 'write to this file instead of standard output')
    .action(
      async (options: {
        from?: Date;
        to?: Date;
        operation?: string;
        format: ExportFormat;
        out?: string;
      }) => {
        const filter: AuditFilterInput = {
          from: options.from ?? null,
          to: options.to ?? null,
          operation: options.operation ?? null,
        };
        const { AuditService } = await import('../modules/audit/audit.service.js');
        await withDatabase(async ({ orm, audit }) => {
          const batches = new AuditService(orm.em.fork()).export(filter);
          let entries = 0;
          const lines = Readable.from(
            (async function* () {
              if (options.format === 'csv') yield `${CSV_COLUMNS.join(',')}\n`;
              for await (const batch of batches) {
                entries += batch.length;
                yield batch.map((e) => entryLine(e, options.format)).join('');
              }
            })(),
          );
          await pipeline(lines, options.out ? fs.createWriteStream(options.out) : process.stdout);
          // Reading the whole history is itself worth a line in it.
          await audit({
            operation: 'cli:audit export',
            targetType: 'AUDIT_LOG',
            change: {
              entries,
              format: options.format,
              from: options.from?.toISOString() ?? null,
              to: options.to?.toISOString() ?? null,
              operation: options.operation ?? null,
            },
          });
          if (options.out) console.error(`${entries} audit entries written to ${options.out}`);
        });
      },
    );
}
