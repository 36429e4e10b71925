import fs from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';

const SCHEMA_FILE = path.resolve(import.meta.dirname, '../../schema.graphql');

export function registerSchemaCommand(program: Command): void {
  program
    .command('schema')
    .description('write schema.graphql from the code (sorted); --check fails when it is stale')
    .option('--check', 'exit 1 if schema.graphql differs from the code')
    .action(async (options: { check?: boolean }) => {
      const { buildGraphQLSchema, printSortedSchema } = await import('../graphql/build-schema.js');
      const printed = printSortedSchema(await buildGraphQLSchema());
      if (options.check) {
        const committed = await fs.readFile(SCHEMA_FILE, 'utf8').catch(() => '');
        if (committed !== printed) {
          console.error('schema.graphql is stale: run `npm run schema` and commit it.');
          process.exitCode = 1;
          return;
        }
        console.log('schema.graphql is up to date.');
        return;
      }
      await fs.writeFile(SCHEMA_FILE, printed);
      console.log(`Wrote ${path.relative(process.cwd(), SCHEMA_FILE)}`);
    });
}
