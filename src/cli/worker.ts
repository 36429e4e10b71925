import type { Command } from 'commander';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'take queued training, scoring and rule runs until stopped (a worker host; `npm start` runs one itself unless TAGWISE_WORKERS=0)',
    )
    .action(async () => {
      // Imported here: `tagwise --help` must not load the models and the ORM.
      const [{ loadConfig }, { createLogger }, { startJobWorker }] = await Promise.all([
        import('../config/env.js'),
        import('../config/logger.js'),
        import('../jobs/job-worker.js'),
      ]);
      const config = loadConfig();
      const logger = createLogger(config.logLevel, 'tagwise-worker');
      const worker = await startJobWorker(config, logger);
      await new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          logger.info({ signal }, 'job worker stopping');
          resolve();
        };
        process.once('SIGINT', () => stop('SIGINT'));
        process.once('SIGTERM', () => stop('SIGTERM'));
      });
      // A run still going is left RUNNING: its heartbeat stops and another worker's reaper
      // queues it again (pg-boss waits 30 s for it to finish first).
      await worker.close();
    });
}
