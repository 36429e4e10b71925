import fs from 'node:fs/promises';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type pg from 'pg';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../config/logger.js';
import { RUN_TABLES, RunKind } from '../modules/run/run.repository.js';

/** The error a run lost to the reaper ends with: its worker stopped renewing its heartbeat. */
export const WORKER_LOST = 'worker lost';

/** This attempt no longer holds the run (the reaper gave it to another): it must write nothing. */
export class RunLostError extends Error {
  constructor(
    readonly kind: RunKind,
    readonly runId: string,
  ) {
    super(`${kind} run ${runId} was taken from this worker (its heartbeat went stale)`);
    this.name = 'RunLostError';
  }
}

/** Someone asked for the run to stop; the job unwinds and writes nothing more. */
export class RunCancelledError extends Error {
  constructor(
    readonly kind: RunKind,
    readonly runId: string,
  ) {
    super(`${kind} run ${runId} was cancelled`);
    this.name = 'RunCancelledError';
  }
}

/** A run held by this process: `signal` aborts when the run is cancelled or taken away. */
export interface RunClaim {
  readonly kind: RunKind;
  readonly id: string;
  readonly attempt: number;
  readonly params: Record<string, unknown>;
  readonly createdBy: string | null;
  readonly signal: AbortSignal;
}

interface HeldRun extends RunClaim {
  abort(reason: Error): void;
}

export interface LedgerOptions {
  /** A RUNNING run whose heartbeat is older than this is lost (default 30 s). */
  lostAfterMs: number;
  /** Attempts a run gets before a lost worker fails it for good (default 2: one retry). */
  attempts: number;
}

/** As TAGWISE_RUN_LOST_AFTER_S and TAGWISE_RUN_ATTEMPTS default them. */
export const DEFAULT_LEDGER_OPTIONS: LedgerOptions = Object.freeze({
  lostAfterMs: 30_000,
  attempts: 2,
});

export interface ReapedRun {
  kind: RunKind;
  id: string;
  /** CANCELLED: its cancellation was asked for before its worker was lost. */
  status: 'QUEUED' | 'FAILED' | 'CANCELLED';
  worker: string | null;
  artifactPath: string | null;
}

/** How a claimed run's work went: its error unless it succeeded. */
export type RunOutcome = { ok: true } | { ok: false; error: Error };

/** `host:pid`: which process holds a run, readable in `tagwise runs list`. */
export function workerName(): string {
  return `${os.hostname()}:${process.pid}`;
}

type Executor = Pick<EntityManager, 'execute'>;

/** A plain pg connection (in a transaction of its own) as an executor of the ledger's writes. */
export function onConnection(connection: pg.ClientBase): Executor {
  return {
    execute: async (sql: string, params: unknown[] = []) => {
      let n = 0;
      return (
        await connection.query(
          sql.replace(/\?/g, () => `$${++n}`),
          params,
        )
      ).rows;
    },
  } as Executor;
}

const HEARTBEAT_THREAD = new URL('./heartbeat.thread.js', import.meta.url);
/**
 * A main thread that has not pinged its heartbeat thread for this long is hung, not busy (the
 * longest synchronous step, k-means on a million rows, takes under 20 s): its runs go stale.
 */
const STALL_MS = 10 * 60_000;

type HeartbeatMessage =
  { type: 'lost' | 'cancelled'; kind: RunKind; id: string } | { type: 'error'; message: string };

/**
 * The lifecycle of queued runs in their tables: a worker claims a QUEUED run (attempt + 1),
 * renews its heartbeat while it works, and ends it with a write that only lands while its attempt
 * still holds the run. Any worker reaps runs whose heartbeat went stale: they are queued again (a
 * retry) or, past the attempts, FAILED with WORKER_LOST. Jobs write their output in the same
 * transaction as the run's end (or idempotently), so a retried run never doubles anything, and a
 * lost worker that wakes up has its end refused.
 */
