import fs from 'node:fs';

const SCHEDSTAT = '/proc/thread-self/schedstat';
let available: boolean | null = null;

/** The most a reading can lag (a tick at 100 Hz, the slowest kernels tick). */
export const THREAD_CPU_LAG_MS = 10;

/**
 * CPU time of the calling thread so far, in ms, or null where the system does not tell (Linux
 * tells through /proc/thread-self/schedstat, in ns; Node 20 has no per-thread CPU clock).
 * A worker's wall-clock time counts the time it waited for a core: on two cores shared with the
 * thread reading rows and PostgreSQL sending them, that was half of it.
 *
 * The scheduler's account of a running thread lags by up to a tick (≤ 4 ms at 250 Hz, measured
 * here; Node 24's process.threadCpuUsage lags alike), so one short step may read a few ms more or
 * less than it took; sums over many steps stay true.
 */
export function threadCpuMs(): number | null {
  if (available === false) return null;
  try {
    const ns = Number(fs.readFileSync(SCHEDSTAT, 'utf8').split(' ', 1)[0]);
    available = Number.isFinite(ns);
    return available ? ns / 1e6 : null;
  } catch {
    available = false;
    return null;
  }
}

/** Milliseconds between two threadCpuMs readings; null when either is. */
export const cpuBetween = (from: number | null, to: number | null): number | null =>
  from === null || to === null ? null : to - from;
