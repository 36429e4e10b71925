import fs from 'node:fs';

const SCHEDSTAT = '/proc/thread-self/schedstat';
let available: boolean | null = null;

/**
 * CPU time of the calling thread so far, in ms, or null where the system does not tell (Linux
 * tells through /proc/thread-self/schedstat, in ns; Node 20 has no per-thread CPU clock).
 * A worker's wall-clock time counts the time it waited for a core: on two cores shared with the
 * thread reading rows and PostgreSQL sending them, that was half of it.
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
