import { existsSync } from 'node:fs';
import { messageOf } from '@berth/errors';
import { ServiceServer } from '@berth/grpc';
import { createLogger } from '@berth/logging';
import { reportMemoryOnSignal } from '@berth/metrics';
import { dirname, join } from 'node:path';
import { monitorV1 } from '@berth/proto';
import { monitorService } from './api/monitor-service';
import { Adopted } from './domain/adopted';
import { parseMonitorArgs } from './domain/args';
import { claimStateDir } from './domain/state-lock';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';
/** A monitor with no container to serve exits after this long; the supervisor starts one on demand. */
const IDLE_EXIT_MS = Number(process.env.BERTH_MONITOR_IDLE_MS ?? 30_000);
/** How long a monitor that finds its state dir held waits for the holder to answer (or let go). */
const CLAIM_WAIT_MS = 15_000;

async function main(): Promise<void> {
  let args;
  try {
    args = parseMonitorArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${messageOf(err)}\n`);
    process.exit(2);
  }
  reportMemoryOnSignal(join(dirname(args.socket), 'memory'), 'monitor');
  const logger = createLogger({ service: 'monitor' });
  // Before anything is read or served: a second monitor (two supervisors raced to start one) serves nothing.
  let claim;
  try {
    claim = await claimStateDir(args.state, args.socket, CLAIM_WAIT_MS);
  } catch (err) {
    logger.error({ err: messageOf(err) }, 'cannot claim this state dir');
    process.exit(1);
  }
  if (claim.owner === 'other') {
    logger.info({ holder: claim.pid, socket: args.socket }, 'another monitor serves this state dir; exiting');
    process.exit(0);
  }
  const adopted = new Adopted(args.state, VERSION, logger);
  const server = new ServiceServer({ name: 'monitor', version: VERSION, details: () => ({ containers: String(adopted.size), conmon: 'conmon' }) });
  server.add<monitorV1.MonitorServer>('berth.monitor.v1', monitorV1.MonitorService, monitorService(adopted));
  // Containers first: a supervisor that finds monitor.sock answering may call their sockets at once.
  await adopted.recoverAll();
  await server.listen(`unix://${args.socket}`);
  logger.info({ socket: args.socket, version: VERSION, containers: adopted.size }, 'monitor serving');
  let idleSince = Date.now();
  setInterval(() => {
    // Its exec root removed (an engine torn down): nothing is left to serve.
    if (!existsSync(args.state)) process.exit(0);
    if (adopted.size > 0) idleSince = Date.now();
    else if (Date.now() - idleSince > IDLE_EXIT_MS) {
      logger.info('monitor idle, exiting');
      void server.close(1_000).then(() => process.exit(0));
    }
  }, 1_000).unref();
  // Containers do not depend on this process; only idleness ends it.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGPIPE'] as const) process.on(sig, () => logger.info({ sig }, 'ignored signal'));
}

void main();
