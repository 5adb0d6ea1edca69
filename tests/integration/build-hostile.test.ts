import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TarWriter } from '@berth/tar';
import { alive, eventually, type Suite } from '../support/berth';
import { BUILD_ENV, BuildSuite, LONG } from '../support/build';

const GIB = 1 << 30;

let b: BuildSuite;
let s: Suite;
let dir: string;

beforeAll(async () => {
  b = await BuildSuite.start('bt-build-hostile-');
  s = b.s;
  dir = b.dir;
}, 120_000);

afterAll(async () => {
  await b?.stop();
});

/** Peak resident memory of a process, in bytes (VmHWM). */
const peakRss = (pid: number) => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function* zeros(bytes: number): AsyncGenerator<Buffer> {
  const chunk = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) yield left >= chunk.length ? chunk : chunk.subarray(0, left);
}

describe('docker build under hostile conditions', () => {
  it('a 1 GiB context streams through in bounded memory and builds', async () => {
    const socketPath = s.dockerHost.replace(/^unix:\/\//, '');
    const result = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request({ socketPath, path: '/v1.41/build?t=bigctx:1', method: 'POST', headers: { 'Content-Type': 'application/x-tar', 'Transfer-Encoding': 'chunked' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      // Generated as it is sent: nothing of the gigabyte is ever on disk on this side.
      const tar = new TarWriter(req);
      void (async () => {
        await tar.add({ name: 'Dockerfile' }, 'FROM busybox\nCOPY small.txt /small.txt\nCMD ["cat", "/small.txt"]\n');
        await tar.add({ name: 'small.txt' }, 'small beside big\n');
        await tar.add({ name: 'big.bin', size: GIB }, zeros(GIB));
        await tar.finish();
      })().catch(reject);
    });
    expect(result.status).toBe(200);
    expect(result.text).toContain('Successfully tagged bigctx:1');
    expect((await s.docker(['run', '--rm', 'bigctx:1'])).stdout).toBe('small beside big\n');
    const kids = s.state().children;
    // The context went to disk as it came: neither the gateway nor the builder held it.
    for (const svc of ['builder', 'gateway']) expect(peakRss(kids[svc]!.pid), svc).toBeLessThan(400 << 20);
    // The builder's work directory of the build is gone with it.
    const work = join(s.dataRoot, 'builder', 'builds');
    expect(readdirOrEmpty(work)).toEqual([]);
  });

  it('a builder killed mid-build: the client gets a clear error, nothing is tagged, the next build works', async () => {
    const ctx = join(dir, 'killed');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo started && sleep 600\nCMD ["true"]\n');
    const cli = spawn('docker', ['build', '-t', 'killed:1', ctx], { env: { ...process.env, ...BUILD_ENV, DOCKER_HOST: s.dockerHost, DOCKER_CONFIG: join(s.base, 'docker-config') } });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((resolve) => cli.on('exit', (c) => resolve(c ?? 128)));
    await eventually(async () => out, (o) => o.includes('started'), 120_000);
    // Read once the build runs: a builder that starts on demand has no pid before.
    const before = s.state().children.builder!;
    expect(before.pid).toBeGreaterThan(0);
    process.kill(before.pid, 'SIGKILL');
    const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), 120_000))]);
    if (code === -1) cli.kill('SIGKILL');
    expect(code, out).toBe(1);
    expect(out).toMatch(/builder.*(unavailable|restart|cancel|lost|closed)/i);
    expect((await s.docker(['image', 'inspect', 'killed:1'])).code).not.toBe(0);
    await eventually(async () => s.state().children.builder!, (c) => c.pid !== before.pid && c.status === 'running', 60_000);
    expect(alive(before.pid)).toBe(false);
    // The restarted builder removes the step container the cut-off build left.
    await eventually(() => s.docker(['ps', '-aq', '--filter', 'label=com.berth.build']), (r) => r.code === 0 && r.stdout.trim() === '', 60_000);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nRUN echo again > /again\nCMD ["cat", "/again"]\n');
    const again = await eventually(() => s.docker(['build', '-t', 'killed:1', ctx], LONG), (r) => r.code === 0, 60_000);
    expect(again.stdout).toContain('Successfully tagged killed:1');
    expect((await s.docker(['run', '--rm', 'killed:1'])).stdout).toBe('again\n');
  });

  it('a builder killed mid-COPY of a large context: a clear error, nothing tagged, its files and containers gone, the next build works', async () => {
    const ctx = join(dir, 'killed-copy');
    mkdirSync(ctx, { recursive: true });
    // Sparse: the CLI sends 96 MiB of zeros without the test writing them.
    writeFileSync(join(ctx, 'big.bin'), '');
    truncateSync(join(ctx, 'big.bin'), 96 << 20);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY big.bin /big.bin\nRUN sleep 600\n');
    const cli = spawn('docker', ['build', '-t', 'killedcopy:1', ctx], { env: { ...process.env, ...BUILD_ENV, DOCKER_HOST: s.dockerHost, DOCKER_CONFIG: join(s.base, 'docker-config') } });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((resolve) => cli.on('exit', (c) => resolve(c ?? 128)));
    // The COPY step's container exists from just before its files go in until the commit.
    await eventually(async () => out, (o) => o.includes('Step 2/3 : COPY'), 180_000);
    await eventually(() => s.docker(['ps', '-aq', '--filter', 'label=com.berth.build']), (r) => r.stdout.trim() !== '', 60_000);
    const before = s.state().children.builder!;
    expect(before.pid).toBeGreaterThan(0);
    process.kill(before.pid, 'SIGKILL');
    expect(out, 'the kill came after the COPY').not.toContain('Step 3/3');
    const code = await Promise.race([exited, new Promise<number>((r) => setTimeout(() => r(-1), 120_000))]);
    if (code === -1) cli.kill('SIGKILL');
    expect(code, out).toBe(1);
    expect(out).toMatch(/builder.*(unavailable|restart|cancel|lost|closed)/i);
    expect((await s.docker(['image', 'inspect', 'killedcopy:1'])).code).not.toBe(0);
    await eventually(async () => s.state().children.builder!, (c) => c.pid !== before.pid && c.status === 'running', 60_000);
    await eventually(() => s.docker(['ps', '-aq', '--filter', 'label=com.berth.build']), (r) => r.code === 0 && r.stdout.trim() === '', 60_000);
    // The cut-off build's unpacked context is gone with the restart.
    expect(readdirOrEmpty(join(s.dataRoot, 'builder', 'builds'))).toEqual([]);
    writeFileSync(join(ctx, 'Dockerfile'), 'FROM busybox\nCOPY big.bin /big.bin\nCMD ["stat", "-c", "%s", "/big.bin"]\n');
    const again = await eventually(() => s.docker(['build', '-t', 'killedcopy:1', ctx], LONG), (r) => r.code === 0, 60_000);
    expect(again.stdout).toContain('Successfully tagged killedcopy:1');
    expect((await s.docker(['run', '--rm', 'killedcopy:1'])).stdout).toBe(`${96 << 20}\n`);
  });
});

function readdirOrEmpty(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}
