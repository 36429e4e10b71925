import path from 'node:path';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

const port = z.coerce
  .number({ error: 'must be a number' })
  .int('must be an integer')
  .min(1, 'must be between 1 and 65535')
  .max(65535, 'must be between 1 and 65535');

/** Connections of the pool API requests run on (and of the one jobs use). */
export const REQUEST_POOL_SIZE = 10;
/** Connections of the pool expensive operations run on, apart from the others (per process). */
export const EXPENSIVE_POOL_SIZE = 4;

/**
 * TAGWISE_COST_WEIGHTS: a JSON object of field coordinates to whole-number weights, e.g.
 * `{"Query.previewSegment": 50000, "Tag.customerCount": 1}`; what is wrong with it otherwise.
 * Whether each coordinate names a field is checked against the schema when the app starts.
 */
function parseCostWeights(text: string | undefined): Record<string, number> | string {
  if (text === undefined || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'must be a JSON object such as {"Query.previewSegment": 20000}';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return 'must be a JSON object such as {"Query.previewSegment": 20000}';
  }
  for (const [name, weight] of Object.entries(value)) {
    if (!/^[A-Za-z_]\w*\.[A-Za-z_]\w*$/.test(name)) {
      return `has "${name}" where a field coordinate such as Query.previewSegment belongs`;
    }
    if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 1e9) {
      return `gives ${name} ${JSON.stringify(weight)}; weights are whole numbers from 0 to 1000000000`;
    }
  }
  return value as Record<string, number>;
}

/** A whole number from min to max (inclusive), with messages that say which bound. */
const wholeNumber = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be a whole number')
    .min(min, `must be ≥ ${min}`)
    .max(max, `must be ≤ ${max}`);

const envSchema = z.object({
  PORT: port.default(4000),
  DATABASE_URL: z
    .string()
    .trim()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || /^postgres(ql)?:\/\//.test(v), {
      message: 'must be a postgres:// or postgresql:// URL',
    }),
  TAGWISE_DATA_DIR: z.string().trim().min(1, 'must not be empty').default('.data'),
  TAGWISE_PG_PORT: port.default(5433),
  TAGWISE_WORKERS: z.enum(['0', '1'], { message: 'must be 0 or 1' }).default('1'),
  TAGWISE_API_PROCESSES: wholeNumber(1, 64).default(1),
  // Six heartbeats fit in it; long enough for a stalled event loop (a big k-means step).
  TAGWISE_RUN_LOST_AFTER_S: wholeNumber(1, 86_400).default(30),
  TAGWISE_RUN_ATTEMPTS: wholeNumber(1, 10).default(2),
  // Unset: `<TAGWISE_DATA_DIR>/models`, so two data dirs never share (or mix) model versions.
  TAGWISE_MODELS_DIR: z.string().trim().min(1, 'must not be empty').optional(),
  TAGWISE_DEMO: z.enum(['0', '1'], { message: 'must be 0 or 1' }).optional(),
  TAGWISE_DEMO_CUSTOMERS: wholeNumber(0, 10_000_000).default(5000),
  TAGWISE_MAX_QUERY_COST: wholeNumber(100).default(100_000),
  TAGWISE_MAX_QUERY_DEPTH: wholeNumber(3, 100).default(12),
  TAGWISE_MAX_ALIASES: wholeNumber(1).default(50),
  TAGWISE_MAX_ROOT_FIELDS: wholeNumber(1).default(20),
  TAGWISE_MAX_BODY_BYTES: wholeNumber(1024, 1024 ** 3).default(25 * 1024 ** 2),
  TAGWISE_RATE_LIMIT: wholeNumber(0).default(6000),
  TAGWISE_COST_WEIGHTS: z
    .string()
    .optional()
    .transform((text, ctx) => {
      const weights = parseCostWeights(text);
      if (typeof weights === 'string') {
        ctx.issues.push({ code: 'custom', message: weights, input: text });
        return z.NEVER;
      }
      return weights;
    }),
  // A day at most: a statement longer than that is not an API request's.
  TAGWISE_STATEMENT_TIMEOUT_MS: wholeNumber(0, 86_400_000).default(15_000),
  // Below the expensive pool's 4 connections, so one key can never take all of them.
  // 1: measured by bench/hostile-burst.ts on 2 cores, two scanning operations of one key per API
  // process (four with 2 processes) took PostgreSQL from 0.5 to 1.1 cores and other clients' p99
  // to 3.6× its quiet value; one per process kept it at 2.6–2.9× (three runs).
  TAGWISE_MAX_EXPENSIVE_PER_KEY: wholeNumber(0, EXPENSIVE_POOL_SIZE - 1).default(1),
  ADMIN_API_KEY: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.length >= 16, {
      message: 'must be at least 16 characters',
    }),
  LOG_LEVEL: z
    .enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
    .default('info'),
  LOG_FORMAT: z
    .enum(LOG_FORMATS, { message: `must be one of ${LOG_FORMATS.join(', ')}` })
    .default('json'),
  TAGWISE_METRICS: z.enum(['0', '1'], { message: 'must be 0 or 1' }).default('1'),
  TAGWISE_CONSOLE: z.enum(['0', '1'], { message: 'must be 0 or 1' }).default('1'),
  // No default here: off under NODE_ENV=production unless asked for (see loadConfig).
  TAGWISE_GRAPHIQL: z.enum(['0', '1'], { message: 'must be 0 or 1' }).optional(),
  TAGWISE_WEB_DEV: z.enum(['0', '1'], { message: 'must be 0 or 1' }).default('0'),
  TAGWISE_METRICS_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.length >= 16, {
      message: 'must be at least 16 characters',
    }),
  // No default: internals reach clients only where the operator asks for development explicitly.
  NODE_ENV: z
    .enum(['development', 'production', 'test'], {
      message: 'must be development, production or test',
    })
    .optional(),
  TAGWISE_CORS_ORIGINS: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((origin) => origin.trim())
        .filter(Boolean),
    )
    .refine((origins) => origins.every((o) => o === '*' || isOrigin(o)), {
      message: 'must be a comma-separated list of origins such as https://crm.example.com, or *',
    }),
});

