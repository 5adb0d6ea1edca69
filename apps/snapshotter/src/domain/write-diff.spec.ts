import { mkdirSync, mkdtempSync, writeFileSync, linkSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lsetxattr, mknod, S_IFCHR } from '@berth/sys';
import { readTar, TarWriter } from '@berth/tar';
import { ChangeKind, overlayChanges } from './changes';
import { writeOverlayDiff } from './write-diff';

const canMount = process.getuid?.() === 0;

function layout() {
  const root = mkdtempSync(join(tmpdir(), 'berth-diff-'));
  const lower = join(root, 'lower');
  const upper = join(root, 'upper');
  mkdirSync(join(lower, 'etc'), { recursive: true });
  writeFileSync(join(lower, 'etc', 'passwd'), 'root\n');
  mkdirSync(join(lower, 'bin'));
  writeFileSync(join(lower, 'bin', 'true'), '');
  mkdirSync(join(lower, 'data', 'old'), { recursive: true });
  mkdirSync(join(upper, 'etc'), { recursive: true });
  writeFileSync(join(upper, 'etc', 'passwd'), 'root\nme\n');
  writeFileSync(join(upper, 'etc', 'hosts'), '');
  mkdirSync(join(upper, 'bin'));
  mknod(join(upper, 'bin', 'true'), S_IFCHR | 0o600, 0, 0);
  mkdirSync(join(upper, 'data'));
  lsetxattr(join(upper, 'data'), 'trusted.overlay.opaque', Buffer.from('y'));
  writeFileSync(join(upper, 'data', 'new'), 'n');
  linkSync(join(upper, 'data', 'new'), join(upper, 'data', 'again'));
  symlinkSync('new', join(upper, 'data', 'link'));
  mkdirSync(join(upper, 'vol'));
  return { upper, lower };
}

describe.runIf(canMount)('overlay diffs', () => {
  it('lists changes as docker diff does, leaving out init paths and mount points', () => {
    const { upper, lower } = layout();
    expect(overlayChanges(upper, [lower], ['/vol'])).toEqual([
      { path: '/bin', kind: ChangeKind.Modified },
      { path: '/bin/true', kind: ChangeKind.Deleted },
      { path: '/data', kind: ChangeKind.Modified },
      { path: '/data/again', kind: ChangeKind.Added },
      { path: '/data/link', kind: ChangeKind.Added },
      { path: '/data/new', kind: ChangeKind.Added },
      { path: '/etc', kind: ChangeKind.Modified },
      { path: '/etc/passwd', kind: ChangeKind.Modified },
    ]);
  });

  it('writes a layer with .wh. whiteouts, an opaque marker and hardlinks', async () => {
    const { upper } = layout();
    const chunks: Buffer[] = [];
    await writeOverlayDiff(upper, ['/vol'], new TarWriter(chunks));
    const entries: string[] = [];
    for await (const e of readTar(Buffer.concat(chunks))) {
      entries.push(`${e.header.type} ${e.header.name}${e.header.linkname ? ` -> ${e.header.linkname}` : ''}`);
    }
    expect(entries).toEqual([
      'directory bin/',
      'file bin/.wh.true',
      'directory data/',
      'file data/.wh..wh..opq',
      'file data/again',
      'symlink data/link -> new',
      'hardlink data/new -> data/again',
      'directory etc/',
      'file etc/passwd',
    ]);
  });
});
