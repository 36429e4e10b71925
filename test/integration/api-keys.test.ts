import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../../src/app.js';
import { loadConfig } from '../../src/config/env.js';
import { createLogger } from '../../src/config/logger.js';
import { Role } from '../../src/modules/auth/api-key.entity.js';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const CREATE = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { key apiKey { id name role permissions departments status expiresAt } }
}`;

describe('API key lifecycle', () => {
  let t: TestApp;
  /** A second API process on the same database, with its own key cache. */
  let other: App;
  beforeAll(async () => {
    t = await createTestApp();
    other = await createApp(
      loadConfig({
        DATABASE_URL: t.url,
        LOG_LEVEL: 'silent',
        TAGWISE_DEMO: '0',
        TAGWISE_WORKERS: '0',
      }),
      { database: t.app.database, logger: createLogger('silent') },
    );
  });
  afterAll(async () => {
    await other?.close();
    await t?.close();
  });

  /** Who a key is to the second process, through its real context (and cache). */
  const viewerIn = async (app: App, key: string) =>
    (await app.contextFor({ authorization: `Bearer ${key}` })).viewer;
  const create = async (input: Record<string, unknown>) =>
    (await t.ok(CREATE, { input })).createApiKey as {
      key: string;
      apiKey: { id: string; status: string; permissions: string[]; departments: string[] };
    };

  it('creates a key with permissions, departments and expiry, and lists it without the secret', async () => {
    const created = await create({
      name: 'crm-sales',
      role: 'REVIEWER',
      permissions: ['PII'],
      departments: ['sales', 'east-china'],
      expiresAt: '2099-01-01T00:00:00Z',
    });
    expect(created.key).toMatch(/^tw_/);
    expect(created.apiKey).toMatchObject({
      status: 'ACTIVE',
      permissions: ['PII'],
      departments: ['sales', 'east-china'],
    });
    expect(await viewerIn(other, created.key)).toMatchObject({
      role: 'REVIEWER',
      permissions: ['PII'],
      departments: ['sales', 'east-china'],
    });

    const { apiKeys } = await t.ok(
      '{ apiKeys(first: 500) { totalCount edges { node { id name keyPrefix lastUsedAt status } } } }',
    );
    const listed = apiKeys.edges.map((e: { node: { id: string } }) => e.node);
    expect(listed.find((k: { id: string }) => k.id === created.apiKey.id)).toMatchObject({
      name: 'crm-sales',
      keyPrefix: created.key.slice(0, 10),
      status: 'ACTIVE',
    });
    expect(JSON.stringify(apiKeys)).not.toContain(created.key);
    // Used once above: the process records it.
    await expect
      .poll(
        async () =>
          (await t.sql(`select last_used_at from api_key where id = ?`, [created.apiKey.id]))[0]!
            .last_used_at,
      )
      .not.toBeNull();
  });

  it('refuses bad input naming the field, and other roles, writing nothing', async () => {
    const before = (await t.sql(`select count(*)::int as n from api_key`))[0]!.n;
    const cases: [Record<string, unknown>, string][] = [
      [{ name: 'x', role: 'VIEWER', departments: ['Sales Team'] }, 'departments[0]'],
      [{ name: 'x', role: 'VIEWER', expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt'],
      [{ name: '', role: 'VIEWER' }, 'name'],
    ];
    for (const [input, field] of cases) {
      const result = await t.gql(CREATE, { input });
      expect(errorOf(result)).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: expect.stringContaining(field),
      });
    }
    for (const as of [Role.DATA_SCIENTIST, Role.REVIEWER, Role.VIEWER]) {
      expect(
        errorOf(await t.gql(CREATE, { input: { name: 'x', role: 'ADMIN' } }, { as })).code,
      ).toBe('FORBIDDEN');
      expect(errorOf(await t.gql('{ apiKeys { totalCount } }', {}, { as })).code).toBe('FORBIDDEN');
    }
    expect((await t.sql(`select count(*)::int as n from api_key`))[0]!.n).toBe(before);
  });

  it('revokes a key at once in another process that had it cached', async () => {
    const { key, apiKey } = await create({ name: 'to-revoke', role: 'VIEWER' });
    expect(await viewerIn(other, key)).not.toBeNull();
    expect(await viewerIn(other, key)).not.toBeNull(); // now from the cache
    const { revokeApiKey } = await t.ok(
      `mutation { revokeApiKey(id: "${apiKey.id}") { status revokedAt } }`,
    );
    expect(revokeApiKey.status).toBe('REVOKED');
    await expect.poll(() => viewerIn(other, key), { timeout: 2_000, interval: 10 }).toBeNull();
    const refused = await t.gql('{ tags { totalCount } }', {}, { key });
    expect(errorOf(refused).code).toBe('UNAUTHENTICATED');
  });

  it('rotates a key: a new secret with the same rights, the old one refused', async () => {
    const old = await create({
      name: 'rotating',
      role: 'DATA_SCIENTIST',
      departments: ['marketing'],
    });
    const { rotateApiKey } = await t.ok(
      `mutation { rotateApiKey(id: "${old.apiKey.id}") { key apiKey { id name role departments status } } }`,
    );
    expect(rotateApiKey.key).not.toBe(old.key);
    expect(rotateApiKey.apiKey).toMatchObject({
      name: 'rotating',
      role: 'DATA_SCIENTIST',
      departments: ['marketing'],
      status: 'ACTIVE',
    });
    await expect.poll(() => viewerIn(other, old.key), { timeout: 2_000, interval: 10 }).toBeNull();
    expect(await viewerIn(other, rotateApiKey.key)).toMatchObject({ role: 'DATA_SCIENTIST' });
    const again = await t.gql(`mutation { rotateApiKey(id: "${old.apiKey.id}") { key } }`);
    expect(errorOf(again).code).toBe('CONFLICT');
  });

  it('refuses an expired key, and never revokes the last usable admin key', async () => {
    const auth = new AuthService(t.app.orm.em);
    const { key, apiKey } = await auth.createKey({ role: Role.VIEWER, name: 'short-lived' });
    expect(await viewerIn(other, key)).not.toBeNull();
    await t.sql(`update api_key set expires_at = now() - interval '1 second' where id = ?`, [
      apiKey.id,
    ]);
    await expect.poll(() => viewerIn(other, key), { timeout: 2_000, interval: 10 }).toBeNull();

    const admins = await t.sql<{ id: string }>(
      `select id from api_key where role = 'ADMIN' and revoked_at is null order by id`,
    );
    for (const admin of admins.slice(1)) await auth.revokeKey(admin.id);
    const last = await t.gql(`mutation { revokeApiKey(id: "${admins[0]!.id}") { status } }`);
    expect(errorOf(last).code).toBe('CONFLICT');
    expect(await viewerIn(other, t.keys.ADMIN)).toMatchObject({ role: 'ADMIN' });
  });

  it('retires the key ADMIN_API_KEY seeded when the setting changes', async () => {
    const auth = new AuthService(t.app.orm.em);
    await auth.ensureAdminKey('first-configured-admin-key');
    expect(await viewerIn(other, 'first-configured-admin-key')).toMatchObject({ role: 'ADMIN' });
    await auth.ensureAdminKey('second-configured-admin-key');
    await expect
      .poll(() => viewerIn(other, 'first-configured-admin-key'), { timeout: 2_000, interval: 10 })
      .toBeNull();
    expect(await viewerIn(other, 'second-configured-admin-key')).toMatchObject({ role: 'ADMIN' });
  });

  it('lists, revokes and rotates from the CLI', async () => {
    const { key, apiKey } = await create({ name: 'cli-key', role: 'VIEWER' });
    const run = (...args: string[]) =>
      promisify(execFile)('node', [path.join(ROOT, 'bin/tagwise.js'), 'apikey', ...args], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'silent' },
      });
    const listed = JSON.parse((await run('list', '--json')).stdout) as {
      id: string;
      status: string;
    }[];
    expect(listed.find((k) => k.id === apiKey.id)).toMatchObject({ status: 'ACTIVE' });
    expect(JSON.stringify(listed)).not.toContain(key);
    expect((await run('list')).stdout).toMatch(/cli-key\s+VIEWER\s+ACTIVE/);

    const rotated = (await run('rotate', apiKey.id)).stdout.trim();
    expect(rotated).toMatch(/^tw_/);
    await expect.poll(() => viewerIn(other, key), { timeout: 2_000, interval: 10 }).toBeNull();
    const newId = (await t.sql<{ id: string }>(`select max(id)::text as id from api_key`))[0]!.id;
    await run('revoke', newId);
    await expect.poll(() => viewerIn(other, rotated), { timeout: 2_000, interval: 10 }).toBeNull();
    await expect(run('revoke', '999999')).rejects.toMatchObject({
      stderr: expect.stringContaining('999999'),
    });
  });
});
