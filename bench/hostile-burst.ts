// `npm run bench` (hostile-burst.ts): what 1,000 hostile requests do to everyone else's latency
// (issue 14, item 5). The API runs as `npm start` starts it, with every limit at its default.
import 'reflect-metadata';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCpuProbe, postmasterPid, type CpuSplit } from './cpu.js';
import { writeSection } from './report.js';
import {
  envInt,
  prepareDatabase,
  startServer,
  withClient,
  type ServerProcess,
  runBench,
} from './setup.js';
import type { DatabaseHandle } from '../src/config/database.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Hostile burst against default limits (issue 14, item 5)';
const ADMIN_KEY = 'tagwise-bench-admin-key';
/** Normal p99 during the bursts may be at most this many times the quiet p99. */
const MAX_RATIO = 3;

const settings = {
  dataDir: path.resolve(ROOT, process.env.BENCH_DATA_DIR ?? '.data/bench'),
  pgPort: envInt('BENCH_PG_PORT', 5439, 1),
  port: envInt('BENCH_PORT', 4091, 1),
  customers: envInt('BENCH_CUSTOMERS', 100_000, 50),
  connections: envInt('BENCH_CONNECTIONS', 16, 2),
  /** Of the connections, those sending hostile requests during a burst. */
  hostileConnections: envInt('BENCH_HOSTILE_CONNECTIONS', 4, 1),
  hostileRequests: envInt('BENCH_HOSTILE_REQUESTS', 1000, 1),
  /** Bursts, each between quiet phases: quiet, burst, quiet, burst, …, quiet. */
  bursts: envInt('BENCH_BURSTS', 4, 1),
  quietSeconds: envInt('BENCH_QUIET_SECONDS', 8, 1),
  warmupSeconds: envInt('BENCH_WARMUP', 3),
  apiProcesses: envInt('BENCH_API_PROCESSES', os.availableParallelism(), 1),
  /** Keys the normal traffic spreads over: a few integrations and user interfaces. */
  normalKeys: envInt('BENCH_NORMAL_KEYS', 8, 1),
  // One hostile key: its concurrent expensive operations meet the per-key cap.
  hostileKeys: envInt('BENCH_HOSTILE_KEYS', 1, 1),
};

interface Answer {
  status: number;
  ms: number;
  /** GraphQL errors[0].extensions.code, or what went wrong on the socket. */
  code: string | null;
  limit: string | null;
  body: string;
}

function post(
  agent: http.Agent,
  base: URL,
  body: string | Buffer,
  key: string,
  contentType = 'application/json',
): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve) => {
    // A reset or refused connection: what a hostile request must never cause.
    const dropped = (error: NodeJS.ErrnoException) =>
      resolve({
        status: 0,
        ms: performance.now() - started,
        code: error.code ?? 'ERROR',
        limit: null,
        body: '',
      });
    const req = http.request(
      {
        agent,
        host: base.hostname,
        port: base.port,
        path: '/graphql',
        method: 'POST',
        headers: {
          'content-type': contentType,
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${key}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let code: string | null = null;
          let limit: string | null = null;
          try {
            const parsed = JSON.parse(text) as {
              errors?: { extensions?: { code?: string; limit?: string } }[];
            };
            code = parsed.errors?.[0]?.extensions?.code ?? null;
            limit = parsed.errors?.[0]?.extensions?.limit ?? null;
          } catch {
            code = 'NOT_JSON';
          }
          resolve({
            status: res.statusCode ?? 0,
            ms: performance.now() - started,
            code,
            limit,
            body: text,
          });
        });
        res.on('error', dropped);
      },
    );
    req.on('error', dropped);
    req.end(body);
  });
}

const json = (query: string, variables?: Record<string, unknown>) =>
  JSON.stringify(variables ? { query, variables } : { query });

// What a CRM screen asks for: a customers page with tags, the review queue, the tag list.
const NORMAL_NAMES = ['customers page', 'review queue', 'tag list'];
const NORMAL = [
  json(
    '{ customers(first: 20) { totalCount edges { node { id name email region tags { source tag { key name category { key } } } } } pageInfo { endCursor } } }',
  ),
  json(
    '{ reviewQueue(first: 20) { totalCount edges { node { id confidence status tag { key } customer { id name } } } } }',
  ),
  json(
    '{ tags(first: 50) { totalCount edges { node { id key name color category { key name } } } } }',
  ),
];

