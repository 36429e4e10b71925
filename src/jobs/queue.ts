import type { MikroORM } from '@mikro-orm/postgresql';
import PgBoss from 'pg-boss';
import type { Logger } from '../config/logger.js';
import { RunKind } from '../modules/run/run.repository.js';
import { executeRuleRun } from './rules.job.js';
import {
  onConnection,
  removeFolder,
  RunLedger,
  type LedgerOptions,
  type RunClaim,
  type RunOutcome,
} from './run-ledger.js';
import { generateSuggestions } from './suggest.job.js';
import { trainModels, type TrainOptions } from './train.job.js';

export const TRAIN_QUEUE = 'train-models';
export const RULES_QUEUE = 'run-rules';
export const SUGGEST_QUEUE = 'generate-suggestions';

const QUEUES: Readonly<Record<RunKind, string>> = {
  [RunKind.TRAIN]: TRAIN_QUEUE,
  [RunKind.SUGGEST]: SUGGEST_QUEUE,
  [RunKind.RULES]: RULES_QUEUE,
};

export interface TrainJobData {
  runId: string;
}

export interface JobQueueOptions {
  /** Where model folders go. */
  modelsDir: string;
  ledger: LedgerOptions;
}

/**
 * Long work (training, scoring, rule runs) goes through pg-boss, a queue kept in PostgreSQL: any
 * API process enqueues and any worker process picks jobs up, so workers scale out with no other
 * infrastructure. The run rows, not pg-boss, say what state a run is in (see RunLedger): a job
 * whose run was cancelled, taken or finished is skipped, and a lost run is queued again by the
 * reaper every worker process runs.
 */
