// Hosts for bench/scale-out.ts: Linux network namespaces on one bridge, each with its own address,
// standing in for machines on a private network. Needs root (`ip netns`, veth pairs, a bridge).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Every name this bench creates starts with it, so leftovers of an aborted run can be found. */
const PREFIX = 'tagwise-';
const BRIDGE = 'tagwise-br';
/** The host-side ends of the hosts' veth pairs. */
const LINK_PREFIX = 'tw-';
/** The subnet's first three octets; .1 is the bridge (the bench's own address), hosts from .10. */
const SUBNET = '10.77.0';
const MASK = 24;

export const SUBNET_CIDR = `${SUBNET}.0/${MASK}`;

export interface Host {
  /** Short name: db, api1, worker1… */
  readonly name: string;
  /** The network namespace, for `ip netns exec`. */
  readonly namespace: string;
  readonly address: string;
}

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

/** Fails with what to do when this machine cannot make namespaces (not root, no `ip`). */
export async function assertNamespacesWork(): Promise<void> {
  const probe = `${PREFIX}probe`;
  try {
    await ip('netns', 'add', probe);
    await ip('netns', 'del', probe);
  } catch (error) {
    throw new Error(
      `bench/scale-out needs root and \`ip netns\` (iproute2): ${(error as Error).message.trim()}`,
    );
  }
}

async function namespaces(): Promise<string[]> {
  const out = await ip('netns', 'list').catch(() => '');
  return out
    .split('\n')
    .map((line) => line.split(' ')[0]!.trim())
    .filter((name) => name.startsWith(PREFIX));
}

/** Process ids in a namespace (`ip netns pids`). */
export async function pidsIn(namespace: string): Promise<number[]> {
  const out = await ip('netns', 'pids', namespace).catch(() => '');
  return out.split(/\s+/).filter(Boolean).map(Number);
}

/** SIGKILLs every process in the namespace, as a host losing power would stop them. */
export async function killNamespace(namespace: string): Promise<number[]> {
  const pids = await pidsIn(namespace);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/**
 * Removes this bench's namespaces (killing what runs in them), the bridge and the veth pairs; run
 * at start (an aborted run's leftovers) and at the end.
 */
export async function removeNetwork(): Promise<void> {
  for (const namespace of await namespaces()) {
    const pids = await killNamespace(namespace);
    await ip('netns', 'del', namespace).catch(() => undefined);
    // The namespace, and the veth end in it, live on until its last process is gone.
    for (let waited = 0; waited < 5000 && pids.some(alive); waited += 50) await sleep(50);
  }
  // Deleting one end of a veth pair deletes both.
  for (const link of fs.readdirSync('/sys/class/net')) {
    if (link.startsWith(LINK_PREFIX) || link === BRIDGE) {
      await ip('link', 'del', link).catch(() => undefined);
    }
  }
}

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The bridge the hosts hang on, with the bench's own address on it. */
export async function createBridge(): Promise<string> {
  const address = `${SUBNET}.1`;
  await ip('link', 'add', BRIDGE, 'type', 'bridge');
  await ip('addr', 'add', `${address}/${MASK}`, 'dev', BRIDGE);
  await ip('link', 'set', BRIDGE, 'up');
  return address;
}

/** A namespace with loopback and one interface (eth0) on the bridge, at SUBNET.hostNumber. */
export async function createHost(name: string, hostNumber: number): Promise<Host> {
  const namespace = `${PREFIX}${name}`;
  const address = `${SUBNET}.${hostNumber}`;
  // Interface names are at most 15 characters.
  const outside = `${LINK_PREFIX}${name}`.slice(0, 15);
  await ip('netns', 'add', namespace);
  await ip('link', 'add', outside, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace);
  await ip('link', 'set', outside, 'master', BRIDGE);
  await ip('link', 'set', outside, 'up');
  await ip('-n', namespace, 'addr', 'add', `${address}/${MASK}`, 'dev', 'eth0');
  await ip('-n', namespace, 'link', 'set', 'eth0', 'up');
  await ip('-n', namespace, 'link', 'set', 'lo', 'up');
  return { name, namespace, address };
}

/** Hosts' output is echoed to stderr until the bench tears the hosts down (then it is noise). */
let echoing = true;
export function muteHosts(): void {
  echoing = false;
}

export interface HostProcess {
  readonly child: ChildProcess;
  /** Its last lines of output, for an error message. */
  readonly output: string[];
  readonly exited: Promise<number | null>;
}

/**
 * Starts a command inside a host's namespace. `ip netns exec` execs the command itself, so the
 * child's pid is the command's. Output is prefixed with the host and kept for errors.
 */
export function spawnIn(
  host: Host,
  command: string,
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; label?: string; echo?: boolean },
): HostProcess {
  const child = spawn('ip', ['netns', 'exec', host.namespace, command, ...args], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const label = options.label ?? host.name;
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (!line.trim()) continue;
      output.push(line);
      if (output.length > 40) output.shift();
      // A log line with a stack trace runs to kilobytes; its start says what happened.
      if (echoing && options.echo !== false) console.error(`[${label}] ${line.slice(0, 400)}`);
    }
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  return { child, output, exited };
}

/** Runs a command in a host's namespace to the end; throws with its output when it fails. */
export async function execIn(
  host: Host,
  command: string,
  args: string[],
  options: { cwd?: string; env: NodeJS.ProcessEnv; label?: string },
): Promise<string> {
  const started = spawnIn(host, command, args, { ...options, echo: false });
  const code = await started.exited;
  if (code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} on ${host.name} exited with ${code}:\n${started.output.join('\n')}`,
    );
  }
  return started.output.join('\n');
}
