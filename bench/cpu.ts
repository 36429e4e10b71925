import fs from 'node:fs';

/**
 * CPU time of the processes under test, from /proc (Linux only). On a 2-core machine the API,
 * PostgreSQL and autocannon compete for the same cores, so a run is only readable together with
 * who used them — including processes that have nothing to do with the bench.
 */

// USER_HZ is 100 on every Linux this runs on; /proc reports CPU time in those ticks.
const TICKS_PER_SECOND = 100;

export interface CpuSplit {
  /** Cores in use on average (2 = both cores busy the whole time). */
  api: number;
  postgres: number;
  bench: number;
  other: number;
  seconds: number;
}

interface Snapshot {
  at: number;
  machineBusy: number;
  api: number;
  postgres: number;
  bench: number;
}

function readProcesses(): Map<number, { ppid: number; ticks: number }> {
  const processes = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // Exited meanwhile.
    }
    // The command name may contain spaces and parentheses; the fields after it do not.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Its own time and that of the children it has reaped: a PostgreSQL backend that served a
    // COPY and exited before the last snapshot is still counted, under the postmaster.
    processes.set(Number(entry), {
      ppid: Number(fields[1]),
      ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]),
    });
  }
  return processes;
}

function treeTicks(
  processes: Map<number, { ppid: number; ticks: number }>,
  root: number,
  exclude: Set<number>,
): number {
  let sum = 0;
  for (const [pid, p] of processes) {
    for (let at = pid, hops = 0; at > 1 && hops < 64; hops++) {
      if (exclude.has(at) && at !== root) break;
      if (at === root) {
        sum += p.ticks;
        break;
      }
      at = processes.get(at)?.ppid ?? 0;
    }
  }
  return sum;
}

function machineBusyTicks(): number {
  const [, ...values] = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user, nice, system, , iowait, irq, softirq, steal] = values.map(Number);
  void iowait; // Waiting on the disk leaves the core free for others.
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** `postmaster` may be started by this process or be a cluster already running for someone else. */
export function createCpuProbe(pids: { api: number; postmaster: number | null }) {
  if (!fs.existsSync('/proc/stat')) return null;
  const snapshot = (): Snapshot => {
    const processes = readProcesses();
    const postgres = pids.postmaster ?? -1;
    const own = new Set([pids.api, postgres]);
    return {
      at: performance.now(),
      machineBusy: machineBusyTicks(),
      api: treeTicks(processes, pids.api, own),
      postgres: postgres > 0 ? treeTicks(processes, postgres, own) : 0,
      // This process without the children it started (the API, maybe PostgreSQL).
      bench: treeTicks(processes, process.pid, own),
    };
  };
  let start: Snapshot | null = null;
  return {
    start() {
      start = snapshot();
    },
    stop(): CpuSplit {
      const end = snapshot();
      const from = start ?? end;
      const seconds = (end.at - from.at) / 1000;
      const cores = (ticks: number) => (seconds > 0 ? ticks / TICKS_PER_SECOND / seconds : 0);
      const api = cores(end.api - from.api);
      const postgres = cores(end.postgres - from.postgres);
      const bench = cores(end.bench - from.bench);
      const busy = cores(end.machineBusy - from.machineBusy);
      return { api, postgres, bench, other: Math.max(0, busy - api - postgres - bench), seconds };
    },
  };
}

export type CpuProbe = NonNullable<ReturnType<typeof createCpuProbe>>;

/** The PostgreSQL server process of a cluster, from its lock file. */
export function postmasterPid(clusterDir: string): number | null {
  try {
    const pid = Number(fs.readFileSync(`${clusterDir}/postmaster.pid`, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}
