import { notImplemented } from '@berth/errors';
import type { ShimOptions } from './options';

/** The container keeps no log (`--log-driver none`): its output only goes to attached clients. */
export function keepsNoLog(o: Pick<ShimOptions, 'logDriver'>): boolean {
  return o.logDriver === 'none';
}

/** dockerd's answer to `docker logs` of a container whose driver cannot be read: 501, in its words. */
export function assertLogReadable(o: Pick<ShimOptions, 'logDriver'>): void {
  if (keepsNoLog(o)) throw notImplemented('configured logging driver does not support reading');
}
