import 'reflect-metadata';
import type { IncomingHttpHeaders } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import { MikroORM } from '@mikro-orm/postgresql';
import cors from 'cors';
import express, { type Express, type RequestHandler } from 'express';
import type { AppConfig } from './config/env.js';
import { openDatabase, type DatabaseHandle } from './config/database.js';
import { createLogger, type Logger } from './config/logger.js';
import { createOrmConfig } from './config/mikro-orm.config.js';
import { buildGraphQLSchema } from './graphql/build-schema.js';
import { auditPlugin } from './graphql/audit.js';
import { createContext, type GraphQLContext } from './graphql/context.js';
import { createFormatError } from './graphql/format-error.js';
import { httpStatusPlugin } from './graphql/http-status.js';
import { rateLimit } from './graphql/rate-limit.js';
import { requestErrorHandler } from './graphql/request-errors.js';
import { textInputPlugin } from './graphql/text-input.js';
import { queryLimitsPlugin } from './graphql/query-limits.js';
import { ApiKeyListener } from './modules/auth/api-key.listener.js';
import { AuthService } from './modules/auth/auth.service.js';
import { seedDemoOnFirstStart } from './jobs/demo-setup.job.js';
import { JobQueue } from './jobs/queue.js';

export interface App {
  orm: MikroORM;
  server: ApolloServer<GraphQLContext>;
  /** The HTTP handler: /graphql and /health. Listening is the caller's business. */
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
  const logger = options.logger ?? createLogger(config.logLevel);
  const database = options.database ?? (await openDatabase(config, logger));
  const orm = await MikroORM.init(
    createOrmConfig({ url: database.url, logger: (message) => logger.debug(message) }),
  );
  let keyListener: ApiKeyListener | undefined;
  try {
    const applied = await orm.getMigrator().up();
    if (applied.length > 0)
      logger.info({ migrations: applied.map((m) => m.name) }, 'migrations applied');

    const auth = new AuthService(orm.em);
    keyListener = new ApiKeyListener(database.url, auth, logger);
    await keyListener.start();
    const queue = new JobQueue(orm, logger, config.modelsDir);
    if (config.adminApiKey) await auth.ensureAdminKey(config.adminApiKey);
    if (config.demo) await seedDemoOnFirstStart(orm, config, logger);

    const server = new ApolloServer<GraphQLContext>({
      schema: await buildGraphQLSchema(),
      formatError: createFormatError(logger, config.nodeEnv === 'development'),
      includeStacktraceInErrorResponses: false,
      // The default cache-control plugin wraps every field resolver; nothing here uses its hints.
      plugins: [
        ApolloServerPluginCacheControlDisabled(),
        textInputPlugin(),
        queryLimitsPlugin(config.queryLimits),
        httpStatusPlugin(),
        auditPlugin(logger),
      ],
      // main.ts stops everything in order on SIGINT/SIGTERM; Apollo's own handler would stop
      // only itself and then kill the process (exit 143) while the rest is still closing.
      stopOnTerminationSignals: false,
    });
    await server.start();
    if (config.workers) await queue.startWorkers();

    const http = express();
    http.disable('x-powered-by');
    // GraphQL answers POSTs, which no cache revalidates: hashing every body for an ETag is waste.
    http.disable('etag');
    http.get('/health', async (_req, res) => {
      try {
        await orm.em.getConnection().execute('select 1');
        res.json({ status: 'ok' });
      } catch (error) {
        logger.warn({ err: error }, 'health check failed');
        res.status(503).json({ status: 'unavailable' });
      }
    });
    http.use(
      '/graphql',
      ...corsFor(config.corsOrigins),
      ...(config.rateLimit > 0 ? [rateLimit(config.rateLimit)] : []),
      express.json({ limit: config.maxBodyBytes }),
      expressMiddleware(server, { context: ({ req }) => createContext(orm, auth, req, queue) }),
    );
    http.use(requestErrorHandler(logger));

    return {
      orm,
      server,
      http,
      database,
      logger,
      queue,
      contextFor: (headers) => createContext(orm, auth, { headers }, queue),
      async close() {
        await server.stop();
        await keyListener?.stop();
        await queue.stop();
        await orm.close();
        if (!options.database) await database.stop();
      },
    };
  } catch (error) {
    await keyListener?.stop();
    await orm.close();
    if (!options.database) await database.stop();
    throw error;
  }
}
