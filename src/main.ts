import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config/env.js';
import { DatabaseStartError } from './config/database.js';
import { createLogger } from './config/logger.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  const app = await createApp(config, { logger });
  const listener = app.http.listen(config.port);
  await new Promise<void>((resolve, reject) => {
    listener.once('listening', resolve);
    listener.once('error', reject);
  });
  logger.info(`Tagwise GraphQL API at http://localhost:${config.port}/graphql`);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    listener.close();
    await app.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((error: unknown) => {
  // Start-up problems a person can fix get one clear line, not a stack trace.
  if (error instanceof ConfigError || error instanceof DatabaseStartError) {
    console.error(error.message);
  } else if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
    console.error(`PORT ${process.env.PORT ?? 4000} is already in use; set PORT to a free port`);
  } else {
    console.error(error);
  }
  process.exit(1);
});
