// Modelling at scale (issue 13): `node --import ./bin/register.js bench/ml.ts` (also in `npm run bench`).
// Three measurements against the targets; BENCH_ML_PARTS (default kmeans,train,score) picks:
//   kmeans  fitKMeans + assignClusters on BENCH_ML_KMEANS_ROWS (1,000,000) × 16 in a child process
//           of its own, so its peak RSS is its own, then scikit-learn's KMeans on the same matrix
//           file at the k ours chose (Debian's python3-sklearn; skipped, with the reason, without);
//   train   trainModels with its defaults on BENCH_ML_CUSTOMERS (100,000) demo customers (the
//           demo's features, KNOWN and PU tags), timing trainClassifier inside it;
//   score   BENCH_ML_SCORED (1,000,000) feature rows through scoreCustomers with that model
//           (a scoring run trains first, so it reports training too).
// Only a run of all three at those sizes rewrites its section of BENCHMARKS.md; a quick check
// (BENCH_ML_KMEANS_ROWS=100000 BENCH_ML_CUSTOMERS=5000 BENCH_ML_SCORED=20000) only prints.
import 'reflect-metadata';
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { MikroORM } from '@mikro-orm/postgresql';
import { createOrmConfig } from '../src/config/mikro-orm.config.js';
import { refreshFeatures } from '../src/jobs/feature-refresh.job.js';
import {
  loadScoringModel,
  scoreCustomers,
  type ScoreReport,
  type ScoringModel,
} from '../src/jobs/scoring/index.js';
import { trainModels, type TrainReport } from '../src/jobs/train.job.js';
import type { ClassifierMeta } from '../src/ml/classifier/index.js';
import { CLUSTER_DISTANCE_PREFIX, DEFAULT_KMEANS_OPTIONS } from '../src/ml/kmeans.js';
import { createRng } from '../src/ml/random.js';
import { configureDemoFeatures } from '../src/modules/demo/demo.service.js';
import { FeatureRepository } from '../src/modules/feature/feature.repository.js';
import { LabelRepository } from '../src/modules/tagging/label.repository.js';
import { createCpuProbe, postmasterPid } from './cpu.js';
import { KMEANS_COLS as COLS, KMEANS_SEED, type KMeansChildResult } from './ml-kmeans.js';
import { writeSection } from './report.js';
import { envInt, prepareDatabase, withClient } from './setup.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Modelling at scale (issue 13)';
const SEED = 42;
const TARGET = { kmeansRows: 1_000_000, customers: 100_000, scored: 1_000_000 };
const settings = {
  parts: new Set((process.env.BENCH_ML_PARTS ?? 'kmeans,train,score').split(',')),
  kmeansRows: envInt('BENCH_ML_KMEANS_ROWS', TARGET.kmeansRows, 1_000),
  customers: envInt('BENCH_ML_CUSTOMERS', TARGET.customers, 1_000),
  scored: envInt('BENCH_ML_SCORED', TARGET.scored, 1_000),
  pgPort: envInt('BENCH_ML_PG_PORT', 5446, 1),
  python: process.env.BENCH_PYTHON ?? '/usr/bin/python3',
};
// One cluster per size: a smaller quick check must not train on a bigger run's customers.
const DATA_DIR = path.resolve(
  ROOT,
  process.env.BENCH_ML_DATA_DIR ?? `.data/bench-ml-${settings.customers}`,
);
// The scored rows live under a feature set version of their own, so trainModels (which reads
// the current version) never sees them; see scoringRows.
const SCORING_VERSION_BASE = 1_000_000;

/**
 * Whether other work shared the machine: the cores other processes used during each measurement
 * (bench/cpu.ts; this process, its children and PostgreSQL are ours).
 */
const others = { cores: 0 };
function probeOthers(postmaster: number | null): () => number {
  const probe = createCpuProbe({ api: -1, postmaster });
  probe?.start();
  return () => {
    const cores = probe?.stop().other ?? 0;
    others.cores = Math.max(others.cores, cores);
    return cores;
  };
}
const othersNote = (cores: number) =>
  `Other processes used ${cores.toFixed(2)} of the ${os.cpus().length} cores meanwhile.`;
const count = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const verdict = (ok: boolean) => (ok ? 'met' : '**missed**');

// ---------------------------------------------------------------------------------------------
// k-means

/**
 * Eight customer segments of unequal size (28 % down to 3 %) in 16 scaled features: centres drawn
 * N(0, 1.5²) per feature, each segment with its own spread per feature (0.5–1.5), so segments
 * overlap as scaled customer features do rather than sit apart as textbook blobs. Seeded.
 */
