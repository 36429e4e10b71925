// The body of a scoring worker thread (started through worker-entry.js): loads the model once,
// then turns batches of feature lines into candidate lines until the pool terminates it.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../../ml/backend.js';
import { createScorer, parseFeatureLines, scoreFeatureRows, type ScorerConfig } from './scorer.js';
import { cpuBetween, threadCpuMs } from './thread-cpu.js';

export interface ScoreTask {
  type: 'score';
  id: number;
  bytes: Uint8Array;
}

export type WorkerReply =
  | { type: 'ready'; backend: string }
  | {
      type: 'scored';
      id: number;
      bytes: Uint8Array;
      customers: number;
      candidates: number;
      parseMs: number;
      scoreMs: number;
      explainMs: number;
      /** The worker thread's CPU time per step; null where the system does not tell. */
      cpuMs: { parse: number; score: number; explain: number } | null;
    }
  | { type: 'failed'; id: number | null; name: string; message: string; stack?: string };

const encoder = new TextEncoder();

function failed(id: number | null, error: unknown): WorkerReply {
  const e = error instanceof Error ? error : new Error(String(error));
  return { type: 'failed', id, name: e.name, message: e.message, stack: e.stack };
}

async function run(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('scoring.worker.ts runs only as a worker thread');
  let scorer: Awaited<ReturnType<typeof createScorer>>;
  try {
    const backend = await initBackend();
    scorer = await createScorer(workerData as ScorerConfig);
    port.postMessage({ type: 'ready', backend } satisfies WorkerReply);
  } catch (error) {
    port.postMessage(failed(null, error));
    return;
  }
  // Tasks run one at a time: the backend is single-threaded, and a queue keeps replies in order.
  let queue = Promise.resolve();
  port.on('message', (task: ScoreTask) => {
    queue = queue.then(async () => {
      try {
        const started = performance.now();
        const startedCpu = threadCpuMs();
        const batch = parseFeatureLines(task.bytes);
        const parseMs = performance.now() - started;
        const parseCpuMs = cpuBetween(startedCpu, threadCpuMs());
        const scored = await scoreFeatureRows(scorer, batch);
        const bytes = encoder.encode(scored.text);
        const reply: WorkerReply = {
          type: 'scored',
          id: task.id,
          bytes,
          customers: batch.rows.length,
          candidates: scored.candidates,
          parseMs,
          scoreMs: scored.scoreMs,
          explainMs: scored.explainMs,
          cpuMs:
            parseCpuMs === null || scored.scoreCpuMs === null || scored.explainCpuMs === null
              ? null
              : { parse: parseCpuMs, score: scored.scoreCpuMs, explain: scored.explainCpuMs },
        };
        port.postMessage(reply, [bytes.buffer]);
      } catch (error) {
        port.postMessage(failed(task.id, error));
      }
    });
  });
}

await run();
