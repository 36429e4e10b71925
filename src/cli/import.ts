import path from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Command } from 'commander';
import type * as ImportMapping from '../modules/import/import.mapping.js';
import type { ImportProgress, ImportReport } from '../modules/import/import.service.js';
import type { SourceFormat } from '../modules/import/import.source.js';
import type * as ImportTargets from '../modules/import/import.targets.js';
import type { ImportKind } from '../modules/import/import.targets.js';
import { withDatabase } from './context.js';

/** The field table and the delimiter rule, which an import subcommand's help and options need. */
interface ImportRules {
  mapping: typeof ImportMapping;
  targets: typeof ImportTargets;
}

interface ImportCommandOptions {
  mapping?: string;
  format?: SourceFormat;
  delimiter?: string;
  dryRun?: boolean;
  allowPartial?: boolean;
  rejects?: string;
  complete?: boolean;
}

// Its keys name the subcommands.
const WHAT: Record<ImportKind, string> = {
  customers: 'create or update customers by externalId (attributes merge key by key)',
  events: 'record behaviour events; an event already stored (by externalId) is skipped',
  tags: 'apply tags to customers (source IMPORT), replacing tags of exclusive categories',
};

function parseFormat(value: string): SourceFormat {
  if (value !== 'csv' && value !== 'ndjson')
    throw new InvalidArgumentError('must be csv or ndjson');
  return value;
}

function parseDelimiterOption(rules: ImportRules, value: string): string {
  try {
    return rules.mapping.parseDelimiter(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message.replace(/^--delimiter: /, ''));
  }
}

const MAPPING_EXAMPLE: Record<ImportKind, string> = {
  customers:
    '{ "fields": { "externalId": "ID", "name": { "template": "Customer {ID}" } },\n' +
    '    "attributes": { "income": { "column": "Income", "type": "number", "personal": true },\n' +
    '                    "enrolled_at": { "column": "Joined", "type": "date", "format": "DD-MM-YYYY" } } }',
  events:
    '{ "fields": { "customerExternalId": "Client", "occurredAt": { "column": "When", "format": "DD/MM/YYYY HH:mm" },\n' +
    '              "type": { "column": "Kind", "values": { "buy": "PURCHASE", "test": null } } },\n' +
    '    "properties": { "sku": "Sku" } }',
  tags:
    '{ "complete": true,\n' +
    '    "fields": { "customerExternalId": "ID", "tag": { "column": "Response", "values": { "1": "responder", "0": null } } },\n' +
    '    "taxonomy": { "categories": [{ "key": "campaign", "name": "Campaign", "kind": "BEHAVIOUR" }],\n' +
    '                  "tags": [{ "key": "responder", "name": "Responder", "category": "campaign" }] } }',
};

const COMPLETE_HELP = [
  '',
  'Complete files (--complete, or "complete": true in the mapping): the file lists every tag of',
  'the categories it touches (those of the tags its rows apply and its mapping names) for each',
  'customer in it. Every other active tag of those categories becomes a known negative for',
  'those customers, for training; a row whose tag maps to null lists its customer with no tag',
  '(Response = 0). IMPORT negatives for tags the file applies are removed. All or nothing: not',
  'with --allow-partial.',
];

function fieldsHelp(kind: ImportKind, { mapping, targets }: ImportRules): string {
  const { ROW_NUMBER } = mapping;
  const fields = Object.entries(targets.TARGET_FIELDS[kind]).map(
    ([name, f]) => `  ${name.padEnd(20)} ${f.describe}${f.required ? ' (required)' : ''}`,
  );
  return [
    '',
    'Fields (a column named like a field maps to it; a mapping can map any column):',
    ...fields,
    '',
    'A mapping (JSON) names source columns, types (string number integer boolean date), date',
    'formats, value maps (a value mapped to null skips its row) and templates, e.g.',
    `  ${MAPPING_EXAMPLE[kind]}`,
    '',
    `"${ROW_NUMBER}" names the row number (1 for the first data row) wherever a column can be named,`,
    `so a file without an id column imports idempotently: "externalId": { "template": "row-{${ROW_NUMBER}}" }.`,
    ...(kind === 'tags' ? COMPLETE_HELP : []),
    '',
    'A CSV file has a header line, any of the delimiters , ; tab |, quoted fields, UTF-8 with or',
    'without a BOM. Bad rows go to the rejects file (line, reason, raw row); by default any bad',
    'row rolls the whole file back. Importing the same file again changes nothing. The report',
    'names CSV columns and NDJSON fields that nothing imported.',
  ].join('\n');
}

