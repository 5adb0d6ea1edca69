/**
 * The benches' log fixture: `bytes` of json-file (or conmon's k8s-file) rows written straight to
 * a file, one 1 MiB block of short rows repeated (every fourth on stderr unless `oneStream`).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const MiB = 1024 * 1024;

export function writeLog(path: string, bytes: number, k8s = false, oneStream = false): void {
  const rows: string[] = [];
  const second = '2024-05-06T07:08:09';
  for (let i = 0, n = 0; n < MiB; i++) {
    const stream = oneStream || i % 4 ? 'stdout' : 'stderr';
    const frac = String(i).padStart(9, '0');
    const r = k8s
      ? `${second}.${frac}+00:00 ${stream} F line ${String(i).padStart(6, '0')} abcdefg\n`
      : `{"log":"line ${String(i).padStart(6, '0')} abcdefg\\n","stream":"${stream}","time":"${second}.${frac}Z"}\n`;
    if (n + r.length > MiB) {
      const pad = k8s ? `${second}.999999999+00:00 stdout F pad` : '{"log":"pad\\n","stream":"stdout","time":"2024-05-06T07:08:09.999999999Z"}';
      rows.push(`${pad.padEnd(MiB - n - 1, ' ')}\n`);
      break;
    }
    rows.push(r);
    n += r.length;
  }
  const block = Buffer.from(rows.join(''));
  const fd = openSync(path, 'w');
  for (let w = 0; w < bytes; w += block.length) writeSync(fd, block);
  closeSync(fd);
}
