import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isInvalidArgument } from '@berth/errors';
import { readTar } from './index';

async function list(file: string) {
  const out: { name: string; type: string; linkname: string; content: string }[] = [];
  for await (const e of readTar(createReadStream(file))) {
    let content = '';
    if (e.header.name.endsWith('skip')) await e.drain();
    else for await (const c of e.body()) content += c.toString();
    out.push({ name: e.header.name, type: e.header.type, linkname: e.header.linkname, content });
  }
  return out;
}

describe('readTar', () => {
  it('reads what GNU tar writes: files, dirs, links, long names', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tar-'));
    const src = join(dir, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'd', 'a.txt'), 'hello');
    writeFileSync(join(src, 'skip'), 'x'.repeat(1000));
    const long = 'n'.repeat(150);
    writeFileSync(join(src, long), 'long');
    symlinkSync('d/a.txt', join(src, 'link'));
    execFileSync('ln', [join(src, 'd', 'a.txt'), join(src, 'hard')]);
    for (const format of ['gnu', 'posix']) {
      const tar = join(dir, `${format}.tar`);
      execFileSync('tar', ['--format', format, '-cf', tar, '-C', src, '--sort=name', '.']);
      const got = await list(tar);
      const by = Object.fromEntries(got.map((e) => [e.name.replace(/^\.\//, ''), e]));
      expect(by['d/a.txt']?.content).toBe('hello');
      expect(by[long]?.content).toBe('long');
      expect(by['skip']?.content).toBe('');
      expect(by['link']).toMatchObject({ type: '2', linkname: 'd/a.txt' });
      expect(['1', '0']).toContain(by['hard']?.type ?? by['d/a.txt']?.type);
      expect(by['d/']?.type ?? by['d']?.type).toBe('5');
    }
  });

  it('refuses a corrupted header and a truncated archive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-tar-'));
    writeFileSync(join(dir, 'f'), 'y'.repeat(2000));
    const tar = join(dir, 'a.tar');
    execFileSync('tar', ['-cf', tar, '-C', dir, 'f']);
    const bytes = execFileSync('cat', [tar]);
    const bad = Buffer.from(bytes);
    bad[10] = 0x41;
    writeFileSync(join(dir, 'bad.tar'), bad);
    await expect(list(join(dir, 'bad.tar'))).rejects.toSatisfy(isInvalidArgument);
    writeFileSync(join(dir, 'short.tar'), bytes.subarray(0, 1024));
    await expect(list(join(dir, 'short.tar'))).rejects.toThrow(/truncated/);
  });
});
