import { MikroORM } from '@mikro-orm/postgresql';
import { loadConfig, type AppConfig } from '../config/env.js';
import { openDatabase } from '../config/database.js';
import { createLogger, type Logger } from '../config/logger.js';
import { createOrmConfig } from '../config/mikro-orm.config.js';

export interface CliContext {
  config: AppConfig;
  logger: Logger;
  orm: MikroORM;
}

/** Opens the configured database for one command and always closes it again. */
export async function withDatabase<T>(
  work: (ctx: CliContext) => Promise<T>,
  { migrate = true }: { migrate?: boolean } = {},
): Promise<T> {
  const config = loadConfig();
  // CLI output is for people; the logger only reports problems unless asked for more.
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'tagwise-cli');
  const database = await openDatabase(config, logger);
  const orm = await MikroORM.init(
    createOrmConfig({ url: database.url, logger: (message) => logger.debug(message) }),
  );
  try {
    if (migrate) await orm.getMigrator().up();
    return await work({ config, logger, orm });
  } finally {
    await orm.close();
    await database.stop();
  }
}
