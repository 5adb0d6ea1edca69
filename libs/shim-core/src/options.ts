import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArgument } from '@berth/errors';

/** `<bundle>/shim.json`, written by the supervisor at create. */
export interface ShimOptions {
  id: string;
  socket: string;
  runtime: { path: string; args: string[] };
  runtimeRoot: string;
  logPath: string;
  /** Bytes; 0 means the log is never rotated. */
  logMaxSize: number;
  logMaxFile: number;
  /** json-file's `compress`: rotated files are gzipped (`<log>.N.gz`). Absent from an older supervisor: false. */
  logCompress?: boolean;
  /** `none` keeps no log at all; anything else (or absent, from an older supervisor) is json-file. */
  logDriver?: string;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
}

export function readOptions(bundle: string): ShimOptions {
  let o: ShimOptions;
  try {
    o = JSON.parse(readFileSync(join(bundle, 'shim.json'), 'utf8')) as ShimOptions;
  } catch (err) {
    throw invalidArgument(`shim: cannot read ${join(bundle, 'shim.json')}: ${(err as Error).message}`);
  }
  if (!o.socket || !o.runtime?.path || !o.runtimeRoot || !o.logPath) throw invalidArgument('shim: shim.json lacks socket, runtime, runtimeRoot or logPath');
  return o;
}
