import { MikroORM } from '@mikro-orm/postgresql';
import type { AppConfig } from '../config/env.js';
import { DatabaseStartError, openDatabase } from '../config/database.js';
import type { Logger } from '../config/logger.js';
import { createOrmConfig } from '../config/mikro-orm.config.js';
import { JobQueue } from './queue.js';

/** How long a worker waits for the API to bring the schema up to date before giving up. */
const MIGRATION_WAIT_MS = 120_000;

export interface JobWorker {
  queue: JobQueue;
  close(): Promise<void>;
}

/** A start-up problem the person fixes (the CLI prints its message, not a stack). */
export class SchemaNotReadyError extends DatabaseStartError {
  constructor(pending: string[]) {
    super(
      `the database lacks migrations ${pending.join(', ')}: start the API (it applies them) or run \`tagwise migrate\``,
    );
    this.name = 'SchemaNotReadyError';
  }
}

/**
 * A process that takes queued runs (training, scoring, rule runs) and heals those of lost
 * workers: what `tagwise worker` runs on a worker host, and what `npm start` forks beside its API
 * processes, so that no model is ever computed on an event loop serving requests. It applies no
 * migrations (the API does: two hosts migrating at once would race); it waits for them.
 */
export async function startJobWorker(config: AppConfig, logger: Logger): Promise<JobWorker> {
  const database = await openDatabase(config, logger);
  const orm = await MikroORM.init(
    createOrmConfig({ url: database.url, logger: (message) => logger.debug(message) }),
  );
  try {
    const migrator = orm.getMigrator();
    for (let waited = 0; ; waited += 1000) {
      const pending = (await migrator.getPendingMigrations()).map((m) => m.name);
      if (pending.length === 0) break;
      if (waited >= MIGRATION_WAIT_MS) throw new SchemaNotReadyError(pending);
      if (waited === 0) logger.info({ pending }, 'waiting for the API to apply migrations');
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const queue = new JobQueue(orm, logger, { modelsDir: config.modelsDir, ledger: config.runs });
    await queue.startWorkers();
    logger.info({ worker: queue.ledger.worker }, 'job worker started');
    return {
      queue,
      async close() {
        await queue.stop();
        await orm.close();
        await database.stop();
      },
    };
  } catch (error) {
    await orm.close();
    await database.stop();
    throw error;
  }
}
