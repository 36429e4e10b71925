import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../config/logger.js';

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../bin/tagwise.js');
/** pg-boss gives a running job 30 s to finish on a graceful stop; then the worker is killed. */
const STOP_MS = 40_000;
/** A worker that ran this long before dying was not crash-looping: restart it at once. */
const HEALTHY_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

export interface SupervisedWorker {
  /** Whether the worker process is running (readiness reports it). */
  alive(): boolean;
  stop(): Promise<void>;
}

/**
 * Runs `tagwise worker` as a child process on `databaseUrl` and starts it again whenever it dies,
 * backing off while it keeps dying at once (a bad setting, the database gone). The run it held is
 * healed by its successor's reaper: queued again, or failed as "worker lost".
 */
export function superviseJobWorker(databaseUrl: string, logger: Logger): SupervisedWorker {
  let child: ChildProcess | null = null;
  let stopping = false;
  let backoff = 1000;
  let restart: NodeJS.Timeout | null = null;

  const start = () => {
    const started = Date.now();
    const process_ = spawn(process.execPath, [CLI, 'worker'], {
      env: { ...process.env, DATABASE_URL: databaseUrl, TAGWISE_DEMO: '0' },
      stdio: 'inherit',
    });
    child = process_;
    process_.once('exit', (code, signal) => {
      child = null;
      if (stopping) return;
      const delay = Date.now() - started > HEALTHY_MS ? 0 : backoff;
      backoff = delay === 0 ? 1000 : Math.min(backoff * 2, MAX_BACKOFF_MS);
      logger.error(
        { code, signal, restartInMs: delay },
        'the job worker process died; restarting it',
      );
      restart = setTimeout(start, delay);
    });
  };
  start();

  return {
    alive: () => child !== null && child.exitCode === null,
    async stop() {
      stopping = true;
      if (restart) clearTimeout(restart);
      const running = child;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        const kill = setTimeout(() => running.kill('SIGKILL'), STOP_MS);
        running.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        running.kill('SIGTERM');
      });
    },
  };
}
