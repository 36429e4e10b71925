import { createHash, timingSafeEqual } from 'node:crypto';
import cluster from 'node:cluster';
import type { ApolloServerPlugin } from '@apollo/server';
import type { MikroORM } from '@mikro-orm/postgresql';
import { Router } from 'express';
import type { GraphQLFormattedError } from 'graphql';
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type Metric,
} from 'prom-client';
import type { Logger } from '../config/logger.js';
import { RunKind } from '../modules/run/run.repository.js';
import { RunMetricsRepository, type RunTally } from '../modules/run/run-metrics.repository.js';
import { SuggestionRepository } from '../modules/suggestion/suggestion.repository.js';
import type { GraphQLContext } from './context.js';
import { fetchClusterMetrics, joinClusterMetrics } from './metrics-cluster.js';

/**
 * Operation names each API process labels; the names it meets later count as `(other)`, so a
 * client inventing names cannot grow the series (and Prometheus' memory) without bound.
 */
export const MAX_OPERATION_NAMES = 100;
const MAX_OPERATION_NAME_LENGTH = 64;
/** Labels no GraphQL name can take (names are `[_A-Za-z][_0-9A-Za-z]*`). */
export const OPERATION = {
  /** No operation resolved (unparsable, invalid), or the caller had no valid key. */
  unknown: '(unknown)',
  anonymous: '(anonymous)',
  other: '(other)',
} as const;

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Runs take from under a second (a rule run) to hours (training a million customers). */
const JOB_BUCKETS = [1, 5, 15, 60, 300, 900, 3600, 14_400];
const ACTIVE_STATUSES = ['QUEUED', 'RUNNING'] as const;

/** The three pools of an app (src/app.ts); `request` is `main` when statements have no timeout. */
export interface MetricsPools {
  main: MikroORM;
  request: MikroORM;
  expensive: MikroORM;
}

/** What knex's tarn pool tells about itself. */
interface TarnPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

function tarnPool(orm: MikroORM): TarnPool | undefined {
  return (orm.em.getConnection().getKnex().client as { pool?: TarnPool }).pool;
}

/** `ok`, or the code of the first error (codes come from formatError's closed list, not clients). */
function outcomeOf(errors: readonly GraphQLFormattedError[] | undefined): string {
  if (!errors?.length) return 'ok';
  const code = errors[0]!.extensions?.code;
  return typeof code === 'string' && /^[A-Z][A-Z_]{0,39}$/.test(code)
    ? code
    : 'INTERNAL_SERVER_ERROR';
}

/**
 * The metrics of one API process: its requests, pools and event loop (per process; summed over
 * the API processes of a cluster), and figures read from the database when scraped (the same
 * whichever process answers, so never summed).
 */
export class Metrics {
  private readonly process = new Registry();
  private readonly database = new Registry();
  private readonly names = new Set<string>();
  private readonly requests: Counter<'operation' | 'outcome'>;
  private readonly latency: Histogram<'operation'>;
  private readonly queueDepth: Gauge<'kind' | 'status'>;
  private readonly pending: Gauge;
  private readonly databaseOk: Gauge;
  private runs: RunTally[] = [];

  constructor(
    private readonly pools: MetricsPools,
    private readonly logger: Logger,
  ) {
    // Node's own: event-loop delay (nodejs_eventloop_lag_p99_seconds…, from a histogram that each
    // scrape restarts), heap, GC, handles, CPU.
    collectDefaultMetrics({ register: this.process });
    this.requests = new Counter({
      name: 'tagwise_graphql_requests_total',
      help: 'GraphQL requests by operation name and outcome (ok, or the first error code).',
      labelNames: ['operation', 'outcome'],
      registers: [this.process],
    });
    this.latency = new Histogram({
      name: 'tagwise_graphql_request_duration_seconds',
      help: 'Time from the request reaching GraphQL to its response, by operation name.',
      labelNames: ['operation'],
      buckets: LATENCY_BUCKETS,
      registers: [this.process],
    });
    this.registerPools();

    this.queueDepth = new Gauge({
      name: 'tagwise_job_queue_depth',
      help: 'Runs waiting (queued) or being worked on (running), by kind.',
      labelNames: ['kind', 'status'],
      registers: [this.database],
    });
    this.pending = new Gauge({
      name: 'tagwise_suggestions_pending',
      help: 'Suggestions waiting for a review decision.',
      registers: [this.database],
    });
    this.databaseOk = new Gauge({
      name: 'tagwise_metrics_database_ok',
      help: '1 when this scrape read the run and suggestion figures from the database, else 0.',
      registers: [this.database],
    });
    this.database.registerMetric(this.jobDurations());
    if (cluster.isWorker) joinClusterMetrics(this.process);
  }

  /**
   * The label for an operation's name. Only names of operations that parsed and validated, from
   * callers with a valid key, are kept, and only the first MAX_OPERATION_NAMES of them.
   */
  operationLabel(name: string | null | undefined, authenticated: boolean): string {
    if (!authenticated) return OPERATION.unknown;
    if (!name) return OPERATION.anonymous;
    if (this.names.has(name)) return name;
    if (name.length > MAX_OPERATION_NAME_LENGTH || this.names.size >= MAX_OPERATION_NAMES) {
      return OPERATION.other;
    }
    this.names.add(name);
    return name;
  }

  observe(operation: string, errors: readonly GraphQLFormattedError[] | undefined, ms: number) {
    this.requests.inc({ operation, outcome: outcomeOf(errors) });
    this.latency.observe({ operation }, ms / 1000);
  }

