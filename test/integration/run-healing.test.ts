import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/config/logger.js';
import { refreshFeatures } from '../../src/jobs/feature-refresh.job.js';
import { RunLedger, RunLostError, WORKER_LOST } from '../../src/jobs/run-ledger.js';
import { trainModels } from '../../src/jobs/train.job.js';
import { seedDemo } from '../../src/modules/demo/demo.service.js';
import { RunKind } from '../../src/modules/run/run.repository.js';
import { createTestApp, errorOf, type TestApp } from '../support/app.js';
import { spawnNode } from '../support/processes.js';

const TAGS = ['wine-lover', 'high-value', 'meat-lover'];
const TRAIN = `mutation($tags: [String!]) { trainModels(input: { seed: 3, tags: $tags }) { id } }`;

interface RunRow {
  status: string;
  attempt: number;
  worker: string | null;
  error: string | null;
  modelVersionId: string | null;
  phase: string | null;
}

describe('runs whose worker dies', () => {
  let t: TestApp;
  let modelsDir: string;
  const silent = createLogger('silent');

  beforeAll(async () => {
    // Lost after 2 s, so the test waits seconds, not the default half-minute.
    t = await createTestApp({ TAGWISE_RUN_LOST_AFTER_S: '2' });
    modelsDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tagwise-healing-'));
    await seedDemo(t.app.orm, { customers: 600, seed: 5 });
    await refreshFeatures(t.app.orm, { mode: 'full' });
  }, 300_000);
  afterAll(async () => {
    await t?.close();
    if (modelsDir) await fs.rm(modelsDir, { recursive: true, force: true });
  });

  const trainingRun = async (id: string) =>
    (
      await t.sql<RunRow>(
        `select status, attempt, worker, error, model_version_id::text as "modelVersionId",
                progress ->> 'phase' as phase
         from model_run where id = ?`,
        [id],
      )
    )[0]!;

  async function until<T>(what: string, probe: () => Promise<T | undefined | false>): Promise<T> {
    for (let waited = 0; waited < 120_000; waited += 200) {
      const value = await probe();
      if (value) return value;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  /** `tagwise worker` as a worker host runs it, on the test database. */
  const startWorker = () =>
    spawnNode(['bin/tagwise.js', 'worker'], {
      DATABASE_URL: t.url,
      TAGWISE_MODELS_DIR: modelsDir,
      TAGWISE_RUN_LOST_AFTER_S: '2',
      LOG_LEVEL: 'info',
    });

  it('retries a training run killed mid-way on another worker: one version, registered once', async () => {
    const before = await t.sql<{ n: number }>(`select count(*)::int as n from model_version`);
    const { trainModels: queued } = await t.ok(TRAIN, { tags: TAGS });
    const worker = startWorker();
    try {
      const held = await until('the worker to train', async () => {
        const run = await trainingRun(queued.id);
        // Killed once it holds the run: loading TF.js and the features alone take seconds.
        return run.status === 'RUNNING' && run;
      }).catch(async (error: Error) => {
        const run = JSON.stringify(await trainingRun(queued.id));
        throw new Error(`${error.message} (run: ${run}); the worker said:\n${worker.output()}`);
      });
      expect(held.worker).toBe(`${os.hostname()}:${worker.child.pid}`);
      worker.child.kill('SIGKILL');
    } finally {
      worker.child.kill('SIGKILL');
    }
    const killedAt = Date.now();

    // This process is the surviving worker: its reaper finds the stale heartbeat and queues the
    // run again, and its worker takes it.
    await t.app.queue.startWorkers();
    const done = await until('the retried run to end', async () => {
      const run = await trainingRun(queued.id);
      return (run.status === 'SUCCEEDED' || run.status === 'FAILED') && run;
    });
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      attempt: 2,
      worker: `${os.hostname()}:${process.pid}`,
      error: null,
    });
    expect(Date.now() - killedAt).toBeLessThan(120_000);
    const versions = await t.sql<{ id: string; n: number }>(
      `select id::text, count(*) over ()::int as n from model_version
       order by id desc limit 1`,
    );
    expect(versions[0]!.n).toBe(before[0]!.n + 1);
    expect(versions[0]!.id).toBe(done.modelVersionId);
    // The tests below drive the ledger by hand, with no reaper of this process racing them.
    await t.app.queue.stop();
  }, 240_000);

  it('fails a lost run with "worker lost" once its attempts are spent, removing its files', async () => {
    const [{ id }] = await t.sql<{ id: string }>(
      `insert into model_run (status, params, attempt, worker, started_at, heartbeat_at, artifact_path)
       values ('RUNNING', '{}', 2, 'gone-host:4242', now(), now() - interval '1 hour', ?)
       returning id::text`,
      [path.join(modelsDir, 'half-written')],
    );
    await fs.mkdir(path.join(modelsDir, 'half-written', 'classifier'), { recursive: true });
    const reaped = await new RunLedger(t.app.orm, silent, {
      lostAfterMs: 2000,
      attempts: 2,
    }).reap();
    expect(reaped).toContainEqual(
      expect.objectContaining({
        kind: RunKind.TRAIN,
        id,
        status: 'FAILED',
        worker: 'gone-host:4242',
      }),
    );
    expect(await trainingRun(id)).toMatchObject({
      status: 'FAILED',
      error: `${WORKER_LOST} (gone-host:4242, attempt 2)`,
    });
    await expect(fs.access(path.join(modelsDir, 'half-written'))).rejects.toThrow();
    // A run reaped already, or one whose heartbeat is fresh, is left alone.
    const again = await new RunLedger(t.app.orm, silent, { lostAfterMs: 2000, attempts: 2 }).reap();
    expect(again.map((r) => r.id)).not.toContain(id);
  });

  it('refuses every write of an attempt that lost its run, including a version it trained', async () => {
    const [queued] = await t.sql<{ id: string }>(
      `insert into model_run (status, params) values ('QUEUED', '{}') returning id::text`,
    );
    const options = { lostAfterMs: 2000, attempts: 3 };
    const sleeper = new RunLedger(t.app.orm, silent, options);
    const survivor = new RunLedger(t.app.orm, silent, options);
    const lost = (await sleeper.claim(RunKind.TRAIN, queued!.id))!;
    sleeper.release(lost); // no heartbeat: as if its process stalled
    await t.sql(`update model_run set heartbeat_at = now() - interval '1 hour' where id = ?`, [
      queued.id,
    ]);
    expect((await survivor.reap()).map((r) => r.id)).toContain(queued!.id);
    const taken = (await survivor.claim(RunKind.TRAIN, queued!.id))!;
    expect(taken.attempt).toBe(lost.attempt + 1);

    const versions = async () =>
      (await t.sql<{ n: number }>(`select count(*)::int as n from model_version`))[0]!.n;
    const before = await versions();
    // The stalled attempt wakes up and finishes training: its version is refused with its end.
    await expect(
      trainModels(t.app.orm, {
        seed: 3,
        tags: TAGS,
        maxEpochs: 5,
        modelsDir,
        onRegistered: (em, modelVersionId) =>
          sleeper.finish(lost, 'SUCCEEDED', { model_version_id: modelVersionId }, em),
      }),
    ).rejects.toBeInstanceOf(RunLostError);
    expect(await versions()).toBe(before);
    await expect(sleeper.note(lost, { progress: { phase: 'x', done: 0, total: 1 } })).resolves.toBe(
      undefined,
    );
    expect((await trainingRun(queued!.id)).phase).not.toBe('x');
    await survivor.finish(taken, 'FAILED', { error: 'test over' });
    expect(await trainingRun(queued!.id)).toMatchObject({
      status: 'FAILED',
      attempt: taken.attempt,
    });
  }, 120_000);

  describe('cancelRun', () => {
    const CANCEL = `mutation($kind: RunKind!, $id: ID!) {
      cancelRun(kind: $kind, id: $id) { kind id status error cancelRequestedAt }
    }`;

    it('cancels a queued run at once; the worker that takes its job skips it', async () => {
      const { trainModels: queued } = await t.ok(TRAIN, { tags: TAGS });
      const { cancelRun } = await t.ok(CANCEL, { kind: 'TRAIN', id: queued.id });
      expect(cancelRun).toMatchObject({ kind: 'TRAIN', status: 'CANCELLED', error: 'cancelled' });
      expect(cancelRun.cancelRequestedAt).not.toBeNull();
      await t.app.queue.runTraining(queued.id);
      expect(await trainingRun(queued.id)).toMatchObject({ status: 'CANCELLED', attempt: 0 });
      // Again: nothing changes; a run that ended otherwise cannot be cancelled.
      expect((await t.ok(CANCEL, { kind: 'TRAIN', id: queued.id })).cancelRun.status).toBe(
        'CANCELLED',
      );
      const [ended] = await t.sql<{ id: string }>(
        `select id::text from model_run where status = 'SUCCEEDED' limit 1`,
      );
      expect(errorOf(await t.gql(CANCEL, { kind: 'TRAIN', id: ended!.id }))).toMatchObject({
        code: 'CONFLICT',
        field: 'id',
      });
      expect(errorOf(await t.gql(CANCEL, { kind: 'RULES', id: '987654' })).code).toBe('NOT_FOUND');
      expect(
        errorOf(await t.gql(CANCEL, { kind: 'TRAIN', id: queued.id }, { as: 'REVIEWER' as never }))
          .code,
      ).toBe('FORBIDDEN');
    });

    it('stops a running training at its next step: CANCELLED, no version, no files', async () => {
      const versions = async () =>
        (await t.sql<{ n: number }>(`select count(*)::int as n from model_version`))[0]!.n;
      const before = await versions();
      const filesBefore = await fs.readdir(modelsDir);
      const { trainModels: queued } = await t.ok(TRAIN, { tags: TAGS });
      const working = t.app.queue.runTraining(queued.id);
      // Cancelled once it runs: it stops at the next step after the heartbeat brings the news,
      // and if the training ends first, registering its version is refused, so it never ends
      // SUCCEEDED either way.
      await until('the training to start', async () => {
        const run = await trainingRun(queued.id);
        return run.status === 'RUNNING';
      });
      const { cancelRun } = await t.ok(CANCEL, { kind: 'TRAIN', id: queued.id });
      expect(cancelRun.status).toBe('RUNNING');
      expect(cancelRun.cancelRequestedAt).not.toBeNull();
      await working;
      expect(await trainingRun(queued.id)).toMatchObject({
        status: 'CANCELLED',
        error: 'cancelled',
        modelVersionId: null,
      });
      expect(await versions()).toBe(before);
      expect(await fs.readdir(modelsDir)).toEqual(filesBefore);
    }, 120_000);
  });
});
