import { invalidArgument } from '@berth/errors';

export interface MonitorArgs {
  /** Where the monitor records what it adopted. */
  state: string;
  socket: string;
}

/** `monitor --state <dir> --socket <path>`. */
export function parseMonitorArgs(argv: string[]): MonitorArgs {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const state = get('--state');
  const socket = get('--socket');
  if (!state?.startsWith('/')) throw invalidArgument('monitor: --state must be an absolute path');
  if (!socket?.startsWith('/')) throw invalidArgument('monitor: --socket must be an absolute path');
  return { state, socket };
}