function segmentMixture(rows: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  const weights = [0.28, 0.2, 0.15, 0.12, 0.1, 0.07, 0.05, 0.03];
  const centres = weights.map(() => Array.from({ length: COLS }, () => 1.5 * gaussian()));
  const spreads = weights.map(() => Array.from({ length: COLS }, () => 0.5 + rng()));
  const data = new Float32Array(rows * COLS);
  for (let i = 0; i < rows; i++) {
    let r = rng();
    let s = 0;
    while (s < weights.length - 1 && r >= weights[s]!) r -= weights[s++]!;
    for (let j = 0; j < COLS; j++)
      data[i * COLS + j] = centres[s]![j]! + spreads[s]![j]! * gaussian();
  }
  return data;
}

interface SklearnResult {
  version: string;
  threads: number;
  fitMs: number;
  predictMs: number;
  iterations: number;
  sampleFitPredictMs: number;
  peakMiB: number;
}

// The same file, the k ours chose, one initialisation. Timed twice: fitted on every row (what
// scikit-learn users do), and fitted on a sample as large as ours and then predicting every row
// (what ours does), so the ratio can be read against both.
const SKLEARN = `
import json, resource, sys, time
import numpy as np, sklearn
from sklearn.cluster import KMeans
from threadpoolctl import threadpool_info
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(-1, ${COLS})
k, sample_size = int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
model = KMeans(n_clusters=k, n_init=1, random_state=0).fit(X)
t1 = time.perf_counter()
model.predict(X)
t2 = time.perf_counter()
sample = X[np.random.default_rng(0).choice(len(X), min(sample_size, len(X)), replace=False)]
t3 = time.perf_counter()
KMeans(n_clusters=k, n_init=1, random_state=0).fit(sample).predict(X)
t4 = time.perf_counter()
threads = max((p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"), default=1)
print(json.dumps({"version": sklearn.__version__, "threads": threads,
  "fitMs": (t1 - t0) * 1000, "predictMs": (t2 - t1) * 1000, "iterations": int(model.n_iter_),
  "sampleFitPredictMs": (t4 - t3) * 1000,
  "peakMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
`;

/** Why scikit-learn cannot run here, or null when it can. */
function sklearnMissing(): string | null {
  const probe = spawnSync(settings.python, ['-c', 'import sklearn, numpy, threadpoolctl'], {
    encoding: 'utf8',
  });
  if (probe.error) return `${settings.python} is not installed`;
  if (probe.status !== 0) return `no scikit-learn for ${settings.python} (python3-sklearn)`;
  return null;
}