  /** Prometheus text: this process's (or every API process's) metrics, then the database's. */
  async render(): Promise<string> {
    // One after the other: the pool gauges must not count this scrape's own database statements.
    const own = cluster.isWorker ? await fetchClusterMetrics() : await this.process.metrics();
    await this.readDatabase();
    return `${own}\n${await this.database.metrics()}`;
  }

  get contentType(): string {
    return this.process.contentType;
  }

  /** Gauges read from knex's tarn pools when scraped. */
  private registerPools(): void {
    const pools = Object.entries(this.pools)
      // Without a statement timeout requests share the main pool: counted once.
      .filter(([name, orm]) => name === 'main' || orm !== this.pools.main)
      // A pool not opened yet (no request so far) has no tarn pool: it holds nothing.
      .map(([name, orm]) => ({ name, pool: () => tarnPool(orm) }));
    new Gauge({
      name: 'tagwise_db_pool_connections',
      help: 'Database connections of a pool (main, request, expensive) in use or idle.',
      labelNames: ['pool', 'state'],
      registers: [this.process],
      collect() {
        for (const { name, pool } of pools) {
          this.set({ pool: name, state: 'used' }, pool()?.numUsed() ?? 0);
          this.set({ pool: name, state: 'free' }, pool()?.numFree() ?? 0);
        }
      },
    });
    new Gauge({
      name: 'tagwise_db_pool_pending_acquires',
      help: 'Requests for a connection of a pool waiting because every connection is in use.',
      labelNames: ['pool'],
      registers: [this.process],
      collect() {
        for (const { name, pool } of pools)
          this.set({ pool: name }, pool()?.numPendingAcquires() ?? 0);
      },
    });
    new Gauge({
      name: 'tagwise_db_pool_max_connections',
      help: 'Connections a pool may open.',
      labelNames: ['pool'],
      registers: [this.process],
      collect() {
        for (const { name, pool } of pools) this.set({ pool: name }, pool()?.max ?? 0);
      },
    });
  }

  private async readDatabase(): Promise<void> {
    try {
      const em = this.pools.request.em.fork();
      const runs = await new RunMetricsRepository(em).tally(JOB_BUCKETS);
      const pending = await new SuggestionRepository(em).pendingTotal();
      this.runs = runs;
      for (const kind of Object.values(RunKind)) {
        for (const status of ACTIVE_STATUSES) {
          const row = runs.find((r) => r.kind === kind && r.status === status);
          this.queueDepth.set(
            { kind: kind.toLowerCase(), status: status.toLowerCase() },
            row?.runs ?? 0,
          );
        }
      }
      this.pending.set(pending);
      this.databaseOk.set(1);
    } catch (error) {
      // The process's own figures still answer: an outage is when its event loop matters most.
      this.logger.warn({ err: error }, 'metrics: the database figures could not be read');
      this.runs = [];
      this.queueDepth.reset();
      this.pending.reset();
      this.databaseOk.set(0);
    }
  }

  /**
   * A histogram whose buckets are counted by SQL at each scrape (RunMetricsRepository), not
   * observed here: runs are worked in job worker processes, possibly on other hosts. prom-client
   * has no histogram to set, so this is a metric object of the shape its own AggregatorRegistry
   * registers: a name and a `get()` returning the values.
   */
  private jobDurations(): Metric {
    const name = 'tagwise_job_duration_seconds';
    const help = 'Finished runs by kind and final status: time from start (or queueing) to finish.';
    const get = async () => ({
      name,
      help,
      type: 'histogram',
      aggregator: 'first',
      values: this.runs
        .filter((r) => r.finished > 0 && !(ACTIVE_STATUSES as readonly string[]).includes(r.status))
        .flatMap((r) => {
          const labels = { kind: r.kind.toLowerCase(), status: r.status.toLowerCase() };
          return [
            ...JOB_BUCKETS.map((le, i) => ({
              metricName: `${name}_bucket`,
              labels: { ...labels, le },
              value: r.buckets[i]!,
            })),
            { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: r.finished },
            { metricName: `${name}_sum`, labels, value: r.seconds },
            { metricName: `${name}_count`, labels, value: r.finished },
          ];
        }),
    });
    // prom-client's typings call `type` an enum; at run time it is the word after `# TYPE`.
    return { name, help, get } as unknown as Metric;
  }
}

/** Apollo plugin: each request's operation label, outcome and time into the metrics. */
export function metricsPlugin(metrics: Metrics): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      const started = performance.now();
      let operation: string = OPERATION.unknown;
      return {
        async didResolveOperation({ operationName, contextValue }) {
          operation = metrics.operationLabel(operationName, contextValue.viewer !== null);
        },
        async willSendResponse({ response }) {
          const { body } = response;
          const errors =
            body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          metrics.observe(operation, errors, performance.now() - started);
        },
      };
    },
  };
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

/**
 * GET /metrics. With a token, only for `Authorization: Bearer <token>` (compared in constant
 * time); the answer holds no personal data either way, but names operations and counts runs.
 */
export function metricsRoutes(metrics: Metrics, token: string | undefined, logger: Logger): Router {
  const router = Router();
  router.get('/metrics', async (req, res) => {
    res.set('cache-control', 'no-store');
    if (token !== undefined) {
      const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
      if (!timingSafeEqual(sha256(given), sha256(token))) {
        res.status(401).set('www-authenticate', 'Bearer realm="metrics"').type('text');
        res.send('/metrics needs Authorization: Bearer <TAGWISE_METRICS_TOKEN>\n');
        return;
      }
    }
    try {
      const text = await metrics.render();
      res.type(metrics.contentType).send(text);
    } catch (error) {
      logger.warn({ err: error }, 'metrics: the API processes’ metrics could not be gathered');
      res.status(503).type('text').send('metrics unavailable: see the server log\n');
    }
  });
  return router;
}
