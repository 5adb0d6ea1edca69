import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceInfo } from '@berth/clients';
import type { ServiceName } from '@berth/config';
import { eventually, ROOT, run, Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';

// Issue 14's acceptance: every app released alone and installed by deploy/install-app.sh while
// containers serve published ports and write a counter to their logs. There is no systemd here:
// install-app.sh --no-restart switches `current`, and the launcher restarts that one service
// (what `systemctl restart berth-<app>` is to a host install).
const CONTAINERS = Number(process.env.BERTH_UPGRADE_CONTAINERS ?? 10);
/** The order the apps are upgraded in: each service, then the monitor. */
const APPS = ['gateway', 'images', 'snapshotter', 'supervisor', 'netproxy', 'builder', 'shim'] as const;
const versionOf = (app: string) => (JSON.parse(readFileSync(join(ROOT, 'apps', app, 'package.json'), 'utf8')) as { version: string }).version;
const bumped = (v: string) => v.replace(/(\d+)$/, (z) => String(Number(z) + 1));

const dirs: string[] = [];
let suite: Suite | undefined;
let prefix = '';
let deployEnv: NodeJS.ProcessEnv = {};

afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers();
    await suite.stop();
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * `npm run release -- <app> patch` bumps the app's version in the tree and commits nothing: it
 * runs in a copy of this tree (tracked and new files, its own git history for the changelog),
 * one copy per app so the releases can run side by side.
 */
async function releaseInCopy(app: string): Promise<string> {
  const copy = mkdtempSync('/tmp/bt-rel-');
  dirs.push(copy);
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, maxBuffer: 64 << 20 });
  execFileSync('tar', ['--null', '-T', '-', '-cf', join(copy, '.src.tar')], { cwd: ROOT, input: files });
  execFileSync('tar', ['-xf', '.src.tar'], { cwd: copy });
  rmSync(join(copy, '.src.tar'));
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const git = (args: string[]) => execFileSync('git', ['-c', 'user.name=berth-test', '-c', 'user.email=test@berth.invalid', ...args], { cwd: copy, stdio: 'ignore' });
  git(['init', '-q']);
  git(['add', '-A']);
  git(['commit', '-qm', 'tree under test']);
  const r = await run('npm', ['run', '--silent', 'release', '--', app, 'patch'], { cwd: copy, timeoutMs: 900_000, env: { NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } });
  if (r.code !== 0) throw new Error(`release of ${app} failed (${r.code}): ${r.stderr}${r.stdout}`);
  const tgz = join(copy, 'dist', 'release', `${app}-${bumped(versionOf(app))}.tgz`);
  readFileSync(`${tgz}.sha256`);
  return tgz;
}

const install = (app: string, artifact: string) => run('bash', [join(ROOT, 'deploy/install-app.sh'), '--no-restart', app, artifact], { env: deployEnv, timeoutMs: 120_000 });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function fetchStatus(port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path: '/index.html', agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

interface Rec {
  monitor?: { name: string; version: string; path: string };
}
const record = (id: string) => JSON.parse(readFileSync(join(suite!.dataRoot, 'supervisor', 'records', `${id}.json`), 'utf8')) as Rec;

/** The command line of the monitor serving container `id`. */
function monitorCmdline(id: string): string[] {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
      if (cmd.includes('--id') && cmd[cmd.indexOf('--id') + 1] === id && cmd.includes('--bundle')) return cmd;
    } catch {
      // gone
    }
  }
  return [];
}

