// Every command imports this file to declare itself, so it stays light: the ORM, the database and
// the services load only when a command runs (`tagwise --help` starts in a fraction of the time).
import type { MikroORM } from '@mikro-orm/postgresql';
import type { AppConfig } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import type { AuditRecord } from '../modules/audit/audit.service.js';
import type { Viewer } from '../modules/auth/auth.service.js';
import { UnauthenticatedError } from '../modules/common/domain.errors.js';

export interface CliContext {
  config: AppConfig;
  logger: Logger;
  orm: MikroORM;
  /**
   * Appends the command's audit entry (actor: the OS user). Each command that writes calls it once,
   * after its work succeeded, with counts: one entry per run, however many rows it touched.
   */
  audit(record: AuditRecord): Promise<void>;
}

/** The configured database, open and migrated, until `close()`: what a command (or a notebook) works on. */
export interface OpenDatabase {
  config: AppConfig;
  logger: Logger;
  orm: MikroORM;
  close(): Promise<void>;
}

/**
 * Opens DATABASE_URL, or the embedded PostgreSQL under TAGWISE_DATA_DIR, as the CLI does. The
 * caller closes it; `withDatabase` is the form commands use.
 */
export async function openDatabaseForCli({
  migrate = true,
}: { migrate?: boolean } = {}): Promise<OpenDatabase> {
  const [
    { MikroORM },
    { loadConfig },
    { openDatabase },
    { configuredLogger },
    { createOrmConfig },
  ] = await Promise.all([
    import('@mikro-orm/postgresql'),
    import('../config/env.js'),
    import('../config/database.js'),
    import('../config/logger.js'),
    import('../config/mikro-orm.config.js'),
  ]);
  const config = loadConfig();
  // CLI output is for people; the logger only reports problems unless asked for more.
  const logger = configuredLogger(config, 'tagwise-cli', process.env.LOG_LEVEL ?? 'warn');
  const database = await openDatabase(config, logger);
  let orm: MikroORM | undefined;
  const close = async () => {
    await orm?.close();
    await database.stop();
  };
  try {
    orm = await MikroORM.init(
      createOrmConfig({ url: database.url, logger: (message) => logger.debug(message) }),
    );
    if (migrate) await orm.getMigrator().up();
    return { config, logger, orm, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Opens the configured database for one command and always closes it again. */
export async function withDatabase<T>(
  work: (ctx: CliContext) => Promise<T>,
  { migrate = true }: { migrate?: boolean } = {},
): Promise<T> {
  const [{ config, logger, orm, close }, { AuditService, cliActor }] = await Promise.all([
    openDatabaseForCli({ migrate }),
    import('../modules/audit/audit.service.js'),
  ]);
  try {
    const audit = (record: AuditRecord) =>
      new AuditService(orm.em.fork()).record(cliActor(), record);
    return await work({ config, logger, orm, audit });
  } finally {
    await close();
  }
}

/** The option of commands whose output can be narrowed to what one API key may see. */
export const API_KEY_OPTION = [
  '--api-key <key>',
  'show only what this API key may see: its departments, personal data only with its PII permission (default: TAGWISE_API_KEY; unset: everything, as the operator)',
] as const;

/**
 * Who a command's output is for. The CLI runs as the operator, who holds the database and sees
 * everything; with `--api-key` (or TAGWISE_API_KEY) it shows what that key would see over
 * GraphQL, so an export handed to a department holds that department's tags only.
 */
export async function readerFor(
  orm: MikroORM,
  apiKey: string | undefined = process.env.TAGWISE_API_KEY || undefined,
): Promise<Viewer | null> {
  if (!apiKey) return null;
  const { AuthService } = await import('../modules/auth/auth.service.js');
  const viewer = await new AuthService(orm.em.fork()).authenticate(apiKey);
  if (!viewer) {
    throw new UnauthenticatedError('--api-key: the key is unknown, revoked or expired');
  }
  return viewer;
}
