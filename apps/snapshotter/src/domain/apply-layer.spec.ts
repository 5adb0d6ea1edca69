import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, lstatSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { nativeDriver } from '../drivers/native';
import { overlayDriver } from '../drivers/overlay';
import { Snapshotter } from './snapshotter';

const mounted: string[] = [];
afterEach(() => {
  for (const m of mounted.splice(0)) execFileSync('umount', [m]);
});

/** A layer tarball made by GNU tar from a directory the callback fills. */
function layer(dir: string, name: string, fill: (root: string) => void, gzip = false): string {
  const root = join(dir, `${name}-src`);
  mkdirSync(root, { recursive: true });
  fill(root);
  const out = join(dir, `${name}.tar${gzip ? '.gz' : ''}`);
  execFileSync('tar', [gzip ? '-czf' : '-cf', out, '--sort=name', '--owner=0', '--group=0', '-C', root, '.']);
  return out;
}

function view(s: Snapshotter, dir: string, parent: string): string {
  const target = join(dir, `view-${parent}`);
  mkdirSync(target);
  for (const m of s.view(`view-${parent}`, parent)) {
    if (m.type === 'bind') execFileSync('mount', ['--bind', m.source, target]);
    else execFileSync('mount', ['-t', 'overlay', 'overlay', target, '-o', m.options.join(',')]);
  }
  mounted.push(target);
  return target;
}

describe.each([overlayDriver, nativeDriver])('applyLayer ($name)', (driver) => {
  it('stacks layers with whiteouts and opaque directories', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-apply-'));
    const s = new Snapshotter(join(dir, 'data'), driver);
    s.reconcile();
    const l1 = layer(dir, 'l1', (r) => {
      mkdirSync(join(r, 'data/dir'), { recursive: true });
      writeFileSync(join(r, 'data/keep.txt'), 'keep');
      writeFileSync(join(r, 'data/gone.txt'), 'gone');
      writeFileSync(join(r, 'data/replaced.txt'), 'old');
      writeFileSync(join(r, 'data/dir/a.txt'), 'a');
      symlinkSync('keep.txt', join(r, 'data/link'));
    });
    const l2 = layer(
      dir,
      'l2',
      (r) => {
        mkdirSync(join(r, 'data/dir'), { recursive: true });
        writeFileSync(join(r, 'data/.wh.gone.txt'), '');
        writeFileSync(join(r, 'data/replaced.txt'), 'new');
        writeFileSync(join(r, 'data/dir/.wh..wh..opq'), '');
        writeFileSync(join(r, 'data/dir/b.txt'), 'b');
      },
      true,
    );
    s.prepare('x1', '');
    const r1 = await s.applyLayer('x1', l1);
    expect(r1.diffId).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(r1.diffId).toBe(`sha256:${execFileSync('sha256sum', [l1]).toString().split(' ')[0]}`);
    s.commit('c1', 'x1');
    s.prepare('x2', 'c1');
    const r2 = await s.applyLayer('x2', l2);
    expect(r2.diffId).toBe(`sha256:${execFileSync('sh', ['-c', `gunzip -c ${l2} | sha256sum`]).toString().split(' ')[0]}`);
    s.commit('c2', 'x2');
    const v = view(s, dir, 'c2');
    expect(readFileSync(join(v, 'data/keep.txt'), 'utf8')).toBe('keep');
    expect(readFileSync(join(v, 'data/replaced.txt'), 'utf8')).toBe('new');
    expect(existsSync(join(v, 'data/gone.txt'))).toBe(false);
    expect(existsSync(join(v, 'data/dir/a.txt'))).toBe(false);
    expect(readFileSync(join(v, 'data/dir/b.txt'), 'utf8')).toBe('b');
    expect(readlinkSync(join(v, 'data/link'))).toBe('keep.txt');
    expect(lstatSync(join(v, 'data/keep.txt')).uid).toBe(0);
  });
});

describe('applyLayer refuses layers that escape their root', () => {
  const setup = () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-evil-'));
    const s = new Snapshotter(join(dir, 'data'), overlayDriver);
    s.reconcile();
    s.prepare('k', '');
    return { dir, s };
  };

  it('.. in a name', async () => {
    const { dir, s } = setup();
    const src = join(dir, 'src');
    mkdirSync(join(src, 'a'), { recursive: true });
    writeFileSync(join(dir, 'outside.txt'), 'x');
    const tar = join(dir, 'evil.tar');
    execFileSync('tar', ['-cf', tar, '-C', src, '--transform', 's,^a/x$,../../../../../../tmp/berth-escape,', '-P', 'a']);
    // GNU tar strips '..' unless asked; write the entry name by hand instead.
    execFileSync('python3', ['-c', `import tarfile,io\nt=tarfile.open('${tar}','w')\ni=tarfile.TarInfo('../../escaped.txt');i.size=1\nt.addfile(i,io.BytesIO(b'x'))\nt.close()`]);
    await expect(s.applyLayer('k', tar)).rejects.toSatisfy((e: unknown) => isInvalidArgument(e) && /escapes the layer root/.test(String(e)));
  });

  it('a symlink followed by a write through it', async () => {
    const { dir, s } = setup();
    const victim = mkdtempSync(join(tmpdir(), 'berth-victim-'));
    const tar = join(dir, 'evil.tar');
    execFileSync('python3', ['-c', `import tarfile,io\nt=tarfile.open('${tar}','w')\nl=tarfile.TarInfo('d');l.type=tarfile.SYMTYPE;l.linkname='${victim}'\nt.addfile(l)\ni=tarfile.TarInfo('d/pwned');i.size=1\nt.addfile(i,io.BytesIO(b'x'))\nt.close()`]);
    await expect(s.applyLayer('k', tar)).rejects.toSatisfy(isInvalidArgument);
    expect(existsSync(join(victim, 'pwned'))).toBe(false);
  });

  it('a hardlink to a file outside', async () => {
    const { dir, s } = setup();
    const tar = join(dir, 'evil.tar');
    execFileSync('python3', ['-c', `import tarfile\nt=tarfile.open('${tar}','w')\nl=tarfile.TarInfo('h');l.type=tarfile.LNKTYPE;l.linkname='../../../etc/passwd'\nt.addfile(l)\nt.close()`]);
    await expect(s.applyLayer('k', tar)).rejects.toSatisfy(isInvalidArgument);
  });
});
