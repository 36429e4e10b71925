import autocannon, { type Result } from 'autocannon';
import type { CpuProbe, CpuSplit } from './cpu.js';

export interface BenchQuery {
  name: string;
  query: string;
  /** Throws when a sampled response is not what a healthy run returns. */
  check(data: unknown): string;
}

export interface Target {
  url: string;
  apiKey: string;
}

export interface Measurement {
  name: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** Transport errors, timeouts, non-2xx answers and bodies with GraphQL `errors`. */
  errors: number;
  errorDetail: string;
  completed: number;
  /** Median of a few sequential requests on an idle server. */
  idleMs: number;
  sample: string;
  /** Who used the CPU during the measured run, when /proc can tell. */
  cpu: CpuSplit | null;
}

function headers(target: Target): Record<string, string> {
  return { 'content-type': 'application/json', authorization: `Bearer ${target.apiKey}` };
}

/** Sends a few requests one by one and fails loudly on anything but a clean 200. */
export async function sampleQuery(
  target: Target,
  query: BenchQuery,
  count = 5,
): Promise<{ idleMs: number; sample: string; bytes: number }> {
  const timings: number[] = [];
  let sample = '';
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const res = await fetch(`${target.url}/graphql`, {
      method: 'POST',
      headers: headers(target),
      body: JSON.stringify({ query: query.query }),
    });
    const text = await res.text();
    timings.push(performance.now() - started);
    if (res.status !== 200) {
      throw new Error(`${query.name}: HTTP ${res.status} before the run: ${text.slice(0, 2000)}`);
    }
    const body = JSON.parse(text) as { data?: unknown; errors?: unknown[] };
    if (body.errors?.length) {
      throw new Error(
        `${query.name}: errors before the run: ${JSON.stringify(body.errors, null, 2)}`,
      );
    }
    sample = query.check(body.data);
    bytes = Buffer.byteLength(text);
  }
  timings.sort((a, b) => a - b);
  return { idleMs: timings[Math.floor(timings.length / 2)]!, sample, bytes };
}

function load(target: Target, query: BenchQuery, connections: number, seconds: number) {
  return autocannon({
    url: `${target.url}/graphql`,
    method: 'POST',
    headers: headers(target),
    body: JSON.stringify({ query: query.query }),
    connections,
    duration: seconds,
    timeout: 10,
    // Apollo answers a failed operation with 200 and an `errors` array; count those too.
    verifyBody: (body) => !String(body).includes('"errors":['),
  });
}

export async function measure(
  target: Target,
  query: BenchQuery,
  options: { connections: number; warmupSeconds: number; durationSeconds: number },
  probe: CpuProbe | null,
): Promise<Measurement> {
  const { idleMs, sample, bytes } = await sampleQuery(target, query);
  console.error(
    `${query.name}: sample ok (${sample}; ${bytes} bytes, ${idleMs.toFixed(1)} ms idle)`,
  );
  if (options.warmupSeconds > 0) {
    console.error(`${query.name}: warming up ${options.warmupSeconds} s`);
    await load(target, query, options.connections, options.warmupSeconds);
  }
  console.error(
    `${query.name}: measuring ${options.durationSeconds} s, ${options.connections} connections`,
  );
  probe?.start();
  const result = await load(target, query, options.connections, options.durationSeconds);
  const cpu = probe?.stop() ?? null;
  return { ...summarise(query.name, result, idleMs, sample), cpu };
}

function summarise(
  name: string,
  r: Result,
  idleMs: number,
  sample: string,
): Omit<Measurement, 'cpu'> {
  const parts: [string, number][] = [
    ['socket errors', r.errors - r.timeouts],
    ['timeouts', r.timeouts],
    ['non-2xx', r.non2xx],
    ['GraphQL errors', r.mismatches],
  ];
  const errors = parts.reduce((sum, [, n]) => sum + n, 0);
  const statuses = Object.entries(r.statusCodeStats)
    .map(([code, { count }]) => `${code}×${count}`)
    .join(', ');
  return {
    name,
    // Completed requests over the measured time, rather than the mean of per-second samples,
    // so a partial last second does not skew it.
    requestsPerSecond: r.requests.total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors,
    errorDetail:
      errors === 0
        ? 'none'
        : `${parts
            .filter(([, n]) => n > 0)
            .map(([k, n]) => `${k}: ${n}`)
            .join(', ')} (status codes ${statuses})`,
    completed: r.requests.total,
    idleMs,
    sample,
  };
}
