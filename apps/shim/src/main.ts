import { messageOf } from '@berth/errors';
import { ServiceServer } from '@berth/grpc';
import { createLogger } from '@berth/logging';
import { shimV1 } from '@berth/proto';
import { shimServiceWire } from '@berth/log-stream';
import { Activity, readOptions, shimService } from '@berth/shim-core';
import { parseShimArgs } from './domain/args';
import { Container } from './domain/container';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';
/** How long a shim whose container is not running waits for a caller before it exits. */
const IDLE_EXIT_MS = Number(process.env.BERTH_SHIM_IDLE_MS ?? 10_000);

async function main(): Promise<void> {
  let args;
  let opts;
  try {
    args = parseShimArgs(process.argv.slice(2));
    opts = readOptions(args.bundle);
  } catch (err) {
    process.stderr.write(`${messageOf(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: 'shim' }).child({ container: args.id });
  const container = new Container(opts, args.bundle, logger);
  const server = new ServiceServer({ name: 'shim', version: VERSION, details: () => ({ bundle: args.bundle }) });
  const exit = () => void server.close(1_000).then(() => process.exit(0));
  const activity = new Activity();
  server.add<shimV1.ShimServer>('berth.shim.v1', shimServiceWire, activity.track(shimService(container, exit)));
  await server.listen(`unix://${opts.socket}`);
  logger.info({ socket: opts.socket, version: VERSION }, 'shim serving');
  // A stopped container needs no process: its exit record, log and rootfs are all on disk, and
  // the supervisor spawns a shim again for the next start, attach or logs.
  setInterval(() => {
    if ((container.status === 'created' || container.status === 'stopped') && activity.idleForMs() > IDLE_EXIT_MS) {
      logger.info({ status: container.status }, 'shim idle, exiting');
      exit();
    }
  }, Math.min(1_000, IDLE_EXIT_MS)).unref();
  // The container must outlive whoever sent these; only Shutdown ends a shim.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE'] as const) process.on(sig, () => logger.info({ sig }, 'ignored signal'));
}

void main();
