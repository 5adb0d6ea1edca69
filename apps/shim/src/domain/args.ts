import { invalidArgument } from '@berth/errors';
import { absolutePathArg, argValue } from '@berth/shim-core';

export interface ShimArgs {
  id: string;
  bundle: string;
  socket: string;
}

/** `shim --id <container id> --bundle <dir> [--socket <path>]`; the socket defaults to `<bundle>/shim.sock`. */
export function parseShimArgs(argv: string[]): ShimArgs {
  const id = argValue(argv, '--id');
  if (!id || !/^[a-f0-9]{64}$/.test(id)) throw invalidArgument('shim: --id must be a 64-hex container id');
  const bundle = absolutePathArg(argv, '--bundle', 'shim');
  return { id, bundle, socket: argValue(argv, '--socket') ?? `${bundle}/shim.sock` };
}
