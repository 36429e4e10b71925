// Scoring engine for suggestion generation (issue 5): `node --import ./bin/register.js bench/scoring.ts`.
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { MikroORM } from '@mikro-orm/postgresql';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { createOrmConfig } from '../src/config/mikro-orm.config.js';
import { refreshFeatures } from '../src/jobs/feature-refresh.job.js';
import {
  CANDIDATE_COLUMNS,
  loadScoringModel,
  scoreCustomers,
  type ScoreOptions,
  type ScoreReport,
  type ScoringModel,
} from '../src/jobs/scoring/index.js';
import { createScorer, parseFeatureLines } from '../src/jobs/scoring/scorer.js';
import { trainModels } from '../src/jobs/train.job.js';
import { initBackend } from '../src/ml/backend.js';
import { predictTags } from '../src/ml/classifier/index.js';
import { assignClusters } from '../src/ml/kmeans.js';
import { concatColumns } from '../src/ml/matrix.js';
import { transformFeatures } from '../src/ml/preprocessing.js';
import { envInt, prepareDatabase, withClient } from './setup.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const settings = {
  dataDir: path.resolve(ROOT, process.env.BENCH_SCORING_DATA_DIR ?? '.data/bench-scoring'),
  pgPort: envInt('BENCH_SCORING_PG_PORT', 5442, 1),
  /** Demo customers generated (and trained on); the rest are SQL copies of them. */
  seeded: envInt('BENCH_SCORING_SEEDED', 100_000, 1_000),
  customers: envInt('BENCH_SCORING_CUSTOMERS', 1_000_000, 1_000),
  maxEpochs: envInt('BENCH_SCORING_EPOCHS', 30, 1),
  /** Share of customers the "dense" model variant suggests each tag for. */
  denseRate: Number(process.env.BENCH_SCORING_DENSE_RATE ?? 0.1),
  /** quick: the chosen configuration only; full: the matrix of workers, batches and steps. */
  matrix: process.env.BENCH_SCORING_MATRIX ?? 'full',
};

const STAGING = 'bench_scoring_candidate';

