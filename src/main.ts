import { startApp } from './app.js';
import { ConfigError, loadConfig } from './config/config.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`switchyard: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  let running;
  try {
    running = await startApp(config);
  } catch (e) {
    // Unusable TLS or identity files are configuration errors too: same exit status as a bad variable.
    if (e instanceof ConfigError) {
      process.stderr.write(`switchyard: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  process.stderr.write(
    `switchyard: REST on ${config.HOST}:${running.httpPort} (docs at /api/docs), gRPC on ${config.HOST}:${running.grpcPort}, xDS on ${config.HOST}:${running.xdsPort}, database: ${config.DATABASE_URL ? 'PostgreSQL' : `embedded PGlite in ${config.DATA_DIR}`}\n`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`switchyard: ${signal} received, shutting down\n`);
    // The graceful path leaves itself time to finish within SHUTDOWN_TIMEOUT_MS (see drainBudgetMs); this is the hard bound.
    const force = setTimeout(() => {
      process.stderr.write('switchyard: shutdown timed out, exiting\n');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    running.close().then(
      () => process.exit(0),
      (e) => {
        process.stderr.write(`switchyard: error during shutdown: ${e}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`switchyard: failed to start: ${e instanceof Error ? e.message : e}\n`);
  process.exit(1);
});
