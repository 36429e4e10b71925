import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { workerExecArgv } from '../../../src/jobs/scoring/scoring.pool.js';

describe('workerExecArgv', () => {
  const started = ['--max-semi-space-size=64', '--import', './bin/register.js'];

  it('drops preloads and heap sizing, keeps the rest', () => {
    expect(workerExecArgv(started)).toEqual([]);
    expect(
      workerExecArgv([
        '--enable-source-maps',
        '--max-old-space-size',
        '4096',
        '--import=./x.js',
        '--conditions=dev',
      ]),
    ).toEqual(['--enable-source-maps', '--conditions=dev']);
  });

  it('gives flags a worker accepts when the server was started as npm start starts it', async () => {
    // The flag itself is what Node refuses in a worker's execArgv.
    expect(() => new Worker('', { eval: true, execArgv: ['--max-semi-space-size=64'] })).toThrow(
      /invalid execArgv/,
    );
    const worker = new Worker('', { eval: true, execArgv: workerExecArgv(started) });
    expect(await new Promise((resolve) => worker.on('exit', resolve))).toBe(0);
  });
});
