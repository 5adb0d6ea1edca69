/**
 * Where a `docker build` spends its time (issue #11): the bench's 10-step build sent to
 * POST /build over the engine's socket, every JSON message of the stream stamped with the
 * milliseconds since the request went out, so the gaps show which step costs what.
 * Usage: npx tsx tools/bench/build-profile.ts [--runs 3] [--no-cache]
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { hasFlag, numberOption } from './common';
import { buildBenchContext } from './build-context';
import { Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { rmSync } from 'node:fs';

const RUNS = numberOption('--runs', 3);

function post(socketPath: string, body: Buffer, query: string): Promise<{ at: number; line: string }[]> {
  const t0 = process.hrtime.bigint();
  const ms = () => Number(process.hrtime.bigint() - t0) / 1e6;
  return new Promise((resolve, reject) => {
    const lines: { at: number; line: string }[] = [];
    const req = request({ socketPath, path: `/v1.41/build?${query}`, method: 'POST', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
      lines.push({ at: ms(), line: `HTTP ${res.statusCode}` });
      res.on('data', (d: Buffer) => {
        for (const l of d.toString().split('\r\n').filter(Boolean)) lines.push({ at: ms(), line: l.slice(0, 100) });
      });
      res.on('end', () => {
        lines.push({ at: ms(), line: 'end' });
        resolve(lines);
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const ctx = buildBenchContext();
  const tar = execFileSync('tar', ['-C', ctx, '-c', '.'], { maxBuffer: 1 << 28 });
  const suite = await Suite.start();
  try {
    await suite.docker(['load', '-i', fx.busybox]);
    const sock = suite.dockerHost.replace(/^unix:\/\//, '');
    const q = `t=prof:1&networkmode=none&rm=1${hasFlag('--no-cache') ? '&nocache=1' : ''}`;
    await post(sock, tar, q);
    for (let i = 0; i < RUNS; i++) {
      const lines = await post(sock, tar, q);
      let prev = 0;
      console.log(`--- run ${i + 1}: ${lines.at(-1)!.at.toFixed(0)} ms`);
      for (const l of lines) {
        console.log(`${l.at.toFixed(1).padStart(8)} +${(l.at - prev).toFixed(1).padStart(7)}  ${l.line}`);
        prev = l.at;
      }
    }
  } finally {
    await suite.stop();
    rmSync(ctx, { recursive: true, force: true });
  }
}

void main();
