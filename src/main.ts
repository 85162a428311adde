import { buildApp } from './app.ts';
import { ConfigError, loadProcessConfig } from './config.ts';
import { createLogger } from './logger.ts';

const argv = process.argv.slice(2);
let config;
try {
  config = loadProcessConfig(argv.includes('--demo') ? { DEMO: true } : {});
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const logger = createLogger(config.LOG_LEVEL);
try {
  const app = await buildApp(config, { logger });
  const url = await app.listen();
  logger.info(
    { url, graphql: `${url}/graphql`, database: app.database.kind, pubsub: app.deps.bus.kind, demo: config.DEMO },
    'listening',
  );
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
} catch (error) {
  logger.fatal({ err: error }, 'start-up failed');
  process.exit(1);
}
