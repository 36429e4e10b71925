// autocannon ships no type declarations; these cover the parts of its programmatic API bench/ uses.
declare module 'autocannon' {
  export interface Options {
    url: string;
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
    headers?: Record<string, string>;
    body?: string | Buffer;
    /** Sent in turn on each connection, over `method`, `headers` and `body`. */
    requests?: { method?: Options['method']; headers?: Record<string, string>; body?: string }[];
    connections?: number;
    /** Requests a second over all connections; unset: as fast as answered. */
    overallRate?: number;
    pipelining?: number;
    /** Seconds. */
    duration?: number;
    /** Seconds before a request counts as a timeout. */
    timeout?: number;
    /** A response whose body fails this check counts as a mismatch. */
    verifyBody?: (body: string) => boolean;
  }

  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p97_5: number;
    p99: number;
  }

  export interface Result {
    duration: number;
    errors: number;
    timeouts: number;
    mismatches: number;
    non2xx: number;
    resets: number;
    '2xx': number;
    statusCodeStats: Record<string, { count: number }>;
    /** Milliseconds. */
    latency: Histogram & { totalCount: number };
    /** Per-second samples; `total` is the number of completed requests. */
    requests: Histogram & { sent: number };
    throughput: Histogram;
  }

  /** The run's result; `stop()` ends it early (the result then covers the time it ran). */
  function autocannon(options: Options): Promise<Result> & { stop(): void };
  export default autocannon;
}
