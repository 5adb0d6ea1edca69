import { invalidArgument } from '@berth/errors';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
}

/**
 * Resolves `-u user[:group]` against the image's /etc/passwd and /etc/group, as Docker does:
 * numbers need no entry, names must exist, and the user's supplementary groups come along.
 */
export function resolveUser(spec: string, passwd: string, group: string): ResolvedUser {
  const [u = '', g] = (spec || '0').split(':');
  const users = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 4);
  const groups = group
    .split('\n')
    .map((l) => l.split(':'))
    .filter((f) => f.length >= 3);
  let uid: number;
  let gid: number;
  let name: string | undefined;
  if (/^\d+$/.test(u)) {
    uid = Number(u);
    const entry = users.find((f) => Number(f[2]) === uid);
    gid = entry ? Number(entry[3]) : 0;
    name = entry?.[0];
  } else {
    const entry = users.find((f) => f[0] === u);
    if (!entry) throw invalidArgument(`unable to find user ${u}: no matching entries in passwd file`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    name = u;
  }
  if (g !== undefined && g !== '') {
    if (/^\d+$/.test(g)) gid = Number(g);
    else {
      const entry = groups.find((f) => f[0] === g);
      if (!entry) throw invalidArgument(`unable to find group ${g}: no matching entries in group file`);
      gid = Number(entry[2]);
    }
  }
  const additionalGids = name
    ? groups.filter((f) => (f[3] ?? '').split(',').includes(name!)).map((f) => Number(f[2])).filter((x) => x !== gid)
    : [];
  return { uid, gid, additionalGids };
}