interface Hostile {
  kind: string;
  body: string | Buffer;
  contentType?: string;
}

const PREVIEW = (alias: string) =>
  `${alias}: previewSegment(definition: { text: "region = \\"North\\" AND company_size >= 50" }) { count sample { id name } }`;

/** Kinds of hostile request, each with how many of every 50 sent are of it. */
function hostileKinds(maxBodyBytes: number): [Hostile, number][] {
  const fragmentBomb = (aliased: boolean) => {
    const levels = 40;
    const fragments = Array.from(
      { length: levels },
      (_, i) => `fragment F${i} on Tag { ...F${i + 1} ...F${i + 1} }`,
    );
    fragments.push(
      `fragment F${levels} on Tag { ${aliased ? Array.from({ length: 10 }, (_, i) => `k${i}: key`).join(' ') : 'key name'} }`,
    );
    return `{ tags(first: 5) { edges { node { ...F0 } } } } ${fragments.join(' ')}`;
  };
  const injections = [
    "' or 1=1; drop table customer; --",
    "\\'; select pg_sleep(30); --",
    '%_%_%_%_%_%_%_%_%_%_%_%_%_%_%_%',
    "x') union select password from pg_shadow --",
  ];
  return [
    [
      {
        kind: '1,000 aliased previewSegment',
        body: json(`{ ${Array.from({ length: 1000 }, (_, i) => PREVIEW(`p${i}`)).join(' ')} }`),
      },
      6,
    ],
    [
      {
        kind: '5 aliased previewSegment',
        body: json(`{ ${[0, 1, 2, 3, 4].map((i) => PREVIEW(`p${i}`)).join(' ')} }`),
      },
      4,
    ],
    [
      {
        kind: '4 aliased previewSegment (within cost)',
        body: json(`{ ${[0, 1, 2, 3].map((i) => PREVIEW(`p${i}`)).join(' ')} }`),
      },
      4,
    ],
    [
      {
        kind: '1,000 aliases in one node',
        body: json(
          `{ tags(first: 1) { edges { node { ${Array.from({ length: 1000 }, (_, i) => `a${i}: key`).join(' ')} } } } }`,
        ),
      },
      3,
    ],
    [
      {
        kind: 'nesting 60 deep',
        body: json(
          `{ tagCategories { edges { node { ${'parent { '.repeat(60)}key${' }'.repeat(60)} } } } }`,
        ),
      },
      4,
    ],
    [{ kind: 'fragment bomb (2^40 spreads)', body: json(fragmentBomb(false)) }, 3],
    [{ kind: 'fragment bomb with aliases', body: json(fragmentBomb(true)) }, 3],
    [
      {
        kind: `body over the limit (${maxBodyBytes + 1024} bytes)`,
        body: Buffer.alloc(maxBodyBytes + 1024, 0x20),
      },
      1,
    ],
    ...injections.map((s, i): [Hostile, number] => [
      {
        kind: `injection-shaped search ${i + 1}`,
        body: json(
          'query($s: String) { customers(filter: { search: $s }) { totalCount edges { node { id } } } }',
          { s },
        ),
      },
      2,
    ]),
    [
      {
        kind: 'injection-shaped attribute key',
        body: json(
          'query($k: String!) { customers(filter: { attributes: [{ key: $k, op: EQ, value: "x" }] }) { edges { node { id } } } }',
          { k: "plan') or ('1'='1" },
        ),
      },
      2,
    ],
    [
      {
        kind: 'injection-shaped condition text',
        body: json('query($t: String!) { previewSegment(definition: { text: $t }) { count } }', {
          t: `region = "x' or '1'='1" OR tag:"'; drop table tag; --"`,
        }),
      },
      2,
    ],
    [{ kind: 'malformed JSON', body: '{"query": "{ tags { totalCount } }", "variables": {' }, 4],
    [
      {
        kind: 'NUL bytes in a search',
        body: json(
          'query($s: String) { customers(filter: { search: $s }) { edges { node { id } } } }',
          {
            s: 'abc\u0000def',
          },
        ),
      },
      4,
    ],
  ];
}

