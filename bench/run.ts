// `npm run bench`: read throughput of the GraphQL API against a seeded embedded PostgreSQL.
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCpuProbe, postmasterPid } from './cpu.js';
import { measure, type BenchQuery, type Measurement } from './load.js';
import { cpuTable, resultsTable, writeSection } from './report.js';
import {
  envInt,
  prepareDatabase,
  startCommandArgs,
  startServer,
  type ServerProcess,
  withClient,
  runBench,
} from './setup.js';
import type { DatabaseHandle } from '../src/config/database.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## customers(first: 50) with tags and categories (issue 2)';
// A throw-away cluster of its own, so a fixed key is enough and no key rows pile up across runs.
const API_KEY = 'tagwise-bench-admin-key';
// On 2 cores a quarter of a core taken by unrelated processes already moves the numbers.
const MAX_FOREIGN_CORES = 0.25;

const settings = {
  dataDir: path.resolve(ROOT, process.env.BENCH_DATA_DIR ?? '.data/bench'),
  pgPort: envInt('BENCH_PG_PORT', 5439, 1),
  port: envInt('BENCH_PORT', 4090, 1),
  customers: envInt('BENCH_CUSTOMERS', 100_000, 50),
  durationSeconds: envInt('BENCH_DURATION', 15, 1),
  warmupSeconds: envInt('BENCH_WARMUP', 3),
  connections: envInt('BENCH_CONNECTIONS', 16, 1),
  /** One API process per core, as TAGWISE_API_PROCESSES would be set on such a machine. */
  apiProcesses: envInt('BENCH_API_PROCESSES', os.availableParallelism(), 1),
  /** Comma-separated query names; a partial run does not touch BENCHMARKS.md. */
  only: process.env.BENCH_QUERIES?.split(',')
    .map((s) => s.trim())
    .filter(Boolean),
  /** Writes a V8 CPU profile of the server to bench/results/; such a run is not recorded. */
  cpuProf: process.env.BENCH_CPU_PROF === '1',
  /** Records a run even though other processes took CPU from it. */
  recordBusy: process.env.BENCH_RECORD_BUSY === '1',
  /** Extra node flags for the API process (e.g. GC sizing); such a run is not recorded either. */
  serverNodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean),
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
    // The stack's ceiling with what every real query has: the key check and one statement.
    name: 'one customer `{ customer(id) { id name } }`',
    query: '{ customer(id: "1") { id name } }',
    check: (data) => {
      const { customer } = data as { customer: { id: string; name: string } | null };
      if (!customer?.name) throw new Error('customer 1 is missing');
      return `customer ${customer.id}`;
    },
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

/** The commit measured, and whether src/ had uncommitted changes on top of it. */
function revision(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src', 'migrations'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    return `commit ${head.trim()}${dirty.trim() ? ' with uncommitted changes in src/ or migrations/' : ''}`;
  } catch {
    return 'an unknown commit';
  }
}

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

/** Share of all cores busy over `ms`; the API and PostgreSQL are idle then, so it is someone else. */
async function foreignLoad(ms = 2000): Promise<number> {
  const sample = () =>
    os.cpus().reduce(
      (acc, { times }) => {
        const total = times.user + times.nice + times.sys + times.idle + times.irq;
        return { idle: acc.idle + times.idle, total: acc.total + total };
      },
      { idle: 0, total: 0 },
    );
  const before = sample();
  await new Promise((r) => setTimeout(r, ms));
  const after = sample();
  const total = after.total - before.total;
  return total > 0 ? 1 - (after.idle - before.idle) / total : 0;
}

function cpuSection(results: Measurement[]): string {
  const table = cpuTable(results);
  if (!table) return '';
  return `Where the CPU went during each measured run (cores used on average, out of 2; "other processes" is everything on the machine that is not part of the bench, and should be near 0):

${table}

`;
}

