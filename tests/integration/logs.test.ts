import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

let suite: Suite;
busyboxSuiteForFile((s) => (suite = s));

/** `docker <args>` with its stdout digested as it comes (logs of any size, no buffering here). */
function digest(args: string[], timeoutMs = 120_000): Promise<{ code: number; bytes: number; lines: number; sha: string; head: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker', args, { env: { ...process.env, DOCKER_HOST: suite.dockerHost } });
    const h = createHash('sha256');
    let bytes = 0;
    let lines = 0;
    let head = '';
    let stderr = '';
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`docker ${args.join(' ')} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
      for (let i = d.indexOf(10); i >= 0; i = d.indexOf(10, i + 1)) lines++;
      if (head.length < 200) head += d.subarray(0, 200).toString();
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, bytes, lines, sha: h.digest('hex'), head, stderr });
    });
  });
}

const LINE = 'abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz.\n';

/** GET /containers/<ref>/logs?<query> as the given client: the raw body. */
function rawLogs(ref: string, query: string, userAgent: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: suite.dockerHost.replace('unix://', ''), path: `/v1.41/containers/${ref}/logs?${query}`, headers: { 'User-Agent': userAgent } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(parts)) : reject(new Error(`logs: ${res.statusCode} ${Buffer.concat(parts).toString()}`))));
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error('logs: no answer within 60 s')));
    req.end();
  });
}

function rawGet(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: suite.dockerHost.replace('unix://', ''), path }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`${path}: no answer within 60 s`)));
    req.end();
  });
}

/** A stdcopy body as its frames, in order. */
function framesOf(body: Buffer): { stream: number; data: string }[] {
  const out: { stream: number; data: string }[] = [];
  for (let p = 0; p < body.length; ) {
    const len = body.readUInt32BE(p + 4);
    out.push({ stream: body[p]!, data: body.toString('utf8', p + 8, p + 8 + len) });
    p += 8 + len;
  }
  return out;
}

/** Consecutive frames of one stream as one: what a client that only copies frames out sees. */
function joinRuns(frames: { stream: number; data: string }[]): { stream: number; data: string }[] {
  const out: { stream: number; data: string }[] = [];
  for (const f of frames) {
    const last = out[out.length - 1];
    if (last && last.stream === f.stream) last.data += f.data;
    else out.push({ ...f });
  }
  return out;
}

describe('docker logs of any size', () => {
  it('returns every byte of 50 MiB, and --tail 5 at once', async () => {
    const size = 50 * 1024 * 1024;
    const r = await suite.docker(['run', '--name', 'big', 'busybox', 'sh', '-c', `yes ${LINE.trim()} | head -c ${size}`], { timeoutMs: 180_000 });
    expect(r.code).toBe(0);
    const all = await digest(['logs', 'big']);
    expect(all.code).toBe(0);
    expect(all.bytes).toBe(size);
    expect(all.lines).toBe(size / LINE.length);
    expect(all.sha).toBe(createHash('sha256').update(LINE.repeat(size / LINE.length)).digest('hex'));
    const tail = await suite.docker(['logs', '--tail', '5', 'big']);
    expect(tail.stdout).toBe(LINE.repeat(5));
    const ts = await suite.docker(['logs', '-t', '--tail', '1', 'big']);
    expect(ts.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z abcdef/);
  });

  it('keeps one line of 50 MB without a newline, byte for byte', async () => {
    const size = 50_000_000;
    expect((await suite.docker(['run', '--name', 'oneline', 'busybox', 'sh', '-c', `head -c ${size} /dev/zero | tr '\\0' a`], { timeoutMs: 180_000 })).code).toBe(0);
    const all = await digest(['logs', 'oneline']);
    expect(all.code).toBe(0);
    expect(all.bytes).toBe(size);
    expect(all.lines).toBe(0);
    expect(all.sha).toBe(createHash('sha256').update(Buffer.alloc(size, 'a')).digest('hex'));
  });

  it('filters by --since and --until', async () => {
    expect((await suite.docker(['run', '--name', 'times', 'busybox', 'sh', '-c', 'echo early; sleep 2; echo late'])).code).toBe(0);
    const lines = (await suite.docker(['logs', '-t', 'times'])).stdout.trim().split('\n');
    const lateAt = lines[1]!.split(' ')[0]!;
    expect((await suite.docker(['logs', '--since', lateAt, 'times'])).stdout).toBe('late\n');
    const before = new Date(Date.parse(lateAt) - 1000).toISOString();
    expect((await suite.docker(['logs', '--until', before, 'times'])).stdout).toBe('early\n');
  });

  it('follows a running container across rotations, no line lost or doubled', async () => {
    const n = 400;
    // The container writes once the follower is surely live (it has seen "ready").
    const script = `echo ready; while [ ! -e /tmp/go ]; do usleep 50000; done; i=0; while [ $i -lt ${n} ]; do echo line-$i; i=$((i+1)); usleep 5000; done`;
    expect((await suite.docker(['run', '-d', '--name', 'rot', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', script])).code).toBe(0);
    const p = spawn('docker', ['logs', '-f', 'rot'], { env: { ...process.env, DOCKER_HOST: suite.dockerHost } });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const closed = new Promise<number>((res) => p.on('close', (code) => res(code ?? -1)));
    await eventually(async () => out, (o) => o.startsWith('ready\n'), 60_000);
    expect((await suite.docker(['exec', 'rot', 'touch', '/tmp/go'])).code).toBe(0);
    const code = await Promise.race([closed, new Promise<number>((res) => setTimeout(() => res(-2), 90_000))]);
    if (code === -2) p.kill('SIGKILL');
    expect(code).toBe(0);
    expect(out).toBe(`ready\n${Array.from({ length: n }, (_, i) => `line-${i}\n`).join('')}`);
    const kept = (await suite.docker(['logs', 'rot'])).stdout.trim().split('\n');
    expect(kept.length).toBeLessThan(n);
    expect(kept[kept.length - 1]).toBe(`line-${n - 1}`);
  });

  it('a log that cannot be read is an error, not an empty success', async () => {
    expect((await suite.docker(['run', '--name', 'broken', 'busybox', 'echo', 'hi'])).code).toBe(0);
    const logPath = (await suite.docker(['inspect', '--format', '{{.LogPath}}', 'broken'])).stdout.trim();
    rmSync(logPath);
    mkdirSync(logPath);
    try {
      const all = await suite.docker(['logs', 'broken']);
      expect(all.code).not.toBe(0);
      expect(all.stderr).toMatch(/EISDIR|error/i);
      const tail = await suite.docker(['logs', '--tail', '3', 'broken']);
      expect(tail.code).not.toBe(0);
      expect(tail.stderr).toMatch(/EISDIR/);
    } finally {
      rmSync(logPath, { recursive: true });
    }
  });

  it('keeps stdout and stderr in order across merged frames, with timestamps, and a partial last line', async () => {
    // Pauses between writes so the monitor reads each on its own: the log then alternates streams.
    const script = 'for i in 1 2 3 4 5 6; do echo out$i; usleep 30000; echo err$i >&2; usleep 30000; echo out${i}b; usleep 30000; done; printf partial';
    expect((await suite.docker(['run', '--name', 'order', 'busybox', 'sh', '-c', script])).code).toBe(0);
    // The docker CLI gets a stream's consecutive entries in one frame; other clients a frame each, as dockerd sends.
    const merged = framesOf(await rawLogs('order', 'stdout=1&stderr=1', 'Docker-Client/20.10.24 (linux)'));
    const each = framesOf(await rawLogs('order', 'stdout=1&stderr=1', 'test-client'));
    const stamped = framesOf(await rawLogs('order', 'stdout=1&stderr=1&timestamps=1', 'Docker-Client/20.10.24 (linux)'));
    expect(each.length).toBe(6 * 3 + 1);
    expect(merged.length).toBeLessThan(each.length);
    expect(merged).toEqual(joinRuns(each));
    expect(joinRuns(stamped.map((f) => ({ stream: f.stream, data: f.data.replace(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z /gm, '') })))).toEqual(merged);
    // Each stream in the order written, whatever the interleaving the monitor saw.
    const text = (fs: { stream: number; data: string }[], stream: number) => fs.filter((f) => f.stream === stream).map((f) => f.data).join('');
    expect(text(each, 1)).toBe(`${[1, 2, 3, 4, 5, 6].map((i) => `out${i}\nout${i}b\n`).join('')}partial`);
    expect(text(each, 2)).toBe([1, 2, 3, 4, 5, 6].map((i) => `err${i}\n`).join(''));
    expect(joinRuns(each).length).toBeGreaterThan(2);
    const cli = await suite.docker(['logs', 'order']);
    expect(cli.stdout).toBe(text(each, 1));
    expect(cli.stderr).toBe(text(each, 2));
    const t = await suite.docker(['logs', '-t', '--tail', '2', 'order']);
    // dockerd's RFC3339NanoFixed: nine digits of fraction, trailing zeros kept.
    expect(t.stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out6b\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z partial$/);
  });

  it("a TTY container's log is its bytes as written, with no stream frames", async () => {
    expect((await suite.docker(['run', '-t', '--name', 'ttylog', 'busybox', 'sh', '-c', 'echo one; echo two >&2; printf three'])).code).toBe(0);
    const body = await rawLogs('ttylog', 'stdout=1&stderr=1', 'Docker-Client/20.10.24 (linux)');
    expect(body.toString()).toBe('one\r\ntwo\r\nthree');
    expect((await suite.docker(['logs', '--tail', '1', 'ttylog'])).stdout).toBe('three');
  });

  it("the monitor looked up at the CLI's inspect serves its logs, and never another container's after a rename", async () => {
    expect((await suite.docker(['run', '-d', '--name', 'named', 'busybox', 'sh', '-c', 'echo first; sleep 600'])).code).toBe(0);
    await eventually(() => suite.docker(['logs', 'named']), (r) => r.stdout === 'first\n');
    // The CLI's own order: inspect, then logs (the monitor's lookup made during the inspect).
    expect((await suite.docker(['logs', '--tail', '1', 'named'])).stdout).toBe('first\n');
    // An inspect, then the name moves to another container before the logs call.
    const inspect = await rawGet('/v1.41/containers/named/json');
    expect(inspect.status).toBe(200);
    expect((await suite.docker(['rename', 'named', 'renamed'])).code).toBe(0);
    expect((await suite.docker(['run', '-d', '--name', 'named', 'busybox', 'sh', '-c', 'echo second; sleep 600'])).code).toBe(0);
    await eventually(() => suite.docker(['logs', 'named']), (r) => r.stdout !== '');
    expect(framesOf(await rawLogs('named', 'stdout=1&stderr=1', 'Docker-Client/20.10.24 (linux)'))).toEqual([{ stream: 1, data: 'second\n' }]);
    expect((await suite.docker(['logs', 'renamed'])).stdout).toBe('first\n');
    await suite.docker(['rm', '-f', 'named', 'renamed']);
  });

  it('docker logs -f ends when the container exits', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'fin', 'busybox', 'sh', '-c', 'echo one; sleep 2; echo two'])).code).toBe(0);
    await eventually(() => suite.docker(['logs', 'fin']), (r) => r.stdout.includes('one'));
    const f = await suite.docker(['logs', '-f', 'fin'], { timeoutMs: 30_000 });
    expect(f.stdout).toBe('one\ntwo\n');
  });
});
