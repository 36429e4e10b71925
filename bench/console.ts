// The review console in a browser (issue 16): `node --import ./bin/register.js bench/console.ts`.
// Reuses bench/scoring.ts's data set (1,000,000 customers) with bench/suggest.ts's dense model.
import 'reflect-metadata';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Browser, BrowserContext } from 'playwright-core';
import { createOrmConfig } from '../src/config/mikro-orm.config.js';
import { generateSuggestions } from '../src/jobs/suggest.job.js';
import { AuthService } from '../src/modules/auth/auth.service.js';
import { Role } from '../src/modules/auth/rights.js';
import { launchChromium } from '../test/support/browser.js';
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

// What the pages show once usable: the sign-in form's key field, GraphiQL's query editor.
const SIGN_IN_READY = '#api-key';
const GRAPHIQL_READY = '.graphiql-query-editor .monaco-editor .view-lines';
// The queue (web/src/pages/queue): each suggestion is an article.card carrying its id; the one
// the keys act on has aria-current="true" and, once moved to, the focus; a decided one gets the
// class of its outcome (decided, taken by someone else first, failed).
const CARD = 'article.card[data-suggestion-id]';
const ORDERS = ['MOST_UNCERTAIN', 'HIGHEST_CONFIDENCE', 'HIGHEST_CUSTOMER_VALUE', 'OLDEST'];
/** The key the console keeps in its tab's sessionStorage (web/src/session.tsx). */
const STORAGE_KEY = 'tagwise.apiKey';

const secondsSince = (started: number) => (performance.now() - started) / 1000;

interface Build {
  /** When the data set was built from an empty cluster, and the one-minute load average then. */
  at: string;
  load: number;
  /** The process's nice value (the bench's own share of the CPU). */
  nice: number;
  /** Wall seconds of each step. */
  steps: { step: string; seconds: number }[];
}

/** Kept beside the data set: how long its build took is reported by every later run. */
const BUILD_FILE = path.join(settings.dataDir, 'console-build.json');

