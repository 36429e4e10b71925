import { Worker } from 'node:worker_threads';
import { ArtifactError, type ScorerConfig } from './scorer.js';
import type { ScoreTask, WorkerReply } from './scoring.worker.js';

export type ScoredReply = Extract<WorkerReply, { type: 'scored' }>;

const ENTRY = new URL('./worker-entry.js', import.meta.url);
// The entry registers SWC itself; a preload inherited from `node --import ./bin/register.js` would
// register it a second time and compile every module twice.
const PRELOAD_FLAGS = ['--import', '--require', '-r', '--loader', '--experimental-loader'];

/**
 * The parent's node flags minus preloads and V8 heap sizing (`npm start` sets the young
 * generation; a worker given such a flag fails to start with ERR_WORKER_INVALID_EXEC_ARGV).
 */
export function workerExecArgv(argv: readonly string[] = process.execArgv): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (PRELOAD_FLAGS.includes(arg)) i++;
    else if (PRELOAD_FLAGS.some((flag) => arg.startsWith(`${flag}=`))) continue;
    else if (/^--max-(semi|old)-space-size(=|$)/.test(arg)) {
      if (!arg.includes('=')) i++;
    } else out.push(arg);
  }
  return out;
}

/** Rebuilds an error a worker reported, keeping its kind for `instanceof` where it matters. */
function reviveError(reply: Extract<WorkerReply, { type: 'failed' }>): Error {
  const error =
    reply.name === 'ArtifactError' ? new ArtifactError(reply.message) : new Error(reply.message);
  if (reply.name !== 'ArtifactError') error.name = reply.name;
  if (reply.stack) error.stack = reply.stack;
  return error;
}

interface Slot {
  worker: Worker;
  pending: Map<number, { resolve(reply: ScoredReply): void; reject(error: Error): void }>;
}

/**
 * Scoring worker threads, each holding the model. The first failure anywhere (a task, a crash, an
 * unexpected exit) rejects `failed` and every outstanding task, so callers never wait on a dead
 * worker; terminate() ends the threads whatever state they are in.
 */
export class ScoringPool {
  readonly failed: Promise<never>;
  private fail!: (error: Error) => void;
  private failure: Error | null = null;
  private terminating = false;
  private nextId = 0;

  private constructor(
    private readonly slots: Slot[],
    readonly backend: string,
  ) {
    this.failed = new Promise<never>((_, reject) => (this.fail = reject));
    // Observed through race() by callers; without this an idle pool's failure is "unhandled".
    this.failed.catch(() => {});
  }

  /** Starts `size` workers and resolves once every one has loaded the model. */
  static async start(size: number, config: ScorerConfig): Promise<ScoringPool> {
    const slots: Slot[] = [];
    let pool: ScoringPool | null = null;
    const spawn = (i: number): Promise<string> => {
      const worker = new Worker(ENTRY, {
        workerData: config,
        execArgv: workerExecArgv(),
        // Workers must not write to stdout: it may carry a report or a COPY stream.
        stdout: true,
      });
      worker.stdout.pipe(process.stderr, { end: false });
      const slot: Slot = { worker, pending: new Map() };
      slots.push(slot);
      return new Promise<string>((resolve, reject) => {
        const onError = (error: Error) => (pool ? pool.abort(error) : reject(error));
        worker.on('message', (reply: WorkerReply) => {
          if (reply.type === 'ready') resolve(reply.backend);
          else if (reply.type === 'failed' && reply.id === null) onError(reviveError(reply));
          else if (pool) pool.settle(slot, reply);
        });
        worker.on('error', onError);
        worker.on('exit', (code) => {
          if (!pool?.terminating) {
            onError(new Error(`scoring worker ${i} exited (code ${code}) before it was done`));
          }
        });
      });
    };
    try {
      const backends = await Promise.all(Array.from({ length: size }, (_, i) => spawn(i)));
      pool = new ScoringPool(slots, backends[0]!);
      return pool;
    } catch (error) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw error;
    }
  }

  get size(): number {
    return this.slots.length;
  }

  /** Hands `bytes` (transferred, unusable afterwards) to the least busy worker. */
  submit(bytes: Uint8Array): Promise<ScoredReply> {
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const id = this.nextId++;
    return new Promise<ScoredReply>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      const task: ScoreTask = { type: 'score', id, bytes };
      slot.worker.postMessage(task, [bytes.buffer as ArrayBuffer]);
    });
  }

  /** Fails the pool (idempotent): outstanding tasks and `failed` reject with `error`. */
  abort(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.fail(error);
    for (const slot of this.slots) {
      for (const task of slot.pending.values()) task.reject(error);
      slot.pending.clear();
    }
  }

  async terminate(): Promise<void> {
    this.terminating = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private settle(slot: Slot, reply: WorkerReply): void {
    if (reply.type === 'ready' || reply.id === null) return;
    const task = slot.pending.get(reply.id);
    if (!task) return;
    slot.pending.delete(reply.id);
    if (reply.type === 'scored') {
      task.resolve(reply);
    } else {
      const error = reviveError(reply);
      task.reject(error);
      this.abort(error);
    }
  }
}
