import type { MikroORM } from '@mikro-orm/postgresql';
import { createLogger } from '../config/logger.js';
import { PersonalDataService } from '../modules/access/personal-data.service.js';
import { RuleRun } from '../modules/rule/rule.entity.js';
import { RuleService } from '../modules/rule/rule.service.js';
import { RunKind } from '../modules/run/run.repository.js';
import { DEFAULT_LEDGER_OPTIONS, RunLedger, type RunClaim } from './run-ledger.js';

export interface RunRulesOptions {
  dryRun?: boolean;
  /** What started the run: `cli`, `feature-refresh`, `demo`, … */
  origin: string;
  createdBy?: string | null;
  onProgress?: (done: number, total: number) => void;
  /** The process's ledger (a queue worker's); by default one of this call's own. */
  ledger?: RunLedger;
}

/**
 * Runs every enabled rule now, in this process (the CLI, after a feature refresh), as a run this
 * process holds: if it dies midway the transaction rolls back and a worker's reaper heals the run.
 * A failure is recorded on the run and thrown.
 */
export async function runRules(orm: MikroORM, options: RunRulesOptions): Promise<RuleRun> {
  const ledger = options.ledger ?? new RunLedger(orm, createLogger('warn'), DEFAULT_LEDGER_OPTIONS);
  try {
    return await runHeld(orm, ledger, options);
  } finally {
    if (!options.ledger) await ledger.stop();
  }
}

async function runHeld(
  orm: MikroORM,
  ledger: RunLedger,
  options: RunRulesOptions,
): Promise<RuleRun> {
  const em = orm.em.fork();
  const run = new RuleRun(options.dryRun ?? false, options.origin);
  run.createdBy = options.createdBy ?? null;
  await em.persist(run).flush();
  const claim = (await ledger.claim(RunKind.RULES, run.id))!;
  const outcome = await ledger.execute(claim, () =>
    executeRuleRun(orm, ledger, claim, options.onProgress),
  );
  if (!outcome.ok) throw outcome.error;
  return em.fork().findOneOrFail(RuleRun, { id: run.id });
}

/** The work of a claimed rule run (a queue worker's, or runRules'). */
export async function executeRuleRun(
  orm: MikroORM,
  ledger: RunLedger,
  claim: RunClaim,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const em = orm.em.fork();
  await new RuleService(em, PersonalDataService.forSystem(em)).executeRun(claim.id, {
    signal: claim.signal,
    ...(onProgress ? { onProgress } : {}),
    complete: (reports, tx) => ledger.finish(claim, 'SUCCEEDED', { reports }, tx),
  });
}
