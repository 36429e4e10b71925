import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';

const HTML = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };

describe('the console and GraphiQL over HTTP', () => {
  let t: TestApp;
  let base: string;

  beforeAll(async () => {
    t = await createTestApp();
    base = await t.serve();
  });

  afterAll(async () => {
    await t?.close();
  });

  it('serves the console at / and at its client-side routes, never cached', async () => {
    for (const path of ['/', '/queue', '/customers/12']) {
      const response = await fetch(base + path, { headers: HTML });
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(await response.text()).toContain('<title>Tagwise review console</title>');
    }
  });

  it('serves hashed assets for a year, and 404s what is not there', async () => {
    const page = await (await fetch(base + '/', { headers: HTML })).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(base + script);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(base + '/assets/nope.js')).status).toBe(404);
  });

  it('sends the build’s brotli or gzip copy of an asset to a browser that takes it', async () => {
    const page = await (await fetch(base + '/', { headers: HTML })).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page)![1]!;
    const plain = await fetch(base + script, { headers: { 'accept-encoding': 'identity' } });
    const text = await plain.text();
    expect(plain.headers.get('content-encoding')).toBeNull();
    // fetch decodes what it is sent: the same script either way, but fewer bytes on the wire.
    for (const encoding of ['br', 'gzip']) {
      const response = await fetch(base + script, { headers: { 'accept-encoding': encoding } });
      expect(response.headers.get('content-encoding')).toBe(encoding);
      expect(response.headers.get('content-type')).toContain('javascript');
      expect(response.headers.get('vary')).toContain('Accept-Encoding');
      expect(Number(response.headers.get('content-length'))).toBeLessThan(text.length / 2);
      expect(await response.text()).toBe(text);
    }
  });

  it('answers a browser’s GET /graphql with GraphiQL and API clients as before', async () => {
    const ide = await fetch(base + '/graphql', { headers: HTML });
    expect(ide.status).toBe(200);
    expect(await ide.text()).toContain('<title>Tagwise GraphiQL</title>');

    // A GET query (JSON accepted) still reaches GraphQL, which answers it (here: no key).
    const get = await fetch(`${base}/graphql?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/json', 'apollo-require-preflight': 'true' },
    });
    expect((await get.json()) as unknown).toMatchObject({ data: { __typename: 'Query' } });

    const post = await fetch(base + '/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${t.keys.ADMIN}` },
      body: JSON.stringify({ query: '{ tags(first: 1) { totalCount } }' }),
    });
    expect(post.status).toBe(200);
  });

  it('leaves OPTIONS alone: no page route answers a preflight in the API’s place', async () => {
    for (const path of ['/graphql', '/queue']) {
      const response = await fetch(base + path, { method: 'OPTIONS' });
      expect(response.headers.get('allow')).toBeNull();
    }
  });

  it('leaves the API’s own paths to the API', async () => {
    const health = await fetch(base + '/health/live', { headers: HTML });
    expect(health.headers.get('content-type')).toContain('application/json');
  });
});

describe('settings', () => {
  it('TAGWISE_GRAPHIQL=0 serves no IDE; NODE_ENV=production alone turns it off too', async () => {
    for (const env of [{ TAGWISE_GRAPHIQL: '0' }, { NODE_ENV: 'production' }]) {
      const t = await createTestApp(env);
      try {
        const base = await t.serve();
        const response = await fetch(base + '/graphql', { headers: HTML });
        expect(await response.text()).not.toContain('GraphiQL');
        // Nor Apollo's landing page, which would load an IDE from another host.
        expect(response.status).toBe(400);
      } finally {
        await t.close();
      }
    }
  });

  it('GraphiQL turned on under NODE_ENV=production can introspect; off, introspection is refused', async () => {
    const introspect = (t: TestApp) =>
      t.gql('{ __schema { queryType { name } } }').then((r) => r.errors?.[0]?.message ?? 'ok');
    const on = await createTestApp({ NODE_ENV: 'production', TAGWISE_GRAPHIQL: '1' });
    const off = await createTestApp({ NODE_ENV: 'production' });
    try {
      expect(await introspect(on)).toBe('ok');
      expect(await introspect(off)).toMatch(/introspection/i);
    } finally {
      await on.close();
      await off.close();
    }
  });

  it('TAGWISE_CONSOLE=0 serves no console', async () => {
    const t = await createTestApp({ TAGWISE_CONSOLE: '0' });
    try {
      const base = await t.serve();
      expect((await fetch(base + '/', { headers: HTML })).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});

describe('npm run dev (TAGWISE_WEB_DEV=1)', () => {
  it('serves the pages from web/ through Vite, with its hot-reload client', async () => {
    const t = await createTestApp({ TAGWISE_WEB_DEV: '1' });
    try {
      const base = await t.serve();
      const page = await (await fetch(base + '/queue', { headers: HTML })).text();
      expect(page).toContain('/@vite/client');
      expect(page).toContain('/src/main.tsx');
      const ide = await (await fetch(base + '/graphql', { headers: HTML })).text();
      expect(ide).toContain('/src/graphiql/main.tsx');
      // The source is compiled on request: what the browser runs is JavaScript, not TSX.
      const module = await fetch(base + '/src/main.tsx');
      expect(module.headers.get('content-type')).toContain('javascript');
      expect(await module.text()).not.toContain('<StrictMode>');
    } finally {
      await t.close();
    }
  });
});