function hostileQueue(total: number, maxBodyBytes: number): Hostile[] {
  const kinds = hostileKinds(maxBodyBytes);
  const cycle = kinds.flatMap(([h, n]) => Array.from({ length: n }, () => h));
  // Interleaved, so each burst sees every kind.
  return Array.from({ length: total }, (_, i) => cycle[(i * 7) % cycle.length]!);
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface NormalRecord {
  /** Index into NORMAL. */
  query: number;
  ms: number;
  ok: boolean;
  detail: string;
}

/** Normal traffic on `connections` connections until `stop()` is true. */
async function normalTraffic(
  agent: http.Agent,
  base: URL,
  keys: string[],
  connections: number,
  stop: () => boolean,
  into: NormalRecord[],
): Promise<void> {
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      for (let i = c; !stop(); i++) {
        const query = i % NORMAL.length;
        const a = await post(agent, base, NORMAL[query]!, keys[c % keys.length]!);
        const ok = a.status === 200 && a.code === null;
        into.push({
          query,
          ms: a.ms,
          ok,
          detail: ok ? '' : `${a.status} ${a.code ?? ''} ${a.body.slice(0, 200)}`,
        });
      }
    }),
  );
}

async function createKeys(base: URL, n: number, name: string): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = await post(
      agent,
      base,
      json('mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { key } }', {
        i: { name: `${name}-${i}-${Date.now()}`, role: 'VIEWER' },
      }),
      ADMIN_KEY,
    );
    const key = (JSON.parse(a.body) as { data?: { createApiKey?: { key: string } } }).data
      ?.createApiKey?.key;
    if (!key) throw new Error(`creating a key failed: ${a.body}`);
    keys.push(key);
  }
  agent.destroy();
  return keys;
}

