// `npm run bench`: read throughput of the GraphQL API against a seeded embedded PostgreSQL.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, type BenchQuery, type Measurement } from './load.js';
import { resultsTable, writeSection } from './report.js';
import { prepareDatabase, startServer, withClient, type ServerProcess } from './setup.js';
import type { DatabaseHandle } from '../src/config/database.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## customers(first: 50) with tags and categories (issue 2)';
// A throw-away cluster of its own, so a fixed key is enough and no key rows pile up across runs.
const API_KEY = 'tagwise-bench-admin-key';

function envInt(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be a whole number ≥ ${min}`);
  return n;
}

const settings = {
  dataDir: path.resolve(ROOT, process.env.BENCH_DATA_DIR ?? '.data/bench'),
  pgPort: envInt('BENCH_PG_PORT', 5439, 1),
  port: envInt('BENCH_PORT', 4090, 1),
  customers: envInt('BENCH_CUSTOMERS', 100_000, 50),
  durationSeconds: envInt('BENCH_DURATION', 15, 1),
  warmupSeconds: envInt('BENCH_WARMUP', 3),
  connections: envInt('BENCH_CONNECTIONS', 16, 1),
  /** Comma-separated query names; a partial run does not touch BENCHMARKS.md. */
  only: process.env.BENCH_QUERIES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  /** Writes a V8 CPU profile of the server to bench/results/; such a run is not recorded. */
  cpuProf: process.env.BENCH_CPU_PROF === '1',
};

const CUSTOMER_FIELDS = `edges { cursor node { id externalId name email region tags { source confidence appliedAt appliedBy tag { id key name color category { id key name exclusive } } } } } pageInfo { hasNextPage endCursor }`;

interface CustomersData {
  customers: {
    totalCount?: number;
    edges: { node: { tags: { tag: { category: { id: string } | null } | null }[] } }[];
  };
}

function checkCustomers(data: unknown): string {
  const { customers } = data as CustomersData;
  const edges = customers.edges;
  if (edges.length !== 50) throw new Error(`expected 50 customers, got ${edges.length}`);
  let tags = 0;
  for (const { node } of edges) {
    for (const applied of node.tags) {
      if (!applied.tag?.category) throw new Error('an applied tag came back without its category');
      tags += 1;
    }
  }
  if (tags === 0)
    throw new Error('none of the 50 customers has a tag: the seed did not apply tags');
  const count = customers.totalCount === undefined ? '' : `, totalCount ${customers.totalCount}`;
  return `50 customers, ${tags} applied tags${count}`;
}

const QUERIES: BenchQuery[] = [
  {
    name: 'customers(first: 50) + tags + categories',
    query: `query { customers(first: 50) { totalCount ${CUSTOMER_FIELDS} } }`,
    check: checkCustomers,
  },
  {
    name: 'same, without totalCount',
    query: `query { customers(first: 50) { ${CUSTOMER_FIELDS} } }`,
    check: checkCustomers,
  },
  {
    name: 'trivial `{ __typename }`',
    query: '{ __typename }',
    check: (data) => {
      if ((data as { __typename?: string }).__typename !== 'Query')
        throw new Error('no __typename');
      return '__typename Query';
    },
  },
];

function nproc(): string {
  try {
    return execFileSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    return String(os.availableParallelism());
  }
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

function sectionBody(
  results: Measurement[],
  facts: {
    date: string;
    nproc: string;
    cpu: string;
    node: string;
    postgres: string;
    customers: number;
  },
): string {
  const headline = results[0]!;
  const trivial = results[results.length - 1]!;
  const r = ratio(headline.requestsPerSecond, trivial.requestsPerSecond);
  const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
  return `Command: \`npm run bench\` (\`BENCH_DURATION=${settings.durationSeconds}\`, \`BENCH_WARMUP=${settings.warmupSeconds}\`, \`BENCH_CONNECTIONS=${settings.connections}\`, \`BENCH_CUSTOMERS=${settings.customers}\`).

Run ${facts.date} on a 2-core machine: \`nproc\` = ${facts.nproc}, ${facts.cpu}, Node ${facts.node}, embedded PostgreSQL ${facts.postgres}, ${facts.customers.toLocaleString('en-US')} customers seeded (\`seedDemo\`, seed 42). The API runs in its own process (\`node --import ./bin/register.js src/main.ts\`, \`NODE_ENV=production\`, \`LOG_LEVEL=warn\`); autocannon, the API and PostgreSQL share the same 2 cores. Each query: ${settings.warmupSeconds} s warm-up, then ${settings.durationSeconds} s with ${settings.connections} connections, \`POST /graphql\` on 127.0.0.1 with an admin API key. Errors count socket errors, timeouts, non-2xx answers and 200 answers carrying GraphQL \`errors\`; idle ms is the median of 5 sequential requests before the load.

${resultsTable(results)}

Customers / trivial: **${r.toFixed(2)}×** (${headline.requestsPerSecond.toFixed(1)} / ${trivial.requestsPerSecond.toFixed(1)} req/s).

| target | measured | |
| --- | --- | --- |
| ≥ 300 req/s | ${headline.requestsPerSecond.toFixed(1)} req/s | ${mark(headline.requestsPerSecond >= 300)} |
| p99 < 150 ms | ${headline.p99.toFixed(1)} ms | ${mark(headline.p99 < 150)} |
| ≥ 0.5× trivial | ${r.toFixed(2)}× | ${mark(r >= 0.5)} |

The headline query:

\`\`\`graphql
${QUERIES[0]!.query}
\`\`\`
`;
}

