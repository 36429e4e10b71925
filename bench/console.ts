// The review console in a browser (issue 16): `node --import ./bin/register.js bench/console.ts`.
// Reuses bench/scoring.ts's data set (1,000,000 customers) with bench/suggest.ts's dense model.
import 'reflect-metadata';
import { execSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { MikroORM } from '@mikro-orm/postgresql';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { createOrmConfig } from '../src/config/mikro-orm.config.js';
import { generateSuggestions } from '../src/jobs/suggest.job.js';
import { AuthService } from '../src/modules/auth/auth.service.js';
import { Role } from '../src/modules/auth/rights.js';
import { writeSection } from './report.js';
import { prepare, settings } from './scoring.js';
import { envInt, prepareDatabase, runBench, startServer, withClient } from './setup.js';
import { activateDense } from './suggest.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Review console (issue 16)';
const ADMIN_KEY = 'tagwise-bench-admin-key';
const PORT = envInt('BENCH_CONSOLE_PORT', 4093, 1);
/** Page loads per case (cold and warm each); the median is reported. */
const LOADS = envInt('BENCH_CONSOLE_LOADS', 9, 1);
/** Decisions by keyboard in the queue, one after the other. */
const DECISIONS = envInt('BENCH_CONSOLE_DECISIONS', 200, 1);
/** Below this many pending suggestions the queue is generated again (each run decides some). */
const MIN_PENDING = envInt('BENCH_CONSOLE_MIN_PENDING', 860_000, 0);
const CHROMIUM = process.env.TAGWISE_CHROMIUM ?? '/usr/bin/chromium';

// What the pages show once usable: the sign-in form's key field, GraphiQL's query editor.
const SIGN_IN_READY = '#api-key';
const GRAPHIQL_READY = '.graphiql-query-editor .monaco-editor .view-lines';
/** The key the console keeps in its tab's sessionStorage (web/src/session.tsx). */
const STORAGE_KEY = 'tagwise.apiKey';

const secondsSince = (started: number) => (performance.now() - started) / 1000;

interface Preparation {
  /** Wall seconds of each step this run did; a step already done costs little. */
  steps: { step: string; seconds: number }[];
  pending: number;
  customers: number;
  reviewerKey: string;
  url: string;
  stop(): Promise<void>;
}

async function countPending(url: string): Promise<number> {
  return withClient(url, async (c) => {
    const { rows } = await c.query<{ n: number }>(
      `select count(*)::int as n from tag_suggestion where status = 'PENDING'`,
    );
    return rows[0]!.n;
  });
}

/**
 * bench/suggest.ts's queue: seeds, refreshes features, trains, replicates to 1,000,000 customers
 * and generates suggestions with the dense model, each step only when not already done.
 */
async function prepareQueue(): Promise<Preparation> {
  const steps: Preparation['steps'] = [];
  let started = performance.now();
  const db = await prepareDatabase({
    dataDir: settings.dataDir,
    port: settings.pgPort,
    customers: settings.seeded,
  });
  steps.push({ step: 'start PostgreSQL, migrate, seed', seconds: secondsSince(started) });
  const url = db.handle.url;
  const orm = await MikroORM.init(createOrmConfig({ url, logger: () => {} }));
  try {
    started = performance.now();
    const trainedId = await prepare(orm, url);
    steps.push({ step: 'features, training, replication', seconds: secondsSince(started) });
    started = performance.now();
    await activateDense(orm, url, trainedId);
    steps.push({ step: 'dense model', seconds: secondsSince(started) });
    if ((await countPending(url)) < MIN_PENDING) {
      started = performance.now();
      await withClient(url, (c) =>
        c.query(`truncate tag_suggestion, review_log, suggestion_tally;
                 delete from customer_tag where source = 'MODEL'`),
      );
      const report = await generateSuggestions(orm);
      await withClient(url, (c) => c.query('vacuum analyze tag_suggestion'));
      console.error(`generated ${report.created} suggestions`);
      steps.push({ step: 'suggestions', seconds: secondsSince(started) });
    }
    const customers = await withClient(url, async (c) => {
      const { rows } = await c.query<{ n: number }>('select count(*)::int as n from customer');
      return rows[0]!.n;
    });
    const { key } = await new AuthService(orm.em.fork()).createKey({
      role: Role.REVIEWER,
      name: `bench reviewer ${new Date().toISOString()}`,
    });
    return {
      steps,
      pending: await countPending(url),
      customers,
      reviewerKey: key,
      url,
      stop: () => db.handle.stop(),
    };
  } catch (error) {
    await db.handle.stop();
    throw error;
  } finally {
    await orm.close();
  }
}

/** Debian's Chromium with the flags of test/support/browser.ts (no background traffic). */
function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Page code run before any of the page's own (a string: this project's TypeScript has no DOM
 * types). It puts `apiKey` where the console keeps a signed-in tab's key, and notes in
 * window.__benchReady the performance.now() at which `selector` first matches an element that is
 * not disabled.
 */
