import type { MikroORM } from '@mikro-orm/postgresql';
import { PersonalDataService } from '../modules/access/personal-data.service.js';
import { RuleRun } from '../modules/rule/rule.entity.js';
import { RuleService } from '../modules/rule/rule.service.js';

export interface RunRulesOptions {
  dryRun?: boolean;
  /** What started the run: `cli`, `feature-refresh`, `demo`, … */
  origin: string;
  createdBy?: string | null;
  onProgress?: (done: number, total: number) => void;
}

/** Runs every enabled rule now, in this process (the CLI, after a feature refresh). */
export async function runRules(orm: MikroORM, options: RunRulesOptions): Promise<RuleRun> {
  const em = orm.em.fork();
  const run = new RuleRun(options.dryRun ?? false, options.origin);
  run.createdBy = options.createdBy ?? null;
  await em.persist(run).flush();
  return new RuleService(em, PersonalDataService.forSystem(em)).executeRun(
    run.id,
    options.onProgress,
  );
}

/** Runs a queued run (the job queue's worker). Failures are recorded on the run. */
export async function runQueuedRules(orm: MikroORM, runId: string): Promise<RuleRun> {
  const em = orm.em.fork();
  return new RuleService(em, PersonalDataService.forSystem(em)).executeRun(runId);
}
