import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthService } from '../../src/modules/auth/auth.service.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';

describe('auth over HTTP', () => {
  let t: TestApp;
  let base: string;
  beforeAll(async () => {
    t = await createTestApp();
    base = await t.serve();
  });
  afterAll(() => t?.close());

  const post = async (query: string, authorization?: string) => {
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query }),
    });
    return (await response.json()) as { data?: any; errors?: any[] };
  };

  it('answers /health once the database is reachable', async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      status: 'ok',
      checks: { database: 'ok', migrations: 'ok' },
    });
  });

  it('refuses a request without a key as UNAUTHENTICATED', async () => {
    const body = await post('{ tags { totalCount } }');
    expect(body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(body.data?.tags ?? null).toBeNull();
  });

  it.each(['Bearer tw_not-a-real-key', 'Basic abc', 'Bearer'])(
    'refuses the header %j as UNAUTHENTICATED',
    async (header) => {
      const body = await post('{ tags { totalCount } }', header);
      expect(body.errors?.[0].extensions.code).toBe('UNAUTHENTICATED');
    },
  );

  it('lets every role read', async () => {
    for (const key of Object.values(t.keys)) {
      const body = await post('{ tags { totalCount } }', `Bearer ${key}`);
      expect(body.errors).toBeUndefined();
      expect(body.data.tags.totalCount).toBe(0);
    }
  });

  it('refuses a viewer governing the taxonomy as FORBIDDEN', async () => {
    const body = await post(
      'mutation { createTagCategory(input: { name: "x", kind: OTHER }) { id } }',
      `Bearer ${t.keys.VIEWER}`,
    );
    expect(body.errors?.[0].extensions.code).toBe('FORBIDDEN');
    const [row] = await t.sql<{ n: number }>('select count(*)::int as n from tag_category');
    expect(row!.n).toBe(0);
  });

  it('stores only a hash of each key', async () => {
    const rows = await t.sql<{ key_hash: string }>('select key_hash from api_key');
    for (const key of Object.values(t.keys)) {
      expect(rows.map((r) => r.key_hash)).not.toContain(key);
    }
  });

  it('seeds ADMIN_API_KEY as an admin key, idempotently', async () => {
    const auth = new AuthService(t.app.orm.em);
    await auth.ensureAdminKey('configured-admin-key-0001');
    await auth.ensureAdminKey('configured-admin-key-0001');
    const body = await post(
      'mutation { createTagCategory(input: { name: "Seeded", kind: OTHER }) { key } }',
      'Bearer configured-admin-key-0001',
    );
    expect(body.data.createTagCategory.key).toBe('seeded');
  });

  it('masks unexpected errors without leaking internals', async () => {
    const result = await t.gql('{ customer(id: "1") { id } }', {}, { as: null });
    expect(errorOf(result).code).toBe('UNAUTHENTICATED');
  });
});