export class RunLedger {
  readonly worker = workerName();
  private readonly held = new Map<string, HeldRun>();
  private thread: Worker | null = null;
  private pinger: NodeJS.Timeout | null = null;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    readonly options: LedgerOptions,
  ) {}

  /** How often a holder renews its runs: several beats fit in the lost-after window. */
  get heartbeatMs(): number {
    return Math.max(200, Math.floor(this.options.lostAfterMs / 6));
  }

  /** Takes a QUEUED run for this process; null when it was cancelled, taken or has ended. */
  async claim(kind: RunKind, id: string): Promise<RunClaim | null> {
    const [row] = await this.orm.em
      .fork()
      .execute<{ attempt: number; params: Record<string, unknown>; createdBy: string | null }[]>(
        `update ${RUN_TABLES[kind]} set status = 'RUNNING', attempt = attempt + 1, worker = ?,
         started_at = coalesce(started_at, now()), heartbeat_at = now(), error = null
       where id = ? and status = 'QUEUED' and cancel_requested_at is null
       returning attempt, params, created_by as "createdBy"`,
        [this.worker, id],
      );
    if (!row) return null;
    const controller = new AbortController();
    const claim: HeldRun = {
      kind,
      id,
      attempt: row.attempt,
      params: row.params,
      createdBy: row.createdBy,
      signal: controller.signal,
      abort: (reason) => controller.abort(reason),
    };
    this.held.set(key(kind, id), claim);
    this.heartbeat().postMessage({ type: 'hold', kind, id, attempt: claim.attempt });
    return claim;
  }

  /**
   * Ends a held run with `status` and the given columns (values of jsonb columns as objects), on
   * `em` — the transaction holding the job's output, so both land or neither. Refused with
   * RunLostError when the attempt no longer holds the run, and a success with RunCancelledError
   * once a cancellation was asked for: whenever it is asked before the output commits, it wins,
   * however long the heartbeat takes to bring the news.
   */
  async finish(
    claim: RunClaim,
    status: 'SUCCEEDED' | 'FAILED' | 'CANCELLED',
    columns: Record<string, unknown> = {},
    em: Executor = this.orm.em.fork(),
  ): Promise<void> {
    const names = Object.keys(columns);
    const rows = await em.execute<{ id: string }[]>(
      `update ${RUN_TABLES[claim.kind]} set status = ?, finished_at = now(), heartbeat_at = null
         ${names.map((name) => `, ${name} = ?`).join('')}
       where id = ? and attempt = ? and status = 'RUNNING'
         and (cancel_requested_at is null or ? <> 'SUCCEEDED')
       returning id`,
      [status, ...names.map((name) => jsonValue(columns[name])), claim.id, claim.attempt, status],
    );
    if (rows.length > 0) return;
    const [held] = await em.execute<{ held: boolean }[]>(
      `select attempt = ? and status = 'RUNNING' as held from ${RUN_TABLES[claim.kind]} where id = ?`,
      [claim.attempt, claim.id],
    );
    throw held?.held
      ? new RunCancelledError(claim.kind, claim.id)
      : new RunLostError(claim.kind, claim.id);
  }

  /** Records a column of a held run (progress, the artifact folder); a no-op once it is lost. */
  async note(claim: RunClaim, columns: Record<string, unknown>): Promise<void> {
    const names = Object.keys(columns);
    await this.orm.em.fork().execute(
      `update ${RUN_TABLES[claim.kind]} set ${names.map((name) => `${name} = ?`).join(', ')}
       where id = ? and attempt = ? and status = 'RUNNING'`,
      [...names.map((name) => jsonValue(columns[name])), claim.id, claim.attempt],
    );
  }

  /**
   * Does a claimed run's work, which ends the run itself when it succeeds (`finish`, in its
   * output's transaction). A failure ends it FAILED with the error's message, a cancellation
   * CANCELLED; a lost run is left to its new holder.
   */
  async execute(claim: RunClaim, work: () => Promise<void>): Promise<RunOutcome> {
    try {
      await work();
      return { ok: true };
    } catch (thrown) {
      const error = claim.signal.aborted ? (claim.signal.reason as Error) : (thrown as Error);
      if (error instanceof RunLostError) {
        this.logger.warn({ kind: claim.kind, runId: claim.id }, error.message);
        return { ok: false, error };
      }
      const cancelled = error instanceof RunCancelledError;
      if (!cancelled)
        this.logger.error({ err: error, kind: claim.kind, runId: claim.id }, 'run failed');
      await this.finish(claim, cancelled ? 'CANCELLED' : 'FAILED', {
        error: cancelled ? 'cancelled' : error.message,
      }).catch((lost: unknown) => {
        if (!(lost instanceof RunLostError)) throw lost;
      });
      return { ok: false, error };
    } finally {
      this.release(claim);
    }
  }

  /** Stops renewing a run this process no longer works on. */
  release(claim: RunClaim): void {
    this.held.delete(key(claim.kind, claim.id));
    this.thread?.postMessage({ type: 'release', kind: claim.kind, id: claim.id });
  }

  /**
   * Heals runs whose worker died: a RUNNING run with a stale heartbeat goes back to QUEUED while
   * it has attempts left (the caller enqueues it again), else to FAILED with WORKER_LOST. A lost
   * training attempt's model folder is removed (its version was never registered: registering
   * ends the run in the same transaction). Any process may reap; the row lock makes one win.
   */
  async reap(): Promise<ReapedRun[]> {
    const reaped: ReapedRun[] = [];
    for (const kind of Object.values(RunKind)) {
      const rows = await this.orm.em.fork().execute<
        {
          id: string;
          status: ReapedRun['status'];
          worker: string | null;
          artifactPath: string | null;
        }[]
      >(
        `with lost as (
           select id, worker,
             ${kind === RunKind.TRAIN ? 'artifact_path' : 'null::text'} as artifact_path
           from ${RUN_TABLES[kind]}
           where status = 'RUNNING'
             and heartbeat_at < now() - make_interval(secs => ?)
           for update skip locked
         )
         update ${RUN_TABLES[kind]} r set
           status = case when r.cancel_requested_at is not null then 'CANCELLED'
                         when r.attempt < ? then 'QUEUED' else 'FAILED' end,
           error = case when r.cancel_requested_at is not null then 'cancelled; ' || ?
                        when r.attempt < ? then null
                        else ? || ' (' || lost.worker || ', attempt ' || r.attempt || ')' end,
           finished_at = case when r.cancel_requested_at is null and r.attempt < ? then null
                              else now() end,
           heartbeat_at = null
           ${kind === RunKind.TRAIN ? ', artifact_path = null' : ''}
         from lost where r.id = lost.id
         returning r.id::text, r.status, lost.worker, lost.artifact_path as "artifactPath"`,
        [
          this.options.lostAfterMs / 1000,
          this.options.attempts,
          WORKER_LOST,
          this.options.attempts,
          WORKER_LOST,
          this.options.attempts,
        ],
      );
      for (const row of rows) {
        reaped.push({ kind, ...row });
        if (row.artifactPath) await removeFolder(row.artifactPath, this.logger);
        this.logger.warn(
          { kind, runId: row.id, worker: row.worker, status: row.status },
          `run of a lost worker ${row.status === 'QUEUED' ? 'queued again' : row.status}`,
        );
      }
    }
    return reaped;
  }

  /**
   * The heartbeat thread, started with the first claim: it renews the held runs on a connection
   * of its own, so a busy event loop here cannot make a live worker's runs look lost, and tells
   * which runs were cancelled or taken away. This thread's pings prove it is not hung.
   */
  private heartbeat(): Worker {
    if (this.thread) return this.thread;
    const thread = new Worker(HEARTBEAT_THREAD, {
      workerData: {
        connectionString: this.orm.config.get('clientUrl')!,
        worker: this.worker,
        intervalMs: this.heartbeatMs,
        stallMs: Math.max(STALL_MS, this.options.lostAfterMs),
        tables: RUN_TABLES,
      },
    });
    thread.on('message', (message: HeartbeatMessage) => {
      if (message.type === 'error') {
        this.logger.warn({ error: message.message }, 'run heartbeat not renewed');
        return;
      }
      const claim = this.held.get(key(message.kind, message.id));
      claim?.abort(
        message.type === 'lost'
          ? new RunLostError(message.kind, message.id)
          : new RunCancelledError(message.kind, message.id),
      );
    });
    thread.on('error', (error) => this.logger.error({ err: error }, 'run heartbeat thread failed'));
    // Neither may keep a CLI process alive after its run.
    thread.unref();
    this.pinger = setInterval(() => thread.postMessage({ type: 'alive' }), this.heartbeatMs);
    this.pinger.unref();
    this.thread = thread;
    return thread;
  }

  async stop(): Promise<void> {
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = null;
    this.held.clear();
    await this.thread?.terminate();
    this.thread = null;
  }
}

/** Removes a lost attempt's model folder; gone already (or on another host) is fine. */
export async function removeFolder(folder: string, logger: Logger): Promise<void> {
  try {
    await fs.rm(folder, { recursive: true, force: true });
  } catch (error) {
    logger.warn({ err: error, folder }, 'a lost run’s files could not be removed');
  }
}

function key(kind: RunKind, id: string): string {
  return `${kind}:${id}`;
}

function jsonValue(value: unknown): unknown {
  return value !== null && typeof value === 'object' && !(value instanceof Date)
    ? JSON.stringify(value)
    : value;
}
