import os from 'node:os';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import {
  featureDefinitions,
  featureSetSchema,
  featureWording,
} from '../../modules/feature/feature.definitions.js';
import type { ScorerConfig } from './scorer.js';
import { ScoringPool, type ScoredReply } from './scoring.pool.js';

/** What a scoring run needs to know about a model version; see loadScoringModel. */
export interface ScoringModel {
  /** Absolute path of the version's artifact folder. */
  artifactDir: string;
  featureSetVersion: number;
  /** Tag id (bigint as string) per model tag index, in the classifier's meta.tags order. */
  tagIds: string[];
  /** Tag name per model tag index, for explanations ("holders of Wine lover"). */
  tagNames: string[];
  /** Cluster row id per k-means cluster index. */
  clusterIds: string[];
  /** Label per cluster index. */
  clusterLabels: string[];
  /** Raw numeric feature giving "customer value" (e.g. 'spend_365d'), copied into each row. */
  valueFeature: string | null;
}

export interface ExplainSettings {
  /** Contributions kept per candidate. */
  topK: number;
  /** Integrated-gradient steps; 1 is gradient × (input − mean). */
  steps: number;
}

export interface ScoreOptions {
  connectionString: string;
  model: ScoringModel;
  /** Ascending; default every customer with features of `model.featureSetVersion`. */
  customerIds?: readonly string[];
  /** Default: os.availableParallelism(). */
  workers?: number;
  /** Customers per worker task. */
  batchSize?: number;
  /** Default DEFAULT_EXPLAIN; false writes \N instead of an explanation. */
  explain?: ExplainSettings | false;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface ScoreReport {
  customers: number;
  candidates: number;
  backend: string;
  workers: number;
  ms: number;
  /** Time the workers spent in each step, summed over workers: where the time went. */
  workerMs: { parse: number; score: number; explain: number };
  /**
   * The workers' CPU time in each step, summed: the compute, without the time a worker waited
   * for a core. null where the system does not tell (see threadCpuMs).
   */
  workerCpuMs: { parse: number; score: number; explain: number } | null;
}

/** The columns of every candidate line, in order. */
export const CANDIDATE_COLUMNS = [
  'customer_id',
  'tag_id',
  'confidence',
  'threshold',
  'cluster_id',
  'customer_value',
  'explanation',
] as const;

// bench/scoring.ts (2 cores): the cost per customer is flat from 1k to 16k customers per task;
// 4096 (~5 MB of feature JSON, tens of ms of work) keeps hand-off overhead negligible while the
// pipeline fills fast and at most 2 tasks per worker are held in memory.
export const DEFAULT_BATCH_SIZE = 4096;
// One step is the gradient at the midpoint times (input − mean). On the bench model, 1, 2, 4 and
// 8 steps rank the same top contributions as 32 for every one of 4096 candidates, and each step
// adds ~7 µs of a core per candidate to ~25 µs: 4–6 s of wall time per million candidates.
export const DEFAULT_EXPLAIN: ExplainSettings = { topK: 3, steps: 1 };
/** Rows per gradient pass is this divided by the steps, so a pass stays the same size. */
const EXPLAIN_PASS_ROWS = 4096;
/** Customers per COPY statement: one keyset page. */
const PAGE_ROWS = 100_000;
/** Tasks handed out but not yet written, per worker: enough that no worker waits for the next. */
const TASKS_AHEAD_PER_WORKER = 2;

const BIGINT = /^[0-9]{1,19}$/;

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function validateModel(model: ScoringModel): void {
  positiveInt(model.featureSetVersion, 'model.featureSetVersion');
  const ids = [...model.tagIds, ...model.clusterIds];
  const bad = ids.find((id) => !BIGINT.test(id));
  if (bad !== undefined) throw new RangeError(`model ids must be bigints, got "${bad}"`);
  if (model.tagIds.length === 0) throw new RangeError('model.tagIds is empty');
}

function validateCustomerIds(ids: readonly string[]): void {
  let previous = -1n;
  for (const id of ids) {
    if (!BIGINT.test(id)) throw new RangeError(`customerIds: "${id}" is not a customer id`);
    const value = BigInt(id);
    if (value <= previous) throw new RangeError('customerIds must be strictly ascending');
    previous = value;
  }
}

/**
 * How explanations word each feature and its missing value, from the feature set stored as
 * FeatureRepository stores it.
 */
async function loadWording(
  client: pg.Client,
): Promise<Pick<ScorerConfig, 'descriptions' | 'missing' | 'shares'>> {
  const { rows } = await client.query<{ value: Record<string, unknown> }>(
    `select value from app_state where key = 'feature_set'`,
  );
  const stored = Object.entries(rows[0]?.value ?? {}).filter(([key]) => key !== 'version');
  const parsed = featureSetSchema.safeParse(Object.fromEntries(stored));
  if (!parsed.success) return { descriptions: {}, missing: {}, shares: [] };
  return featureWording(featureDefinitions({ version: 0, ...parsed.data }));
}

interface Plan {
  total: number;
  /** One COPY statement per keyset page, in customer order. */
  pages: string[];
}

const copyFeatures = (version: number, where: string) =>
  `copy (select customer_id, values from customer_features
         where feature_set_version = ${version} and ${where} order by customer_id) to stdout`;

/**
 * Keyset pages of customer_features. COPY takes no parameters, so the SQL inlines values, all of
 * them integers: the model's version, ids validated above, or ids read back from the table.
 */
async function planPages(
  client: pg.Client,
  version: number,
  customerIds: readonly string[] | undefined,
): Promise<Plan> {
  if (customerIds) {
    const { rows } = await client.query<{ n: number }>(
      `select count(*)::int as n from customer_features
       where feature_set_version = $1 and customer_id = any($2::bigint[])`,
      [version, customerIds],
    );
    const pages: string[] = [];
    for (let i = 0; i < customerIds.length; i += PAGE_ROWS) {
      const ids = customerIds.slice(i, i + PAGE_ROWS).join(',');
      pages.push(copyFeatures(version, `customer_id = any('{${ids}}'::bigint[])`));
    }
    return { total: rows[0]!.n, pages };
  }
  // Every PAGE_ROWS-th id bounds a page; one pass over the ids, run while the workers start.
  const { rows } = await client.query<{ total: number; bounds: string[] }>(
    `select count(*)::int as total,
            coalesce(array_agg(customer_id::text) filter (where n % $2 = 0), '{}') as bounds
     from (select customer_id, row_number() over (order by customer_id) as n
           from customer_features where feature_set_version = $1) numbered`,
    [version, PAGE_ROWS],
  );
  const { total, bounds } = rows[0]!;
  const pages = [...bounds, null].map((upper, i) => {
    const lower = i > 0 ? `customer_id > ${bounds[i - 1]}` : 'true';
    return copyFeatures(version, upper === null ? lower : `${lower} and customer_id <= ${upper}`);
  });
  return { total, pages };
}

/** Joins parts into one array that owns its whole buffer, so the buffer can be transferred. */
function joinParts(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Feature lines straight from COPY, cut into `batchSize`-line batches without decoding them: the
 * main thread only looks for newlines, and the bytes move to a worker without a copy.
 */
async function* featureBatches(
  client: pg.Client,
  pages: readonly string[],
  batchSize: number,
): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let lines = 0;
  for (const sql of pages) {
    for await (const chunk of client.query(copyTo(sql)) as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, nl + 1)) {
        if (++lines < batchSize) continue;
        parts.push(chunk.subarray(start, nl + 1));
        yield joinParts(parts);
        parts = [];
        lines = 0;
        start = nl + 1;
      }
      if (start < chunk.length) parts.push(chunk.subarray(start));
    }
  }
  if (parts.length > 0) yield joinParts(parts);
}

