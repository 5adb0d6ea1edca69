import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { symlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packTar } from '@berth/tar';
import type { Suite } from '../support/berth';
import { BuildSuite, LONG } from '../support/build';

let b: BuildSuite;
let s: Suite;
const context = (name: string, files: Record<string, string>) => b.context(name, files);
const postBuild = (body: Buffer, query = '') => b.postBuild(body, query);

beforeAll(async () => {
  b = await BuildSuite.start('bt-build-');
  s = b.s;
}, 120_000);

afterAll(async () => {
  await b?.stop();
});

describe('docker build (classic builder)', () => {
  it('builds metadata, RUN and COPY steps into an image that runs, with history per step', async () => {
    const ctx = context('basic', {
      Dockerfile: 'FROM busybox\nENV GREETING=hello\nLABEL stage=basic\nRUN echo "run says $GREETING" && echo built > /built.txt\nCOPY a.txt /app/\nWORKDIR /app\nCMD ["cat", "/app/a.txt", "/built.txt"]\n',
      'a.txt': 'file a\n',
    });
    const r = await s.docker(['build', '-t', 'basic:1', '-t', 'basic:2', ctx], LONG);
    expect(r.stderr + r.stdout).toContain('Step 1/7 : FROM busybox');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('run says hello');
    expect(r.stdout).toMatch(/Successfully built [0-9a-f]{12}\nSuccessfully tagged basic:1\nSuccessfully tagged basic:2/);
    const run = await s.docker(['run', '--rm', 'basic:2']);
    expect(run.stdout).toBe('file a\nbuilt\n');
    const hist = await s.docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'basic:1']);
    expect(hist.stdout.split('\n').slice(0, 4)).toEqual([
      '/bin/sh -c #(nop)  CMD ["cat","/app/a.txt","/built.txt"]',
      '/bin/sh -c #(nop) WORKDIR /app',
      expect.stringMatching(/^\/bin\/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \/app\/ $/),
      '/bin/sh -c echo "run says $GREETING" && echo built > /built.txt',
    ]);
    const inspect = JSON.parse((await s.docker(['image', 'inspect', 'basic:1'])).stdout)[0];
    expect(inspect.Config.Env).toContain('GREETING=hello');
    expect(inspect.Config.Labels).toEqual({ stage: 'basic' });
    expect(inspect.Config.WorkingDir).toBe('/app');
  }, 300_000);

  it('uses the cache, rebuilds from an edited file on and leaves the old image dangling', async () => {
    const files = { Dockerfile: 'FROM busybox\nRUN echo one > /one\nCOPY b.txt /b.txt\nRUN cat /b.txt > /copy\n', 'b.txt': 'v1\n' };
    const ctx = context('cache', files);
    const first = await s.docker(['build', '-t', 'cached:latest', ctx], LONG);
    expect(first.code).toBe(0);
    const again = await s.docker(['build', '-t', 'cached:latest', ctx], LONG);
    expect(again.stdout.match(/Using cache/g)?.length).toBe(3);
    const oldId = (await s.docker(['images', '-q', 'cached:latest'])).stdout.trim();
    writeFileSync(join(ctx, 'b.txt'), 'v2\n');
    const edited = await s.docker(['build', '-t', 'cached:latest', ctx], LONG);
    expect(edited.code).toBe(0);
    expect(edited.stdout.match(/Using cache/g)?.length).toBe(1);
    expect((await s.docker(['run', '--rm', 'cached', 'cat', '/copy'])).stdout).toBe('v2\n');
    const dangling = await s.docker(['images', '-q', '--no-trunc', '--filter', 'dangling=true']);
    expect(dangling.stdout).toContain(oldId);
    const nocache = await s.docker(['build', '--no-cache', '-q', ctx], LONG);
    expect(nocache.stdout.trim()).toMatch(/^sha256:[0-9a-f]{64}$/);
  }, 300_000);

  it('a failing RUN ends with Docker\'s message and tags nothing', async () => {
    const ctx = context('fail', { Dockerfile: 'FROM busybox\nRUN false\n' });
    const r = await s.docker(['build', '-t', 'failed:1', ctx], LONG);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("The command '/bin/sh -c false' returned a non-zero code: 1");
    expect((await s.docker(['images', '-q', 'failed:1'])).stdout.trim()).toBe('');
  }, 120_000);

  it('refuses an unknown instruction, a missing Dockerfile and a foreign platform with clear errors', async () => {
    const bad = context('unknown', { Dockerfile: 'FROM busybox\nFOO bar\n' });
    const r = await s.docker(['build', bad], LONG);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('dockerfile parse error line 2: unknown instruction: FOO');
    const plat = await s.docker(['build', '--platform', 'linux/s390x-nope', bad], LONG);
    expect(plat.stderr).toContain('is not the platform of this host');
    const huge = context('huge', { Dockerfile: `FROM busybox\n${'LABEL a=b\n'.repeat(100_000)}FOO\n` });
    const h = await s.docker(['build', huge], LONG);
    expect(h.stderr).toContain('line 100002: unknown instruction: FOO');
    expect((await s.docker(['version'])).code).toBe(0);
  }, 300_000);

  it('multi-stage: .dockerignore, ARG, ADD of a .tar.gz and COPY --from give the right files', async () => {
    const ctx = context('multi', {
      Dockerfile: [
        'ARG BASE=busybox',
        'FROM $BASE AS build',
        'ARG WHO=nobody',
        'WORKDIR /src',
        'COPY . .',
        'ADD bundle.tar.gz /unpacked/',
        'RUN echo "made by $WHO" > /src/made.txt && ls /src > /src/listing.txt',
        'FROM busybox',
        'COPY --from=build /src/made.txt /src/listing.txt /out/',
        'COPY --from=build /unpacked /out/unpacked',
        'CMD ["cat", "/out/made.txt"]',
        '',
      ].join('\n'),
      '.dockerignore': '*.log\nsecret/\n!keep.log\n',
      'main.c': 'int main;\n',
      'debug.log': 'ignored\n',
      'keep.log': 'kept\n',
      'secret/key': 'no\n',
      'in/inner.txt': 'inner\n',
    });
    execFileSync('tar', ['czf', join(ctx, 'bundle.tar.gz'), '-C', join(ctx, 'in'), 'inner.txt']);
    const r = await s.docker(['build', '--build-arg', 'WHO=tester', '-t', 'multi:1', ctx], LONG);
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);
    expect((await s.docker(['run', '--rm', 'multi:1'])).stdout).toBe('made by tester\n');
    const listing = (await s.docker(['run', '--rm', 'multi:1', 'cat', '/out/listing.txt'])).stdout.split('\n');
    expect(listing).toContain('main.c');
    expect(listing).toContain('keep.log');
    expect(listing).toContain('Dockerfile');
    expect(listing).not.toContain('debug.log');
    expect(listing).not.toContain('secret');
    expect((await s.docker(['run', '--rm', 'multi:1', 'cat', '/out/unpacked/inner.txt'])).stdout).toBe('inner\n');
    const target = await s.docker(['build', '--target', 'build', '-q', ctx], LONG);
    expect(target.code).toBe(0);
  }, 300_000);

  // Seed 002: ENTRYPOINT × CMD, one image per cell, run with and without run-time arguments.
  it("holds seed 002's ENTRYPOINT × CMD table", async () => {
    const ctxBase = context('nocmd', { Dockerfile: 'FROM busybox\nCMD []\n' });
    expect((await s.docker(['build', '-t', 'nocmd:1', ctxBase], LONG)).code).toBe(0);
    const entries: Record<string, string> = { none: '', shell: 'ENTRYPOINT echo E1 E2', exec: 'ENTRYPOINT ["echo", "E1", "E2"]' };
    const cmds: Record<string, string> = { none: '', exec: 'CMD ["echo", "C1"]', params: 'CMD ["P1", "P2"]', shell: 'CMD echo S1' };
    const want: Record<string, string | null> = {
      'none/none': null,
      'none/exec': 'C1',
      'none/params': null,
      'none/shell': 'S1',
      'shell/none': 'E1 E2',
      'shell/exec': 'E1 E2',
      'shell/params': 'E1 E2',
      'shell/shell': 'E1 E2',
      'exec/none': 'E1 E2',
      'exec/exec': 'E1 E2 echo C1',
      'exec/params': 'E1 E2 P1 P2',
      'exec/shell': 'E1 E2 /bin/sh -c echo S1',
    };
    for (const [e, ei] of Object.entries(entries)) {
      for (const [c, ci] of Object.entries(cmds)) {
        // Rows with an ENTRYPOINT start from busybox (CMD ["sh"]): ENTRYPOINT resets it.
        const df = `FROM ${e === 'none' ? 'nocmd:1' : 'busybox'}\n${ei}\n${ci}\n`;
        const tag = `cell-${e}-${c}`;
        const b = await s.docker(['build', '-q', '-t', tag, context(tag, { Dockerfile: df })], LONG);
        expect(b.code, `${tag}: ${b.stderr}`).toBe(0);
        const r = await s.docker(['run', '--rm', tag]);
        const expected = want[`${e}/${c}`];
        if (expected === null) expect(r.code, tag).not.toBe(0);
        else expect(r.stdout.trim(), tag).toBe(expected);
      }
    }
    // Run-time arguments replace CMD, and are appended to an exec ENTRYPOINT; a shell one ignores them.
    expect((await s.docker(['run', '--rm', 'cell-exec-exec', 'X'])).stdout.trim()).toBe('E1 E2 X');
    expect((await s.docker(['run', '--rm', 'cell-shell-exec', 'X'])).stdout.trim()).toBe('E1 E2');
    expect((await s.docker(['run', '--rm', 'cell-none-exec', 'echo', 'X'])).stdout.trim()).toBe('X');
    expect((await s.docker(['run', '--rm', '--entrypoint', 'echo', 'cell-exec-params', 'Y'])).stdout.trim()).toBe('Y');
  }, 600_000);

  it('refuses hostile contexts and sources, and the builder stays up', async () => {
    const escape = await packTar([
      { header: { name: 'Dockerfile' }, content: 'FROM busybox\n' },
      { header: { name: '../../evil.txt' }, content: 'x' },
    ]);
    const a = await postBuild(escape);
    expect(a.status).toBe(400);
    expect(a.text).toContain('path escapes the context');
    const abs = await postBuild(await packTar([{ header: { name: '/abs.txt' }, content: 'x' }]));
    expect(abs.text).toContain('absolute path');

    const ctx = context('symlink', { Dockerfile: 'FROM busybox\nCOPY link /got\n' });
    symlinkSync('/etc/hostname', join(ctx, 'link'));
    const r = await s.docker(['build', ctx], LONG);
    // The link resolves inside the context (to <context>/etc/hostname), which does not exist.
    expect(r.stderr).toContain('file not found in build context');

    // ADD of a loopback URL that redirects off the machine: refused before any connection.
    const server: Server = createServer((req, res) => {
      if (req.url === '/redirect') {
        res.writeHead(302, { Location: 'http://192.0.2.1/payload' });
        res.end();
        return;
      }
      res.end('served\n');
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as AddressInfo).port;
    try {
      const redir = context('redirect', { Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/redirect /p\n` });
      const rr = await s.docker(['build', redir], LONG);
      expect(rr.stderr).toContain('refusing redirect');
      const fine = context('url', { Dockerfile: `FROM busybox\nADD http://127.0.0.1:${port}/file.txt /dl/\nCMD ["cat", "/dl/file.txt"]\n` });
      expect((await s.docker(['build', '-t', 'url:1', fine], LONG)).code).toBe(0);
      expect((await s.docker(['run', '--rm', 'url:1'])).stdout).toBe('served\n');
    } finally {
      server.close();
    }
    expect((await s.docker(['version'])).code).toBe(0);
  }, 300_000);
});
