import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type DatabaseHandle } from '../../src/config/database.js';
import { createLogger } from '../../src/config/logger.js';
import { createOrmConfig } from '../../src/config/mikro-orm.config.js';
import { TEMPLATE_DATABASE, withDatabase } from './database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run (embedded in a temp dir unless DATABASE_URL is set) and one
 * migrated template database; each test file clones the template into a database of its own.
 */
export default async function setup(project: TestProject) {
  let handle: DatabaseHandle;
  let tempDir: string | undefined;
  if (process.env.DATABASE_URL) {
    handle = { url: process.env.DATABASE_URL, embedded: false, stop: async () => {} };
  } else {
    tempDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-test-'));
    handle = await startEmbeddedPostgres({
      dataDir: tempDir,
      port: 20000 + Math.floor(Math.random() * 20000),
      logger: createLogger('warn', 'test-db'),
      databaseName: 'postgres',
      // A throw-away cluster: durability buys nothing here.
      settings: {
        fsync: 'off',
        synchronous_commit: 'off',
        full_page_writes: 'off',
        max_connections: '300',
      },
    });
  }
  const admin = new pg.Client({ connectionString: handle.url });
  await admin.connect();
  await admin.query(`drop database if exists ${TEMPLATE_DATABASE}`);
  await admin.query(`create database ${TEMPLATE_DATABASE}`);
  await admin.end();

  const templateUrl = withDatabase(handle.url, TEMPLATE_DATABASE);
  const orm = await MikroORM.init(createOrmConfig({ url: templateUrl, logger: () => {} }));
  await orm.getMigrator().up();
  await orm.close();

  project.provide('adminDatabaseUrl', handle.url);
  return async () => {
    await handle.stop();
    if (tempDir) await fs.rm(tempDir, { recursive: true, force: true });
  };
}
