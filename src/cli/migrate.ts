import type { Command } from 'commander';
import { withDatabase } from './context.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description('apply pending database migrations (they also run at server start)')
    .option('--check', 'exit 1 when the entities differ from the migrations (CI)')
    .option('--create', 'write a new migration for entity changes (development)')
    .action(async (options: { check?: boolean; create?: boolean }) => {
      await withDatabase(
        async ({ orm }) => {
          const migrator = orm.getMigrator();
          if (options.create) {
            await migrator.up();
            const result = await migrator.createMigration();
            if (!result.fileName) {
              console.log('No entity changes: no migration written.');
              return;
            }
            console.log(`Wrote migrations/${result.fileName}; add it to migrations/index.ts.`);
            return;
          }
          const applied = await migrator.up();
          if (options.check) {
            if (await migrator.checkMigrationNeeded()) {
              console.error('Entities differ from migrations: run `npx tagwise migrate --create`.');
              process.exitCode = 1;
              return;
            }
            console.log('Migrations match the entities.');
            return;
          }
          console.log(
            applied.length === 0
              ? 'Database is up to date.'
              : `Applied ${applied.length} migration(s): ${applied.map((m) => m.name).join(', ')}`,
          );
        },
        { migrate: false },
      );
    });
}
