/**
 * Published-port benchmark (issue #5), reported as numbers, never asserted in tests:
 *   - throughput (MB/s, curl when installed) of one large HTTP download over loopback through a published port,
 *     against the same download from the container's own address (the floor to reach);
 *   - new-connection rate (HTTP/1.0 requests per second, one connection each) the same two ways;
 *   - the same through a reference dockerd when one is installed. It runs with its own roots,
 *     socket and a bridge made for it, with --iptables=false so that it never touches the host's
 *     rules: its published ports go through docker-proxy, its userland path.
 * Usage: npx tsx tools/bench/net-bench.ts [--mb 512] [--seconds 1] [--rounds 5] [--no-reference]
 * Traffic goes only to loopback and to addresses on bridges this benchmark creates.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { get, request } from 'node:http';
import { freeAddressPool, run, Suite } from '../../tests/support/berth';
import { fixtures } from '../../tests/support/fixtures';
import { DOCKERD, type Docker, hasFlag, numberOption, withReferenceEngine } from './common';

const MB = numberOption('--mb', 512);
const SECONDS = numberOption('--seconds', 1);
const ROUNDS = numberOption('--rounds', 5);


/**
 * MB/s of one download. curl when installed: a Node client spends enough CPU per byte on a
 * small machine to hide the path's own cost.
 */
async function download(host: string, port: number): Promise<number> {
  if (existsSync('/usr/bin/curl')) {
    const r = await run('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download} %{speed_download}', `http://${host}:${port}/big`]);
    const [size, speed] = r.stdout.split(' ').map(Number);
    if (r.code !== 0 || size !== MB << 20) throw new Error(`download failed: ${r.stderr || r.stdout}`);
    return speed! / (1 << 20);
  }
  return downloadWithNode(host, port);
}

function downloadWithNode(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    let n = 0;
    get({ host, port, path: '/big', agent: false }, (res) => {
      res.on('data', (d: Buffer) => (n += d.length));
      res.on('end', () => {
        const s = Number(process.hrtime.bigint() - t) / 1e9;
        if (n !== MB << 20) reject(new Error(`short download: ${n} bytes`));
        else resolve(MB / s);
      });
    }).on('error', reject);
  });
}

async function connectionRate(host: string, port: number): Promise<number> {
  const end = Date.now() + SECONDS * 1000;
  let n = 0;
  while (Date.now() < end) {
    await new Promise<void>((resolve, reject) => {
      const req = request({ host, port, path: '/index.html', agent: false, headers: { connection: 'close' } }, (res) => {
        res.resume();
        res.on('end', () => resolve());
      });
      req.on('error', reject);
      req.end();
    });
    n++;
  }
  return n / SECONDS;
}

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Starts an httpd with a large file and measures it through the published port and directly. */
async function measure(docker: Docker, name: string) {
  const port = await freePort();
  const r = await docker(['run', '-d', '--name', name, '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
  if (r.code !== 0) throw new Error(r.stderr);
  await docker(['exec', name, 'dd', 'if=/dev/zero', 'of=/www/big', 'bs=1M', `count=${MB}`]);
  const ip = (await docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}', name])).stdout.trim();
  await download('127.0.0.1', port); // warm-up
  // The machine is shared: alternate the two paths over several rounds and keep medians.
  const rounds = { publishedMBps: [] as number[], directMBps: [] as number[], publishedConnPerS: [] as number[], directConnPerS: [] as number[] };
  for (let i = 0; i < ROUNDS; i++) {
    rounds.publishedMBps.push(await download('127.0.0.1', port));
    rounds.directMBps.push(await download(ip, 80));
    rounds.publishedConnPerS.push(await connectionRate('127.0.0.1', port));
    rounds.directConnPerS.push(await connectionRate(ip, 80));
  }
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const out = {
    publishedMBps: median(rounds.publishedMBps),
    directMBps: median(rounds.directMBps),
    publishedConnPerS: median(rounds.publishedConnPerS),
    directConnPerS: median(rounds.directConnPerS),
  };
  await docker(['rm', '-f', name]);
  return { ...out, throughputVsDirect: out.publishedMBps / out.directMBps, connRateVsDirect: out.publishedConnPerS / out.directConnPerS };
}

async function reference(busybox: string) {
  if (hasFlag('--no-reference') || !existsSync(DOCKERD)) return null;
  // Its own bridge, so the reference never touches docker0 or the host's rules.
  const bridge = `bref${randomBytes(3).toString('hex')}`;
  const gw = freeAddressPool().replace(/\.0\/22$/, '.1/24');
  execFileSync('ip', ['link', 'add', bridge, 'type', 'bridge']);
  try {
    execFileSync('ip', ['addr', 'add', gw, 'dev', bridge]);
    execFileSync('ip', ['link', 'set', bridge, 'up']);
    const r = await withReferenceEngine(
      async (docker) => {
        await docker(['load', '-i', busybox]);
        return measure(docker, 'nbench-ref');
      },
      { bridge, namespace: 'berth-nbench' },
    );
    return r ?? null;
  } finally {
    execFileSync('ip', ['link', 'del', bridge]);
  }
}

async function main(): Promise<void> {
  const fx = await fixtures();
  const suite = await Suite.start();
  let berth;
  try {
    await suite.docker(['load', '-i', fx.busybox]);
    berth = await measure((a) => suite.docker(a), 'nbench');
  } finally {
    await suite.stop();
  }
  const ref = await reference(fx.busybox);
  console.log(JSON.stringify({ fileMB: MB, secondsPerRate: SECONDS, rounds: ROUNDS, berth, reference: ref, berthOverReferenceThroughput: ref ? berth.publishedMBps / ref.publishedMBps : null }, null, 2));
}

void main();
