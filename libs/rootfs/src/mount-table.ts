import { readFileSync } from 'node:fs';

/**
 * True when something is mounted on the path in this process's mount namespace. Paths in
 * mountinfo escape space, tab, newline and backslash as octal, so the path is escaped the same way.
 */
export function isMounted(path: string): boolean {
  let table: string;
  try {
    table = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return false;
  }
  const escaped = path.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return table.split('\n').some((l) => l.split(' ')[4] === escaped);
}
