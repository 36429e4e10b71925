import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Entry {
  actorKeyId: string | null;
  actorName: string;
  actorKind: string;
  operation: string;
  targetType: string | null;
  targetIds: string[];
  change: Record<string, any>;
}

describe('audit log of CLI writes, and tagwise audit export', () => {
  let t: TestApp;
  let dir: string;
  const user = os.userInfo().username;

  const tagwise = async (...args: string[]) =>
    (
      await promisify(execFile)('node', [path.join(ROOT, 'bin/tagwise.js'), ...args], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: t.url, LOG_LEVEL: 'silent' },
        maxBuffer: 64 * 1024 * 1024,
      })
    ).stdout;
  const entries = (where = 'true', params: unknown[] = []) =>
    t.sql<Entry>(
      `select actor_key_id::text as "actorKeyId", actor_name as "actorName",
              actor_kind as "actorKind", operation, target_type as "targetType",
              target_ids as "targetIds", change
       from audit_log where ${where} order by audit_log.id`,
      params,
    );

  beforeAll(async () => {
    t = await createTestApp();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-audit-'));
  });
  afterAll(async () => {
    await t?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  // Each command starts Node and loads the app: seconds apiece on a busy machine.
  const CLI_TIMEOUT = 300_000;

  it(
    'appends one CLI entry per command run, named for the OS user, with counts',
    async () => {
      const key = (await tagwise('apikey', 'create', '--role', 'viewer', '--name', 'crm')).trim();
      const [{ id }] = await t.sql<{ id: string }>(
        `select id::text from api_key where name = 'crm'`,
      );
      await tagwise('apikey', 'revoke', id!);

      const csv = ['externalId,name,email', 'a-1,Ann,ann@example.com', 'a-2,Bo,bo@example.com'];
      const file = path.join(dir, 'customers.csv');
      await fs.writeFile(file, `${csv.join('\n')}\n`);
      await tagwise('import', 'customers', file);
      await tagwise('import', 'customers', file, '--dry-run');
      await tagwise('rules', 'run', '--dry-run');

      const cli = await entries(`actor_kind = 'CLI'`);
      expect(cli.map((e) => e.operation)).toEqual([
        'cli:apikey create',
        'cli:apikey revoke',
        'cli:import customers',
        'cli:rules run',
      ]);
      for (const e of cli) expect(e).toMatchObject({ actorName: user, actorKeyId: null });
      expect(cli[0]).toMatchObject({
        targetType: 'API_KEY',
        targetIds: [id],
        change: { after: { name: 'crm', role: 'VIEWER' } },
      });
      expect(cli[1]!.change.after.revokedAt).toBeTruthy();
      expect(cli[2]!.change).toMatchObject({ file: 'customers.csv', rows: 2, inserted: 2 });
      expect(cli[3]!.change).toMatchObject({ dryRun: true, rules: 0 });
      const text = JSON.stringify(cli);
      expect(text).not.toContain(key);
      expect(text).not.toContain('@example.com');
    },
    CLI_TIMEOUT,
  );

  it(
    'exports entries oldest first as NDJSON or CSV, filtered, and logs the export',
    async () => {
      await t.ok(
        `mutation { createTagCategory(input: { key: "tier", name: "Tier", kind: VALUE }) { id } }`,
      );
      const all = await entries();

      const ndjson = (await tagwise('audit', 'export'))
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(ndjson.map((e) => e.operation)).toEqual(all.map((e) => e.operation));
      expect(ndjson.at(-1)).toMatchObject({
        actorKind: 'API_KEY',
        actorName: 'test-ADMIN',
        operation: 'createTagCategory',
        targetType: 'TAG_CATEGORY',
      });
      expect(Date.parse(ndjson[0].at)).not.toBeNaN();

      const only = (await tagwise('audit', 'export', '--operation', 'cli:apikey create'))
        .trim()
        .split('\n');
      expect(only).toHaveLength(1);
      expect(JSON.parse(only[0]!).operation).toBe('cli:apikey create');

      const out = path.join(dir, 'audit.csv');
      await tagwise('audit', 'export', '--format', 'csv', '--out', out, '--from', '2000-01-01');
      const rows = parse(await fs.readFile(out, 'utf8'), { columns: true }) as Record<
        string,
        string
      >[];
      expect(Object.keys(rows[0]!)).toEqual([
        'id',
        'at',
        'actor_kind',
        'actor_key_id',
        'actor_name',
        'operation',
        'target_type',
        'target_ids',
        'change',
      ]);
      // The earlier exports are entries too, now.
      expect(rows.length).toBe(all.length + 2);
      expect(JSON.parse(rows.at(-1)!.change!)).toMatchObject({ format: 'ndjson' });

      const future = await tagwise('audit', 'export', '--from', '2999-01-01');
      expect(future).toBe('');

      const exports = await entries(`operation = 'cli:audit export'`);
      expect(exports).toHaveLength(4);
      expect(exports[0]!.change).toMatchObject({ entries: all.length, format: 'ndjson' });
      expect(exports[1]!.change).toMatchObject({ entries: 1, operation: 'cli:apikey create' });
      expect(exports[3]!.change).toMatchObject({ entries: 0 });
    },
    CLI_TIMEOUT,
  );

  it(
    'logs the other writing commands and exports: rotate, seed, features, promote, segment export',
    async () => {
      const before = (
        await t.sql<{ id: string }>('select coalesce(max(id), 0)::text as id from audit_log')
      )[0]!.id;
      const created = await t.ok(
        `mutation { createApiKey(input: { name: "to-rotate", role: VIEWER }) { apiKey { id } } }`,
      );
      const oldId = created.createApiKey.apiKey.id as string;
      const secret = (await tagwise('apikey', 'rotate', oldId)).trim();
      await tagwise('seed', '--customers', '30');
      const config = path.join(dir, 'features.json');
      await fs.writeFile(config, JSON.stringify({ spendCategories: ['wine'] }));
      await tagwise('features', 'configure', config);
      await tagwise('features', '--incremental');
      const [version] = await t.sql<{ id: string }>(
        `insert into model_version (version, status, seed, params, feature_schema, training_summary, metrics, backend, artifact_path)
       values ('v-cli', 'CANDIDATE', 1, '{}', '{"featureSetVersion":1,"features":[]}', '{}', '{}', 'cpu', '/nowhere')
       returning id::text`,
      );
      await tagwise('models', 'promote', version!.id);
      await t.ok(
        `mutation { createSegment(input: { key: "big", name: "Big", text: "company_size >= 1" }) { id } }`,
      );
      const members = await tagwise('segments', 'export', 'big');
      expect(members.split('\n').length).toBeGreaterThan(1);

      const cli = await entries(`actor_kind = 'CLI' and id > ?`, [before]);
      expect(cli.map((e) => e.operation)).toEqual([
        'cli:apikey rotate',
        'cli:seed',
        'cli:features configure',
        'cli:features',
        'cli:models promote',
        'cli:segments export',
      ]);
      for (const e of cli) expect(e).toMatchObject({ actorName: user, actorKeyId: null });
      const [rotate, seed, configure, refresh, promote, exported] = cli;
      expect(rotate!.targetIds[0]).toBe(oldId);
      expect(rotate!.change).toEqual({ revoked: oldId, replacement: rotate!.targetIds[1] });
      expect(seed!.change).toMatchObject({ customers: 30 });
      expect(seed!.change.events).toBeGreaterThan(0);
      expect(configure!.change.after.version).toBeGreaterThan(1);
      expect(refresh!.change).toMatchObject({ mode: 'incremental' });
      expect(promote).toMatchObject({
        targetType: 'MODEL_VERSION',
        targetIds: [version!.id],
        change: { before: { activeVersionId: null }, after: { activeVersionId: version!.id } },
      });
      expect(exported!.change).toEqual({ key: 'big', out: '-' });
      expect(JSON.stringify(cli)).not.toContain(secret);
    },
    CLI_TIMEOUT,
  );

  it(
    'refuses a bad option with one line',
    async () => {
      await expect(tagwise('audit', 'export', '--format', 'xml')).rejects.toMatchObject({
        stderr: expect.stringContaining('ndjson or csv'),
      });
      await expect(tagwise('audit', 'export', '--from', 'yesterday')).rejects.toMatchObject({
        stderr: expect.stringContaining('ISO date'),
      });
    },
    CLI_TIMEOUT,
  );
});
