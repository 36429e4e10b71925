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

export interface RunRecord {
  kind: RunKind;
  id: string;
  status: RunStatus;
  createdBy: string | null;
  createdAt: Date;
  finishedAt: Date | null;
  progress: { phase: string; done: number; total: number; detail?: string } | null;
  error: string | null;
  /** created_at as PostgreSQL prints it, microseconds and all: the cursor's sort key. */
  sortKey: string;
}

/** Where each kind's runs are, and how its columns read as a run's. */
const SOURCES: Record<RunKind, { table: string; progress: string }> = {
  [RunKind.TRAIN]: { table: 'model_run', progress: 'progress' },
  [RunKind.SUGGEST]: { table: 'suggestion_run', progress: 'progress' },
  // Rule runs report when done, not on the way.
  [RunKind.RULES]: { table: 'rule_run', progress: 'null::jsonb' },
};

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
      const { table, progress } = SOURCES[kind];
      const where = this.where(query, params);
      if (after) {
        where.push(`(created_at, '${kind}', id) < (?::timestamptz, ?, ?::bigint)`);
        params.push(after.createdAt, after.kind, after.id);
      }
      params.push(limit);
      return `(select '${kind}' as kind, id::text as id, status, created_by as "createdBy",
                 created_at as "createdAt", finished_at as "finishedAt", ${progress} as progress,
                 error, created_at::text as "sortKey"
               from ${table} ${where.length ? `where ${where.join(' and ')}` : ''}
               order by created_at desc, id desc limit ?)`;
    });
    params.push(limit);
    const rows = await this.em.execute<RunRecord[]>(
      `select * from (${branches.join(' union all ')}) runs
       order by "createdAt" desc, kind desc, id::bigint desc limit ?`,
      params,
    );
    return rows.map((r) => ({
      ...r,
      createdAt: parseTimestamp(r.createdAt),
      finishedAt: parseTimestamp(r.finishedAt),
    }));
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
