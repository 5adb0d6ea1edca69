import { existsSync } from 'node:fs';

/** The log's files, oldest first: `<path>.<n>` ... `<path>.1`, then `<path>` (the one being written). */
export function logFiles(path: string, maxFiles: number): string[] {
  const out: string[] = [];
  for (let i = Math.max(1, maxFiles) - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) out.push(`${path}.${i}`);
  out.push(path);
  return out;
}
