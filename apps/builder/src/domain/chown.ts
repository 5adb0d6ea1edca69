import { invalidArgument } from '@berth/errors';

/** The uid and gid a `--chown` flag gives the copied files. */
export interface Owner {
  uid: number;
  gid: number;
}

/** Reads a file of the step's image (following its symlinks inside the image); null when absent. */
export type ImageFileReader = (path: string) => Promise<string | null>;

const numeric = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);

/** The id of `name` in a passwd- or group-format file (name:x:id:...), as libcontainer's parser reads it. */
function idIn(text: string, name: string): number | undefined {
  for (const line of text.split('\n')) {
    const f = line.trim().split(':');
    if (f[0] === name && f.length >= 3 && /^\d+$/.test(f[2] ?? '')) return Number(f[2]);
  }
  return undefined;
}

async function lookup(what: 'user' | 'group', name: string, read: ImageFileReader): Promise<number> {
  const n = numeric(name);
  if (n !== undefined) return n;
  const file = what === 'user' ? '/etc/passwd' : '/etc/group';
  const text = await read(file);
  const kind = what === 'user' ? 'uid' : 'gid';
  if (text === null) throw invalidArgument(`unable to convert uid/gid chown string to host mapping: can't find ${kind} for ${what} ${name}: open ${file}: no such file or directory`);
  const id = idIn(text, name);
  if (id === undefined) throw invalidArgument(`unable to convert uid/gid chown string to host mapping: can't find ${kind} for ${what} ${name}: no such ${what}: ${name}`);
  return id;
}

/**
 * `COPY --chown=user[:group]` as dockerd's classic builder resolves it: numbers as they are,
 * names from the image's /etc/passwd and /etc/group; a lone user is also looked up as the
 * group (dockerd does not take the user's primary group). The files are read only when a
 * name needs them.
 */
export async function resolveChown(chown: string, read: ImageFileReader): Promise<Owner> {
  const parts = chown.split(':');
  if (parts.length > 2) throw invalidArgument(`unable to convert uid/gid chown string to host mapping: invalid chown string format: ${chown}`);
  const [user, group = user] = parts as [string, string?];
  return { uid: await lookup('user', user, read), gid: await lookup('group', group!, read) };
}
