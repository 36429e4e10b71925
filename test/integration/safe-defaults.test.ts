import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { TaxonomyService } from '../../src/modules/taxonomy/taxonomy.service.js';
import { createTestApp } from '../support/app.js';

const GRAPHQL_RESPONSE = 'application/graphql-response+json';

interface Body {
  data?: unknown;
  errors: { message: string; extensions: Record<string, unknown> }[];
}
const bodyOf = async (response: Response) => (await response.json()) as Body;

/** A test app served over HTTP, as `npm start` serves it. */
async function serve(env: NodeJS.ProcessEnv) {
  const logged: string[] = [];
  const logger = createLogger('info', 'test', { write: (line: string) => logged.push(line) });
  const t = await createTestApp(env, { logger });
  const base = await t.serve();
  return {
    t,
    base,
    logs: () => logged.join(''),
    post: (body: string, headers: Record<string, string> = {}) =>
      fetch(`${base}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      }),
    close: () => t.close(),
  };
}

describe('safe defaults of the HTTP API', () => {
  // NODE_ENV unset, as `npm start` runs without it.
  let api: Awaited<ReturnType<typeof serve>>;
  let development: Awaited<ReturnType<typeof serve>>;
  let withCors: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    [api, development, withCors] = await Promise.all([
      serve({ NODE_ENV: undefined }),
      serve({ NODE_ENV: 'development' }),
      serve({ NODE_ENV: undefined, TAGWISE_CORS_ORIGINS: 'https://crm.example.com' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([api?.close(), development?.close(), withCors?.close()]);
  });
  afterEach(() => vi.restoreAllMocks());

  const query = (text: string) => JSON.stringify({ query: text });
  const auth = (key: string) => ({ authorization: `Bearer ${key}` });

  it('shows clients no SQL, stack or path of an unexpected error unless NODE_ENV=development', async () => {
    const leak = `insert into "customer" ("email") values ('wang.li@example.cn') at /srv/tagwise/src/x.ts:12`;
    vi.spyOn(TaxonomyService.prototype, 'listCategories').mockRejectedValue(new Error(leak));
    const body = query('{ tagCategories(first: 1) { totalCount } }');

    const response = await api.post(body, auth(api.t.keys.ADMIN));
    const text = await response.text();
    expect(JSON.parse(text).errors[0]).toMatchObject({
      message: 'Internal server error',
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
    for (const secret of ['customer', 'wang.li', '/srv/', 'stack', '.ts']) {
      expect(text).not.toContain(secret);
    }
    // The log says what failed, without the personal data in it.
    expect(api.logs()).toContain('unexpected error');
    expect(api.logs()).toContain('insert into');
    expect(api.logs()).not.toContain('wang.li');

    const shown = await development.post(body, auth(development.t.keys.ADMIN));
    const error = (await bodyOf(shown)).errors[0]!;
    expect(error.message).toBe(leak);
    expect(error.extensions.stack).toContain('Error: insert');
  });

  it('answers a body that is not JSON with a JSON GraphQL error, not an HTML page', async () => {
    const response = await api.post('{"query": "{ __typename }"', auth(api.t.keys.VIEWER));
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({
      errors: [
        {
          message: 'The request body is not valid JSON',
          extensions: { code: 'BAD_REQUEST' },
        },
      ],
    });
  });

  it('refuses a body over the size limit with a coded error naming the limit', async () => {
    const huge = query(`{ __typename } # ${'x'.repeat(26 * 1024 * 1024)}`);
    const response = await api.post(huge, auth(api.t.keys.VIEWER));
    expect(response.status).toBe(413);
    const { errors } = await bodyOf(response);
    expect(errors[0]!.extensions).toMatchObject({
      code: 'PAYLOAD_TOO_LARGE',
      limit: 'requestBodyBytes',
      max: 25 * 1024 * 1024,
    });
  });

  it('answers 401 without a valid key and 403 for a role without the right, to graphql-response+json clients', async () => {
    const customers = query('{ customers(first: 1) { totalCount } }');
    const none = await api.post(customers, { accept: GRAPHQL_RESPONSE });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const refused = await bodyOf(none);
    expect(refused.data).toBeNull();
    expect(refused.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');

    const revoked = await api.post(customers, { accept: GRAPHQL_RESPONSE, ...auth('not-a-key') });
    expect(revoked.status).toBe(401);

    const create = query(
      'mutation { createTagCategory(input: { key: "x", name: "X", kind: OTHER }) { id } }',
    );
    const viewer = await api.post(create, { accept: GRAPHQL_RESPONSE, ...auth(api.t.keys.VIEWER) });
    expect(viewer.status).toBe(403);
    expect((await bodyOf(viewer)).errors[0]!.extensions.code).toBe('FORBIDDEN');
    expect(await api.t.sql(`select 1 from tag_category where key = 'x'`)).toEqual([]);
  });

  it('keeps 200 where some data came back, and for application/json clients', async () => {
    // __typename needs no key and tag is nullable, so data is not null: one field was refused,
    // not the request.
    const partial = query('{ __typename tag(id: "1") { id } }');
    const mixed = await api.post(partial, { accept: GRAPHQL_RESPONSE });
    expect(mixed.status).toBe(200);
    expect(await mixed.json()).toMatchObject({ data: { __typename: 'Query', tag: null } });

    const customers = query('{ customers(first: 1) { totalCount } }');
    const plain = await api.post(customers, { accept: 'application/json' });
    expect(plain.status).toBe(200);
    expect((await bodyOf(plain)).errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
    const noAccept = await api.post(customers);
    expect(noAccept.status).toBe(200);
  });

  it('sends no CORS headers unless origins are configured, then only to those', async () => {
    const preflight = (base: string, origin: string) =>
      fetch(`${base}/graphql`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization, content-type',
        },
      });
    const off = await preflight(api.base, 'https://crm.example.com');
    expect(off.headers.get('access-control-allow-origin')).toBeNull();

    const allowed = await preflight(withCors.base, 'https://crm.example.com');
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://crm.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');

    const other = await preflight(withCors.base, 'https://evil.example.net');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});
