import fs from 'node:fs/promises';
import os from 'node:os';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../config/logger.js';

/** The three kinds of queued work, and the table each records its runs in. */
export enum RunKind {
  TRAIN = 'TRAIN',
  SUGGEST = 'SUGGEST',
  RULES = 'RULES',
}

export const RUN_TABLES: Readonly<Record<RunKind, string>> = {
  [RunKind.TRAIN]: 'model_run',
  [RunKind.SUGGEST]: 'suggestion_run',
  [RunKind.RULES]: 'rule_run',
};

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
  status: 'QUEUED' | 'FAILED';
  worker: string | null;
  artifactPath: string | null;
}

/** `host:pid`: which process holds a run, readable in `tagwise runs list`. */
export function workerName(): string {
  return `${os.hostname()}:${process.pid}`;
}

type Executor = Pick<EntityManager, 'execute'>;

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
  private timer: NodeJS.Timeout | null = null;

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
      .execute<
        { attempt: number; params: Record<string, unknown> | null; createdBy: string | null }[]
      >(
        `update ${RUN_TABLES[kind]} set status = 'RUNNING', attempt = attempt + 1, worker = ?,
         started_at = coalesce(started_at, now()), heartbeat_at = now(), error = null
       where id = ? and status = 'QUEUED' and cancel_requested_at is null
       returning attempt, ${kind === RunKind.RULES ? 'null' : 'params'} as params,
         created_by as "createdBy"`,
        [this.worker, id],
      );
    if (!row) return null;
    const controller = new AbortController();
    const claim: HeldRun = {
      kind,
      id,
      attempt: row.attempt,
      params: row.params ?? {},
      createdBy: row.createdBy,
      signal: controller.signal,
      abort: (reason) => controller.abort(reason),
    };
    this.held.set(key(kind, id), claim);
    this.startHeartbeat();
    return claim;
  }

  /**
   * Ends a held run with `status` and the given columns (values of jsonb columns as objects), on
   * `em` — the transaction holding the job's output, so both land or neither. Refused with
   * RunLostError when the attempt no longer holds the run.
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
       where id = ? and attempt = ? and status = 'RUNNING' returning id`,
      [status, ...names.map((name) => jsonValue(columns[name])), claim.id, claim.attempt],
    );
    if (rows.length === 0) throw new RunLostError(claim.kind, claim.id);
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
   * CANCELLED; a lost run is left to its new holder. Returns whether the work succeeded.
   */
  async execute(claim: RunClaim, work: () => Promise<void>): Promise<boolean> {
    try {
      await work();
      return true;
    } catch (thrown) {
      const error = claim.signal.aborted ? (claim.signal.reason as Error) : (thrown as Error);
      if (error instanceof RunLostError) {
        this.logger.warn({ kind: claim.kind, runId: claim.id }, error.message);
        return false;
      }
      const cancelled = error instanceof RunCancelledError;
      if (!cancelled)
        this.logger.error({ err: error, kind: claim.kind, runId: claim.id }, 'run failed');
      await this.finish(claim, cancelled ? 'CANCELLED' : 'FAILED', {
        error: cancelled ? 'cancelled' : error.message,
      }).catch((lost: unknown) => {
        if (!(lost instanceof RunLostError)) throw lost;
      });
      return false;
    } finally {
      this.release(claim);
    }
  }

  /** Stops renewing a run this process no longer works on. */
  release(claim: RunClaim): void {
    this.held.delete(key(claim.kind, claim.id));
    if (this.held.size === 0) this.stopHeartbeat();
  }

  /**
   * Renews the heartbeat of every held run in one statement per kind, and aborts the ones that
   * were cancelled or taken away meanwhile.
   */
  async beat(): Promise<void> {
    for (const kind of Object.values(RunKind)) {
      const claims = [...this.held.values()].filter((c) => c.kind === kind);
      if (claims.length === 0) continue;
      const rows = await this.orm.em
        .fork()
        .execute<{ id: string; attempt: number; status: string; cancelled: boolean }[]>(
          `update ${RUN_TABLES[kind]} set heartbeat_at = case
             when status = 'RUNNING' and worker = ? then now() else heartbeat_at end
         where id = any(?::bigint[])
         returning id::text, attempt, status, cancel_requested_at is not null as cancelled`,
          [this.worker, `{${claims.map((c) => c.id).join(',')}}`],
        );
      for (const claim of claims) {
        const row = rows.find((r) => r.id === claim.id);
        if (!row || row.status !== 'RUNNING' || row.attempt !== claim.attempt) {
          claim.abort(new RunLostError(kind, claim.id));
        } else if (row.cancelled) {
          claim.abort(new RunCancelledError(kind, claim.id));
        }
      }
    }
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
          status: 'QUEUED' | 'FAILED';
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
          row.status === 'QUEUED'
            ? 'run of a lost worker queued again'
            : 'run of a lost worker failed',
        );
      }
    }
    return reaped;
  }

  private startHeartbeat(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.beat().catch((error: unknown) =>
        this.logger.warn({ err: error }, 'run heartbeat not renewed'),
      );
    }, this.heartbeatMs);
    // The beat must not keep a CLI process alive after its run.
    this.timer.unref();
  }

  private stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  stop(): void {
    this.stopHeartbeat();
    this.held.clear();
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