function readinessScript(selector: string, apiKey: string | null): string {
  return `(() => {
    const apiKey = ${JSON.stringify(apiKey)};
    if (apiKey) sessionStorage.setItem(${JSON.stringify(STORAGE_KEY)}, apiKey);
    const observer = new MutationObserver(() => {
      const element = document.querySelector(${JSON.stringify(selector)});
      if (element && !element.disabled && window.__benchReady === undefined) {
        window.__benchReady = performance.now();
        observer.disconnect();
      }
    });
    observer.observe(document, { subtree: true, childList: true, attributes: true });
  })();`;
}

interface Transfer {
  url: string;
  status: number;
  fromCache: boolean;
  /** Bytes on the connection: response headers and body as sent. */
  wire: number;
  /** The body as the page got it (decoded). */
  body: number;
  /** That body gzipped at zlib's default level, as the `compression` middleware would send it. */
  gzip: number;
  encoding: string | null;
}

interface PageLoad {
  /** ms from navigation start until the page's `ready` selector matched an enabled element. */
  readyMs: number;
  domContentLoadedMs: number;
  loadMs: number;
  transfers: Transfer[];
}

/**
 * Opens `url` in a new page of `context` and records every HTTP request the page made (those the
 * cache answered included) through the DevTools protocol. Readiness is seen from inside the page:
 * a MutationObserver installed before any page script notes performance.now() (ms since navigation
 * start) when `ready` first matches an element that is not disabled.
 */
async function loadPage(
  context: BrowserContext,
  url: string,
  ready: string,
  options: { apiKey?: string } = {},
): Promise<PageLoad> {
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  const transfers = new Map<string, Transfer>();
  const bodies: Promise<void>[] = [];
  cdp.on('Network.requestWillBeSent', (e) => {
    if (!/^https?:/.test(e.request.url)) return;
    transfers.set(e.requestId, {
      url: e.request.url,
      status: 0,
      fromCache: false,
      wire: 0,
      body: 0,
      gzip: 0,
      encoding: null,
    });
  });
  cdp.on('Network.requestServedFromCache', (e) => {
    const t = transfers.get(e.requestId);
    if (t) t.fromCache = true;
  });
  cdp.on('Network.responseReceived', (e) => {
    const t = transfers.get(e.requestId);
    if (!t) return;
    t.status = e.response.status;
    t.fromCache ||= e.response.fromDiskCache === true;
    const headers = Object.fromEntries(
      Object.entries(e.response.headers).map(([k, v]) => [k.toLowerCase(), v]),
    );
    t.encoding = headers['content-encoding'] ?? null;
  });
  cdp.on('Network.loadingFinished', (e) => {
    const t = transfers.get(e.requestId);
    if (!t) return;
    t.wire = e.encodedDataLength;
    if (t.fromCache) return;
    bodies.push(
      cdp
        .send('Network.getResponseBody', { requestId: e.requestId })
        .then((r) => {
          const body = Buffer.from(r.body, r.base64Encoded ? 'base64' : 'utf8');
          t.body = body.length;
          t.gzip = t.encoding ? t.wire : zlib.gzipSync(body).length;
        })
        .catch(() => {
          // A body Chromium no longer holds (a 404 without one): it counts as empty.
        }),
    );
  });
  await page.addInitScript({ content: readinessScript(ready, options.apiKey ?? null) });
  // networkidle: every request the load causes is counted, lazy chunks and workers included.
  await page.goto(url, { waitUntil: 'networkidle', timeout: 120_000 });
  await page.waitForFunction('window.__benchReady !== undefined', null, { timeout: 120_000 });
  const timing = (await page.evaluate(`(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    return {
      readyMs: window.__benchReady,
      domContentLoadedMs: nav.domContentLoadedEventEnd,
      loadMs: nav.loadEventEnd,
    };
  })()`)) as Pick<PageLoad, 'readyMs' | 'domContentLoadedMs' | 'loadMs'>;
  await Promise.all(bodies);
  await page.close();
  return { ...timing, transfers: [...transfers.values()] };
}