/** A FIFO of tasks in hand-out order, holding at most `capacity` before `push` waits. */
class TaskQueue<T> {
  private items: T[] = [];
  private closed = false;
  private waiters: (() => void)[] = [];

  constructor(private readonly capacity: number) {}

  async push(item: T): Promise<boolean> {
    while (!this.closed && this.items.length >= this.capacity) await this.changed();
    if (this.closed) return false;
    this.items.push(item);
    this.notify();
    return true;
  }

  /** The next item, or undefined once closed and empty. */
  async shift(): Promise<T | undefined> {
    while (this.items.length === 0 && !this.closed) await this.changed();
    const item = this.items.shift();
    this.notify();
    return item;
  }

  close(): void {
    this.closed = true;
    this.notify();
  }

  private changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private notify(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/**
 * Scores customers with the model's classifier and streams one COPY text line per (customer,
 * tag) that decideTags keeps, columns as CANDIDATE_COLUMNS, into `sink`; then ends `sink` and
 * waits for it to finish, as stream.pipeline does (for a pg-copy-streams `from`, until the COPY
 * is committed to its statement). Lines come in customer order, then tag order, whatever the
 * number of workers or the batch size.
 *
 * Features are read with COPY on a connection of its own and parsed and scored in a pool of
 * worker threads; the main thread only cuts and forwards bytes. Any failure — the database, a
 * worker, the sink, the signal — destroys `sink`, ends every worker and rejects.
 */
export async function scoreCustomers(
  options: ScoreOptions,
  sink: NodeJS.WritableStream,
): Promise<ScoreReport> {
  try {
    return await score(options, sink);
  } catch (error) {
    // Also when no line was written yet (bad options, a worker that cannot start): a COPY
    // waiting on `sink` would otherwise wait forever. The caller hears of the failure from this
    // rejection; the sink's own 'error' (a COPY answers its abort with one) adds nothing.
    const stream = sink as Partial<Writable>;
    stream.on?.('error', () => {});
    stream.destroy?.(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

async function score(options: ScoreOptions, sink: NodeJS.WritableStream): Promise<ScoreReport> {
  const startedAt = performance.now();
  const { model, signal } = options;
  validateModel(model);
  if (options.customerIds) validateCustomerIds(options.customerIds);
  const workers = positiveInt(options.workers ?? os.availableParallelism(), 'workers');
  const batchSize = positiveInt(options.batchSize ?? DEFAULT_BATCH_SIZE, 'batchSize');
  const explain = options.explain === undefined ? DEFAULT_EXPLAIN : options.explain;
  if (explain) {
    positiveInt(explain.topK, 'explain.topK');
    positiveInt(explain.steps, 'explain.steps');
  }
  signal?.throwIfAborted();

  const client = new pg.Client({ connectionString: options.connectionString });
  await client.connect();
  let pool: ScoringPool | undefined;
  try {
    // Pages stream in key order from the primary key; a parallel plan (bitmap scan, sort, gather
    // merge) reads no faster and takes CPU from the scoring workers on a small machine.
    await client.query('set max_parallel_workers_per_gather = 0; set jit = off');
    const config: ScorerConfig = {
      artifactDir: model.artifactDir,
      tagIds: model.tagIds,
      tagNames: model.tagNames,
      clusterIds: model.clusterIds,
      clusterLabels: model.clusterLabels,
      valueFeature: model.valueFeature,
      ...(await loadWording(client)),
      explain: explain
        ? { ...explain, batchSize: Math.max(1, Math.floor(EXPLAIN_PASS_ROWS / explain.steps)) }
        : null,
    };
    // Loading TF.js and the model in the workers takes about as long as planning the pages.
    const [started, planned] = await Promise.allSettled([
      ScoringPool.start(workers, config),
      planPages(client, model.featureSetVersion, options.customerIds),
    ]);
    if (started.status === 'fulfilled') pool = started.value;
    else throw started.reason;
    if (planned.status === 'rejected') throw planned.reason;
    const plan = planned.value;
    signal?.throwIfAborted();
    const report = await runPipeline(client, pool, plan, batchSize, options, sink);
    return {
      ...report,
      backend: pool.backend,
      workers,
      ms: Math.round(performance.now() - startedAt),
    };
  } finally {
    await pool?.terminate();
    // Ending the connection also stops a COPY that an error left half read.
    await client.end().catch(() => {});
  }
}

async function runPipeline(
  client: pg.Client,
  pool: ScoringPool,
  plan: Plan,
  batchSize: number,
  options: ScoreOptions,
  sink: NodeJS.WritableStream,
): Promise<Omit<ScoreReport, 'backend' | 'workers' | 'ms'>> {
  const { signal, onProgress } = options;
  const onAbort = () =>
    pool.abort(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  // Each task is boxed: an async shift() returning a bare promise would adopt it, and the writer
  // would wait on the task itself instead of racing it against the pool's failure.
  const tasks = new TaskQueue<{ result: Promise<ScoredReply> }>(pool.size * TASKS_AHEAD_PER_WORKER);
  const totals = { customers: 0, candidates: 0, parse: 0, score: 0, explain: 0 };
  let cpu: { parse: number; score: number; explain: number } | null = {
    parse: 0,
    score: 0,
    explain: 0,
  };

  const feed = (async () => {
    try {
      for await (const batch of featureBatches(client, plan.pages, batchSize)) {
        const result = pool.submit(batch);
        // Observed in order by the writer; this only keeps an early failure from being unhandled.
        result.catch(() => {});
        if (!(await tasks.push({ result }))) return;
      }
    } finally {
      tasks.close();
    }
  })();
  feed.catch((error: unknown) =>
    pool.abort(error instanceof Error ? error : new Error(String(error))),
  );

  async function* candidateLines(): AsyncGenerator<Uint8Array> {
    try {
      for (let task = await tasks.shift(); task; task = await tasks.shift()) {
        const reply = await Promise.race([task.result, pool.failed]);
        totals.customers += reply.customers;
        totals.candidates += reply.candidates;
        totals.parse += reply.parseMs;
        totals.score += reply.scoreMs;
        totals.explain += reply.explainMs;
        if (cpu && reply.cpuMs) {
          cpu.parse += reply.cpuMs.parse;
          cpu.score += reply.cpuMs.score;
          cpu.explain += reply.cpuMs.explain;
        } else cpu = null;
        onProgress?.(totals.customers, Math.max(plan.total, totals.customers));
        if (reply.bytes.length > 0) yield reply.bytes;
      }
      // The feed may have closed the queue because it failed.
      await Promise.race([feed, pool.failed]);
    } finally {
      tasks.close();
    }
  }

  try {
    await pipeline(Readable.from(candidateLines(), { objectMode: false }), sink);
  } catch (error) {
    pool.abort(error instanceof Error ? error : new Error(String(error)));
    throw error;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return {
    customers: totals.customers,
    candidates: totals.candidates,
    workerMs: {
      parse: Math.round(totals.parse),
      score: Math.round(totals.score),
      explain: Math.round(totals.explain),
    },
    workerCpuMs: cpu && {
      parse: Math.round(cpu.parse),
      score: Math.round(cpu.score),
      explain: Math.round(cpu.explain),
    },
  };
}