describe('one app released alone, under load', () => {
  let releases: Promise<Record<string, string>>;
  beforeAll(async () => {
    // Released while the suite comes up; awaited when the first install needs them.
    releases = Promise.all(APPS.map(async (a) => [a, await releaseInCopy(a)] as const)).then(Object.fromEntries);
    releases.catch(() => undefined);
    const base = mkdtempSync('/tmp/bt-dep-');
    dirs.push(base);
    prefix = join(base, 'lib');
    deployEnv = { BERTH_PREFIX: prefix, BERTH_ETC: join(base, 'etc'), SYSTEMD_DIR: join(base, 'systemd') };
    for (const app of APPS) {
      const r = await install(app, join(ROOT, 'dist', 'apps', app));
      expect(r.code, r.stderr).toBe(0);
    }
    // The per-container monitor build that an upgrade leaves to old containers is the Node shim's.
    suite = await Suite.start(['--default-monitor', 'shim'], 60_000, { env: { BERTH_APPS_DIR: prefix } });
    const load = await suite.docker(['load', '-i', (await fixtures()).busybox]);
    expect(load.code, load.stderr).toBe(0);
  }, 600_000);

  it(`${CONTAINERS} containers keep serving and logging while each app is upgraded in turn`, async () => {
    const s = suite!;
    const old = Object.fromEntries(APPS.map((a) => [a, versionOf(a)]));
    const ports: number[] = [];
    const ids: string[] = [];
    for (let i = 0; i < CONTAINERS; i++) {
      const port = await freePort();
      // httpd goes to the background; the shell is the counter, one line every 100 ms.
      const r = await s.docker(['run', '-d', '--name', `up${i}`, '-p', `${port}:80`, 'busybox', 'sh', '-c', 'httpd -p 80 -h /www; i=0; while :; do echo $i; i=$((i+1)); sleep 0.1; done']);
      expect(r.code, r.stderr).toBe(0);
      ports.push(port);
      ids.push(r.stdout.trim());
    }
    for (const port of ports) {
      const st = await eventually(() => fetchStatus(port, 5_000).catch(() => 0), (c) => c === 200, 30_000);
      expect(st, `port ${port} never answered`).toBe(200);
    }
    for (const id of ids) expect(record(id).monitor?.version).toBe(old.shim);

    // Clients: one loop per published port, each request with its own deadline.
    let clients = true;
    const counts = { requests: 0, failed: 0 };
    const failures: string[] = [];
    const loops = ports.map(async (port) => {
      while (clients) {
        counts.requests++;
        try {
          const st = await fetchStatus(port, 10_000);
          if (st !== 200) throw new Error(`status ${st}`);
        } catch (err) {
          counts.failed++;
          if (failures.length < 5) failures.push(`${port}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    });

    const artifacts = await releases;
    const upgraded: string[] = [];
    try {
      for (const app of APPS) {
        const next = bumped(old[app]!);
        if (app === 'gateway') {
          // A corrupted artifact (its checksum says otherwise) is refused; the old version runs on.
          const bad = join(prefix, '..', `gateway-${next}.tgz`);
          const bytes = readFileSync(artifacts[app]!);
          bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
          writeFileSync(bad, bytes);
          copyFileSync(`${artifacts[app]!}.sha256`, `${bad}.sha256`);
          const refused = await install(app, bad);
          expect(refused.code).toBe(1);
          expect(refused.stderr).toContain('does not match its checksum');
          expect(readlinkSync(join(prefix, app, 'current'))).toBe(old[app]);
          expect(readdirSync(join(prefix, app)).filter((d) => !d.startsWith('.')).sort()).toEqual([old[app], 'current'].sort());
          expect((await serviceInfo('gateway', `unix://${join(s.execRoot, 'gateway.sock')}`)).version).toBe(old[app]);
        }
        const r = await install(app, artifacts[app]!);
        expect(r.code, r.stderr).toBe(0);
        expect(readlinkSync(join(prefix, app, 'current'))).toBe(next);
        if (app !== 'shim') {
          const restarted = await s.admin(['restart', app]);
          expect(restarted.code, restarted.stderr).toBe(0);
          const info = await serviceInfo(app as ServiceName, `unix://${join(s.execRoot, `${app}.sock`)}`);
          expect(info.version).toBe(next);
        }
        upgraded.push(`${app} ${old[app]}->${next}`);
        // Traffic between upgrades, not only during them.
        await new Promise((r) => setTimeout(r, 1_000));
      }
    } finally {
      clients = false;
      await Promise.all(loops);
    }

    // A new container gets the new monitor; the running ones keep the build they started with.
    const fresh = await s.docker(['run', '-d', '--name', 'fresh', 'busybox', 'sleep', '300']);
    expect(fresh.code, fresh.stderr).toBe(0);
    const newShim = bumped(old.shim!);
    expect(record(fresh.stdout.trim()).monitor).toMatchObject({ name: 'shim', version: newShim, path: join(prefix, 'shim', newShim, 'main.js') });
    for (const id of ids) {
      expect(record(id).monitor).toMatchObject({ name: 'shim', version: old.shim, path: join(prefix, 'shim', old.shim!, 'main.js') });
      expect(monitorCmdline(id)).toContain(join(prefix, 'shim', old.shim!, 'main.js'));
    }
    const status = await s.admin(['status']);
    expect(status.stdout).toMatch(new RegExp(`^shim\\s+${old.shim!.replace(/\./g, '\\.')}\\s+${CONTAINERS}$`, 'm'));
    expect(status.stdout).toMatch(new RegExp(`^shim\\s+${newShim.replace(/\./g, '\\.')}\\s+1$`, 'm'));

    // Every counter line exactly once, in order, across every restart.
    let lines = 0;
    let lost = 0;
    let doubled = 0;
    for (let i = 0; i < CONTAINERS; i++) {
      const logs = await s.docker(['logs', `up${i}`], { timeoutMs: 60_000 });
      expect(logs.code, logs.stderr).toBe(0);
      const n = logs.stdout.split('\n').filter((l) => l !== '').map(Number);
      lines += n.length;
      const seen = new Set(n);
      doubled += n.length - seen.size;
      lost += (n.length ? Math.max(...n) + 1 : 0) - seen.size;
      expect(n.length, `up${i} logged nothing`).toBeGreaterThan(0);
      expect(n.every((v, j) => v === j), `up${i}: counter lines not contiguous from 0`).toBe(true);
    }
    for (const f of failures) console.log(`failed request: ${f}`);
    console.log(
      `upgrade under load: ${CONTAINERS} containers; upgraded ${upgraded.join(', ')}; ${counts.requests} requests, ${counts.failed} failed; ` +
        `${lines} log lines, ${lost} lost, ${doubled} doubled; running containers on shim ${old.shim} (${CONTAINERS}), the new one on shim ${newShim}`,
    );
    expect(counts.failed).toBe(0);
    expect(lost).toBe(0);
    expect(doubled).toBe(0);
    expect(counts.requests).toBeGreaterThan(CONTAINERS * APPS.length);
  }, 1_800_000);
});
