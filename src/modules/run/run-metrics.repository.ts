import type { EntityManager } from '@mikro-orm/postgresql';
import type { RunStatus } from '../model-registry/model-version.entity.js';
import { RUN_TABLES, type RunKind } from './run.repository.js';

/** The runs of one kind in one status, and how long the finished ones ran. */
export interface RunTally {
  kind: RunKind;
  status: RunStatus;
  runs: number;
  /** Runs with a finish time, from start (or, never started, from queueing) to finish. */
  finished: number;
  seconds: number;
  /** For each bound, finished runs that took at most that many seconds (cumulative). */
  buckets: number[];
}

export class RunMetricsRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Every kind and status in one statement over the run tables, which hold one row per run (a few
   * thousand, not millions). The durations come from the rows, not from the process that ran them:
   * runs are worked in job worker processes, possibly on other hosts, and a restart forgets nothing.
   */
  async tally(bounds: readonly number[]): Promise<RunTally[]> {
    const runs = Object.entries(RUN_TABLES)
      .map(
        ([kind, table]) =>
          `select '${kind}' as kind, status,
             extract(epoch from finished_at - coalesce(started_at, created_at))::float8 as seconds
           from ${table}`,
      )
      .join(' union all ');
    const buckets = bounds.map(() => 'count(*) filter (where seconds <= ?::float8)').join(', ');
    return this.em.execute<RunTally[]>(
      `select kind, status, count(*)::int as runs, count(seconds)::int as finished,
         coalesce(sum(seconds), 0)::float8 as seconds, array[${buckets}]::int[] as buckets
       from (${runs}) r group by kind, status order by kind, status`,
      [...bounds],
    );
  }
}
