import fs from 'node:fs/promises';
import path from 'node:path';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { AppConfig } from '../config/env.js';
import type { Logger } from '../config/logger.js';
import { Role } from '../modules/auth/api-key.entity.js';
import { AuthService } from '../modules/auth/auth.service.js';
import { AppState } from '../modules/common/app-state.entity.js';
import { AuditService, SYSTEM_ACTOR } from '../modules/audit/audit.service.js';
import { configureDemoFeatures, seedDemo, seedDemoRules } from '../modules/demo/demo.service.js';
import { DomainError } from '../modules/common/domain.errors.js';
import { refreshFeatures } from './feature-refresh.job.js';
import { runRules } from './rules.job.js';
import { generateSuggestions } from './suggest.job.js';
import { trainModels } from './train.job.js';

const DEMO_STATE_KEY = 'demo_seeded';

/**
 * Generates the demo the first time the embedded default starts (or TAGWISE_DEMO=1), and
 * records that it did, so a restart — or a user who deleted the demo customers — is left alone.
 */
export async function seedDemoOnFirstStart(
  orm: MikroORM,
  config: AppConfig,
  logger: Logger,
): Promise<void> {
  const em = orm.em.fork();
  if (await em.findOne(AppState, { key: DEMO_STATE_KEY })) return;
  logger.info({ customers: config.demoCustomers }, 'first start: generating demo data');
  const started = Date.now();
  const report = await seedDemo(orm, { customers: config.demoCustomers });
  await configureDemoFeatures(orm);
  const features = await refreshFeatures(orm, { mode: 'full' });
  // Rules need features to pick the high-value threshold; later refreshes run them by themselves.
  await seedDemoRules(orm);
  const rules = await runRules(orm, { origin: 'demo', createdBy: 'demo' });
  logger.info(
    {
      rules: rules.reports.map((r) => ({
        rule: r.ruleName,
        added: r.added,
        conflicts: r.conflicts,
      })),
    },
    'demo rules ran',
  );
  try {
    const model = await trainModels(orm, {
      promote: true,
      createdBy: 'demo',
      modelsDir: config.modelsDir,
    });
    logger.info(
      { version: model.version, backend: model.backend, ms: model.ms },
      'demo model trained and promoted',
    );
    const suggestions = await generateSuggestions(orm);
    logger.info(
      { created: suggestions.created, ms: suggestions.ms },
      'demo suggestions generated for the review queue',
    );
  } catch (error) {
    // A demo too small to learn from still serves everything else.
    if (!(error instanceof DomainError)) throw error;
    logger.warn({ reason: error.message }, 'demo model not trained');
  }
  let keyFile: string | undefined;
  if (!config.adminApiKey) {
    const { key } = await new AuthService(orm.em).createKey({
      role: Role.ADMIN,
      name: 'demo-admin',
    });
    keyFile = path.join(config.dataDir, 'demo-admin-key');
    await fs.mkdir(config.dataDir, { recursive: true });
    await fs.writeFile(keyFile, `${key}\n`, { mode: 0o600 });
  }
  await em
    .persist(new AppState(DEMO_STATE_KEY, { ...report, at: new Date().toISOString() }))
    .flush();
  // The server wrote all this on its own: one SYSTEM entry with counts, as a CLI seed would.
  await new AuditService(orm.em.fork()).record(SYSTEM_ACTOR, {
    operation: 'demo',
    targetType: 'CUSTOMER',
    change: { ...report, features: features.customers, adminKeyCreated: keyFile !== undefined },
  });
  // Counted, not the seed's report: a database seeded before (by `tagwise seed`, or a first start
  // cut short) gets no new customers, and "customers 0" would read as an empty demo.
  const [{ customers }] = await em.execute<[{ customers: number }]>(
    'select count(*)::int as customers from customer',
  );
  logger.info(
    { customers, created: report, features: features.customers, ms: Date.now() - started },
    'demo data ready',
  );
  if (keyFile) logger.info(`demo admin API key written to ${keyFile}`);
}
