import { invalidArgument } from '@berth/errors';

/** The Engine API version of ../shared/reference/docker-engine-api.yaml, which Berth follows. */
export const MAX_API_VERSION = '1.55';
/** As dockerd with DOCKER_MIN_API_VERSION lowered: every client back to 1.24 can talk to Berth. */
export const MIN_API_VERSION = '1.24';

export function compareVersions(a: string, b: string): number {
  const [am = 0, an = 0] = a.split('.').map(Number);
  const [bm = 0, bn = 0] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

/** Checks a `/vX.Y/` prefix; throws dockerd's 400 messages when out of range. */
export function checkApiVersion(v: string): string {
  if (!/^\d+\.\d+$/.test(v)) throw invalidArgument(`invalid API version format: ${v}`);
  if (compareVersions(v, MIN_API_VERSION) < 0) {
    throw invalidArgument(
      `client version ${v} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`,
    );
  }
  if (compareVersions(v, MAX_API_VERSION) > 0) {
    throw invalidArgument(`client version ${v} is too new. Maximum supported API version is ${MAX_API_VERSION}`);
  }
  return v;
}
