import type { EntityManager } from '@mikro-orm/postgresql';
import type { RunStatus } from '../model-registry/model-version.entity.js';
import type { RuleRunStatus } from '../rule/rule.entity.js';
import type { SuggestionRunStatus } from '../suggestion/suggestion.entity.js';
import { parseTimestamp, textArray } from '../common/sql.js';

/** What kind of work a run is: each kind has its own table and its own detailed query. */
export enum RunKind {
  TRAIN = 'TRAIN',
  SUGGEST = 'SUGGEST',
  RULES = 'RULES',
}

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Expect<T extends true> = T;

/**
 * RunStatus is every kind's status. A status added to one kind's enum and not to RunStatus (or
 * the other way round) fails type-checking here, before a run can read as a status the API lacks.
 */
export type StatusesAgree = Expect<
  Same<`${SuggestionRunStatus}`, `${RunStatus}`> & Same<`${RuleRunStatus}`, `${RunStatus}`>
>;

/** The table each kind records its runs in. */
export const RUN_TABLES: Readonly<Record<RunKind, string>> = {
  [RunKind.TRAIN]: 'model_run',
  [RunKind.SUGGEST]: 'suggestion_run',
  [RunKind.RULES]: 'rule_run',
};

export interface RunRecord {
  kind: RunKind;
  id: string;
  status: RunStatus;
  createdBy: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** Attempts started (a run whose worker was lost is tried again). */
  attempt: number;
  /** `host:pid` of the process that holds (or last held) it. */
  worker: string | null;
  cancelRequestedAt: Date | null;
  progress: { phase: string; done: number; total: number; detail?: string } | null;
  error: string | null;
  /** created_at as PostgreSQL prints it, microseconds and all: the cursor's sort key. */
  sortKey: string;
}

/** Where each kind's runs are, and how its columns read as a run's. */
const SOURCES: Record<RunKind, { table: string; progress: string }> = {
  [RunKind.TRAIN]: { table: RUN_TABLES.TRAIN, progress: 'progress' },
  [RunKind.SUGGEST]: { table: RUN_TABLES.SUGGEST, progress: 'progress' },
  // Rule runs report when done, not on the way.
  [RunKind.RULES]: { table: RUN_TABLES.RULES, progress: 'null::jsonb' },
};

/** A run's columns as a RunRecord's, for a run of `kind`. */
function columns(kind: RunKind): string {
  return `'${kind}' as kind, id::text as id, status, created_by as "createdBy",
    created_at as "createdAt", started_at as "startedAt", finished_at as "finishedAt",
    attempt, worker, cancel_requested_at as "cancelRequestedAt",
    ${SOURCES[kind].progress} as progress, error, created_at::text as "sortKey"`;
}

function fromRow(r: RunRecord): RunRecord {
  return {
    ...r,
    createdAt: parseTimestamp(r.createdAt),
    startedAt: parseTimestamp(r.startedAt),
    finishedAt: parseTimestamp(r.finishedAt),
    cancelRequestedAt: parseTimestamp(r.cancelRequestedAt),
  };
}

export interface RunQuery {
  kinds: readonly RunKind[];
  statuses: readonly RunStatus[] | null;
}

/** The position after which a page starts, newest first: (created_at, kind, id). */
export interface RunPosition {
  createdAt: string;
  kind: RunKind;
  id: string;
}

export class RunRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Runs of every kind asked for, newest first, `limit` of them after `after`: one statement,
   * a UNION ALL whose branches each take their newest `limit` (run tables are small: a row per
   * run) before the merge. Ids repeat across kinds, so (created_at, kind, id) orders them.
   */
  async page(query: RunQuery, limit: number, after: RunPosition | null): Promise<RunRecord[]> {
    const params: unknown[] = [];
    const branches = query.kinds.map((kind) => {
      const { table } = SOURCES[kind];
      const where = this.where(query, params);
      if (after) {
        where.push(`(created_at, '${kind}', id) < (?::timestamptz, ?, ?::bigint)`);
        params.push(after.createdAt, after.kind, after.id);
      }
      params.push(limit);
      return `(select ${columns(kind)}
               from ${table} ${where.length ? `where ${where.join(' and ')}` : ''}
               order by created_at desc, id desc limit ?)`;
    });
    params.push(limit);
    const rows = await this.em.execute<RunRecord[]>(
      `select * from (${branches.join(' union all ')}) runs
       order by "createdAt" desc, kind desc, id::bigint desc limit ?`,
      params,
    );
    return rows.map(fromRow);
  }

  async get(kind: RunKind, id: string): Promise<RunRecord | null> {
    const [row] = await this.em.execute<RunRecord[]>(
      `select ${columns(kind)} from ${RUN_TABLES[kind]} where id = ?`,
      [id],
    );
    return row ? fromRow(row) : null;
  }

  /**
   * Asks a run to stop: a QUEUED one is CANCELLED at once (a worker that later takes its job
   * skips it); a RUNNING one is marked, and its worker stops it at its next step and ends it
   * CANCELLED with nothing of it kept. Null when the run had already ended (or does not exist).
   */
  async requestCancel(kind: RunKind, id: string): Promise<RunRecord | null> {
    const [row] = await this.em.execute<RunRecord[]>(
      `update ${RUN_TABLES[kind]} set
         cancel_requested_at = coalesce(cancel_requested_at, now()),
         status = case when status = 'QUEUED' then 'CANCELLED' else status end,
         error = case when status = 'QUEUED' then 'cancelled' else error end,
         finished_at = case when status = 'QUEUED' then now() else finished_at end
       where id = ? and status in ('QUEUED', 'RUNNING')
       returning ${columns(kind)}`,
      [id],
    );
    return row ? fromRow(row) : null;
  }

  /** Runs matching `query`, all pages together; one statement. */
  async count(query: RunQuery): Promise<number> {
    const params: unknown[] = [];
    const counts = query.kinds.map((kind) => {
      const where = this.where(query, params);
      return `(select count(*) from ${SOURCES[kind].table} ${where.length ? `where ${where.join(' and ')}` : ''})`;
    });
    const [row] = await this.em.execute<{ n: number }[]>(
      `select (${counts.join(' + ')})::int as n`,
      params,
    );
    return row!.n;
  }

  private where(query: RunQuery, params: unknown[]): string[] {
    if (!query.statuses) return [];
    params.push(textArray(query.statuses));
    return ['status = any(?::text[])'];
  }
}
