// The heartbeat of the runs a process holds, on a thread of its own with its own connection: the
// main thread's event loop may be busy for seconds at a time (a k-means step, a network's epoch
// on a loaded host), and a heartbeat waiting behind it would have a live worker's runs reaped.
// Plain JavaScript: a worker thread starts without the TypeScript loader, and this needs none.
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

/** @type {{ connectionString: string, worker: string, intervalMs: number, stallMs: number, tables: Record<string, string> }} */
const { connectionString, worker, intervalMs, stallMs, tables } = workerData;
/** @type {Map<string, { kind: string, id: string, attempt: number }>} */
const held = new Map();
let lastAlive = Date.now();
/** @type {pg.Client | null} */
let client = null;

parentPort.on('message', (message) => {
  if (message.type === 'alive') lastAlive = Date.now();
  else if (message.type === 'hold') {
    held.set(`${message.kind}:${message.id}`, message);
    lastAlive = Date.now();
  } else if (message.type === 'release') held.delete(`${message.kind}:${message.id}`);
});

async function connection() {
  if (!client) {
    const fresh = new pg.Client({ connectionString, application_name: 'tagwise heartbeat' });
    fresh.on('error', () => (client = null));
    await fresh.connect();
    client = fresh;
  }
  return client;
}

/**
 * Renews every held run in one statement per kind and tells the main thread which were
 * cancelled or taken away. A main thread silent for stallMs is hung, not busy: its runs are left
 * to go stale, so that another worker's reaper heals them.
 */
async function beat() {
  if (held.size === 0 || Date.now() - lastAlive > stallMs) return;
  const db = await connection();
  for (const [kind, table] of Object.entries(tables)) {
    const runs = [...held.values()].filter((run) => run.kind === kind);
    if (runs.length === 0) continue;
    const { rows } = await db.query(
      `update ${table} set heartbeat_at = case
           when status = 'RUNNING' and worker = $1 then now() else heartbeat_at end
       where id = any($2::bigint[])
       returning id::text, attempt, status, cancel_requested_at is not null as cancelled`,
      [worker, runs.map((run) => run.id)],
    );
    for (const run of runs) {
      const row = rows.find((r) => r.id === run.id);
      if (!row || row.status !== 'RUNNING' || row.attempt !== run.attempt) {
        parentPort.postMessage({ type: 'lost', kind, id: run.id });
      } else if (row.cancelled) {
        parentPort.postMessage({ type: 'cancelled', kind, id: run.id });
      }
    }
  }
}

async function loop() {
  for (;;) {
    try {
      await beat();
    } catch (error) {
      client?.end().catch(() => {});
      client = null;
      parentPort.postMessage({ type: 'error', message: String(error?.message ?? error) });
    }
    await sleep(intervalMs);
  }
}

void loop();
