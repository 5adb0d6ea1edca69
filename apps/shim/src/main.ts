import { messageOf } from '@berth/errors';
import { ServiceServer } from '@berth/grpc';
import { createLogger } from '@berth/logging';
import { shimV1 } from '@berth/proto';
import { shimService } from './api/shim-service';
import { parseShimArgs } from './domain/args';

const VERSION = typeof __BERTH_VERSION__ === 'string' ? __BERTH_VERSION__ : '0.0.0-dev';

async function main(): Promise<void> {
  let args;
  try {
    args = parseShimArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${messageOf(err)}\n`);
    process.exit(2);
  }
  const logger = createLogger({ service: 'shim' }).child({ container: args.id });
  const server = new ServiceServer({ name: 'shim', version: VERSION, details: () => ({ bundle: args.bundle }) });
  const exit = () => void server.close(1_000).then(() => process.exit(0));
  server.add<shimV1.ShimServer>('berth.shim.v1', shimV1.ShimService, shimService(args, exit));
  await server.listen(`unix://${args.socket}`);
  logger.info({ socket: args.socket }, 'shim serving');
  process.on('SIGTERM', exit);
}

void main();