interface Preparation {
  /** Wall seconds of each step this run did; a step already done costs little. */
  steps: { step: string; seconds: number }[];
  /** The build from scratch this data set came from, when a run of this bench did it. */
  build: Build | null;
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
  const load = os.loadavg()[0]!;
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
    if (db.seededNow > 0) {
      const build: Build = { at: new Date().toISOString(), load, nice: os.getPriority(), steps };
      fs.writeFileSync(BUILD_FILE, JSON.stringify(build, null, 2));
    }
    const { key } = await new AuthService(orm.em.fork()).createKey({
      role: Role.REVIEWER,
      name: `bench reviewer ${new Date().toISOString()}`,
    });
    return {
      steps,
      build: fs.existsSync(BUILD_FILE)
        ? (JSON.parse(fs.readFileSync(BUILD_FILE, 'utf8')) as Build)
        : null,
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
  /** Why the request did not complete (Chromium's error text), if it did not. */
  failed: string | null;
  ended: boolean;
  /** Loaded by a worker: sized from web/dist (see loadPage). */
  worker: boolean;
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
  options: { apiKey?: string; warm?: boolean } = {},
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
      failed: null,
      ended: false,
      worker: false,
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
  cdp.on('Network.loadingFailed', (e) => {
    const t = transfers.get(e.requestId);
    if (!t) return;
    t.failed = e.errorText;
    t.ended = true;
  });
  cdp.on('Network.loadingFinished', (e) => {
    const t = transfers.get(e.requestId);
    if (!t) return;
    t.wire = e.encodedDataLength;
    t.ended = true;
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
  // networkidle can come while a late request (a font) is still open: give each a moment to end.
  const deadline = Date.now() + 5_000;
  while ([...transfers.values()].some((t) => !t.ended) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  for (const t of transfers.values()) {
    if (t.ended) continue;
    // A worker's script: its response goes to the worker's own DevTools target, not the page's.
    // Sized by its file in web/dist; in a warm load it is cached like every hashed asset.
    const file = path.join(ROOT, 'web/dist', new URL(t.url).pathname);
    if (!t.url.startsWith(`${new URL(url).origin}/assets/`) || !fs.existsSync(file)) {
      t.failed ??= 'still open 5 s after networkidle';
      continue;
    }
    const body = fs.readFileSync(file);
    const again = [...transfers.values()].some((o) => o !== t && o.worker && o.url === t.url);
    t.worker = true;
    // A second worker of the same script (GraphiQL's variables and headers editors) gets it from
    // the cache the first one filled.
    t.fromCache = options.warm === true || again;
    t.status = 200;
    t.body = t.wire = body.length;
    t.gzip = zlib.gzipSync(body).length;
  }
  await Promise.all(bodies);
  await page.close();
  return { ...timing, transfers: [...transfers.values()] };
}

/**
 * Page code for the queue page: keeps the timing of every POST /graphql the page makes (Resource
 * Timing, through an observer so the browser's 250-entry buffer never drops one).
 */
const REQUEST_LOG_SCRIPT = `(() => {
  window.__benchRequests = [];
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (new URL(e.name).pathname !== '/graphql') continue;
      window.__benchRequests.push({
        start: e.startTime, requestStart: e.requestStart, responseStart: e.responseStart,
        end: e.responseEnd,
      });
    }
  }).observe({ type: 'resource', buffered: true });
})();`;

/**
 * Arms one round trip, before the key is pressed: notes which card is current, the keydown's
 * own time stamp (when the browser took the key, before any page code), and the first moment at
 * which that card shows its outcome and another card is current and holds the focus — checked on
 * every DOM change and every focus change (the focus moves in an effect, without a mutation).
 * Then the start of the next animation frame: the one that paints it.
 */
const ARM_SCRIPT = `(() => {
  const card = document.querySelector(${JSON.stringify(`${CARD}[aria-current="true"]`)});
  const id = card.dataset.suggestionId;
  const round = { id };
  window.__benchRound = round;
  window.addEventListener('keydown', (e) => { round.keydown = e.timeStamp; },
    { once: true, capture: true });
  const check = () => {
    if (round.shown !== undefined || round.keydown === undefined) return;
    const decided = document.querySelector('article.card[data-suggestion-id="' + id + '"]');
    if (decided && decided.classList.contains('failed')) {
      round.failed = decided.querySelector('.outcome')?.textContent ?? 'failed';
    } else {
      const current = document.querySelector('article.card[aria-current="true"]');
      if (!decided || !(decided.classList.contains('decided') || decided.classList.contains('taken'))
          || !current || current === decided || document.activeElement !== current) return;
      round.next = current.dataset.suggestionId;
      round.outcome = decided.querySelector('.outcome')?.textContent ?? '';
    }
    round.shown = performance.now();
    observer.disconnect();
    document.removeEventListener('focusin', check, true);
    requestAnimationFrame(() => { round.frame = performance.now(); });
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body,
    { subtree: true, childList: true, attributes: true, characterData: true });
  document.addEventListener('focusin', check, true);
  return id;
})()`;

interface RoundTrip {
  /** keydown until the DOM showed the outcome with the next card focused. */
  shownMs: number;
  /** keydown until the start of the frame painting it. */
  frameMs: number;
  /** The decision's request: sent until its first response byte (the server's share). */
  serverMs: number;
  /** The decision's request: sent until its response was read. */
  fetchMs: number;
  /** POST /graphql requests the page started from this key until the next (a next page, now and then). */
  requests: number;
}

interface RequestTiming {
  start: number;
  requestStart: number;
  responseStart: number;
  end: number;
}

/** The server's own timing of an operation, from /metrics: count and summed seconds. */
async function operationTotals(base: string, operation: string) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const read = (suffix: string) => {
    const line = text
      .split('\n')
      .find((l) =>
        l.startsWith(
          `tagwise_graphql_request_duration_seconds_${suffix}{operation="${operation}"}`,
        ),
      );
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  return { count: read('count'), seconds: read('sum') };
}

interface OrderingRun {
  order: string;
  rounds: RoundTrip[];
  /** Mean server time of ApproveSuggestion over the run, from /metrics. */
  metricsMeanMs: number;
  outcome: string;
}

/**
 * Opens /queue in `order` signed in as the reviewer and presses `a` `count` times, one round trip
 * after the other, as a reviewer approving as fast as the page allows.
 */
async function decideByKeyboard(
  browser: Browser,
  base: string,
  apiKey: string,
  order: string,
  count: number,
): Promise<OrderingRun> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.addInitScript({
      content: `sessionStorage.setItem(${JSON.stringify(STORAGE_KEY)}, ${JSON.stringify(apiKey)});`,
    });
    await page.addInitScript({ content: REQUEST_LOG_SCRIPT });
    await page.goto(`${base}/queue?order=${order}`, { timeout: 120_000 });
    await page.locator(`${CARD}[aria-current="true"]`).waitFor({ timeout: 120_000 });
    const before = await operationTotals(base, 'ApproveSuggestion');
    const raw: { id: string; keydown: number; shown: number; frame: number }[] = [];
    let outcome = '';
    for (let i = 0; i < count; i++) {
      const id = (await page.evaluate(ARM_SCRIPT)) as string;
      await page.keyboard.press('a');
      await page.waitForFunction('window.__benchRound.frame !== undefined', null, {
        timeout: 60_000,
      });
      const round = (await page.evaluate('window.__benchRound')) as {
        keydown: number;
        shown: number;
        frame: number;
        failed?: string;
        outcome?: string;
      };
      if (round.failed) throw new Error(`suggestion ${id} was not decided: ${round.failed}`);
      outcome = round.outcome ?? '';
      raw.push({ id, keydown: round.keydown, shown: round.shown, frame: round.frame });
    }
    // Read once at the end: a next page started after one round trip may end during the next.
    await page.waitForLoadState('networkidle');
    const requests = (await page.evaluate('window.__benchRequests')) as RequestTiming[];
    const rounds = raw.map((round, i): RoundTrip => {
      const until = raw[i + 1]?.keydown ?? Infinity;
      const decision = requests.find((r) => r.start >= round.keydown && r.start <= round.shown);
      if (!decision) throw new Error(`no request was seen for the decision of ${round.id}`);
      return {
        shownMs: round.shown - round.keydown,
        frameMs: round.frame - round.keydown,
        serverMs: decision.responseStart - decision.requestStart,
        fetchMs: decision.end - decision.start,
        // Started from this key until the next: the decision and whatever its outcome set off.
        requests: requests.filter((r) => r.start >= round.keydown && r.start < until).length,
      };
    });
    const after = await operationTotals(base, 'ApproveSuggestion');
    const approvals = after.count - before.count;
    return {
      order,
      rounds,
      metricsMeanMs: approvals > 0 ? ((after.seconds - before.seconds) * 1000) / approvals : NaN,
      outcome,
    };
  } finally {
    await context.close();
  }
}

/**
 * From the Sign in button's click until the queue shows its first suggestion: the sign-in's
 * `viewer` request, the redirect to /queue and the first page of the queue, in a tab that has
 * loaded the console (cold each time: a fresh context).
 */
async function signInToQueue(browser: Browser, base: string, apiKey: string): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < LOADS; i++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    try {
      const page = await context.newPage();
      await page.goto(`${base}/`);
      await page.getByLabel('API key').fill(apiKey);
      await page.evaluate(`(() => {
        window.addEventListener('click', (e) => { window.__benchClick = e.timeStamp; },
          { once: true, capture: true });
        const observer = new MutationObserver(() => {
          if (document.querySelector(${JSON.stringify(CARD)})) {
            window.__benchShown = performance.now();
            observer.disconnect();
          }
        });
        observer.observe(document.body, { subtree: true, childList: true });
      })()`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForFunction('window.__benchShown !== undefined', null, { timeout: 120_000 });
      times.push((await page.evaluate('window.__benchShown - window.__benchClick')) as number);
    } finally {
      await context.close();
    }
  }
  return times;
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
    series.warm.push(await loadPage(context, url, ready, { apiKey, warm: true }));
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

function describeBuild(build: Build | null): string {
  if (!build)
    return 'How long the data set took to build is not known (built before this bench kept it).';
  const total = build.steps.reduce((sum, s) => sum + s.seconds, 0);
  return (
    `The data set was built from an empty cluster on ${build.at.slice(0, 16).replace('T', ' ')} UTC in ` +
    `${(total / 60).toFixed(1)} min (one-minute load average ${build.load.toFixed(1)} at the start, ` +
    `nice ${build.nice}, sharing the host): ` +
    `${build.steps.map((s) => `${s.step} ${s.seconds.toFixed(0)} s`).join(', ')}.`
  );
}

function spread(values: number[]): string {
  return [50, 95, 99].map((p) => percentile(values, p).toFixed(1)).join(' / ') + ' ms';
}

function decisionRow(run: OrderingRun & { load: number }): string {
  const other = run.rounds.reduce((total, r) => total + r.requests - 1, 0);
  return (
    `| ${run.order} | ${spread(run.rounds.map((r) => r.shownMs))} | ` +
    `${spread(run.rounds.map((r) => r.frameMs))} | ${spread(run.rounds.map((r) => r.serverMs))} | ` +
    `${median(run.rounds.map((r) => r.fetchMs)).toFixed(1)} ms | ${run.metricsMeanMs.toFixed(1)} ms | ` +
    `${other} in ${run.rounds.length} | ${run.load.toFixed(1)} |`
  );
}

function requestList(load: PageLoad): string {
  return load.transfers
    .filter((t) => !t.fromCache)
    .map((t) =>
      t.failed
        ? `\`${new URL(t.url).pathname}\` not completed (${t.failed})`
        : `\`${new URL(t.url).pathname}\` ${t.status} ${kB(t.body)} (gzip ${kB(t.gzip)})${t.worker ? ', a worker' : ''}`,
    )
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
    // As `npm start` runs for a newcomer: under NODE_ENV=production GraphiQL is off by default,
    // and Apollo refuses the introspection its schema docs need even when switched on.
    env: { NODE_ENV: undefined },
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
    const queuePage = await measureLoads(
      browser,
      'console /queue, signed-in tab',
      `${server.url}/queue`,
      CARD,
      queue.reviewerKey,
    );
    const toQueue = await signInToQueue(browser, server.url, queue.reviewerKey);
    const loadAfter = os.loadavg();
    const runs: (OrderingRun & { load: number })[] = [];
    for (const order of ORDERS) {
      const load = os.loadavg()[0]!;
      const run = await decideByKeyboard(browser, server.url, queue.reviewerKey, order, DECISIONS);
      console.error(
        `${order}: p50 ${median(run.rounds.map((r) => r.shownMs)).toFixed(1)} ms, ` +
          `server p50 ${median(run.rounds.map((r) => r.serverMs)).toFixed(1)} ms`,
      );
      runs.push({ ...run, load });
    }
    const loadEnd = os.loadavg();
    const pendingAfter = await countPending(queue.url);
    const compressed = [...signIn.cold, ...graphiql.cold, ...queuePage.cold].some((l) =>
      l.transfers.some((t) => t.encoding !== null),
    );
    const revision = execSync('git rev-parse --short HEAD', { cwd: ROOT }).toString().trim();
    const body = `
Command: \`node --import ./bin/register.js bench/console.ts\` (also in \`npm run bench\`; \`BENCH_CONSOLE_LOADS=${LOADS}\`, \`BENCH_CONSOLE_DECISIONS=${DECISIONS}\`). Data set of \`bench/scoring.ts\` with \`bench/suggest.ts\`'s dense model: ${queue.customers.toLocaleString('en-US')} customers, ${queue.pending.toLocaleString('en-US')} pending suggestions.

Run ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at ${revision}: ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), Node ${process.version}, Chromium ${browser.version()} headless through playwright-core, the API as \`npm start\` starts it (one API process, \`NODE_ENV\` unset as for \`npm start\` from a clone, so GraphiQL is served and may introspect) on 127.0.0.1, web/dist as \`npm run build:web\` builds it. One-minute load average ${loadBefore[0]!.toFixed(1)} before the measurements and ${loadAfter[0]!.toFixed(1)} after (${loadAtStart[0]!.toFixed(1)} when the bench started): the host is shared, and its speed drifts by ±20 % even when quiet.

**First load.** Ready is the time from navigation start until the page is usable, seen from inside the page: a MutationObserver installed before any page script notes \`performance.now()\` when the element first exists and is not disabled — for the console, the sign-in form's key field (\`${SIGN_IN_READY}\`; React has mounted and the form takes input); for GraphiQL, opened in a tab already signed in, its query editor (\`${GRAPHIQL_READY}\`: Monaco has drawn it). Cold: a fresh browser context (empty cache). Warm: a new page of a context that loaded the page before. Median of ${LOADS} loads each (range in brackets), after one uncounted load. Sizes count every HTTP request until the network was idle for 500 ms; the server ${compressed ? 'compresses some responses (Content-Encoding)' : 'sends no response compressed (no Content-Encoding)'}, so "gzip" is each body gzipped at zlib's default level, as the \`compression\` middleware would send it. GraphiQL's three editor workers fetch their scripts in the workers, whose responses the page's DevTools session does not see: they count at their size in web/dist, fetched once when cold (a second worker of the same script takes it from the cache) and cached when warm (like every hashed asset).

| page | requests | bodies | on the wire (with headers) | gzip | ready, median (range) | DOMContentLoaded | load |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${[...loadRows(signIn), ...loadRows(queuePage), ...loadRows(graphiql)].join('\n')}

Console, cold: ${requestList(signIn.cold[0]!)}. Warm, the page itself only (its assets are named by content hash and cached for a year): ${requestList(signIn.warm[0]!)}.

/queue in a signed-in tab (the key already in the tab's sessionStorage), ready when the first suggestion's card is in the page (\`${CARD}\`), cold: ${requestList(queuePage.cold[0]!)}.

GraphiQL, cold: ${requestList(graphiql.cold[0]!)}.

From the Sign in button's click (the click event's time stamp) until the queue shows its first suggestion — the \`viewer\` request, the redirect to /queue, the queue's first page — in a console loaded cold: median ${ms(median(toQueue))} (${ms(Math.min(...toQueue))}–${ms(Math.max(...toQueue))}, ${toQueue.length} sign-ins).

**Decisions by keyboard.** Signed in as a REVIEWER key, /queue opened in each ordering, then \`a\` pressed ${DECISIONS} times in a row, each press once the previous decision showed. A round trip runs from the keydown event's time stamp (when the browser took the key, before any page code) until the DOM shows the decided card's outcome (class \`decided\` and its "Approved by …" note) with the next card current (\`aria-current\`) and focused, seen by a MutationObserver and a focusin listener armed before the press; "frame" adds the wait for the next animation frame, the one that paints it. The server's share is the decision's own request (\`approveSuggestion\`, the first POST /graphql after the key) from sending it to its first response byte, from the page's Resource Timing on 127.0.0.1 (no network to speak of); /metrics' mean is the API's own \`tagwise_graphql_request_duration_seconds\` for ApproveSuggestion over the same decisions. Other requests: those the page started between one key and the next besides the decision (the next page, as the focus nears the end of what is loaded). Pending suggestions: ${queue.pending.toLocaleString('en-US')} before, ${pendingAfter.toLocaleString('en-US')} after (one-minute load average ${loadAfter[0]!.toFixed(1)} before the decisions, ${loadEnd[0]!.toFixed(1)} after).

| ordering | round trip p50 / p95 / p99 | to the painting frame p50 / p95 / p99 | server (to first byte) p50 / p95 / p99 | request sent to read, p50 | /metrics mean | other requests | load before |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
${runs.map(decisionRow).join('\n')}

The last outcome shown: "${runs.at(-1)!.outcome}".

${describeBuild(queue.build)} In this run (a step already done costs only its check): ${queue.steps.map((s) => `${s.step} ${s.seconds.toFixed(1)} s`).join(', ')}.
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