export function registerImportCommand(program: Command): void {
  const group = program
    .command('import')
    .description('import customers, events or tag assignments from a CSV or NDJSON file');
  // The rules load with the ORM's entities, too heavy for every `tagwise` start: they load when
  // `import` is dispatched, before a subcommand parses its options or prints its help.
  let rules: ImportRules | undefined;
  program.hook('preSubcommand', async (_program, subcommand) => {
    if (subcommand !== group || rules) return;
    const [mapping, targets] = await Promise.all([
      import('../modules/import/import.mapping.js'),
      import('../modules/import/import.targets.js'),
    ]);
    rules = { mapping, targets };
  });
  for (const kind of Object.keys(WHAT) as ImportKind[]) {
    const command = group
      .command(kind)
      .description(WHAT[kind])
      .argument('<file>', 'CSV file, or NDJSON (.ndjson, .jsonl or --format ndjson)')
      .option('--mapping <file>', 'JSON mapping: columns to fields and typed attributes')
      .option('--format <format>', 'csv or ndjson (default: from the file extension)', parseFormat)
      .option('--delimiter <char>', 'CSV delimiter (default: sniffed: , ; tab |)', (value) =>
        parseDelimiterOption(rules!, value),
      )
      .option('--dry-run', 'do everything and report what would change, then roll back')
      .option('--allow-partial', 'import the valid rows even when some are rejected')
      .option('--rejects <path>', 'where rejected rows go (default: FILE.rejects.csv)');
    if (kind === 'tags') {
      command.option(
        '--complete',
        'the file lists all tags of the categories it touches: the others are negatives',
      );
    }
    command
      .addHelpText('after', () => fieldsHelp(kind, rules!))
      .action(async (file: string, options: ImportCommandOptions) => {
        await importCommand(kind, file, options);
      });
  }
}

async function importCommand(
  kind: ImportKind,
  file: string,
  options: ImportCommandOptions,
): Promise<void> {
  const [{ loadMapping }, { prepareImport, runImport }] = await Promise.all([
    import('../modules/import/import.mapping.js'),
    import('../modules/import/import.service.js'),
  ]);
  // The file and mapping are checked before the database starts: mistakes fail fast.
  const prepared = await prepareImport({
    kind,
    file,
    mapping: options.mapping ? await loadMapping(options.mapping) : undefined,
    format: options.format,
    delimiter: options.delimiter,
    dryRun: options.dryRun,
    allowPartial: options.allowPartial,
    rejectsFile: options.rejects,
    complete: options.complete,
  });
  const report = await withDatabase(async ({ orm, audit }) => {
    const progress = createImportProgress();
    let report: ImportReport;
    try {
      report = await runImport(orm, prepared, progress.update);
    } finally {
      progress.stop();
    }
    // A dry run or a blocked file changed nothing: there is nothing to account for.
    if (report.committed) {
      await audit({
        operation: `cli:import ${kind}`,
        targetType: kind === 'events' ? 'EVENT' : 'CUSTOMER',
        change: {
          file: path.basename(report.file),
          rows: report.rows,
          inserted: report.inserted,
          updated: report.updated,
          replaced: report.replaced,
          skipped: report.skipped,
          rejected: report.rejected,
          triggered: report.triggered,
          ...(report.taxonomy ? { taxonomy: report.taxonomy } : {}),
          ...(report.complete ? { negatives: report.complete.negatives } : {}),
        },
      });
    }
    return report;
  });
  printReport(report);
}

