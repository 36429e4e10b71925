import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

// With TAGWISE_API_PROCESSES > 1 a scrape reaches whichever API process the kernel hands the
// connection to. That process asks the primary, which asks every API process for its registry
// over IPC (prom-client's AggregatorRegistry) and answers with the sums: one scrape, whole server.
const REQUEST = 'tagwise:metrics-request';
const REPLY = 'tagwise:metrics-reply';
/** prom-client gives up on silent processes after 5 s; this waits a little longer for its answer. */
const WAIT_MS = 6_000;

interface Reply {
  type: typeof REPLY;
  id: number;
  text?: string;
  error?: string;
}

/** Called once by the primary of the API processes: it answers their requests for all metrics. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: unknown; id?: unknown }) => {
    if (message?.type !== REQUEST || typeof message.id !== 'number') return;
    const id = message.id;
    aggregator.clusterMetrics().then(
      (text) => worker.send({ type: REPLY, id, text } satisfies Reply),
      (error: Error) => worker.send({ type: REPLY, id, error: error.message } satisfies Reply),
    );
  });
}

/** In an API process of a cluster: its registry is what it hands the primary when asked. */
export function joinClusterMetrics(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // The constructor is what makes this process answer the primary's requests.
  new AggregatorRegistry();
}

let lastId = 0;

/** The registries of every API process, aggregated by the primary, as Prometheus text. */
export function fetchClusterMetrics(): Promise<string> {
  const id = ++lastId;
  return new Promise((resolve, reject) => {
    const onMessage = (message: Partial<Reply> | null) => {
      if (message?.type !== REPLY || message.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.text ?? '');
    };
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error('the primary did not answer with the API processes’ metrics'));
    }, WAIT_MS);
    process.on('message', onMessage);
    process.send!({ type: REQUEST, id });
  });
}
