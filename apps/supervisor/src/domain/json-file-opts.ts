import { invalidArgument } from '@berth/errors';

/** The options dockerd's json-file driver takes; any other is refused at create. */
const JSON_FILE_OPTS = new Set(['max-file', 'max-size', 'compress', 'labels', 'labels-regex', 'env', 'env-regex', 'tag']);

/** Decimal units, as dockerd's max-size (go-units FromHumanSize: `10k` is 10000 bytes); 0 when unset. */
export function parseSize(s: string | undefined): number {
  if (!s) return 0;
  const m = /^(\d+(?:\.\d+)?) ?([kmgtp])?i?b?$/i.exec(s);
  if (!m) throw invalidArgument(`invalid size: '${s}'`);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 }[(m[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't' | 'p'];
  return Math.floor(Number(m[1]) * mult);
}

const TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];

/** json-file's `compress` as dockerd reads it (strconv.ParseBool); the options are validated before. */
export const compressOn = (opts: Record<string, string>): boolean => TRUE.includes(opts.compress ?? '');

/** dockerd's checks of json-file options, in its words (a 400 at create here rather than a failed start). */
export function validateJsonFileOpts(opts: Record<string, string>): void {
  for (const key of Object.keys(opts)) if (!JSON_FILE_OPTS.has(key)) throw invalidArgument(`unknown log opt '${key}' for json-file log driver`);
  const size = opts['max-size'];
  if (size !== undefined && parseSize(size) <= 0) throw invalidArgument('max-size must be a positive number');
  const files = opts['max-file'];
  let maxFile = 1;
  if (files !== undefined) {
    if (!/^[+-]?\d+$/.test(files)) throw invalidArgument(`strconv.Atoi: parsing ${JSON.stringify(files)}: invalid syntax`);
    maxFile = Number(files);
    if (maxFile < 1) throw invalidArgument('max-file cannot be less than 1');
  }
  const compress = opts.compress;
  if (compress !== undefined) {
    const on = TRUE.includes(compress);
    if (!on && !['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(compress)) throw invalidArgument(`strconv.ParseBool: parsing ${JSON.stringify(compress)}: invalid syntax`);
    if (on && (maxFile === 1 || size === undefined)) throw invalidArgument('compress cannot be true when max-file is less than 2 or max-size is not set');
  }
}
