import { Property, type Opt } from '@mikro-orm/core';

/**
 * What every queued run (training, scoring, rule run) records about the worker executing it, so a
 * run whose worker died can be found and healed, and a run can be cancelled while it runs.
 * The holder proves it still holds a run by its `attempt`: a lost worker that wakes up finds the
 * attempt moved on and its writes refused (see src/jobs/run-ledger.ts).
 */
export abstract class JobRunState {
  /** Attempts started; a run whose worker was lost is queued again up to TAGWISE_RUN_ATTEMPTS. */
  @Property({ type: 'int', default: 0 })
  attempt: number & Opt = 0;

  /** Which process holds the run: `host:pid`, kept after it ends to tell who ran it. */
  @Property({ type: 'text', nullable: true })
  worker: string | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  startedAt: Date | null = null;

  /** Renewed by the holder every few seconds; a stale one marks the worker as lost. */
  @Property({ type: 'timestamptz', nullable: true })
  heartbeatAt: Date | null = null;

  @Property({ type: 'timestamptz', nullable: true })
  cancelRequestedAt: Date | null = null;
}