async function main(): Promise<void> {
  let database: DatabaseHandle | undefined;
  let server: ServerProcess | undefined;
  const cleanup = async () => {
    await server?.stop().catch((e: unknown) => console.error('stopping the server:', e));
    server = undefined;
    await database?.stop().catch((e: unknown) => console.error('stopping PostgreSQL:', e));
    database = undefined;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  }
  try {
    const db = await prepareDatabase({
      dataDir: settings.dataDir,
      port: settings.pgPort,
      customers: settings.customers,
    });
    database = db.handle;
    const suggestions = await withClient(db.handle.url, async (c) => {
      const { rows } = await c.query<{ n: string }>(
        "select count(*) as n from tag_suggestion where status = 'PENDING'",
      );
      return Number(rows[0]!.n);
    });
    server = await startServer({
      root: ROOT,
      databaseUrl: db.handle.url,
      port: settings.port,
      apiKey: ADMIN_KEY,
      processes: settings.apiProcesses,
      // Every limit at its default, the per-key rate limit included: hostile keys are subject to
      // it as they would be in production; normal traffic spreads over several keys, as several
      // integrations and screens would, each well under it.
      env: { TAGWISE_RATE_LIMIT: undefined },
    });
    const base = new URL(server.url);
    const normalKeys = await createKeys(base, settings.normalKeys, 'bench-normal');
    const hostileKeys = await createKeys(base, settings.hostileKeys, 'bench-hostile');
    const maxBodyBytes = 25 * 1024 ** 2;

    const normalConnections = settings.connections - settings.hostileConnections;
    const agent = new http.Agent({ keepAlive: true, maxSockets: settings.connections });
    const hostileAgent = new http.Agent({
      keepAlive: true,
      maxSockets: settings.hostileConnections,
    });

    // Warm-up: JIT, plans, pools.
    const warm: NormalRecord[] = [];
    const warmEnd = Date.now() + settings.warmupSeconds * 1000;
    await normalTraffic(
      agent,
      base,
      normalKeys,
      settings.connections,
      () => Date.now() > warmEnd,
      warm,
    );

    const quiet: NormalRecord[] = [];
    const burst: NormalRecord[] = [];
    const outcomes = new Map<string, Map<string, number>>();
    const queue = hostileQueue(settings.hostileRequests, maxBodyBytes);
    const perBurst = Math.ceil(queue.length / settings.bursts);
    const burstSeconds: number[] = [];
    // Who used the cores in each kind of phase: on 2 shared cores, other people's work shows.
    const probe = createCpuProbe({
      api: server.pid,
      postmaster: postmasterPid(path.join(settings.dataDir, 'pg')),
    });
    const cpu = { quiet: [] as CpuSplit[], burst: [] as CpuSplit[] };
    const runQuiet = async () => {
      const end = Date.now() + settings.quietSeconds * 1000;
      probe?.start();
      await normalTraffic(
        agent,
        base,
        normalKeys,
        settings.connections,
        () => Date.now() > end,
        quiet,
      );
      if (probe) cpu.quiet.push(probe.stop());
    };
    for (let b = 0; b < settings.bursts; b++) {
      await runQuiet();
      const batch = queue.slice(b * perBurst, (b + 1) * perBurst);
      let next = 0;
      let done = false;
      const started = performance.now();
      probe?.start();
      const normal = normalTraffic(agent, base, normalKeys, normalConnections, () => done, burst);
      await Promise.all(
        Array.from({ length: settings.hostileConnections }, async (_, c) => {
          while (next < batch.length) {
            const h = batch[next]!;
            const key = hostileKeys[next % hostileKeys.length]!;
            next++;
            const a = await post(hostileAgent, base, h.body, key, h.contentType);
            const outcome = `${a.status} ${a.code ?? 'data'}${a.limit ? ` (${a.limit})` : ''}`;
            const byOutcome = outcomes.get(h.kind) ?? new Map<string, number>();
            byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
            outcomes.set(h.kind, byOutcome);
            void c;
          }
        }),
      );
      done = true;
      await normal;
      if (probe) cpu.burst.push(probe.stop());
      burstSeconds.push((performance.now() - started) / 1000);
    }
    await runQuiet();
    agent.destroy();
    hostileAgent.destroy();
    await cleanup();

    const quietP99 = percentile(
      quiet.map((r) => r.ms),
      99,
    );
    const burstP99 = percentile(
      burst.map((r) => r.ms),
      99,
    );
    const quietP50 = percentile(
      quiet.map((r) => r.ms),
      50,
    );
    const burstP50 = percentile(
      burst.map((r) => r.ms),
      50,
    );
    const ratio = burstP99 / quietP99;
    const failed = [...quiet, ...burst].filter((r) => !r.ok);
    const internal = [...outcomes.values()].flatMap((m) =>
      [...m.entries()].filter(([o]) => /^5|INTERNAL_SERVER_ERROR|^0 /.test(o)),
    );
    const byCode = new Map<string, number>();
    for (const m of outcomes.values()) {
      for (const [o, n] of m) byCode.set(o, (byCode.get(o) ?? 0) + n);
    }
    const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
    const kindRows = [...outcomes.entries()].map(
      ([kind, m]) =>
        `| ${kind} | ${[...m.values()].reduce((a, b) => a + b, 0)} | ${[...m.entries()].map(([o, n]) => `${o}: ${n}`).join('; ')} |`,
    );
    const codeRows = [...byCode.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([o, n]) => `| ${o} | ${n} |`);
    const model = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    // Cores used on average over a kind of phase, weighted by each phase's length.
    const cores = (splits: CpuSplit[], part: keyof Omit<CpuSplit, 'seconds'>) => {
      const seconds = splits.reduce((a, c) => a + c.seconds, 0);
      return seconds > 0 ? splits.reduce((a, c) => a + c[part] * c.seconds, 0) / seconds : 0;
    };
    const cpuRow = (name: string, splits: CpuSplit[]) =>
      `| ${name} | ${(['api', 'postgres', 'bench', 'other'] as const).map((p) => cores(splits, p).toFixed(2)).join(' | ')} |`;
    const cpuTable = probe
      ? `Cores used on average (out of 2; "other processes" is everything on the machine that is not this bench, its API or its PostgreSQL):

| phases | API | PostgreSQL | bench client | other processes |
| --- | ---: | ---: | ---: | ---: |
${cpuRow('quiet', cpu.quiet)}
${cpuRow('bursts', cpu.burst)}
${
  cores(cpu.quiet, 'other') > 0.25
    ? `
Other processes took ${cores(cpu.quiet, 'other').toFixed(2)} of the 2 cores in quiet phases and ${cores(cpu.burst, 'other').toFixed(2)} in bursts: the latencies are those of a host shared with other work, several times an idle one's; the ratio between interleaved phases is what this run measures.
`
    : ''
}
`
      : '';
    const body = `Command: \`npm run bench\` (\`bench/hostile-burst.ts\`; \`BENCH_CONNECTIONS=${settings.connections}\`, \`BENCH_HOSTILE_CONNECTIONS=${settings.hostileConnections}\`, \`BENCH_HOSTILE_REQUESTS=${settings.hostileRequests}\`, \`BENCH_BURSTS=${settings.bursts}\`, \`BENCH_QUIET_SECONDS=${settings.quietSeconds}\`, \`BENCH_API_PROCESSES=${settings.apiProcesses}\`).

Run ${new Date().toISOString().slice(0, 10)} on a 2-core machine (${os.availableParallelism()} cores, ${model}, Node ${process.version}), ${db.customers.toLocaleString('en-US')} demo customers (\`seedDemo\`, seed 42), ${suggestions.toLocaleString('en-US')} pending suggestions. The API runs as \`npm start\` starts it, \`NODE_ENV=production\`, every limit at its default (cost 100,000 with scan weights, depth 12, 50 aliases, 20 root fields, 25 MiB bodies, 6,000 requests a minute per key, statement timeout 15 s, 1 expensive operation at once per key and API process, on a pool of 4 connections apart from the other requests' 10). Normal traffic — a customers page with tags and totalCount, the review queue with totalCount, a tag list, in turn — spreads over ${settings.normalKeys} VIEWER keys; hostile requests come from ${settings.hostileKeys === 1 ? 'one other key' : `${settings.hostileKeys} other keys`}. Quiet phases run normal traffic on all ${settings.connections} connections for ${settings.quietSeconds} s; each of ${settings.bursts} bursts sends ${perBurst} hostile requests on ${settings.hostileConnections} connections, as fast as they are answered, while normal traffic keeps the other ${normalConnections} (${settings.connections} in total). Phases alternate (quiet, burst, …, quiet) so that drift of the host's speed falls on both; bursts took ${burstSeconds.map((s) => s.toFixed(1)).join(', ')} s.

| normal traffic | requests | p50 ms | p99 ms | failed |
| --- | ---: | ---: | ---: | ---: |
| quiet | ${quiet.length} | ${quietP50.toFixed(1)} | ${quietP99.toFixed(1)} | ${quiet.filter((r) => !r.ok).length} |
| during bursts | ${burst.length} | ${burstP50.toFixed(1)} | ${burstP99.toFixed(1)} | ${burst.filter((r) => !r.ok).length} |
${NORMAL_NAMES.flatMap((name, q) =>
  (
    [
      ['quiet', quiet],
      ['bursts', burst],
    ] as const
  ).map(([phase, records]) => {
    const ms = records.filter((r) => r.query === q).map((r) => r.ms);
    return `| ${name}, ${phase} | ${ms.length} | ${percentile(ms, 50).toFixed(1)} | ${percentile(ms, 99).toFixed(1)} | ${records.filter((r) => r.query === q && !r.ok).length} |`;
  }),
).join('\n')}

| target | measured | |
| --- | --- | --- |
| burst p99 < ${MAX_RATIO}× quiet p99 | ${ratio.toFixed(2)}× (${burstP99.toFixed(1)} / ${quietP99.toFixed(1)} ms) | ${mark(ratio < MAX_RATIO)} |
| no failed normal request | ${failed.length} | ${mark(failed.length === 0)} |
| no hostile request answered 5xx, INTERNAL_SERVER_ERROR or a dropped connection | ${internal.reduce((a, [, n]) => a + n, 0)} | ${mark(internal.length === 0)} |

${cpuTable}Hostile outcomes by HTTP status and code (limit):

| outcome | requests |
| --- | ---: |
${codeRows.join('\n')}

By kind:

| hostile request | sent | outcomes |
| --- | ---: | --- |
${kindRows.join('\n')}

Reading it: everything but the scans a key may run is refused before any SQL, with the code and
the setting that refused it. With defaults, 1,000 aliased previews are stopped by the root-field
limit first (with that and the alias limit raised, cost refuses them: 20 million against 100,000,
see test/integration/expensive-limits.test.ts). Five previews are over the cost limit; four fit
and run (eight scans of the customers, on the expensive operations' pool), as do attribute filters
with injection-shaped strings, which are bound values, never SQL; searches answer FORBIDDEN, the
hostile key having no PII permission (a search would probe names and emails); expensive
operations beyond
${'`'}TAGWISE_MAX_EXPENSIVE_PER_KEY${'`'} at once for the hostile key in one API process answer 429
CONCURRENCY_LIMITED. The fragment bomb answers at once: each fragment is measured once.
`;
    console.log(body);
    for (const f of failed.slice(0, 5)) console.error(`failed normal request: ${f.detail}`);
    await writeSection(path.join(ROOT, 'BENCHMARKS.md'), SECTION, body);
    console.log('BENCHMARKS.md updated');
    if (ratio >= MAX_RATIO || failed.length > 0 || internal.length > 0) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

runBench(main);
