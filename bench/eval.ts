// `npm run eval`: the demo end to end, measured against the truth its generator knows.
// EVAL_CUSTOMERS (default 20,000) sets the demo's size; EVAL_SCENARIO=hand|complete runs one.
import 'reflect-metadata';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { formatEvaluations } from '../src/cli/model-table.js';
import { startEmbeddedPostgres } from '../src/config/database.js';
import { createLogger } from '../src/config/logger.js';
import { createOrmConfig } from '../src/config/mikro-orm.config.js';
import {
  type DemoLabelling,
  type DemoScenarioReport,
  runDemoScenario,
} from '../src/jobs/demo-evaluation.job.js';

const CUSTOMERS = Number(process.env.EVAL_CUSTOMERS ?? 20_000);
const PORT = Number(process.env.EVAL_PG_PORT ?? 25490);
const SCENARIOS: Record<string, { title: string; labelling: DemoLabelling; promise: string }> = {
  hand: {
    title:
      'Demo truth: only the demo’s hand tags as labels, suggestions for the untagged customers',
    labelling: { kind: 'hand' },
    promise: 'macro F1 ≥ 0.85 at the default target precision 0.9, every tag realized ≥ 0.85',
  },
  complete: {
    title: 'Promise: the true tags of 30 % of the customers imported --complete, the rest untagged',
    labelling: { kind: 'complete', share: 0.3 },
    promise: 'each confident tag realized within 0.05 of the precision training promised',
  },
};

const num = (v: number | null, digits = 3) => (v === null ? '–' : v.toFixed(digits));

function print(name: string, report: DemoScenarioReport): void {
  const scenario = SCENARIOS[name]!;
  console.log(`\n## ${scenario.title}\n`);
  console.log(
    `${CUSTOMERS} customers; model ${report.train.version} in ${(report.train.ms / 1000).toFixed(1)} s; ` +
      `${report.suggest.created} suggestions; ${report.truth.customers} customers evaluated.\n`,
  );
  console.log(formatEvaluations(report.train.metrics));
  console.log(
    `\n${'tag'.padEnd(20)}${'mode'.padEnd(6)}${'promised'.padStart(9)}${'realized'.padStart(9)}` +
      `${'diff'.padStart(7)}${'recall'.padStart(8)}${'F1'.padStart(7)}${'suggested'.padStart(10)}${'holders'.padStart(9)}`,
  );
  for (const t of report.truth.tags) {
    const p = report.promises.find((x) => x.tag === t.tag);
    const diff = p?.promised != null && t.precision !== null ? t.precision - p.promised : null;
    console.log(
      `${t.tag.padEnd(20)}${(p?.mode ?? '–').padEnd(6)}${num(p?.promised ?? null).padStart(9)}` +
        `${num(t.precision).padStart(9)}${(diff === null ? '–' : (diff >= 0 ? '+' : '') + diff.toFixed(3)).padStart(7)}` +
        `${num(t.recall).padStart(8)}${num(t.f1).padStart(7)}${String(t.suggested).padStart(10)}${String(t.holders).padStart(9)}`,
    );
  }
  console.log(`\nmacro F1 ${report.truth.macroF1.toFixed(3)} (target: ${scenario.promise})`);
}

async function main(): Promise<void> {
  const chosen = process.env.EVAL_SCENARIO ? [process.env.EVAL_SCENARIO] : Object.keys(SCENARIOS);
  const unknown = chosen.find((s) => !SCENARIOS[s]);
  if (unknown) throw new Error(`EVAL_SCENARIO must be one of ${Object.keys(SCENARIOS).join(', ')}`);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn', 'eval');
  for (const name of chosen) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-eval-'));
    const database = await startEmbeddedPostgres({
      dataDir: dir,
      port: PORT,
      logger,
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' },
    });
    try {
      const orm = await MikroORM.init(createOrmConfig({ url: database.url, logger: () => {} }));
      try {
        await orm.getMigrator().up();
        const report = await runDemoScenario(orm, {
          customers: CUSTOMERS,
          labelling: SCENARIOS[name]!.labelling,
          modelsDir: path.join(dir, 'models'),
          onProgress: (step) => console.error(`${name}: ${step}…`),
        });
        print(name, report);
      } finally {
        await orm.close();
      }
    } finally {
      await database.stop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
}

await main();
