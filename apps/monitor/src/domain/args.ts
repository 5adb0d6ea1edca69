import { absolutePathArg } from '@berth/shim-core';

export interface MonitorArgs {
  /** Where the monitor records what it adopted. */
  state: string;
  socket: string;
}

/** `monitor --state <dir> --socket <path>`. */
export function parseMonitorArgs(argv: string[]): MonitorArgs {
  return { state: absolutePathArg(argv, '--state', 'monitor'), socket: absolutePathArg(argv, '--socket', 'monitor') };
}
