import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { freePort, ROOT, spawnServer } from '../support/processes.js';

const KEY = 'server-processes-admin-key';

/** Process ids whose parent is `pid`, from /proc. */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`);

describe('the server with TAGWISE_API_PROCESSES', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t?.close());

  /** `src/main.ts` as `npm start` runs it, on the test database. */
  const start = (port: number) =>
    spawnServer({
      DATABASE_URL: t.url,
      PORT: String(port),
      TAGWISE_API_PROCESSES: '2',
      ADMIN_API_KEY: KEY,
      LOG_LEVEL: 'info',
      NODE_ENV: 'production',
    });

  it('serves from that many processes and stops them all on SIGTERM', async () => {
    const port = await freePort();
    const server = start(port);
    try {
      await server.saw('(2 processes)');
      // Two API processes and the job worker process the primary supervises.
      const children = childrenOf(server.child.pid!);
      expect(children).toHaveLength(3);
      expect(
        children.filter((pid) =>
          fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker'),
        ),
      ).toHaveLength(1);
      const answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          fetch(`http://127.0.0.1:${port}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
            body: JSON.stringify({ query: '{ customers(first: 1) { totalCount } }' }),
          }).then((r) => r.json()),
        ),
      );
      for (const answer of answers)
        expect(answer).toEqual({ data: { customers: { totalCount: 0 } } });

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(children.filter(alive)).toEqual([]);
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 90_000);

  it('refuses a key revoked from the CLI at once in every process', async () => {
    const port = await freePort();
    const server = start(port);
    try {
      await server.saw('(2 processes)');
      const { key, apiKey } = await new AuthService(t.app.orm.em).createKey({
        role: Role.VIEWER,
        name: 'revoked-while-serving',
      });
      type Answer = { errors?: { extensions: { code: string } }[] };
      // 16 at once reach both processes, and each then holds the key in its cache.
      const ask = () =>
        Promise.all(
          Array.from({ length: 16 }, () =>
            fetch(`http://127.0.0.1:${port}/graphql`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
              body: JSON.stringify({ query: '{ tags(first: 1) { totalCount } }' }),
            }).then((r) => r.json() as Promise<Answer>),
          ),
        );
      for (const answer of await ask()) expect(answer.errors).toBeUndefined();

      await promisify(execFile)('node', ['bin/tagwise.js', 'apikey', 'revoke', apiKey.id], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'silent' },
      });
      for (const answer of await ask())
        expect(answer.errors?.[0]?.extensions.code).toBe('UNAUTHENTICATED');
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 90_000);

  it('gives up with the reason when its processes cannot listen', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const { port } = blocker.address() as net.AddressInfo;
    const server = start(port);
    try {
      expect(await server.exited).toBe(1);
      expect(server.output()).toContain(`PORT ${port} is already in use`);
      expect(server.output()).toContain('an API process failed to start');
    } finally {
      server.child.kill('SIGKILL');
      blocker.close();
    }
  }, 90_000);
});
