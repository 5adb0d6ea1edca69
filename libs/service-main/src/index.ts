import { mkdirSync } from 'node:fs';
import { type BerthConfig, loadConfig, serviceDataDir } from '@berth/config';
import { messageOf } from '@berth/errors';
import { createLogger, type Logger, setDefaultLogger } from '@berth/logging';
import { ServiceServer } from '@berth/grpc';
import { enableMetrics, reportMemoryOnSignal } from '@berth/metrics';
import { join } from 'node:path';

export interface ServiceContext {
  config: BerthConfig;
  logger: Logger;
  /** `<data-root>/<service>`: this service's own state, created before setup runs. */
  dataDir: string;
  server: ServiceServer;
  /** Resources to release on shutdown, closed in reverse order. */
  onClose(fn: () => Promise<void> | void): void;
  /** Shuts down as SIGTERM does, then exits with `code` (e.g. IDLE_EXIT_CODE). */
  exit(code: number, why: string): void;
}

export interface ServiceDefinition {
  name: string;
  version: string;
  /** gRPC address to serve on; defaults to the configured address of `name`. */
  address?: (config: BerthConfig) => string;
  details?: (config: BerthConfig) => Record<string, string>;
  /**
   * For a stateless edge (the gateway): an exception no request handler caught is logged and
   * the process keeps serving, since one bad request must not take the API down for everyone.
   */
  survivesUncaught?: boolean;
  /** Reconciles from disk and registers contracts on ctx.server; must not assume a clean previous shutdown. */
  setup(ctx: ServiceContext): Promise<void> | void;
}

/**
 * The whole life of a service process: config, logger, state dir, contracts, serve, and a
 * graceful stop on SIGTERM/SIGINT. Apps only describe themselves and call this.
 */
export async function runService(def: ServiceDefinition, argv = process.argv.slice(2)): Promise<void> {
  let config: BerthConfig;
  try {
    config = loadConfig(argv).config;
  } catch (err) {
    process.stderr.write(`${def.name}: ${messageOf(err)}\n`);
    process.exit(2);
  }
  if (config.metricsAddr) enableMetrics(def.name);
  reportMemoryOnSignal(join(config.execRoot, 'memory'), def.name);
  const logger = createLogger({ service: def.name, level: config.logLevel, format: config.logFormat });
  setDefaultLogger(logger);
  const closers: (() => Promise<void> | void)[] = [];
  const server = new ServiceServer({ name: def.name, version: def.version, details: () => def.details?.(config) ?? {} });
  const dataDir = serviceDataDir(config, def.name);
  mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  mkdirSync(config.execRoot, { recursive: true, mode: 0o711 });

  let stopping = false;
  const stop = async (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    await server.close();
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn({ err }, 'error while closing');
      }
    }
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('unhandledRejection', (err) => {
    if (def.survivesUncaught) return logger.error({ err }, 'unhandled rejection (kept serving)');
    logger.fatal({ err }, 'unhandled rejection');
    process.exit(1);
  });
  if (def.survivesUncaught) process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception (kept serving)'));

  try {
    await def.setup({ config, logger, dataDir, server, onClose: (fn) => closers.push(fn), exit: (code, why) => void stop(why, code) });
    const address = def.address?.(config) ?? config.services[def.name as keyof BerthConfig['services']];
    await server.listen(address);
    logger.info({ address, version: def.version }, 'serving');
  } catch (err) {
    logger.fatal({ err }, 'failed to start');
    process.exit(1);
  }
}
