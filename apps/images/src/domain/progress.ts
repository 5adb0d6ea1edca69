/** Docker's JSON message, the shape the CLI draws progress bars from. */
export interface JsonMessage {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
  aux?: Record<string, unknown>;
}

export type Emit = (m: JsonMessage) => void;

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Docker's decimal human size with four significant digits: `1.234MB`, `527B`. */
export function humanSize(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1000 && i < UNITS.length - 1) {
    v /= 1000;
    i++;
  }
  return `${Number(v.toPrecision(4))}${UNITS[i]}`;
}

/** The text bar older clients show: `[=====>      ]  1.2MB/3.4MB`. */
export function progressBar(current: number, total: number): string {
  const width = 50;
  if (total <= 0) return `${humanSize(current)}`;
  const filled = Math.min(width, Math.floor((current / total) * width));
  const bar = `${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}`;
  return `[${bar}] ${humanSize(current).padStart(8)}/${humanSize(total)}`;
}

export function progressMessage(status: string, id: string, current: number, total: number): JsonMessage {
  return { status, progressDetail: { current, total }, progress: progressBar(current, total), id };
}

/** Limits how often a byte counter reports, so a fast download does not flood the client. */
export function throttled(report: (n: number) => void, everyMs = 100): (n: number, force?: boolean) => void {
  let last = 0;
  return (n, force) => {
    const now = Date.now();
    if (force || now - last >= everyMs) {
      last = now;
      report(n);
    }
  };
}

/** `sha256:abcdef...` → the 12 hex characters Docker shows. */
export function shortId(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}