/** scheme://host[:port] exactly, as a browser sends it in the Origin header. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === value;
  } catch {
    return false;
  }
}

/** Variables whose values are never echoed in an error: a key, or a URL with a password. */
const SECRET_VARIABLES = new Set(['ADMIN_API_KEY', 'DATABASE_URL', 'TAGWISE_METRICS_TOKEN']);

export interface AppConfig {
  readonly port: number;
  /** Unset: an embedded PostgreSQL is started under `dataDir`. */
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly embeddedPgPort: number;
  /** Whether this process runs queue workers (training) besides serving the API. */
  readonly workers: boolean;
  /** Processes serving HTTP; more than 1 puts a primary in charge of the database and jobs. */
  readonly apiProcesses: number;
  /** Model artifacts, one folder per version. */
  readonly modelsDir: string;
  /** Queued runs: lost when their worker's heartbeat is older than lostAfterMs; tried `attempts` times. */
  readonly runs: { readonly lostAfterMs: number; readonly attempts: number };
  /** Demo data is only ever generated into the embedded database or when asked for explicitly. */
  readonly demo: boolean;
  readonly demoCustomers: number;
  readonly adminApiKey: string | undefined;
  /** Operations costing more (values they could resolve) or nesting deeper are refused. */
  readonly queryLimits: {
    maxCost: number;
    maxDepth: number;
    maxAliases: number;
    maxRootFields: number;
    /** Expensive operations (a scan, or over half of maxCost) at once per key; 0: no cap. */
    maxExpensivePerKey: number;
    /** Own cost of fields by coordinate, over the weights their @Scans declares. */
    costWeights: Readonly<Record<string, number>>;
  };
  /** API requests' SQL statements are cancelled after this long (QUERY_TIMEOUT); 0: never. */
  readonly statementTimeoutMs: number;
  /** Requests per minute per key and API process; 0: no limit. */
  readonly rateLimit: number;
  /** Largest request body accepted (bytes): an upsert of 10,000 customers is about 5 MB. */
  readonly maxBodyBytes: number;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** JSON lines for machines, or pino-pretty's coloured lines for people at a terminal. */
  readonly logFormat: LogFormat;
  /**
   * GET /metrics (Prometheus text); with a token, only for `Authorization: Bearer <token>`.
   * The metrics hold no personal data: counts, durations, operation names and error codes.
   */
  readonly metrics: { readonly enabled: boolean; readonly token: string | undefined };
  /** Unset unless the operator sets it; only 'development' shows clients SQL and stacks. */
  readonly nodeEnv: 'development' | 'production' | 'test' | undefined;
  /** Browser origins allowed to call the API (CORS); empty: no CORS headers at all. */
  readonly corsOrigins: readonly string[];
  /**
   * The review console at / and GraphiQL at GET /graphql, both from web/dist; `dev` serves them
   * from web/ through Vite with hot reload instead (`npm run dev`).
   */
  readonly web: { readonly console: boolean; readonly graphiql: boolean; readonly dev: boolean };
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    detail: string,
  ) {
    super(`Invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; throws a ConfigError naming the first bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const got = SECRET_VARIABLES.has(variable)
      ? `a value of ${(env[variable] ?? '').length} characters, not shown`
      : JSON.stringify(env[variable] ?? '');
    throw new ConfigError(variable, `${issue.message} (got ${got})`);
  }
  const e = parsed.data;
  const demo = e.TAGWISE_DEMO === undefined ? e.DATABASE_URL === undefined : e.TAGWISE_DEMO === '1';
  return Object.freeze({
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    dataDir: path.resolve(e.TAGWISE_DATA_DIR),
    embeddedPgPort: e.TAGWISE_PG_PORT,
    modelsDir: path.resolve(e.TAGWISE_MODELS_DIR ?? path.join(e.TAGWISE_DATA_DIR, 'models')),
    workers: e.TAGWISE_WORKERS === '1',
    apiProcesses: e.TAGWISE_API_PROCESSES,
    runs: Object.freeze({
      lostAfterMs: e.TAGWISE_RUN_LOST_AFTER_S * 1000,
      attempts: e.TAGWISE_RUN_ATTEMPTS,
    }),
    demo,
    demoCustomers: e.TAGWISE_DEMO_CUSTOMERS,
    adminApiKey: e.ADMIN_API_KEY,
    queryLimits: {
      maxCost: e.TAGWISE_MAX_QUERY_COST,
      maxDepth: e.TAGWISE_MAX_QUERY_DEPTH,
      maxAliases: e.TAGWISE_MAX_ALIASES,
      maxRootFields: e.TAGWISE_MAX_ROOT_FIELDS,
      maxExpensivePerKey: e.TAGWISE_MAX_EXPENSIVE_PER_KEY,
      costWeights: Object.freeze(e.TAGWISE_COST_WEIGHTS),
    },
    statementTimeoutMs: e.TAGWISE_STATEMENT_TIMEOUT_MS,
    rateLimit: e.TAGWISE_RATE_LIMIT,
    maxBodyBytes: e.TAGWISE_MAX_BODY_BYTES,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    metrics: Object.freeze({ enabled: e.TAGWISE_METRICS === '1', token: e.TAGWISE_METRICS_TOKEN }),
    nodeEnv: e.NODE_ENV,
    corsOrigins: Object.freeze(e.TAGWISE_CORS_ORIGINS),
    web: Object.freeze({
      console: e.TAGWISE_CONSOLE === '1',
      graphiql:
        e.TAGWISE_GRAPHIQL === undefined ? e.NODE_ENV !== 'production' : e.TAGWISE_GRAPHIQL === '1',
      dev: e.TAGWISE_WEB_DEV === '1',
    }),
  });
}
