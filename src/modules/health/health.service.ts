import fs from 'node:fs/promises';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { Logger } from '../../config/logger.js';
import { isDatabaseUnavailable } from '../common/database.errors.js';

/** Each check's answer: 'ok', or why not (a code or a count, never a message with secrets). */
export type CheckResult = 'ok' | (string & {});

export interface ReadinessReport {
  status: 'ok' | 'unavailable';
  checks: Record<string, CheckResult>;
}

export interface HealthOptions {
  /** The database requests use (the write-and-rollback probe opens a connection of its own). */
  databaseUrl: string;
  /** Whose migrator says whether every migration has run. */
  orm: MikroORM;
  /** The data directory, when this process runs on the embedded database kept there. */
  dataDir: string | null;
  /** Whether the job workers this process runs are alive; unset, no check. */
  jobWorkersAlive: (() => boolean) | undefined;
  logger: Logger;
  /** How long one check may take before it counts as failed. */
  timeoutMs?: number;
  /** How long a migrations answer is reused: they change only with a deployment. */
  migrationsTtlMs?: number;
}

const CHECK_TIMEOUT_MS = 2000;
const MIGRATIONS_TTL_MS = 60_000;

interface Check {
  name: string;
  run(): Promise<CheckResult>;
  /** How long an 'ok' is reused; 0: asked every time. */
  ttlMs: number;
}

/**
 * Readiness: whether this process can serve requests now. Every check is bounded by a timeout, so
 * a hung database makes readiness false quickly instead of hanging the probe; probes arriving
 * while a check runs share its answer, so frequent probes never stack up work.
 */
export class HealthService {
  private readonly checks: Check[];
  private readonly timeoutMs: number;
  private readonly inFlight = new Map<string, Promise<CheckResult>>();
  private readonly cached = new Map<string, { result: CheckResult; until: number }>();
  private lastStatus: ReadinessReport['status'] = 'ok';

  constructor(private readonly options: HealthOptions) {
    this.timeoutMs = options.timeoutMs ?? CHECK_TIMEOUT_MS;
    const { dataDir, jobWorkersAlive } = options;
    this.checks = [
      { name: 'database', ttlMs: 0, run: () => this.writeAndRollBack() },
      {
        name: 'migrations',
        ttlMs: options.migrationsTtlMs ?? MIGRATIONS_TTL_MS,
        run: () => this.pendingMigrations(),
      },
      ...(dataDir ? [{ name: 'dataDir', ttlMs: 0, run: () => this.probeDirectory(dataDir) }] : []),
      ...(jobWorkersAlive
        ? [
            {
              name: 'jobWorkers',
              ttlMs: 0,
              run: async () => (jobWorkersAlive() ? 'ok' : 'not running'),
            },
          ]
        : []),
    ];
  }

  async ready(): Promise<ReadinessReport> {
    const results = await Promise.all(
      this.checks.map(async (check) => [check.name, await this.answer(check)] as const),
    );
    const checks = Object.fromEntries(results);
    const status = results.every(([, result]) => result === 'ok') ? 'ok' : 'unavailable';
    // Transitions only: a load balancer probes every few seconds.
    if (status !== this.lastStatus) {
      if (status === 'ok') this.options.logger.info({ checks }, 'ready again');
      else this.options.logger.warn({ checks }, 'not ready');
      this.lastStatus = status;
    }
    return { status, checks };
  }

  private async answer(check: Check): Promise<CheckResult> {
    const cached = this.cached.get(check.name);
    if (cached && cached.until > Date.now()) return cached.result;
    // A run that outlived its timeout is still the one to wait for: a hung database then costs
    // one stuck check, not one per probe.
    let running = this.inFlight.get(check.name);
    if (!running) {
      running = check.run().catch(reasonOf);
      this.inFlight.set(check.name, running);
      void running.then((result) => {
        this.inFlight.delete(check.name);
        if (check.ttlMs > 0 && result === 'ok') {
          this.cached.set(check.name, { result, until: Date.now() + check.ttlMs });
        }
      });
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<CheckResult>((resolve) => {
      timer = setTimeout(() => resolve(`timed out after ${this.timeoutMs} ms`), this.timeoutMs);
    });
    try {
      return await Promise.race([running, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * A transaction that takes a transaction id (a standby refuses) and rolls back, leaving nothing
   * behind; a transaction id is granted in a read-only transaction too, so that setting is asked
   * as well. A temporary table would test the same at the price of catalog rows on every probe.
   * Its own connection, with every timeout set, so a hung server holds no pooled connection.
   */
  private async writeAndRollBack(): Promise<CheckResult> {
    // Past the check's own timeout, which gives the answer: these only end a client left hanging.
    const giveUp = 2 * this.timeoutMs;
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      connectionTimeoutMillis: giveUp,
      query_timeout: giveUp,
      statement_timeout: giveUp,
    });
    // An error after the answer (the server going away) must not become an uncaught one.
    client.on('error', () => {});
    try {
      await client.connect();
      await client.query('begin');
      const { rows } = await client.query<{ readOnly: string }>(
        `select txid_current(), current_setting('transaction_read_only') as "readOnly"`,
      );
      await client.query('rollback');
      return rows[0]?.readOnly === 'on' ? 'read-only' : 'ok';
    } finally {
      await client.end().catch(() => {});
    }
  }

  private async pendingMigrations(): Promise<CheckResult> {
    const pending = await this.options.orm.getMigrator().getPendingMigrations();
    if (pending.length === 0) return 'ok';
    return `${pending.length} pending: ${pending.map((m) => m.name).join(', ')}`;
  }

  /** Writes, syncs and removes a file: a full or read-only disk fails here before PostgreSQL. */
  private async probeDirectory(dir: string): Promise<CheckResult> {
    const file = path.join(dir, `.ready-probe-${process.pid}`);
    const handle = await fs.open(file, 'w');
    try {
      await handle.writeFile('ready\n');
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.unlink(file);
    return 'ok';
  }
}

/** A failed check's reason: the error's code, never its message (hosts, paths, SQL). */
function reasonOf(error: unknown): CheckResult {
  const code = (error as { code?: unknown })?.code;
  const label = isDatabaseUnavailable(error) ? 'unreachable' : 'failed';
  return typeof code === 'string' ? `${label} (${code})` : label;
}
