import { invalidArgument } from '@berth/errors';

/** The value after `flag` in a monitor's command line (`--flag value`). */
export function argValue(argv: string[], flag: string): string | undefined {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The value after `flag`, which must be an absolute path; `program` names who refuses it. */
export function absolutePathArg(argv: string[], flag: string, program: string): string {
  const v = argValue(argv, flag);
  if (!v?.startsWith('/')) throw invalidArgument(`${program}: ${flag} must be an absolute path`);
  return v;
}
