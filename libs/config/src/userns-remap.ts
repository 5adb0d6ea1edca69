import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { invalidArgument } from '@berth/errors';

/** One line of an OCI spec's uidMappings/gidMappings. */
export interface IdMap {
  containerID: number;
  hostID: number;
  size: number;
}

/** dockerd's `--userns-remap`, resolved: whose subordinate ranges containers' ids map into. */
export interface UsernsRemap {
  user: string;
  group: string;
  uids: IdMap[];
  gids: IdMap[];
  /** The host ids the container's root becomes. */
  rootUid: number;
  rootGid: number;
}

/** Where the account databases are; tests of the parser point these elsewhere. */
export interface IdFiles {
  passwd: string;
  group: string;
  subuid: string;
  subgid: string;
}

const ETC: IdFiles = { passwd: '/etc/passwd', group: '/etc/group', subuid: '/etc/subuid', subgid: '/etc/subgid' };

/** dockerd's name for `--userns-remap=default`, and the size of the range it gives that user. */
export const DEFAULT_REMAP_USER = 'dockremap';
const DEFAULT_RANGE_START = 100_000;
const DEFAULT_RANGE_SIZE = 65_536;

function readLines(file: string): string[][] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

function lookupUser(name: string, files: IdFiles): { name: string; uid: number } | undefined {
  const byName = (l: string[]) => l[0] === name;
  const byId = (l: string[]) => /^\d+$/.test(name) && l[2] === name;
  const rows = readLines(files.passwd);
  const l = rows.find(byName) ?? rows.find(byId);
  return l ? { name: l[0]!, uid: Number(l[2]) } : undefined;
}

function lookupGroup(name: string, files: IdFiles): { name: string; gid: number } | undefined {
  const rows = readLines(files.group);
  const l = rows.find((r) => r[0] === name) ?? rows.find((r) => /^\d+$/.test(name) && r[2] === name);
  return l ? { name: l[0]!, gid: Number(l[2]) } : undefined;
}

/** A user's subordinate ranges, found by uid first and then by name (as dockerd looks them up), in id order. */
function subRanges(file: string, name: string, id: number): IdMap[] {
  const rows = readLines(file).filter((l) => l.length >= 3);
  let mine = rows.filter((l) => l[0] === String(id));
  if (mine.length === 0) mine = rows.filter((l) => l[0] === name);
  const ranges = mine.map((l) => ({ start: Number(l[1]), count: Number(l[2]) })).filter((r) => r.count > 0).sort((a, b) => a.start - b.start);
  let containerID = 0;
  return ranges.map((r) => {
    const m = { containerID, hostID: r.start, size: r.count };
    containerID += r.count;
    return m;
  });
}

/** The first DEFAULT_RANGE_SIZE ids from DEFAULT_RANGE_START that no entry of `file` covers. */
function freeRange(file: string): number {
  const used = readLines(file)
    .filter((l) => l.length >= 3)
    .map((l) => ({ start: Number(l[1]), end: Number(l[1]) + Number(l[2]) }));
  let start = DEFAULT_RANGE_START;
  for (;;) {
    const clash = used.find((u) => start < u.end && u.start < start + DEFAULT_RANGE_SIZE);
    if (!clash) return start;
    start = clash.end;
  }
}

