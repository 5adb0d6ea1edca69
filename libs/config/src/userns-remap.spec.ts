import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveUsernsRemap } from './userns-remap';

const dir = mkdtempSync(join(tmpdir(), 'remap-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function files(subuid: string, subgid: string) {
  const d = mkdtempSync(join(dir, 'etc-'));
  mkdirSync(d, { recursive: true });
  const f = { passwd: join(d, 'passwd'), group: join(d, 'group'), subuid: join(d, 'subuid'), subgid: join(d, 'subgid') };
  writeFileSync(f.passwd, 'root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n');
  writeFileSync(f.group, 'root:x:0:\nalice:x:1000:\nstaff:x:50:\n');
  writeFileSync(f.subuid, subuid);
  writeFileSync(f.subgid, subgid);
  return f;
}

describe('--userns-remap', () => {
  it('maps each subordinate range after the last, in id order, by name or by uid', () => {
    const f = files('alice:300000:10\n1000:100000:65536\n', 'alice:200000:65536\n');
    const r = resolveUsernsRemap('alice:staff', f, false)!;
    // Ranges found by uid win over those found by name, as dockerd looks them up.
    expect(r.uids).toEqual([{ containerID: 0, hostID: 100000, size: 65536 }]);
    expect(r.gids).toEqual([{ containerID: 0, hostID: 200000, size: 65536 }]);
    expect(r).toMatchObject({ user: 'alice', group: 'staff', rootUid: 100000, rootGid: 200000 });
    const two = resolveUsernsRemap('1000', files('alice:300000:10\nalice:100000:5\n', 'alice:1:2\n'), false)!;
    expect(two.uids).toEqual([{ containerID: 0, hostID: 100000, size: 5 }, { containerID: 5, hostID: 300000, size: 10 }]);
  });

  it("gives dockerd's errors", () => {
    const f = files('alice:100000:65536\n', '');
    expect(() => resolveUsernsRemap('nobody', f, false)).toThrow('Can\'t create ID mappings: no subuid ranges found for user "nobody"');
    expect(() => resolveUsernsRemap('alice', f, false)).toThrow('Can\'t create ID mappings: no subgid ranges found for group "alice"');
    expect(() => resolveUsernsRemap('zed', f, false)).toThrow('Could not get user for username zed');
    expect(() => resolveUsernsRemap('alice:nogroup', f, false)).toThrow('Could not get group for groupname nogroup');
    expect(() => resolveUsernsRemap('a:b:c', f, false)).toThrow('invalid remapped root');
  });

  it('is off for an empty value and for root itself', () => {
    const f = files('', '');
    expect(resolveUsernsRemap('', f, false)).toBeUndefined();
    expect(resolveUsernsRemap('root', f, false)).toBeUndefined();
  });
});
