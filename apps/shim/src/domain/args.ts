import { invalidArgument } from '@berth/errors';

export interface ShimArgs {
  id: string;
  bundle: string;
  socket: string;
}

/** `shim --id <container id> --bundle <dir> [--socket <path>]`; the socket defaults to `<bundle>/shim.sock`. */
export function parseShimArgs(argv: string[]): ShimArgs {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const id = get('--id');
  const bundle = get('--bundle');
  if (!id || !/^[a-f0-9]{64}$/.test(id)) throw invalidArgument('shim: --id must be a 64-hex container id');
  if (!bundle || !bundle.startsWith('/')) throw invalidArgument('shim: --bundle must be an absolute path');
  return { id, bundle, socket: get('--socket') ?? `${bundle}/shim.sock` };
}
