// The body of a scoring worker thread (started through worker-entry.js): loads the model once,
// then turns batches of feature lines into candidate lines until the pool terminates it.
import { parentPort, workerData } from 'node:worker_threads';
import { initBackend } from '../../ml/backend.js';
import { createScorer, parseFeatureLines, scoreFeatureRows, type ScorerConfig } from './scorer.js';

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
    }
  | { type: 'failed'; id: number | null; name: string; message: string; stack?: string };

const encoder = new TextEncoder();

/**
 * Makes `new Intl.NumberFormat(locale, options)` return one shared formatter per arguments, in
 * this thread only. explain.ts builds a formatter for every number it words (~17 µs each, ~70 %
 * of an explanation's cost at 1 integrated-gradient step); formatters are immutable, so sharing
 * them changes no text. Remove once explain.ts keeps its formatters itself.
 */
function shareNumberFormats(): void {
  const Original = Intl.NumberFormat;
  const formats = new Map<string, Intl.NumberFormat>();
  const Shared = function (locales?: string | string[], options?: Intl.NumberFormatOptions) {
    const key = JSON.stringify([locales, options]);
    let format = formats.get(key);
    if (!format) formats.set(key, (format = new Original(locales, options)));
    return format;
  } as unknown as typeof Intl.NumberFormat;
  Object.assign(Shared, {
    prototype: Original.prototype,
    supportedLocalesOf: Original.supportedLocalesOf,
  });
  Intl.NumberFormat = Shared;
}

function failed(id: number | null, error: unknown): WorkerReply {
  const e = error instanceof Error ? error : new Error(String(error));
  return { type: 'failed', id, name: e.name, message: e.message, stack: e.stack };
}

async function run(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('scoring.worker.ts runs only as a worker thread');
  let scorer: Awaited<ReturnType<typeof createScorer>>;
  shareNumberFormats();
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
        const batch = parseFeatureLines(task.bytes);
        const parseMs = performance.now() - started;
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
        };
        port.postMessage(reply, [bytes.buffer]);
      } catch (error) {
        port.postMessage(failed(task.id, error));
      }
    });
  });
}

await run();