interface LoadSeries {
  name: string;
  cold: PageLoad[];
  warm: PageLoad[];
}

/**
 * Each cold load in a fresh browser context (empty cache, as a first visit); each warm one in a
 * new page of a context that loaded the page once before (the cache filled, as a return visit).
 */
async function measureLoads(
  browser: Browser,
  name: string,
  url: string,
  ready: string,
  apiKey?: string,
): Promise<LoadSeries> {
  // One load first, not counted: the server reads its files and Chromium starts its processes.
  const discard = await browser.newContext();
  await loadPage(discard, url, ready, { apiKey });
  await discard.close();
  const series: LoadSeries = { name, cold: [], warm: [] };
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext();
    series.cold.push(await loadPage(context, url, ready, { apiKey }));
    series.warm.push(await loadPage(context, url, ready, { apiKey }));
    await context.close();
  }
  console.error(
    `${name}: ready ${median(series.cold.map((l) => l.readyMs)).toFixed(0)} ms cold, ` +
      `${median(series.warm.map((l) => l.readyMs)).toFixed(0)} ms warm`,
  );
  return series;
}

function median(values: number[]): number {
  return percentile(values, 50);
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const kB = (bytes: number) => `${(bytes / 1000).toFixed(1)} kB`;
const ms = (n: number) => `${Math.round(n)} ms`;

function sum(transfers: Transfer[], field: 'wire' | 'body' | 'gzip'): number {
  return transfers.filter((t) => !t.fromCache).reduce((total, t) => total + t[field], 0);
}

function loadRows(series: LoadSeries): string[] {
  return (['cold', 'warm'] as const).map((kind) => {
    const loads = series[kind];
    // The requests of one load are the same every time; the first one's stand for all.
    const transfers = loads[0]!.transfers;
    const network = transfers.filter((t) => !t.fromCache);
    return (
      `| ${series.name}, ${kind} | ${transfers.length} (${network.length} over the network) | ` +
      `${kB(sum(transfers, 'body'))} | ${kB(sum(transfers, 'wire'))} | ${kB(sum(transfers, 'gzip'))} | ` +
      `${ms(median(loads.map((l) => l.readyMs)))} (${ms(Math.min(...loads.map((l) => l.readyMs)))}–${ms(Math.max(...loads.map((l) => l.readyMs)))}) | ` +
      `${ms(median(loads.map((l) => l.domContentLoadedMs)))} | ${ms(median(loads.map((l) => l.loadMs)))} |`
    );
  });
}

function requestList(load: PageLoad): string {
  return load.transfers
    .filter((t) => !t.fromCache)
    .map((t) => `\`${new URL(t.url).pathname}\` ${t.status} ${kB(t.body)} (gzip ${kB(t.gzip)})`)
    .join(', ');
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg();
  const queue = await prepareQueue();
  console.error(JSON.stringify({ steps: queue.steps, pending: queue.pending }));
  const server = await startServer({
    root: ROOT,
    databaseUrl: queue.url,
    port: PORT,
    apiKey: ADMIN_KEY,
    // NODE_ENV=production (as measured) turns GraphiQL off by default.
    env: { TAGWISE_GRAPHIQL: '1' },
  });
  let browser: Browser | null = null;
  try {
    const loadBefore = os.loadavg();
    browser = await launchChromium();
    const signIn = await measureLoads(
      browser,
      'console, sign-in form',
      `${server.url}/`,
      SIGN_IN_READY,
    );
    const graphiql = await measureLoads(
      browser,
      'GraphiQL, signed-in tab',
      `${server.url}/graphql`,
      GRAPHIQL_READY,
      queue.reviewerKey,
    );
    const loadAfter = os.loadavg();
    const compressed = [...signIn.cold, ...graphiql.cold].some((l) =>
      l.transfers.some((t) => t.encoding !== null),
    );
    const revision = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
    const body = `
Command: \`node --import ./bin/register.js bench/console.ts\` (also in \`npm run bench\`; \`BENCH_CONSOLE_LOADS=${LOADS}\`, \`BENCH_CONSOLE_DECISIONS=${DECISIONS}\`). Data set of \`bench/scoring.ts\` with \`bench/suggest.ts\`'s dense model: ${queue.customers.toLocaleString('en-US')} customers, ${queue.pending.toLocaleString('en-US')} pending suggestions.

Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at ${revision}: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}, Chromium ${browser.version()} headless through playwright-core, the API as \`npm start\` starts it (one API process, \`NODE_ENV=production\`, \`TAGWISE_GRAPHIQL=1\`) on 127.0.0.1, web/dist as \`npm run build:web\` builds it. One-minute load average ${loadBefore[0]!.toFixed(1)} before the measurements and ${loadAfter[0]!.toFixed(1)} after (${loadAtStart[0]!.toFixed(1)} when the bench started): the host is shared, and its speed drifts by ±20 % even when quiet.

**First load.** Ready is the time from navigation start until the page is usable, seen from inside the page: a MutationObserver installed before any page script notes \`performance.now()\` when the element first exists and is not disabled — for the console, the sign-in form's key field (\`${SIGN_IN_READY}\`; React has mounted and the form takes input); for GraphiQL, opened in a tab already signed in, its query editor (\`${GRAPHIQL_READY}\`: Monaco has drawn it). Cold: a fresh browser context (empty cache). Warm: a new page of a context that loaded the page before. Median of ${LOADS} loads each (range in brackets), after one uncounted load. Sizes count every HTTP request until the network was idle for 500 ms; the server ${compressed ? 'compresses some responses (Content-Encoding)' : 'sends no response compressed (no Content-Encoding)'}, so "gzip" is each body gzipped at zlib's default level, as the \`compression\` middleware would send it.

| page | requests | bodies | on the wire (with headers) | gzip | ready, median (range) | DOMContentLoaded | load |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${[...loadRows(signIn), ...loadRows(graphiql)].join('\n')}

Console, cold: ${requestList(signIn.cold[0]!)}. Warm, the page itself only (its assets are named by content hash and cached for a year): ${requestList(signIn.warm[0]!)}.

GraphiQL, cold: ${requestList(graphiql.cold[0]!)}.

Preparation of the data set in this run (a step already done costs only its check): ${queue.steps.map((s) => `${s.step} ${s.seconds.toFixed(1)} s`).join(', ')}.
`;
    console.log(body);
    await writeSection(path.join(ROOT, 'BENCHMARKS.md'), SECTION, body);
  } finally {
    await browser?.close();
    await server.stop();
    await queue.stop();
  }
}

runBench(main);