/** What dockerd does for `default`: a system user `dockremap` with a subordinate range of its own. */
function ensureDefaultUser(files: IdFiles): void {
  if (!lookupUser(DEFAULT_REMAP_USER, files)) {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--shell', '/bin/false', '--no-create-home', DEFAULT_REMAP_USER], { stdio: 'pipe' });
    } catch (err) {
      throw invalidArgument(`Can't create ID mappings: Error trying to add user "${DEFAULT_REMAP_USER}": ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`);
    }
  }
  const u = lookupUser(DEFAULT_REMAP_USER, files)!;
  const needUids = subRanges(files.subuid, u.name, u.uid).length === 0;
  const needGids = subRanges(files.subgid, u.name, u.uid).length === 0;
  if (!needUids && !needGids) return;
  const args: string[] = [];
  if (needUids) {
    const s = freeRange(files.subuid);
    args.push('-v', `${s}-${s + DEFAULT_RANGE_SIZE - 1}`);
  }
  if (needGids) {
    const s = freeRange(files.subgid);
    args.push('-w', `${s}-${s + DEFAULT_RANGE_SIZE - 1}`);
  }
  try {
    execFileSync('usermod', [...args, DEFAULT_REMAP_USER], { stdio: 'pipe' });
  } catch (err) {
    throw invalidArgument(`Can't create ID mappings: Error trying to add subordinate ranges for user "${DEFAULT_REMAP_USER}": ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}`);
  }
}

/**
 * Resolves `--userns-remap` (`default`, `user`, `user:group`, names or ids) into id mappings, with
 * dockerd's errors for a user that does not exist or has no subordinate ranges. `default` creates
 * the `dockremap` user and its ranges when missing, as dockerd does; nothing else writes. Remapping
 * root onto itself turns the feature off, with dockerd's reason.
 */
export function resolveUsernsRemap(spec: string, files: IdFiles = ETC, create = true): UsernsRemap | undefined {
  if (!spec) return undefined;
  const [userPart, groupPart, ...extra] = spec.split(':');
  if (!userPart || extra.length > 0 || groupPart === '') throw invalidArgument(`Can't create ID mappings: invalid remapped root "${spec}": want user[:group]`);
  if (userPart === 'default') {
    if (groupPart !== undefined) throw invalidArgument(`Can't create ID mappings: "default" takes no group: ${spec}`);
    if (create) ensureDefaultUser(files);
  }
  const name = userPart === 'default' ? DEFAULT_REMAP_USER : userPart;
  const user = lookupUser(name, files);
  if (!user) throw invalidArgument(`Can't create ID mappings: Could not get user for username ${name}: no such user`);
  if (user.uid === 0) return undefined;
  let groupName = user.name;
  if (groupPart !== undefined) {
    const g = lookupGroup(groupPart, files);
    if (!g) throw invalidArgument(`Can't create ID mappings: Could not get group for groupname ${groupPart}: no such group`);
    groupName = g.name;
  }
  const uids = subRanges(files.subuid, user.name, user.uid);
  if (uids.length === 0) throw invalidArgument(`Can't create ID mappings: no subuid ranges found for user "${user.name}"`);
  const gids = subRanges(files.subgid, user.name, user.uid);
  if (gids.length === 0) throw invalidArgument(`Can't create ID mappings: no subgid ranges found for group "${user.name}"`);
  return { user: user.name, group: groupName, uids, gids, rootUid: uids[0]!.hostID, rootGid: gids[0]!.hostID };
}

/** Whether `uid:gid` may search `dir` (the x bit that applies to it). */
function canTraverse(dir: string, uid: number, gid: number): boolean {
  const st = statSync(dir);
  if (st.uid === uid) return (st.mode & 0o100) !== 0;
  if (st.gid === gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/**
 * dockerd refuses to start when a directory above its roots keeps the remapped root out: every
 * container's rootfs and bundle lie below them, and runc sets them up as that root.
 */
export function checkRemapAccess(remap: UsernsRemap, roots: string[]): void {
  for (const root of roots) {
    for (let dir = dirname(root); dir !== '/' && dir !== '.'; dir = dirname(dir)) {
      if (!existsSync(dir)) continue;
      accessSync(dir, constants.F_OK);
      if (!canTraverse(dir, remap.rootUid, remap.rootGid)) {
        throw invalidArgument(
          `a subdirectory in your graphroot path (${root}) restricts access to the remapped root uid/gid; please fix by allowing 'o+x' permissions on existing directories`,
        );
      }
    }
  }
}