async function benchKMeans(): Promise<string[]> {
  const run = promisify(execFile);
  const rows = settings.kmeansRows;
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-kmeans-'));
  const file = path.join(dir, 'matrix.f32');
  try {
    await fs.writeFile(file, segmentMixture(rows, KMEANS_SEED));
    console.error(`k-means: ${count(rows)} × ${COLS} float32 matrix in ${file}`);
    const load = os.loadavg()[0]!;
    const stopProbe = probeOthers(null);
    const child = await run(
      process.execPath,
      ['--import', './bin/register.js', 'bench/ml-kmeans.ts', file],
      { cwd: ROOT, maxBuffer: 1 << 20 },
    );
    const ours = JSON.parse(child.stdout) as KMeansChildResult;
    const oursMs = ours.fitMs + ours.assignMs;
    console.error(`k-means: ours k=${ours.k} ${seconds(oursMs)}, ${ours.peakMiB.toFixed(0)} MiB`);
    const missing = sklearnMissing();
    let sk: SklearnResult | null = null;
    if (missing === null) {
      const args = [
        '-c',
        SKLEARN,
        file,
        String(ours.k),
        String(DEFAULT_KMEANS_OPTIONS.fitSampleSize),
      ];
      sk = JSON.parse((await run(settings.python, args, { maxBuffer: 1 << 20 })).stdout);
      console.error(`k-means: scikit-learn ${seconds(sk!.fitMs + sk!.predictMs)}`);
    }
    const otherCores = stopProbe();
    const o = DEFAULT_KMEANS_OPTIONS;
    const lines = [
      `**k-means**: ${count(rows)} rows × ${COLS} features, float32, generated by \`segmentMixture\` (seed ${KMEANS_SEED}): eight overlapping segments of unequal size, as scaled customer features look to k-means. Each side runs in a process of its own on the same matrix file; peak memory is that process's peak RSS, Node or Python and the ${((rows * COLS * 4) / 2 ** 20).toFixed(0)} MiB matrix included. ${othersNote(otherCores)} (One-minute load average before: ${load.toFixed(2)}, which still counts whatever ran in the minute before.)`,
      '',
      '| run | wall time | peak memory | target |',
      '| --- | ---: | ---: | --- |',
      `| ours: \`fitKMeans(matrix, { seed: ${KMEANS_SEED} })\` — k ${o.kMin}–${o.kMax} each fitted on the same ${count(o.fitSampleSize)}-row sample, k by silhouette on ${count(o.silhouetteSampleSize)} rows; chose k = ${ours.k} — then \`assignClusters\` of all ${count(rows)} rows (one thread) | ${seconds(oursMs)} (fit ${seconds(ours.fitMs)}, assign ${seconds(ours.assignMs)}) | ${ours.peakMiB.toFixed(0)} MiB (${ours.startMiB.toFixed(0)} MiB before reading the matrix, ${ours.loadedMiB.toFixed(0)} MiB with it) | ≤ 10 s ${verdict(oursMs <= 10_000)}; ≤ 400 MiB ${verdict(ours.peakMiB <= 400)} |`,
    ];
    if (sk) {
      const skMs = sk.fitMs + sk.predictMs;
      lines.push(
        `| scikit-learn ${sk.version} \`KMeans(n_clusters=${ours.k}, n_init=1, random_state=0).fit(X)\` on all ${count(rows)} rows (${sk.iterations} iterations) + \`.predict(X)\`, ${sk.threads} OpenMP thread(s) | ${seconds(skMs)} (fit ${seconds(sk.fitMs)}, predict ${seconds(sk.predictMs)}) | ${sk.peakMiB.toFixed(0)} MiB | |`,
        `| scikit-learn, the same k fitted on a ${count(o.fitSampleSize)}-row sample as ours is, + \`.predict(X)\` | ${seconds(sk.sampleFitPredictMs)} | | |`,
        '',
        `Ours / scikit-learn: **${(oursMs / skMs).toFixed(2)}×** the time of its full fit + predict, ${(oursMs / sk.sampleFitPredictMs).toFixed(1)}× that of its sampled fit + predict. Not like for like either way: ours also chooses k (${o.kMax - o.kMin + 1} fits and silhouettes) on one thread; scikit-learn fits one k, given, on every row (or the sample).`,
      );
    } else {
      lines.push(
        `| scikit-learn | skipped: ${missing} | | |`,
        '',
        'No ratio: scikit-learn did not run.',
      );
    }
    return lines;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Classifier training and scoring

interface Trained {
  report: TrainReport;
  model: ScoringModel;
  lines: string[];
}

/**
 * trainModels as `tagwise train` runs it, defaults throughout: the demo's features, known labels,
 * KNOWN and PU tags. Its report times trainClassifier inside it; the saved model tells the rest.
 */
async function benchTraining(orm: MikroORM, url: string): Promise<Trained> {
  console.error('train: trainModels with its defaults…');
  const stopProbe = probeOthers(postmasterPid(path.join(DATA_DIR, 'pg')));
  const report = await trainModels(orm, {
    seed: SEED,
    modelsDir: path.join(DATA_DIR, 'models'),
    createdBy: 'bench',
  });
  const otherCores = stopProbe();
  console.error(
    `train: ${seconds(report.classifierMs)} in trainClassifier, ${report.epochs} epochs`,
  );
  const model = await withClient(url, (c) => loadScoringModel(c, report.modelVersionId));
  const saved = JSON.parse(
    await fs.readFile(path.join(model.artifactDir, 'classifier', 'model.json'), 'utf8'),
  ) as { userDefinedMetadata: { tagwise: ClassifierMeta } };
  const meta = saved.userDefinedMetadata.tagwise;
  const known = await new LabelRepository(orm.em.fork()).labelsByTagId(model.tagIds);
  const labelled = new Set(
    known.flatMap((k) => [...k.positives, ...Object.values(k.negatives).flat()]),
  ).size;
  const modes = (mode: string) => report.metrics.filter((m) => m.mode === mode).length;
  const confident = report.metrics.filter((m) => m.confident).length;
  const { hiddenUnits, batchSize, rows: split } = meta.params;
  const inputs = meta.columns.length;
  const distances = meta.columns.filter((c) => c.startsWith(CLUSTER_DISTANCE_PREFIX)).length;
  const lines = [
    `**Classifier training**: \`trainModels(orm, { seed: ${SEED} })\`, every other option its default, on ${count(report.customers)} demo customers (\`bench/setup.ts\` seeds them; ${count(labelled)} of them with a known label): ${inputs} inputs (the demo's feature set with engagement per category, scaled, and ${distances} k-means distances), ${report.metrics.length} tags — ${modes('KNOWN')} learnt on known labels (KNOWN), ${modes('PU')} from positive and unlabelled customers (PU) — ${confident} of them confident at the default target precision 0.9. ${othersNote(otherCores)}`,
    '',
    '| step | measured | target | |',
    '| --- | ---: | ---: | --- |',
    `| \`trainClassifier\` inside it on ${count(report.customers)} customers: labels, stratified split (train ${count(split.train)}, validation ${count(split.validation)}, test ${count(split.test)}), ${report.epochs} epochs (early stopping; best ${meta.bestEpoch}) of a ${hiddenUnits.join('–')} network with a linear path, batches of ${batchSize}, \`${report.backend}\` backend, then thresholds and metrics on the held-out rows | ${seconds(report.classifierMs)} | ≤ 30 s | ${verdict(report.classifierMs <= 30_000)} |`,
    `| … the whole \`trainModels\` (features read, scaling, k-means for k = ${report.clusters}, labels, the classifier, artifacts, registry) | ${seconds(report.ms)} | | |`,
  ];
  return { report, model, lines };
}

/**
 * The current version's feature rows copied under a version of their own until there are
 * `scored` of them (ids shifted by 10¹⁰ per copy): scoring reads only the model's version, so a
 * million rows need only the seeded customers, and training never sees the copies. Kept between
 * runs; rebuilt when the count or the version differs.
 */
async function scoringRows(url: string, version: number, scored: number): Promise<number> {
  const target = SCORING_VERSION_BASE + version;
  await withClient(url, async (c) => {
    const { rows } = await c.query<{ n: number }>(
      'select count(*)::int as n from customer_features where feature_set_version = $1',
      [target],
    );
    if (rows[0]!.n === scored) return;
    const started = performance.now();
    console.error(`score: copying feature rows to ${count(scored)} under version ${target}…`);
    await c.query('delete from customer_features where feature_set_version >= $1', [
      SCORING_VERSION_BASE,
    ]);
    const { rows: source } = await c.query<{ n: number }>(
      'select count(*)::int as n from customer_features where feature_set_version = $1',
      [version],
    );
    await c.query(
      `insert into customer_features (customer_id, feature_set_version, computed_at, values)
       select f.customer_id + g * 10000000000, $1, f.computed_at, f.values
       from generate_series(1, $2::int) g cross join customer_features f
       where f.feature_set_version = $3
       order by g, f.customer_id
       limit $4`,
      [target, Math.ceil(scored / source[0]!.n), version, scored],
    );
    await c.query('vacuum analyze customer_features');
    console.error(`score: copied in ${seconds(performance.now() - started)}`);
  });
  return target;
}

const discard = () =>
  new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

async function benchScoring(url: string, trained: Trained): Promise<string[]> {
  const { model } = trained;
  const featureSetVersion = model.featureSetVersion;
  const version = await scoringRows(url, featureSetVersion, settings.scored);
  const workers = os.availableParallelism();
  const run = async (explain: boolean) => {
    const stopProbe = probeOthers(postmasterPid(path.join(DATA_DIR, 'pg')));
    const report: ScoreReport = await scoreCustomers(
      {
        connectionString: url,
        model: { ...model, featureSetVersion: version },
        workers,
        ...(explain ? {} : { explain: false as const }),
      },
      discard(),
    );
    const otherCores = stopProbe();
    if (report.customers !== settings.scored) {
      throw new Error(`scored ${report.customers} customers, expected ${settings.scored}`);
    }
    // CPU time where the system tells; wall time of the workers' steps otherwise (an upper bound:
    // it counts the time a worker waited for a core).
    const steps = report.workerCpuMs ?? report.workerMs;
    console.error(
      `score${explain ? ' and explain' : ''}: ${count(report.customers)} in ${seconds(report.ms)}, ` +
        `compute ${seconds(steps.parse + steps.score)}, explain ${seconds(steps.explain)}` +
        (report.workerCpuMs ? ' (CPU time)' : ' (wall time)'),
    );
    return { report, otherCores, steps, compute: steps.parse + steps.score };
  };
  // Scoring alone first (the target), then as suggestions are made, with explanations.
  const plain = await run(false);
  const explained = await run(true);
  const { report, steps } = plain;
  const perWorker = plain.compute / report.workers;
  const { explain } = explained.steps;
  const clock = report.workerCpuMs
    ? "the worker threads' CPU time (Linux's per-thread schedstat), so time a worker waited for a core does not count"
    : "the workers' wall time: this system tells no per-thread CPU time, so time a worker waited for a core counts too";
  return [
    `**Scoring**: \`scoreCustomers\` with that model and the default batch over ${count(report.customers)} feature rows (the seeded customers' rows, copied) into a sink that discards the candidate lines: once without explanations, then once with them (top 3 reasons, compared with the tag's holders), as \`suggest\` runs it. ${report.workers} worker threads, one per core (\`${report.backend}\` backend, single-threaded), share the ${os.cpus().length} cores with the main thread reading the rows and PostgreSQL sending them. Compute is what the workers do to the rows they are given: decode each feature row's JSON, scale, assign segments, run the network and apply the thresholds; it leaves out reading from PostgreSQL and writing the lines. It is measured as ${clock}; the workers' wall time in those steps was ${seconds(report.workerMs.parse + report.workerMs.score)} summed. Without explanations: ${othersNote(plain.otherCores)} With them: ${othersNote(explained.otherCores)}`,
    '',
    '| step | measured | target | |',
    '| --- | ---: | ---: | --- |',
    `| scoring compute for ${count(report.customers)} customers on ${report.workers} workers in parallel: each worker's share (the workers' compute summed ÷ ${report.workers}) | ${seconds(perWorker)} | ≤ 10 s | ${verdict(perWorker <= 10_000)} |`,
    `| … the same compute summed over the workers: core-seconds (decoding ${seconds(steps.parse)}, scoring ${seconds(steps.score)}) | ${seconds(plain.compute)} | | |`,
    `| … wall time of the whole run without explanations (workers starting, reading 1,000,000 rows from PostgreSQL, scoring; ${count(report.candidates)} candidates) | ${seconds(report.ms)} | | |`,
    `| explaining the ${count(explained.report.candidates)} candidates, summed over the workers, on the same clock | ${seconds(explain)} | | |`,
    `| wall time of the whole run with explanations | ${seconds(explained.report.ms)} | | |`,
  ];
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const known = ['kmeans', 'train', 'score'];
  const unknown = [...settings.parts].filter((p) => !known.includes(p));
  if (unknown.length > 0) throw new Error(`BENCH_ML_PARTS takes ${known.join(',')}`);
  const sections: string[][] = [];
  if (settings.parts.has('kmeans')) sections.push(await benchKMeans());
  if (settings.parts.has('train') || settings.parts.has('score')) {
    const db = await prepareDatabase({
      dataDir: DATA_DIR,
      port: settings.pgPort,
      customers: settings.customers,
    });
    const url = db.handle.url;
    const orm = await MikroORM.init(createOrmConfig({ url, logger: () => {} }));
    try {
      await configureDemoFeatures(orm);
      const repository = new FeatureRepository(orm.em.fork());
      const { version } = await repository.loadFeatureSet();
      const current = await withClient(url, async (c) => {
        const { rows } = await c.query<{ n: number }>(
          'select count(*)::int as n from customer_features where feature_set_version = $1',
          [version],
        );
        return rows[0]!.n;
      });
      // A first refresh freezes the categories under a new version; everything after reads it.
      if (current < db.customers) {
        const refreshed = await refreshFeatures(orm, { mode: 'full', runRules: false });
        console.error(`features: ${count(refreshed.customers)} customers in ${refreshed.ms} ms`);
      }
      // Scoring needs the model training makes, so a scoring run reports training too.
      const trained = await benchTraining(orm, url);
      sections.push(trained.lines);
      if (settings.parts.has('score')) sections.push(await benchScoring(url, trained));
    } finally {
      await orm.close();
      await db.handle.stop();
    }
  }
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  const body = [
    `Command: \`node --import ./bin/register.js bench/ml.ts\` (also in \`npm run bench\`). Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus().length} × ${cpu}, Node ${process.version}.`,
    '',
    ...sections.flatMap((lines) => [...lines, '']),
    ...(others.cores >= 0.25
      ? [
          'Other work shared the machine during this run (see above): these times are upper bounds, to be measured again on a quiet machine.',
        ]
      : []),
  ].join('\n');
  console.log(`${SECTION}\n\n${body}`);
  const full =
    known.every((p) => settings.parts.has(p)) &&
    settings.kmeansRows === TARGET.kmeansRows &&
    settings.customers === TARGET.customers &&
    settings.scored === TARGET.scored;
  if (full) await writeSection(path.join(ROOT, 'BENCHMARKS.md'), SECTION, body);
  else console.error(`(not written to BENCHMARKS.md: not every part at the issue's sizes)`);
}

await main();
