import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import type { Server } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestApp, type TestApp } from '../support/app.js';

interface Readiness {
  status: string;
  checks: Record<string, string>;
}

async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.json(), headers: response.headers };
}

async function postGraphql(base: string, query: string, key: string, accept: string) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, accept },
    body: JSON.stringify({ query }),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

describe('liveness and readiness', () => {
  let t: TestApp;
  let base: string;
  let workersAlive = true;
  beforeAll(async () => {
    t = await createTestApp({}, { jobWorkersAlive: () => workersAlive });
    base = await t.serve();
  });
  afterAll(() => t?.close());

  it('answers /health/live with 200', async () => {
    const live = await getJson(`${base}/health/live`);
    expect(live.status).toBe(200);
    expect(live.body).toEqual({ status: 'ok' });
  });

  it('answers /health/ready and /health with 200 and every check ok', async () => {
    const expected = {
      status: 'ok',
      checks: { database: 'ok', migrations: 'ok', jobWorkers: 'ok' },
    };
    for (const route of ['/health/ready', '/health']) {
      const ready = await getJson(`${base}${route}`);
      expect(ready.status).toBe(200);
      expect(ready.body).toEqual(expected);
      expect(ready.headers.get('cache-control')).toBe('no-store');
    }
  });

  it('is not ready while the job workers it was given are not alive', async () => {
    workersAlive = false;
    try {
      const ready = await getJson(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({
        status: 'unavailable',
        checks: { database: 'ok', migrations: 'ok', jobWorkers: 'not running' },
      });
      expect((await getJson(`${base}/health/live`)).status).toBe(200);
    } finally {
      workersAlive = true;
    }
    expect((await getJson(`${base}/health/ready`)).status).toBe(200);
  });
});

describe('readiness with a database that refuses writes', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('is 503 while transactions are read-only by default', async () => {
    t = await createTestApp();
    const base = await t.serve();
    const database = new URL(t.url).pathname.slice(1);
    await t.sql(`alter database ${database} set default_transaction_read_only = on`);
    const ready = await getJson(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({ database: 'read-only', migrations: 'ok' });
    await t.sql(`alter database ${database} reset default_transaction_read_only`);
    expect((await getJson(`${base}/health/ready`)).status).toBe(200);
  });
});

describe('readiness with a migration not applied', () => {
  let t: TestApp;
  afterAll(() => t?.close());

  it('is 503 naming the pending migration', async () => {
    t = await createTestApp();
    const [last] = await t.sql<{ name: string }>(
      'delete from mikro_orm_migrations where id = (select max(id) from mikro_orm_migrations) returning name',
    );
    const ready = await getJson(`${await t.serve()}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.checks).toEqual({
      database: 'ok',
      migrations: `1 pending: ${last!.name.replace(/\.[jt]s$/, '')}`,
    });
  });
});

/** Whether this process may bind-mount (root with CAP_SYS_ADMIN): a read-only dir for root. */
function canMount(): boolean {
  const probe = spawnSync('sh', [
    '-c',
    'd=$(mktemp -d) && mount --bind "$d" "$d" && umount "$d"; s=$?; rmdir "$d"; exit $s',
  ]);
  return probe.status === 0;
}

describe('readiness with the embedded configuration and a read-only data dir', () => {
  const mountable = canMount();
  let t: TestApp;
  let base: string;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-ready-'));
    // The database is the test's; the configuration is the embedded one, whose data dir counts.
    t = await createTestApp({ DATABASE_URL: undefined, TAGWISE_DATA_DIR: dataDir });
    base = await t.serve();
  });
  afterAll(async () => {
    await t?.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('is 503 while the data dir refuses writes, and ready again once it does not', async (ctx) => {
    const ready = await getJson(`${base}/health/ready`);
    expect(ready.body).toEqual({
      status: 'ok',
      checks: { database: 'ok', migrations: 'ok', dataDir: 'ok' },
    });
    // Root writes through chmod; only a read-only mount refuses it.
    ctx.skip(!mountable, 'mount --bind is not permitted here (needs root with CAP_SYS_ADMIN)');
    const run = (command: string) => spawnSync('sh', ['-c', command], { encoding: 'utf8' });
    const mounted = run(
      `mount --bind "${dataDir}" "${dataDir}" && mount -o remount,bind,ro "${dataDir}"`,
    );
    expect(mounted.stderr).toBe('');
    try {
      const refused = await getJson(`${base}/health/ready`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toBe('5');
      expect(refused.body).toEqual({
        status: 'unavailable',
        checks: { database: 'ok', migrations: 'ok', dataDir: 'failed (EROFS)' },
      });
      expect((await getJson(`${base}/health/live`)).status).toBe(200);
    } finally {
      run(`umount "${dataDir}"`);
    }
    expect((await getJson(`${base}/health/ready`)).status).toBe(200);
    expect(await fs.readdir(dataDir)).toEqual([]);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe('the embedded PostgreSQL, supervised', () => {
  const logged: Array<{ msg: string; pid?: number }> = [];
  const logger = createLogger('info', 'health-test', {
    write: (line: string) => void logged.push(JSON.parse(line)),
  });
  let app: App;
  let base: string;
  let dataDir: string;
  let key: string;
  let listener: Server;
  const query = '{ tags { totalCount } }';

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-supervised-'));
    const config = loadConfig({
      TAGWISE_DATA_DIR: dataDir,
      TAGWISE_PG_PORT: String(await freePort()),
      TAGWISE_DEMO: '0',
      TAGWISE_WORKERS: '0',
      NODE_ENV: 'test',
      TAGWISE_MODELS_DIR: path.join(dataDir, 'models'),
    });
    app = await createApp(config, { logger });
    key = (await new AuthService(app.orm.em).createKey({ role: Role.ADMIN, name: 'health' })).key;
    listener = app.http.listen(0, '127.0.0.1');
    await new Promise((resolve) => listener.once('listening', resolve));
    base = `http://127.0.0.1:${(listener.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => listener?.close(resolve));
    await app?.close();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const postmasterPid = async () =>
    Number((await fs.readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);

  /** Readiness, asked until it is ok or `attempts` half-seconds have passed. */
  async function readyWithin(attempts: number): Promise<Readiness> {
    let ready = (await getJson(`${base}/health/ready`)).body as Readiness;
    for (let i = 0; i < attempts && ready.status !== 'ok'; i++) {
      await sleep(500);
      ready = (await getJson(`${base}/health/ready`)).body as Readiness;
    }
    return ready;
  }

  it('is ready, its data dir checked', async () => {
    const ready = await getJson(`${base}/health/ready`);
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual({ database: 'ok', migrations: 'ok', dataDir: 'ok' });
  });

  it('is not ready while PostgreSQL hangs, without hanging itself', async () => {
    const pid = await postmasterPid();
    process.kill(pid, 'SIGSTOP');
    try {
      const ready = await getJson(`${base}/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.body.checks.database).toBe('timed out after 2000 ms');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect((await readyWithin(20)).status).toBe('ok');
  });

  it('starts PostgreSQL again after kill -9 of its postmaster; the app serves again', async () => {
    const pid = await postmasterPid();
    process.kill(pid, 'SIGKILL');
    expect((await readyWithin(60)).status).toBe('ok');
    expect(await postmasterPid()).not.toBe(pid);
    const answer = await postGraphql(base, query, key, 'application/json');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toEqual({ data: { tags: { totalCount: 0 } } });
    const messages = logged.map((l) => l.msg);
    expect(messages).toContain('embedded PostgreSQL exited');
    expect(messages).toContain('embedded PostgreSQL restarted after it died');
  });

  it('while it is down: not ready, and GraphQL answers SERVICE_UNAVAILABLE with 503', async () => {
    // A context made while the database was up: its key is known, so the resolvers meet the outage.
    const contextValue = await app.contextFor({ authorization: `Bearer ${key}` });
    const before = logged.length;
    await app.database.stop();
    // The supervisor heard the exit as its own stop: no restart was scheduled.
    expect(logged.slice(before).map((l) => l.msg)).not.toContain('embedded PostgreSQL exited');

    const ready = await getJson(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(ready.body.status).toBe('unavailable');
    expect(ready.body.checks.database).toBe('unreachable (ECONNREFUSED)');
    expect((await getJson(`${base}/health/live`)).status).toBe(200);

    // Over HTTP the key cannot be looked up: the request fails as a whole, in either media type.
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const answer = await postGraphql(base, query, key, accept);
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).toBe('5');
      expect(JSON.parse(answer.text)).toEqual({
        errors: [
          {
            message: 'The database is unavailable; retry shortly',
            extensions: { code: 'SERVICE_UNAVAILABLE' },
          },
        ],
      });
    }

    // A resolver's query meeting the outage.
    const response = await app.server.executeOperation({ query }, { contextValue });
    expect(response.http.status).toBe(503);
    expect(response.http.headers.get('retry-after')).toBe('5');
    if (response.body.kind !== 'single') throw new Error('unexpected incremental response');
    const { data, errors } = response.body.singleResult;
    expect(data ?? null).toBeNull();
    expect(errors?.map((e) => e.extensions)).toEqual([{ code: 'SERVICE_UNAVAILABLE' }]);
  });
});
