import 'reflect-metadata';
import type { IncomingHttpHeaders } from 'node:http';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { MikroORM } from '@mikro-orm/postgresql';
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import {
  ConfigError,
  EXPENSIVE_POOL_SIZE,
  REQUEST_POOL_SIZE,
  type AppConfig,
} from './config/env.js';
import { openDatabase, type DatabaseHandle } from './config/database.js';
import { configuredLogger, type Logger } from './config/logger.js';
import { createOrmConfig } from './config/mikro-orm.config.js';
import { buildGraphQLSchema } from './graphql/build-schema.js';
import { auditPlugin } from './graphql/audit.js';
import { createContext, requestState, type GraphQLContext } from './graphql/context.js';
import { unknownCoordinates } from './graphql/cost.js';
import { createFormatError } from './graphql/format-error.js';
import { healthRoutes } from './graphql/health.js';
import { modelReportRoutes } from './graphql/model-report.js';
import { httpStatusPlugin } from './graphql/http-status.js';
import { Metrics, metricsPlugin, metricsRoutes } from './graphql/metrics.js';
import { rateLimit } from './graphql/rate-limit.js';
import { requestErrorHandler } from './graphql/request-errors.js';
import { textInputPlugin } from './graphql/text-input.js';
import { createWebRoutes, type WebRoutes } from './graphql/web.js';
import { queryLimitsPlugin } from './graphql/query-limits.js';
import { ApiKeyListener } from './modules/auth/api-key.listener.js';
import { AuthService } from './modules/auth/auth.service.js';
import { seedDemoOnFirstStart } from './jobs/demo-setup.job.js';
import { JobQueue } from './jobs/queue.js';
import { HealthService } from './modules/health/health.service.js';

export interface App {
  /** Migrations, jobs, authentication, health: statements without a time limit. */
  orm: MikroORM;
  /** What API requests run on: statements cancelled after TAGWISE_STATEMENT_TIMEOUT_MS (else `orm`). */
  requestOrm: MikroORM;
  /** What expensive operations (scans) run on instead: a small pool of their own, same timeout. */
  expensiveOrm: MikroORM;
  server: ApolloServer<GraphQLContext>;
  /** The HTTP handler: /graphql and /health (live, ready). Listening is the caller's business. */
  http: Express;
  database: DatabaseHandle;
  logger: Logger;
  queue: JobQueue;
  /** Request state for given headers, as /graphql builds it (tests call the server directly). */
  contextFor(headers: IncomingHttpHeaders): Promise<GraphQLContext>;
  close(): Promise<void>;
}

export interface AppOptions {
  logger?: Logger;
  /** An already-open database (tests share one cluster); otherwise opened from the config. */
  database?: DatabaseHandle;
  /** Whether the job worker process this server runs is alive (readiness reports it). */
  jobWorkersAlive?: () => boolean;
}

/**
 * CORS for the allowed origins only; none configured, no CORS headers at all, so browsers keep
 * other sites' pages from calling the API with a user's key.
 */
function corsFor(origins: readonly string[]): RequestHandler[] {
  if (origins.length === 0) return [];
  return [
    cors({
      origin: origins.includes('*') ? '*' : [...origins],
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight'],
      maxAge: 600,
    }),
  ];
}