// The query block has no language tag: the formatter would otherwise spread it over 40 lines.
function sectionBody(
  results: Measurement[],
  facts: {
    date: string;
    nproc: string;
    cpu: string;
    node: string;
    postgres: string;
    customers: number;
    /** Share of the CPU other processes used just before the runs. */
    busyBefore: number;
    revision: string;
    /** What node ran for the API: `npm start`'s flags and entry point. */
    serverArgs: string;
  },
): string {
  const headline = results[0]!;
  const one = results[results.length - 2]!;
  const trivial = results[results.length - 1]!;
  const r = ratio(headline.requestsPerSecond, trivial.requestsPerSecond);
  const mark = (ok: boolean) => (ok ? 'met' : '**missed**');
  return `Command: \`npm run bench\` (\`BENCH_DURATION=${settings.durationSeconds}\`, \`BENCH_WARMUP=${settings.warmupSeconds}\`, \`BENCH_CONNECTIONS=${settings.connections}\`, \`BENCH_CUSTOMERS=${settings.customers}\`, \`BENCH_API_PROCESSES=${settings.apiProcesses}\`).

Run ${facts.date} at ${facts.revision} on a 2-core machine: \`nproc\` = ${facts.nproc}, ${facts.cpu}, Node ${facts.node}, embedded PostgreSQL ${facts.postgres}, ${facts.customers.toLocaleString('en-US')} customers seeded (\`seedDemo\`, seed 42). The API runs as \`npm start\` starts it (\`node ${facts.serverArgs}\`) with \`TAGWISE_API_PROCESSES=${settings.apiProcesses}\` (a primary and that many API processes), \`NODE_ENV=production\` and \`LOG_LEVEL=warn\`; autocannon, the API and PostgreSQL share the same 2 cores (${(facts.busyBefore * 100).toFixed(0)} % of the CPU was busy with other work just before the runs). Each query: ${settings.warmupSeconds} s warm-up, then ${settings.durationSeconds} s with ${settings.connections} connections, \`POST /graphql\` on 127.0.0.1 with an admin API key. Errors count socket errors, timeouts, non-2xx answers and 200 answers carrying GraphQL \`errors\`; idle ms is the median of 5 sequential requests before the load.

${resultsTable(results)}

${cpuSection(results)}Customers / trivial: **${r.toFixed(2)}×** (${headline.requestsPerSecond.toFixed(1)} / ${trivial.requestsPerSecond.toFixed(1)} req/s). For comparison, customers / one customer (a query with the API key check and one statement, like every real one): ${ratio(headline.requestsPerSecond, one.requestsPerSecond).toFixed(2)}× (${one.requestsPerSecond.toFixed(1)} req/s).

| target | measured | |
| --- | --- | --- |
| ≥ 300 req/s | ${headline.requestsPerSecond.toFixed(1)} req/s | ${mark(headline.requestsPerSecond >= 300)} |
| p99 < 150 ms | ${headline.p99.toFixed(1)} ms | ${mark(headline.p99 < 150)} |
| ≥ 0.5× trivial | ${r.toFixed(2)}× | ${mark(r >= 0.5)} |

The headline query:

\`\`\`
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
      const { rows } = await c.query<{ v: string }>(
        "select current_setting('server_version') as v",
      );
      return rows[0]!.v;
    });
    const nodeArgs = [...settings.serverNodeArgs];
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
      processes: settings.apiProcesses,
    });
    console.error(`server pid ${server.pid} at ${server.url}; ${db.customers} customers`);

    // Taken before the runs: src/ may be edited while they go on.
    const measuredRevision = revision();
    const busyBefore = await foreignLoad();
    console.error(`CPU busy with other work before the runs: ${(busyBefore * 100).toFixed(0)} %`);
    if (busyBefore > 0.15) {
      console.error('warning: the machine is not idle; the numbers will be low and noisy');
    }
    const target = { url: server.url, apiKey: API_KEY };
    const probe = createCpuProbe({
      api: server.pid,
      postmaster: postmasterPid(path.join(settings.dataDir, 'pg')),
    });
    const results: Measurement[] = [];
    for (const query of queries) {
      results.push(await measure(target, query, settings, probe));
    }
    await cleanup();

    const facts = {
      date: new Date().toISOString().slice(0, 10),
      nproc: nproc(),
      cpu: `${os.cpus()[0]?.model.trim() ?? 'unknown CPU'} (${os.platform()} ${os.arch()})`,
      node: process.version,
      postgres,
      customers: db.customers,
      busyBefore,
      revision: measuredRevision,
      serverArgs: (await startCommandArgs(ROOT)).join(' '),
    };
    console.log(`\n${resultsTable(results)}\n`);
    const cpu = cpuTable(results);
    if (cpu) console.log(`${cpu}\n`);
    const disturbed = results.filter((m) => m.cpu && m.cpu.other > MAX_FOREIGN_CORES);
    for (const m of disturbed) {
      console.error(
        `warning: other processes used ${m.cpu!.other.toFixed(2)} cores during "${m.name}"; ` +
          'its numbers understate what this machine can do',
      );
    }
    for (const m of results) {
      console.log(
        `- ${m.name}: ${m.completed} requests; sample: ${m.sample}; errors: ${m.errorDetail}`,
      );
    }
    console.log(
      `\nnproc ${facts.nproc}, ${facts.cpu}, Node ${facts.node}, PostgreSQL ${postgres}, ${db.customers} customers`,
    );

    const complete =
      queries.length === QUERIES.length && !settings.cpuProf && nodeArgs.length === 0;
    if (complete && disturbed.length > 0 && !settings.recordBusy) {
      console.error(
        'BENCHMARKS.md left as it is: the machine was busy with other work. Re-run when it is ' +
          'idle, or set BENCH_RECORD_BUSY=1 to record these numbers anyway.',
      );
      process.exitCode = 2;
    } else if (complete) {
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

runBench(main);
