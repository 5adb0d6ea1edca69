import { describe, expect, it } from 'vitest';
import { resolveChown } from './chown';

const files: Record<string, string> = {
  '/etc/passwd': 'root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n',
  '/etc/group': 'root:x:0:\nwww:x:33:\nstaff:x:50:app\n',
};
const read = async (p: string) => files[p] ?? null;

describe('resolveChown', () => {
  it('takes numbers as they are without reading the image', async () => {
    expect(await resolveChown('1:2', async () => { throw new Error('read'); })).toEqual({ uid: 1, gid: 2 });
    expect(await resolveChown('7', async () => null)).toEqual({ uid: 7, gid: 7 });
  });

  it('resolves names from /etc/passwd and /etc/group, a lone user also as the group', async () => {
    expect(await resolveChown('app:staff', read)).toEqual({ uid: 1000, gid: 50 });
    expect(await resolveChown('www', read)).toEqual({ uid: 33, gid: 33 });
    expect(await resolveChown('app:0', read)).toEqual({ uid: 1000, gid: 0 });
  });

  it("fails as dockerd does for an unknown name, a missing file and a bad format", async () => {
    await expect(resolveChown('nosuch', read)).rejects.toThrow("unable to convert uid/gid chown string to host mapping: can't find uid for user nosuch: no such user: nosuch");
    await expect(resolveChown('app', read)).rejects.toThrow("can't find gid for group app: no such group: app");
    await expect(resolveChown('app', async () => null)).rejects.toThrow("can't find uid for user app: open /etc/passwd: no such file or directory");
    await expect(resolveChown('a:b:c', read)).rejects.toThrow('invalid chown string format: a:b:c');
  });
});