async function main(): Promise<void> {
  const queries = settings.only
    ? QUERIES.filter((q) => settings.only!.some((o) => q.name.startsWith(o)))
    : QUERIES;
  if (queries.length === 0)
    throw new Error(`BENCH_QUERIES matched none of: ${QUERIES.map((q) => q.name).join('; ')}`);

  let database: DatabaseHandle | undefined;
  let server: ServerProcess | undefined;
  const cleanup = async () => {
    await server?.stop().catch((e: unknown) => console.error('stopping the server:', e));
    server = undefined;
    await database?.stop().catch((e: unknown) => console.error('stopping PostgreSQL:', e));
    database = undefined;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      console.error(`${signal}: cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    const db = await prepareDatabase({
      dataDir: settings.dataDir,
      port: settings.pgPort,
      customers: settings.customers,
    });
    database = db.handle;
    const postgres = await withClient(db.handle.url, async (c) => {
      const { rows } = await c.query<{ v: string }>('show server_version');
      return rows[0]!.v;
    });
    const nodeArgs: string[] = [];
    if (settings.cpuProf) {
      const dir = path.join(ROOT, 'bench', 'results');
      await fs.mkdir(dir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`);
    }
    server = await startServer({
      root: ROOT,
      databaseUrl: db.handle.url,
      port: settings.port,
      apiKey: API_KEY,
      nodeArgs,
    });
    console.error(`server pid ${server.pid} at ${server.url}; ${db.customers} customers`);

    const target = { url: server.url, apiKey: API_KEY };
    const results: Measurement[] = [];
    for (const query of queries) {
      results.push(await measure(target, query, settings));
    }
    await cleanup();

    const facts = {
      date: new Date().toISOString().slice(0, 10),
      nproc: nproc(),
      cpu: `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} (${os.platform()} ${os.arch()})`,
      node: process.version,
      postgres,
      customers: db.customers,
    };
    console.log(`\n${resultsTable(results)}\n`);
    for (const m of results) {
      console.log(
        `- ${m.name}: ${m.completed} requests; sample: ${m.sample}; errors: ${m.errorDetail}`,
      );
    }
    console.log(
      `\nnproc ${facts.nproc}, ${facts.cpu}, Node ${facts.node}, PostgreSQL ${postgres}, ${db.customers} customers`,
    );

    const complete = queries.length === QUERIES.length && !settings.cpuProf;
    if (complete) {
      const headline = results[0]!;
      const trivial = results[results.length - 1]!;
      console.log(
        `customers / trivial: ${ratio(headline.requestsPerSecond, trivial.requestsPerSecond).toFixed(2)}×`,
      );
      await writeSection(path.join(ROOT, 'BENCHMARKS.md'), SECTION, sectionBody(results, facts));
      console.log('BENCHMARKS.md updated');
    } else {
      console.log('partial or profiled run: BENCHMARKS.md left as it is');
    }
    if (results.some((m) => m.errors > 0)) {
      console.error('some requests failed during the measured runs (see errors above)');
      process.exitCode = 1;
    }
  } finally {
    await cleanup();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
