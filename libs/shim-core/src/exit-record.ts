import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileReplace } from '@berth/store';

export interface ExitRecord {
  exitCode: number;
  exitedUnixMs: number;
}

/** The exit status is written before it is reported, so it survives every service restarting. */
export function writeExitRecord(bundle: string, rec: ExitRecord): void {
  writeFileReplace(join(bundle, 'exit.json'), JSON.stringify(rec));
}

export function readExitRecord(bundle: string): ExitRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(bundle, 'exit.json'), 'utf8')) as ExitRecord;
  } catch {
    return undefined;
  }
}

/** A new run starts without its predecessor's record, which a reader could take for the new run's exit. */
export function clearExitRecord(bundle: string): void {
  rmSync(join(bundle, 'exit.json'), { force: true });
}