export class JobQueue {
  private boss: PgBoss | null = null;
  private reaper: NodeJS.Timeout | null = null;
  readonly ledger: RunLedger;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    private readonly options: JobQueueOptions,
  ) {
    this.ledger = new RunLedger(orm, logger, options.ledger);
  }

  private async started(): Promise<PgBoss> {
    if (!this.boss) {
      const boss = new PgBoss({ connectionString: this.orm.config.get('clientUrl')!, max: 4 });
      boss.on('error', (error) => {
        // 57P01: the database is shutting down (the embedded one stops itself on SIGINT/SIGTERM
        // while the queue is still closing), which is expected, not an error of the queue.
        if ((error as { code?: string }).code === '57P01') {
          this.logger.debug({ err: error }, 'job queue connection closed by the database');
        } else this.logger.error({ err: error }, 'job queue error');
      });
      await boss.start();
      for (const name of Object.values(QUEUES)) await boss.createQueue(name);
      this.boss = boss;
    }
    return this.boss;
  }

  /** Hands a QUEUED run to whichever worker is free. */
  async enqueue(kind: RunKind, runId: string): Promise<void> {
    await (
      await this.started()
    ).send(QUEUES[kind], { runId } satisfies TrainJobData, {
      // The reaper, not pg-boss, retries a run whose worker died: it knows the run's attempts.
      retryLimit: 0,
      // A job's run may take hours (training a million customers); pg-boss must not expire it.
      expireInHours: 23,
    });
  }

  enqueueTraining(runId: string): Promise<void> {
    return this.enqueue(RunKind.TRAIN, runId);
  }

  enqueueSuggestions(runId: string): Promise<void> {
    return this.enqueue(RunKind.SUGGEST, runId);
  }

  enqueueRuleRun(runId: string): Promise<void> {
    return this.enqueue(RunKind.RULES, runId);
  }

  /** Takes jobs of every kind in this process, and heals runs of lost workers. */
  async startWorkers(): Promise<void> {
    const boss = await this.started();
    const handlers: Record<RunKind, (runId: string) => Promise<void>> = {
      [RunKind.TRAIN]: (id) => this.runTraining(id),
      [RunKind.SUGGEST]: (id) => this.runSuggestions(id),
      [RunKind.RULES]: (id) => this.runRules(id),
    };
    for (const kind of Object.values(RunKind)) {
      await boss.work<TrainJobData>(QUEUES[kind], async ([job]) => {
        if (!job) return;
        try {
          await handlers[kind](job.data.runId);
        } catch (error) {
          // The run could not even be claimed or ended (its failure is on the run otherwise).
          this.logger.error({ err: error, kind, runId: job.data.runId }, 'job failed');
          throw error;
        }
      });
    }
    await this.reap();
    this.reaper = setInterval(() => void this.reap(), this.ledger.heartbeatMs);
  }

  /** Queues again the runs of lost workers that have attempts left; the rest fail. */
  async reap(): Promise<void> {
    try {
      for (const run of await this.ledger.reap()) {
        if (run.status === 'QUEUED') await this.enqueue(run.kind, run.id);
      }
    } catch (error) {
      this.logger.warn({ err: error }, 'reaping lost runs failed');
    }
  }

  /** Runs one queued rule run; its outcome (or failure) is stored on its rule_run row. */
  async runRules(runId: string): Promise<void> {
    await this.execute(RunKind.RULES, runId, (claim) =>
      executeRuleRun(this.orm, this.ledger, claim),
    );
  }

  /** Runs one scoring run, recording progress and its report on the suggestion_run row. */
  async runSuggestions(runId: string): Promise<void> {
    await this.execute(RunKind.SUGGEST, runId, async (claim) => {
      const params = claim.params as {
        modelVersionId?: string;
        customerIds?: string[];
        tagIds?: string[];
        cooldownDays?: number;
      };
      await generateSuggestions(this.orm, {
        ...params,
        runId,
        signal: claim.signal,
        onProgress: this.progressOf(claim),
        // The run ends in the merge's transaction: a retry of a run that wrote its suggestions
        // cannot exist, and a lost attempt's merge is rolled back.
        beforeCommit: (connection, report) =>
          this.ledger.finish(
            claim,
            'SUCCEEDED',
            {
              model_version_id: report.modelVersionId,
              report,
              progress: { phase: 'done', done: 1, total: 1 },
            },
            onConnection(connection),
          ),
      });
    });
  }

  /** Runs one training run, recording progress and outcome on its model_run row. */
  async runTraining(runId: string): Promise<void> {
    let folder: string | null = null;
    const outcome = await this.execute(RunKind.TRAIN, runId, async (claim) => {
      await trainModels(this.orm, {
        ...(claim.params as Omit<TrainOptions, 'modelsDir'>),
        createdBy: claim.createdBy,
        modelsDir: this.options.modelsDir,
        signal: claim.signal,
        onProgress: this.progressOf(claim),
        onArtifacts: async (dir) => {
          folder = dir;
          await this.ledger.note(claim, { artifact_path: dir });
        },
        // The version and the run's end commit together: a retried run never registers twice.
        onRegistered: (em, modelVersionId) =>
          this.ledger.finish(
            claim,
            'SUCCEEDED',
            { model_version_id: modelVersionId, progress: { phase: 'done', done: 1, total: 1 } },
            em,
          ),
      });
    });
    // No version of a failed, cancelled or lost attempt was registered: its folder is garbage.
    if (outcome?.ok === false && folder) await removeFolder(folder, this.logger);
  }

  /** Claims and works a run; null when there was nothing to claim. */
  private async execute(
    kind: RunKind,
    runId: string,
    work: (claim: RunClaim) => Promise<void>,
  ): Promise<RunOutcome | null> {
    const claim = await this.ledger.claim(kind, runId);
    // Cancelled before it started, taken by another worker, or already ended.
    if (!claim) return null;
    return this.ledger.execute(claim, () => work(claim));
  }

  /** At most a write a second: progress is for people watching, not an audit trail. */
  private progressOf(claim: RunClaim) {
    let lastWrite = 0;
    return (phase: string, done: number, total: number, detail?: string) => {
      if (Date.now() - lastWrite < 1000 && done < total) return;
      lastWrite = Date.now();
      void this.ledger
        .note(claim, { progress: { phase, done, total, ...(detail ? { detail } : {}) } })
        .catch((error: unknown) => this.logger.warn({ err: error }, 'progress not saved'));
    };
  }

  async stop(): Promise<void> {
    if (this.reaper) clearInterval(this.reaper);
    this.reaper = null;
    await this.ledger.stop();
    await this.boss?.stop({ graceful: true, wait: true });
    this.boss = null;
  }
}