export async function createApp(config: AppConfig, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? configuredLogger(config);
  const database = options.database ?? (await openDatabase(config, logger));
  const orm = await MikroORM.init(
    createOrmConfig({ url: database.url, logger: (message) => logger.debug(message) }),
  );
  let keyListener: ApiKeyListener | undefined;
  let web: WebRoutes | undefined;
  let requestOrm = orm;
  let expensiveOrm: MikroORM | undefined;
  const closeRequestPools = async () => {
    await expensiveOrm?.close();
    if (requestOrm !== orm) await requestOrm.close();
  };
  try {
    const applied = await orm.getMigrator().up();
    if (applied.length > 0)
      logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');

    const auth = new AuthService(orm.em);
    keyListener = new ApiKeyListener(database.url, auth, logger);
    await keyListener.start();
    const queue = new JobQueue(orm, logger, { modelsDir: config.modelsDir, ledger: config.runs });
    if (config.adminApiKey) await auth.ensureAdminKey(config.adminApiKey);
    if (config.demo) await seedDemoOnFirstStart(orm, config, logger);

    const schema = await buildGraphQLSchema();
    const unknownWeights = unknownCoordinates(schema, Object.keys(config.queryLimits.costWeights));
    if (unknownWeights.length) {
      throw new ConfigError(
        'TAGWISE_COST_WEIGHTS',
        `names ${unknownWeights.join(', ')}: not a field of the schema (Type.field, e.g. Query.previewSegment)`,
      );
    }
    // API requests get a pool of their own whose sessions cancel any statement running longer
    // than the timeout. Jobs in this process (scoring, training, rule runs) keep the main pool:
    // their long statements are expected, and a per-session setting cannot tell them apart. A
    // SET LOCAL would need every request in a transaction, one connection per request, and one
    // failed statement would abort every other field of the operation.
    const requestPool = (poolMax: number) =>
      MikroORM.init({
        ...createOrmConfig({
          url: database.url,
          poolMax,
          statementTimeoutMs: config.statementTimeoutMs,
          // Waiting for a connection fails (QUERY_TIMEOUT) once the statement could have run; a
          // tiny timeout still leaves time to open a connection.
          ...(config.statementTimeoutMs > 0
            ? { acquireTimeoutMs: Math.max(config.statementTimeoutMs, 1000) }
            : {}),
          logger: (message) => logger.debug(message),
        }),
        // The main pool has checked the database; a tiny timeout must not fail start-up checks.
        ensureDatabase: false,
        connect: false,
      });
    if (config.statementTimeoutMs > 0) requestOrm = await requestPool(REQUEST_POOL_SIZE);
    // Expensive operations run their statements several at once (four previews: eight), and a
    // handful of them would hold every connection of the request pool; on a pool of their own they
    // can only wait for each other, and the per-key cap (below this pool's size) keeps one key from
    // holding all of it.
    expensiveOrm = await requestPool(EXPENSIVE_POOL_SIZE);
    const onExpensive = (context: GraphQLContext) =>
      Object.assign(context, requestState(expensiveOrm!, context.queue, context.viewer));
    const metrics = config.metrics.enabled
      ? new Metrics({ main: orm, request: requestOrm, expensive: expensiveOrm }, logger)
      : null;
    const server = new ApolloServer<GraphQLContext>({
      schema,
      // Apollo refuses introspection under NODE_ENV=production; an operator who turns GraphiQL on
      // there wants its schema docs and completion, which are introspection.
      introspection: config.nodeEnv !== 'production' || config.web.graphiql,
      formatError: createFormatError(
        logger,
        config.nodeEnv === 'development',
        config.statementTimeoutMs,
      ),
      includeStacktraceInErrorResponses: false,
      // The default cache-control plugin wraps every field resolver; nothing here uses its hints.
      plugins: [
        ApolloServerPluginCacheControlDisabled(),
        // Apollo's landing page loads its IDE from another host; GraphiQL is served from here.
        ApolloServerPluginLandingPageDisabled(),
        textInputPlugin(),
        queryLimitsPlugin(config.queryLimits, onExpensive),
        httpStatusPlugin(),
        auditPlugin(logger),
        ...(metrics ? [metricsPlugin(metrics)] : []),
      ],
      // main.ts stops everything in order on SIGINT/SIGTERM; Apollo's own handler would stop
      // only itself and then kill the process (exit 143) while the rest is still closing.
      stopOnTerminationSignals: false,
    });
    await server.start();
    const health = new HealthService({
      databaseUrl: database.url,
      orm,
      // The embedded database lives there: a disk that refuses writes stops it.
      dataDir: config.databaseUrl ? null : config.dataDir,
      jobWorkersAlive: options.jobWorkersAlive,
      logger,
    });

    const http = express();
    http.disable('x-powered-by');
    // GraphQL answers POSTs, which no cache revalidates: hashing every body for an ETag is waste.
    http.disable('etag');
    http.use(healthRoutes(health));
    if (metrics) http.use(metricsRoutes(metrics, config.metrics.token, logger));
    http.use(modelReportRoutes(requestOrm, auth));
    web = await createWebRoutes({ ...config.web, logger });
    http.use(web.ide);
    http.use(
      '/graphql',
      ...corsFor(config.corsOrigins),
      ...(config.rateLimit > 0 ? [rateLimit(config.rateLimit)] : []),
      express.json({ limit: config.maxBodyBytes }),
      expressMiddleware(server, {
        context: ({ req }) => createContext(requestOrm, auth, req, queue),
      }),
    );
    http.use(web.console);
    http.use(requestErrorHandler(logger));

    return {
      orm,
      requestOrm,
      expensiveOrm,
      server,
      http,
      database,
      logger,
      queue,
      contextFor: (headers) => createContext(requestOrm, auth, { headers }, queue),
      async close() {
        await web?.close();
        await server.stop();
        await keyListener?.stop();
        await queue.stop();
        await closeRequestPools();
        await orm.close();
        if (!options.database) await database.stop();
      },
    };
  } catch (error) {
    await web?.close();
    await keyListener?.stop();
    await closeRequestPools();
    await orm.close();
    if (!options.database) await database.stop();
    throw error;
  }
}
