import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '@berth/store';

export interface ChildState {
  pid: number;
  startedAtUnixMs: number;
  restarts: number;
  /** running | backoff | stopped */
  status: string;
}

export interface LauncherState {
  pid: number;
  startedAtUnixMs: number;
  children: Record<string, ChildState>;
}

export const stateFile = (execRoot: string) => join(execRoot, 'launcher', 'state.json');
export const controlSocket = (execRoot: string) => join(execRoot, 'launcher', 'control.sock');
export const resolvedConfigFile = (execRoot: string) => join(execRoot, 'launcher', 'daemon.json');

export function writeState(execRoot: string, s: LauncherState): void {
  writeFileAtomic(stateFile(execRoot), JSON.stringify(s, null, 2));
}

export function readState(execRoot: string): LauncherState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(execRoot), 'utf8')) as LauncherState;
  } catch {
    return undefined;
  }
}
