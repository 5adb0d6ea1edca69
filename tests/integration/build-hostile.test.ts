import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TarWriter } from '@berth/tar';
import { alive, eventually, Suite } from '../support/berth';

const ENV = { DOCKER_BUILDKIT: '0' };
const LONG = { env: ENV, timeoutMs: 300_000 };
const GIB = 1 << 30;

let s: Suite;
let dir: string;

beforeAll(async () => {
  s = await Suite.startWithBusybox();
  dir = mkdtempSync('/tmp/bt-build-hostile-');
}, 120_000);

afterAll(async () => {
  await s?.removeAllContainers();
  await s?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
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
    const before = s.state().children.builder!;
    const cli = spawn('docker', ['build', '-t', 'killed:1', ctx], { env: { ...process.env, ...ENV, DOCKER_HOST: s.dockerHost, DOCKER_CONFIG: join(s.base, 'docker-config') } });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number>((resolve) => cli.on('exit', (c) => resolve(c ?? 128)));
    await eventually(async () => out, (o) => o.includes('started'), 120_000);
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
});

function readdirOrEmpty(p: string): string[] {
  try {
    return readdirSync(p);
  } catch {
    return [];
  }
}