/** Seeds, refreshes, trains and replicates as needed; every step is skipped when already done. */
export async function prepare(orm: MikroORM, url: string): Promise<string> {
  const withFeatures = await withClient(url, async (c) => {
    const { rows } = await c.query<{ n: number }>(
      'select count(*)::int as n from customer_features',
    );
    return rows[0]!.n;
  });
  if (withFeatures === 0) {
    const refreshed = await refreshFeatures(orm, { mode: 'full' });
    console.error(`feature refresh: ${refreshed.customers} customers in ${refreshed.ms} ms`);
  }
  const modelsDir = path.join(settings.dataDir, 'models');
  let modelVersionId = await withClient(url, async (c) => {
    const { rows } = await c.query<{ id: string; artifact_path: string }>(
      `select id, artifact_path from model_version where created_by is distinct from 'bench' order by id desc`,
    );
    return rows.find((r) => fs.existsSync(path.resolve(r.artifact_path, 'classifier')))?.id;
  });
  if (!modelVersionId) {
    const report = await trainModels(orm, {
      modelsDir,
      maxEpochs: settings.maxEpochs,
      seed: 42,
      onProgress: (phase, done, total) => {
        if (phase !== 'epochs' || done % 10 === 0)
          console.error(`  train ${phase} ${done}/${total}`);
      },
    });
    console.error(
      `trained ${report.version} on ${report.customers} customers in ${(report.ms / 1000).toFixed(1)} s`,
    );
    modelVersionId = report.modelVersionId;
  }
  await withClient(url, async (c) => {
    const { rows } = await c.query<{ n: number }>('select count(*)::int as n from customer');
    const have = rows[0]!.n;
    if (have >= settings.customers) return;
    console.error(`replicating ${have} → ${settings.customers} customers…`);
    const started = performance.now();
    // Copies of the seeded customers (external id "<original>~<n>") with the same feature rows:
    // the scoring work per customer is what matters here, not distinct values.
    await c.query('begin');
    await c.query(
      `create temp table replica on commit drop as
       select c.id as source_id, g as copy
       from customer c
       cross join generate_series(1, $1::int) g
       where c.external_id not like '%~%'
       order by g, c.id
       limit $2`,
      [Math.ceil(settings.customers / settings.seeded), settings.customers - have],
    );
    await c.query(
      `with inserted as (
         insert into customer (external_id, name, email, gender, birth_year, region, city, industry,
                               company_size, lifecycle_stage, attributes, created_at)
         select c.external_id || '~' || r.copy, c.name, c.email, c.gender, c.birth_year, c.region,
                c.city, c.industry, c.company_size, c.lifecycle_stage, c.attributes, c.created_at
         from replica r join customer c on c.id = r.source_id
         returning id, external_id
       )
       insert into customer_features (customer_id, feature_set_version, computed_at, values)
       select i.id, f.feature_set_version, f.computed_at, f.values
       from inserted i
       join customer s on s.external_id = split_part(i.external_id, '~', 1)
       join customer_features f on f.customer_id = s.id`,
    );
    // The insert trigger queued every copy for an incremental refresh it does not need.
    await c.query('delete from feature_refresh_queue');
    await c.query('commit');
    await c.query('vacuum analyze customer, customer_features');
    console.error(`replicated in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  });
  return modelVersionId;
}

/** The first `rows` feature rows of the model's version, as COPY text. */
async function readSample(url: string, version: number, rows: number): Promise<Uint8Array> {
  return withClient(url, async (c) => {
    const chunks: Buffer[] = [];
    const sql = `copy (select customer_id, values from customer_features
                 where feature_set_version = ${version} order by customer_id limit ${rows}) to stdout`;
    for await (const chunk of c.query(copyTo(sql)) as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks);
  });
}

/**
 * A copy of the model whose thresholds make each tag suggested for about `rate` of customers.
 * The bench model (few epochs, target precision 0.9) is confident about almost nothing, which
 * says nothing about the cost of a run that suggests a lot; this variant bounds it from above.
 */
export async function denseVariant(
  url: string,
  model: ScoringModel,
  rate: number,
): Promise<ScoringModel> {
  const dir = `${model.artifactDir}-dense-${rate}`;
  if (!fs.existsSync(dir)) {
    await initBackend();
    const scorer = await createScorer({
      ...model,
      descriptions: {},
      missing: {},
      shares: [],
      explain: null,
    });
    const batch = parseFeatureLines(await readSample(url, model.featureSetVersion, 20_000));
    const inputs = transformFeatures(scorer.preprocessor, batch.rows);
    const features = concatColumns(inputs, assignClusters(scorer.kmeans, inputs).distances);
    const probabilities = await predictTags(scorer.classifier, features, { batchSize: 4096 });
    const t = scorer.classifier.meta.tags.length;
    const thresholds = Array.from({ length: t }, (_, j) => {
      const column = Float64Array.from(
        { length: batch.rows.length },
        (_, i) => probabilities[i * t + j]!,
      );
      column.sort();
      return column[Math.floor(column.length * (1 - rate))]!;
    });
    scorer.classifier.network.dispose();
    fs.cpSync(model.artifactDir, dir, { recursive: true });
    const file = path.join(dir, 'classifier', 'model.json');
    const json = JSON.parse(fs.readFileSync(file, 'utf8'));
    json.userDefinedMetadata.tagwise.thresholds = thresholds;
    fs.writeFileSync(file, JSON.stringify(json));
  }
  return { ...model, artifactDir: dir };
}

interface Run {
  model: 'trained' | 'dense';
  workers: number;
  batchSize: number;
  steps: number | null;
  sink: 'copy' | 'null';
}

interface Result extends Run {
  report: ScoreReport;
  stored: number | null;
  /** One-minute load average before the run: other work on the machine skews the timings. */
  load: number;
}

const nullSink = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

async function timeRun(
  url: string,
  models: Record<Run['model'], ScoringModel>,
  run: Run,
): Promise<Result> {
  const load = os.loadavg()[0]!;
  return { ...(await timeScoring(url, models, run)), load };
}

async function timeScoring(
  url: string,
  models: Record<Run['model'], ScoringModel>,
  run: Run,
): Promise<Omit<Result, 'load'>> {
  const options: ScoreOptions = {
    connectionString: url,
    model: models[run.model],
    workers: run.workers,
    batchSize: run.batchSize,
    explain: run.steps === null ? false : { topK: 3, steps: run.steps },
  };
  if (run.sink === 'null')
    return { ...run, report: await scoreCustomers(options, nullSink()), stored: null };
  return withClient(url, async (c) => {
    await c.query(`truncate ${STAGING}`);
    const copy = c.query(copyFrom(`copy ${STAGING} (${CANDIDATE_COLUMNS.join(', ')}) from stdin`));
    const report = await scoreCustomers(options, copy);
    const { rows } = await c.query<{ n: number }>(`select count(*)::int as n from ${STAGING}`);
    if (rows[0]!.n !== report.candidates) {
      throw new Error(`COPY stored ${rows[0]!.n} rows for ${report.candidates} candidates`);
    }
    return { ...run, report, stored: rows[0]!.n };
  });
}

/** COPY TO of every feature row into nothing, in 100k-id pages as the engine reads: reading alone. */
async function timeRead(url: string, version: number): Promise<{ ms: number; bytes: number }> {
  return withClient(url, async (c) => {
    await c.query('set max_parallel_workers_per_gather = 0; set jit = off');
    const { rows } = await c.query<{ max: number }>(
      'select max(customer_id)::int as max from customer_features',
    );
    const started = performance.now();
    let bytes = 0;
    for (let from = 0; from < rows[0]!.max; from += 100_000) {
      const sql = `copy (select customer_id, values from customer_features
                   where feature_set_version = ${version} and customer_id > ${from}
                     and customer_id <= ${from + 100_000} order by customer_id) to stdout`;
      for await (const chunk of c.query(copyTo(sql)) as AsyncIterable<Buffer>)
        bytes += chunk.length;
    }
    return { ms: performance.now() - started, bytes };
  });
}

function plan(): Run[] {
  const chosen: Run = { model: 'dense', workers: 2, batchSize: 4096, steps: 1, sink: 'copy' };
  const runs: Run[] = [{ ...chosen, model: 'trained' }, chosen];
  if (settings.matrix === 'quick') return runs;
  return [
    ...runs,
    { ...chosen, sink: 'null' },
    { ...chosen, steps: null },
    { ...chosen, steps: 4 },
    { ...chosen, steps: 8 },
    { ...chosen, workers: 1 },
    { ...chosen, workers: 1, steps: null },
    { ...chosen, batchSize: 2048 },
    { ...chosen, batchSize: 8192 },
  ];
}

async function main(): Promise<void> {
  const db = await prepareDatabase({
    dataDir: settings.dataDir,
    port: settings.pgPort,
    customers: settings.seeded,
  });
  const orm = await MikroORM.init(createOrmConfig({ url: db.handle.url, logger: () => {} }));
  const url = db.handle.url;
  try {
    const modelVersionId = await prepare(orm, url);
    const trained = await withClient(url, (c) => loadScoringModel(c, modelVersionId));
    const models = { trained, dense: await denseVariant(url, trained, settings.denseRate) };
    await withClient(url, (c) =>
      c.query(
        `create unlogged table if not exists ${STAGING} (customer_id bigint, tag_id bigint,
           confidence real, threshold real, cluster_id bigint, customer_value numeric,
           explanation jsonb)`,
      ),
    );
    const read = await timeRead(url, trained.featureSetVersion);
    console.error(
      `read alone: ${(read.ms / 1000).toFixed(1)} s, ${(read.bytes / 1e9).toFixed(2)} GB`,
    );
    const results: Result[] = [];
    for (const run of plan()) {
      const result = await timeRun(url, models, run);
      console.error(JSON.stringify({ ...run, ...result.report }));
      results.push(result);
    }
    const s = (ms: number) => (ms / 1000).toFixed(1);
    const lines = [
      `${results[0]!.report.customers} customers, ${os.cpus().length} cores, Node ${process.version}, ` +
        `backend ${results[0]!.report.backend}; read alone (COPY TO into nothing, ` +
        `${(read.bytes / 1e9).toFixed(2)} GB of feature JSON): ${s(read.ms)} s.`,
      '',
      '| model | workers | batch | IG steps | sink | wall s | customers/s | candidates | worker busy s: parse / score / explain | load before |',
      '| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: |',
      ...results.map(
        (r) =>
          `| ${r.model} | ${r.workers} | ${r.batchSize} | ${r.steps ?? 'none'} | ${r.sink === 'copy' ? 'COPY staging' : 'discard'} | ` +
          `${s(r.report.ms)} | ${Math.round(r.report.customers / (r.report.ms / 1000))} | ${r.report.candidates} | ` +
          `${s(r.report.workerMs.parse)} / ${s(r.report.workerMs.score)} / ${s(r.report.workerMs.explain)} | ${r.load.toFixed(1)} |`,
      ),
    ];
    console.log(lines.join('\n'));
  } finally {
    await orm.close();
    await db.handle.stop();
  }
}

// bench/suggest.ts reuses this data set; only running this file measures scoring.
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
