import type { MikroORM } from '@mikro-orm/postgresql';
import PgBoss from 'pg-boss';
import type { Logger } from '../config/logger.js';
import { ModelRun, RunStatus } from '../modules/model-registry/model-version.entity.js';
import { SuggestionRun, SuggestionRunStatus } from '../modules/suggestion/suggestion.entity.js';
import { generateSuggestions } from './suggest.job.js';
import { runQueuedRules } from './rules.job.js';
import { trainModels, type TrainOptions } from './train.job.js';

export const TRAIN_QUEUE = 'train-models';
export const RULES_QUEUE = 'run-rules';
export const SUGGEST_QUEUE = 'generate-suggestions';

export interface TrainJobData {
  runId: string;
}

/**
 * Long work (training now; scoring and rule runs later) goes through pg-boss, a queue kept in
 * PostgreSQL: any API process can enqueue and any process running workers picks jobs up, so
 * workers scale out with no other infrastructure.
 */
export class JobQueue {
  private boss: PgBoss | null = null;

  constructor(
    private readonly orm: MikroORM,
    private readonly logger: Logger,
    private readonly modelsDir: string,
  ) {}

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
      await boss.createQueue(TRAIN_QUEUE);
      await boss.createQueue(RULES_QUEUE);
      await boss.createQueue(SUGGEST_QUEUE);
      this.boss = boss;
    }
    return this.boss;
  }

  async enqueueTraining(runId: string): Promise<void> {
    await (
      await this.started()
    ).send(TRAIN_QUEUE, { runId } satisfies TrainJobData, {
      retryLimit: 0,
    });
  }

  async enqueueSuggestions(runId: string): Promise<void> {
    await (
      await this.started()
    ).send(SUGGEST_QUEUE, { runId } satisfies TrainJobData, { retryLimit: 0 });
  }

  async enqueueRuleRun(runId: string): Promise<void> {
    await (
      await this.started()
    ).send(RULES_QUEUE, { runId } satisfies TrainJobData, { retryLimit: 0 });
  }

  /** Runs one queued rule run; the outcome (or the failure) is stored on its rule_run row. */
  async runRules(runId: string): Promise<void> {
    try {
      await runQueuedRules(this.orm, runId);
    } catch (error) {
      this.logger.error({ err: error, runId }, 'rule run failed');
    }
  }

  async startWorkers(): Promise<void> {
    const boss = await this.started();
    await boss.work<TrainJobData>(RULES_QUEUE, async ([job]) => {
      if (job) await this.runRules(job.data.runId);
    });
    await boss.work<TrainJobData>(TRAIN_QUEUE, async ([job]) => {
      if (job) await this.runTraining(job.data.runId);
    });
    await boss.work<TrainJobData>(SUGGEST_QUEUE, async ([job]) => {
      if (job) await this.runSuggestions(job.data.runId);
    });
  }

  /** Runs one scoring run, recording progress and its report on the suggestion_run row. */
  async runSuggestions(runId: string): Promise<void> {
    const em = this.orm.em.fork();
    const run = await em.findOneOrFail(SuggestionRun, { id: runId });
    run.status = SuggestionRunStatus.RUNNING;
    await em.flush();
    let lastWrite = 0;
    const params = run.params as {
      modelVersionId?: string;
      customerIds?: string[];
      tagIds?: string[];
      cooldownDays?: number;
    };
    try {
      const report = await generateSuggestions(this.orm, {
        ...params,
        runId,
        onProgress: (phase, done, total) => {
          if (Date.now() - lastWrite < 1000 && done < total) return;
          lastWrite = Date.now();
          void em
            .fork()
            .nativeUpdate(SuggestionRun, { id: runId }, { progress: { phase, done, total } })
            .catch((error: unknown) => this.logger.warn({ err: error }, 'progress not saved'));
        },
      });
      await em.nativeUpdate(
        SuggestionRun,
        { id: runId },
        {
          status: SuggestionRunStatus.SUCCEEDED,
          modelVersion: report.modelVersionId,
          report: { ...report },
          finishedAt: new Date(),
          progress: { phase: 'done', done: 1, total: 1 },
        },
      );
    } catch (error) {
      this.logger.error({ err: error, runId }, 'suggestion run failed');
      await em.nativeUpdate(
        SuggestionRun,
        { id: runId },
        {
          status: SuggestionRunStatus.FAILED,
          error: (error as Error).message,
          finishedAt: new Date(),
        },
      );
    }
  }

  /** Runs one training run, recording progress and outcome on its model_run row. */
  async runTraining(runId: string): Promise<void> {
    const em = this.orm.em.fork();
    const run = await em.findOneOrFail(ModelRun, { id: runId });
    run.status = RunStatus.RUNNING;
    await em.flush();
    let lastWrite = 0;
    try {
      const report = await trainModels(this.orm, {
        ...(run.params as TrainOptions),
        createdBy: run.createdBy,
        modelsDir: this.modelsDir,
        onProgress: (phase, done, total, detail) => {
          // At most a write a second: progress is for people watching, not an audit trail.
          if (Date.now() - lastWrite < 1000 && done < total) return;
          lastWrite = Date.now();
          void em
            .fork()
            .nativeUpdate(ModelRun, { id: runId }, { progress: { phase, done, total, detail } })
            .catch((error: unknown) => this.logger.warn({ err: error }, 'progress not saved'));
        },
      });
      await em.nativeUpdate(
        ModelRun,
        { id: runId },
        {
          status: RunStatus.SUCCEEDED,
          modelVersion: report.modelVersionId,
          finishedAt: new Date(),
          progress: { phase: 'done', done: 1, total: 1 },
        },
      );
    } catch (error) {
      this.logger.error({ err: error, runId }, 'training failed');
      await em.nativeUpdate(
        ModelRun,
        { id: runId },
        { status: RunStatus.FAILED, error: (error as Error).message, finishedAt: new Date() },
      );
    }
  }

  async stop(): Promise<void> {
    await this.boss?.stop({ graceful: true, wait: true });
    this.boss = null;
  }
}
