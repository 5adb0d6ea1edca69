import { failedPrecondition, notImplemented } from '@berth/errors';
import { type ContractImpl, endWithError, unaryHandler } from '@berth/grpc';
import type { shimV1 } from '@berth/proto';
import type { ShimArgs } from '../domain/args';
import { readExitRecord } from '../domain/exit-record';

/**
 * The shim's contract. Running the container with the OCI runtime arrives with the lifecycle
 * work (issue #3); until then a shim reports its bundle's recorded state truthfully and
 * refuses what it cannot do with UNIMPLEMENTED rather than pretending.
 */
export function shimService(args: ShimArgs, exit: () => void): ContractImpl<shimV1.ShimServer> {
  const state = (): shimV1.StateResponse => {
    const rec = readExitRecord(args.bundle);
    return {
      id: args.id,
      bundle: args.bundle,
      status: rec ? 'stopped' : 'created',
      pid: 0,
      exitCode: rec?.exitCode ?? 0,
      exitedUnixMs: rec?.exitedUnixMs ?? 0,
    };
  };
  return {
    state: unaryHandler(() => state()),
    kill: unaryHandler(() => {
      throw notImplemented('shim: kill is not implemented yet');
    }),
    wait: unaryHandler(() => {
      const s = state();
      if (s.status !== 'stopped') throw failedPrecondition('shim: container has not been started');
      return { exitCode: s.exitCode, exitedUnixMs: s.exitedUnixMs };
    }),
    start: unaryHandler(() => {
      throw notImplemented('shim: start is not implemented yet');
    }),
    pause: unaryHandler(() => {
      throw notImplemented('shim: pause is not implemented yet');
    }),
    resume: unaryHandler(() => {
      throw notImplemented('shim: resume is not implemented yet');
    }),
    resize: unaryHandler(() => {
      throw notImplemented('shim: resize is not implemented yet');
    }),
    pids: unaryHandler(() => ({ pids: [] })),
    attach: (call) => endWithError(call, notImplemented('shim: attach is not implemented yet')),
    logs: (call) => endWithError(call, notImplemented('shim: logs is not implemented yet')),
    shutdown: unaryHandler(() => {
      setImmediate(exit);
      return {};
    }),
  };
}
