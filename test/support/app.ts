import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { GraphQLFormattedError } from 'graphql';
import { inject } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { createLogger, type Logger } from '../../src/config/logger.js';
import { Permission, Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestDatabase } from './database.js';

export interface GqlResult<T = Record<string, any>> {
  data?: T | null;
  errors?: readonly GraphQLFormattedError[];
}

export interface TestApp {
  app: App;
  url: string;
  keys: Record<Role, string>;
  /** Runs an operation through the real server; `as: null` sends no key. */
  gql<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { as?: Role | null; key?: string },
  ): Promise<GqlResult<T>>;
  /** Like gql, but fails the test on errors and returns data. */
  ok<T = Record<string, any>>(
    query: string,
    variables?: Record<string, unknown>,
    as?: Role,
  ): Promise<T>;
  /** SQL statements the work sent to PostgreSQL. */
  countStatements(work: () => Promise<unknown>): Promise<{ count: number; sql: string[] }>;
  sql<T = Record<string, any>>(text: string, params?: unknown[]): Promise<T[]>;
  /** Serves the app over HTTP on a free local port (once; close() stops it); the base URL. */
  serve(): Promise<string>;
  close(): Promise<void>;
}

/**
 * `env` adds to or overrides the test's environment (undefined unsets a variable); `logger`
 * replaces the silent one (a test reading what the server logs); `jobWorkersAlive` is passed to
 * the app. The app always runs on the file's own database, even with DATABASE_URL unset (a
 * test of what the embedded configuration does besides the database).
 */
export async function createTestApp(
  env: NodeJS.ProcessEnv = {},
  options: { logger?: Logger; jobWorkersAlive?: () => boolean } = {},
): Promise<TestApp> {
  const database = await createTestDatabase(inject('adminDatabaseUrl'));
  const config = loadConfig({
    DATABASE_URL: database.url,
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    TAGWISE_DEMO: '0',
    TAGWISE_WORKERS: '0',
    TAGWISE_MODELS_DIR: path.join(os.tmpdir(), 'tagwise-test-models'),
    ...env,
  });
  const app = await createApp(config, {
    logger: options.logger ?? createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    database: { url: database.url, embedded: false, stop: async () => {} },
    jobWorkersAlive: options.jobWorkersAlive,
  });
  const auth = new AuthService(app.orm.em);
  const keys = {} as Record<Role, string>;
  // With PII: tests see personal data in clear unless they make a key without it (pii.test.ts).
  for (const role of Object.values(Role)) {
    keys[role] = (
      await auth.createKey({ role, name: `test-${role}`, permissions: [Permission.PII] })
    ).key;
  }

  const statements: string[][] = [];
  // Requests run on requestOrm (its own pool when a statement timeout is set) or, expensive ones,
  // on expensiveOrm; the rest on orm.
  for (const orm of new Set([app.orm, app.requestOrm, app.expensiveOrm])) {
    orm.em
      .getKnex()
      .on('query', (q: { sql: string }) => statements.forEach((list) => list.push(q.sql)));
  }

  const gql: TestApp['gql'] = async (query, variables, options = {}) => {
    const key = options.key ?? (options.as === null ? undefined : keys[options.as ?? Role.ADMIN]);
    const contextValue = await app.contextFor(key ? { authorization: `Bearer ${key}` } : {});
    const response = await app.server.executeOperation({ query, variables }, { contextValue });
    if (response.body.kind !== 'single') throw new Error('unexpected incremental response');
    return response.body.singleResult as GqlResult<any>;
  };

  let server: Server | null = null;
  return {
    app,
    url: database.url,
    keys,
    gql,
    async ok(query, variables, as = Role.ADMIN) {
      const result = await gql(query, variables, { as });
      if (result.errors?.length) throw new Error(JSON.stringify(result.errors, null, 2));
      return result.data as any;
    },
    async countStatements(work) {
      const list: string[] = [];
      statements.push(list);
      try {
        await work();
      } finally {
        statements.splice(statements.indexOf(list), 1);
      }
      return { count: list.length, sql: list };
    },
    sql: (text, params = []) => app.orm.em.fork().execute(text, params as any[]),
    async serve() {
      if (!server) {
        server = app.http.listen(0, '127.0.0.1');
        await once(server, 'listening');
      }
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    },
    async close() {
      if (server) await new Promise((resolve) => server!.close(resolve));
      await app.close();
      await database.drop();
    },
  };
}

/** The first error's code and field, for asserting on the error contract. */
export function errorOf(result: GqlResult): { code?: unknown; field?: unknown; message: string } {
  const error = result.errors?.[0];
  if (!error) throw new Error(`expected an error, got ${JSON.stringify(result.data)}`);
  return { code: error.extensions?.code, field: error.extensions?.field, message: error.message };
}