/** Bytes read against the file size, with rows per second; quiet when stderr is not a terminal. */
function createImportProgress() {
  let bar: cliProgress.SingleBar | null = null;
  let started = 0;
  return {
    update(p: ImportProgress) {
      if (p.phase === 'merging') {
        if (bar) {
          bar.update(p.totalBytes, { rows: p.rows.toLocaleString('en') });
          bar.stop();
          bar = null;
          if (process.stderr.isTTY) console.error('merging in one transaction…');
        }
        return;
      }
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            format:
              'reading    {bar} {percentage}% | {rows} rows | {rate} rows/s | ETA {eta_formatted}',
            hideCursor: true,
            noTTYOutput: false,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(Math.max(p.totalBytes, 1), 0, { rows: '0', rate: 0 });
        started = Date.now();
      }
      const seconds = (Date.now() - started) / 1000;
      bar.update(p.bytes, {
        rows: p.rows.toLocaleString('en'),
        rate: seconds > 0 ? Math.round(p.rows / seconds).toLocaleString('en') : 0,
      });
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}

function printReport(r: ImportReport): void {
  const n = (value: number) => value.toLocaleString('en');
  const seconds = r.elapsedMs / 1000;
  const source =
    r.format === 'csv'
      ? `CSV, delimiter ${r.delimiter === '\t' ? 'tab' : JSON.stringify(r.delimiter)}`
      : 'NDJSON';
  console.log(
    `${r.dryRun ? 'Dry run: ' : ''}${r.kind} from ${path.basename(r.file)} (${source}): ` +
      `${n(r.rows)} rows in ${seconds.toFixed(1)} s (${n(Math.round(r.rows / Math.max(seconds, 0.001)))} rows/s)`,
  );
  if (!r.blocked) {
    const replaced = r.kind === 'tags' ? `, replaced ${n(r.replaced)} (exclusive categories)` : '';
    console.log(
      `  ${r.dryRun ? 'would insert' : 'inserted'} ${n(r.inserted)}, ${r.dryRun ? 'update' : 'updated'} ${n(r.updated)}` +
        `${replaced}, skipped ${n(r.skipped)}, rejected ${n(r.rejected)}`,
    );
  }
  if (r.taxonomy && (r.taxonomy.categories > 0 || r.taxonomy.tags > 0)) {
    const { categories, tags } = r.taxonomy;
    console.log(
      `  taxonomy: ${categories} ${categories === 1 ? 'category' : 'categories'} and ${tags} ` +
        `${tags === 1 ? 'tag' : 'tags'} ${r.committed ? 'created' : 'to create'}`,
    );
  }
  if (r.complete) {
    const { categories, customers, negatives } = r.complete;
    console.log(
      `  complete for ${categories.length === 1 ? 'category' : 'categories'} ${categories.join(', ') || '(none)'}: ` +
        `${n(customers)} customers listed, ${r.committed ? 'wrote' : 'would write'} ${n(negatives)} negatives`,
    );
  }
  if (r.negativesRemoved > 0) {
    console.log(
      `  ${r.committed ? 'removed' : 'would remove'} ${n(r.negativesRemoved)} import negatives the file's tags contradict`,
    );
  }
  if (r.triggered > 0) {
    console.log(
      `  trigger rules ${r.committed ? 'applied' : 'would apply'} ${n(r.triggered)} tags`,
    );
  }
  if (r.omittedValues > 0) console.log(`  ${n(r.omittedValues)} invalid values omitted`);
  if (r.ignoredColumns.length > 0) {
    const shown = r.ignoredColumns.slice(0, 8).join(', ');
    const more = r.ignoredColumns.length > 8 ? ` and ${r.ignoredColumns.length - 8} more` : '';
    console.log(`  columns not imported: ${shown}${more}`);
  }
  if (r.ignoredFields.length > 0) {
    const shown = r.ignoredFields
      .slice(0, 8)
      .map(
        (f) =>
          `${JSON.stringify(f.name)} (${n(f.records)} ${f.records === 1 ? 'record' : 'records'})`,
      )
      .join(', ');
    const more = r.ignoredFields.length > 8 ? ` and ${r.ignoredFields.length - 8} more` : '';
    const untracked =
      r.ignoredFieldsUntracked > 0 ? `; more fields in ${n(r.ignoredFieldsUntracked)} records` : '';
    console.log(`  fields not imported: ${shown}${more}${untracked}`);
  }
  if (r.rejectsFile) console.log(`  rejected rows: ${r.rejectsFile}`);
  if (r.blocked) {
    console.error(
      `${n(r.rejected)} of ${n(r.rows)} rows rejected, so nothing ${r.dryRun ? 'would be' : 'was'} imported ` +
        `(all or nothing). Fix the rows listed in ${r.rejectsFile}, or rerun with --allow-partial.`,
    );
    process.exitCode = 1;
  } else if (r.dryRun) {
    console.log('  nothing was written (dry run)');
  }
}
