import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';
import { fixtures } from '../support/fixtures';

let suite: Suite;
beforeAll(async () => {
  const [s, fx] = await Promise.all([Suite.start(), fixtures()]);
  suite = s;
  const load = await suite.docker(['load', '-i', fx.busybox]);
  if (load.code !== 0) throw new Error(load.stderr);
});
afterAll(async () => {
  if (suite) {
    const ids = (await suite.docker(['ps', '-aq'])).stdout.trim();
    if (ids) await suite.docker(['rm', '-f', ...ids.split('\n')]);
    const bridge = suite.bridge;
    await suite.stop();
    // Nothing of the suite's networking may outlive it.
    expect(sh('ip', ['-o', 'link', 'show']).includes(bridge)).toBe(false);
    expect(sh('nft', ['list', 'tables']).includes(`berth_${bridge}`)).toBe(false);
    expect(sh('cat', ['/proc/self/mountinfo']).includes(suite.execRoot)).toBe(false);
  }
});

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch {
    return '';
  }
}

/** A TCP port nothing on the host listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function fetchText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

function pid(name: string): number {
  return suite.state().children[name]!.pid;
}

function ports(): string {
  return sh('nft', ['list', 'chain', 'ip', `berth_${suite.bridge}`, 'ports']);
}

function endpointsLeft(): { veths: string; netns: string[] } {
  let netns: string[] = [];
  try {
    netns = readdirSync(join(suite.execRoot, 'netns'));
  } catch {
    // never made
  }
  return { veths: sh('ip', ['-o', 'link', 'show', 'master', suite.bridge]), netns };
}

describe('the default bridge', () => {
  it('gives a container eth0 with an address from the pool, a default route and its name in /etc/hosts', async () => {
    const r = await suite.docker(['run', '--rm', '--hostname', 'box', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; ip route; cat /etc/hosts']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const prefix = suite.addressPool.split('.').slice(0, 2).join('.');
    const ip = new RegExp(`inet (${prefix.replace('.', '\\.')}\\.\\d+\\.\\d+)/24`).exec(r.stdout)?.[1];
    expect(ip).toBeDefined();
    expect(r.stdout).toMatch(new RegExp(`default via ${prefix.replace('.', '\\.')}\\.\\d+\\.1 dev eth0`));
    expect(r.stdout).toContain(`${ip}\tbox`);
  });

  it('keeps none and host as they were', async () => {
    const none = await suite.docker(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net']);
    expect(none.stdout.trim()).toBe('lo');
    // Through the API: the CLI answers any 404 at create by trying to pull the image.
    const unknown = await suite.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'nosuchnet' } });
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body)).toEqual({ message: 'network nosuchnet not found' });
    const badPort = await suite.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { PortBindings: { 'x/tcp': [{ HostPort: '1' }] } } });
    expect(badPort.status).toBe(400);
    expect(JSON.parse(badPort.body)).toEqual({ message: 'invalid port specification: "x/tcp"' });
    expect(endpointsLeft().netns).toEqual([]);
  });

  it('shows the endpoint in docker inspect', async () => {
    const c = await suite.docker(['create', '--name', 'insp', 'busybox', 'true']);
    expect(c.code).toBe(0);
    const ns = JSON.parse((await suite.docker(['inspect', '-f', '{{json .NetworkSettings}}', 'insp'])).stdout) as {
      IPAddress: string; MacAddress: string; Gateway: string; SandboxKey: string; Networks: Record<string, { IPAddress: string; MacAddress: string; NetworkID: string }>;
    };
    expect(ns.IPAddress).toMatch(/^10\./);
    expect(ns.MacAddress).toMatch(/^02:42(:[0-9a-f]{2}){4}$/);
    expect(ns.Networks.bridge!.IPAddress).toBe(ns.IPAddress);
    expect(ns.Networks.bridge!.NetworkID).toMatch(/^[0-9a-f]{64}$/);
    expect(ns.SandboxKey.startsWith(join(suite.execRoot, 'netns'))).toBe(true);
    expect((await suite.docker(['rm', 'insp'])).code).toBe(0);
    expect(endpointsLeft()).toEqual({ veths: '', netns: [] });
  });
});

describe('published ports', () => {
  it('serves through a published port from 127.0.0.1 and across kill -9 of netproxy and the supervisor', async () => {
    const port = await freePort();
    const run = await suite.docker(['run', '-d', '--name', 'web', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(run.code).toBe(0);
    expect((await suite.docker(['exec', 'web', 'dd', 'if=/dev/zero', 'of=/www/big', 'bs=1M', 'count=64'])).code).toBe(0);
    const first = await eventually(() => fetchText(`http://127.0.0.1:${port}/index.html`).catch(() => ({ status: 0, body: '' })), (r) => r.status === 200);
    expect(first.status).toBe(200);
    expect((await suite.docker(['port', 'web'])).stdout).toBe(`80/tcp -> 0.0.0.0:${port}\n`);
    expect((await suite.docker(['ps', '--format', '{{.Ports}}', '--filter', 'name=web'])).stdout).toBe(`0.0.0.0:${port}->80/tcp\n`);

    // A download held open (paused after its first bytes) while both services die.
    const res = await new Promise<IncomingMessage>((resolve, reject) => get(`http://127.0.0.1:${port}/big`, resolve).on('error', reject));
    let received = 0;
    res.on('data', (d: Buffer) => (received += d.length));
    res.pause();
    const before = { netproxy: pid('netproxy'), supervisor: pid('supervisor') };
    process.kill(before.netproxy, 'SIGKILL');
    process.kill(before.supervisor, 'SIGKILL');
    const during = await fetchText(`http://127.0.0.1:${port}/index.html`);
    expect(during.status).toBe(200);
    const done = new Promise((resolve) => res.on('end', resolve));
    res.resume();
    await done;
    expect(received).toBe(64 << 20);
    await eventually(async () => suite.state(), (s) => s.children.netproxy!.pid !== before.netproxy && s.children.supervisor!.pid !== before.supervisor && s.children.supervisor!.status === 'running');
    const after = await eventually(() => suite.docker(['port', 'web']), (r) => r.code === 0);
    expect(after.stdout).toBe(`80/tcp -> 0.0.0.0:${port}\n`);
    expect((await fetchText(`http://127.0.0.1:${port}/index.html`)).status).toBe(200);
  });

  it('reports a host port that is taken like Docker and leaks nothing', async () => {
    const port = Number(/0\.0\.0\.0:(\d+)/.exec((await suite.docker(['port', 'web'])).stdout)![1]);
    const r = await suite.docker(['run', '-d', '--name', 'web2', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain(`Bind for 0.0.0.0:${port} failed: port is already allocated`);
    const held = createServer();
    const hostPort = await freePort();
    await new Promise<void>((resolve) => held.listen(hostPort, '127.0.0.1', resolve));
    const r2 = await suite.docker(['run', '-d', '--name', 'web3', '-p', `127.0.0.1:${hostPort}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
    held.close();
    expect(r2.code).toBe(125);
    expect(r2.stderr).toContain('address already in use');
    expect(endpointsLeft().netns).toHaveLength(1);
  });

  it('publishes exposed ports on free host ports with -P', async () => {
    const r = await suite.docker(['run', '-d', '--name', 'pub', '-P', '--expose', '8080', '--expose', '9090/udp', 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/www']);
    expect(r.code).toBe(0);
    const out = (await suite.docker(['port', 'pub'])).stdout;
    expect(out).toMatch(/^8080\/tcp -> 0\.0\.0\.0:\d+\n9090\/udp -> 0\.0\.0\.0:\d+\n$/);
    const hostPort = /8080\/tcp -> 0\.0\.0\.0:(\d+)/.exec(out)![1];
    const got = await eventually(() => fetchText(`http://127.0.0.1:${hostPort}/index.html`).catch(() => ({ status: 0, body: '' })), (x) => x.status === 200);
    expect(got.status).toBe(200);
    expect((await suite.docker(['rm', '-f', 'pub'])).code).toBe(0);
    expect(ports()).not.toContain(`dport ${hostPort}`);
  });

  it('restores rules a crash lost and drops stale ones when netproxy starts', async () => {
    const port = Number(/0\.0\.0\.0:(\d+)/.exec((await suite.docker(['port', 'web'])).stdout)![1]);
    const table = `berth_${suite.bridge}`;
    sh('nft', ['flush', 'chain', 'ip', table, 'ports']);
    sh('nft', ['add', 'rule', 'ip', table, 'ports', 'tcp', 'dport', '1', 'dnat', 'to', '10.255.255.254:1']);
    const old = pid('netproxy');
    process.kill(old, 'SIGKILL');
    await eventually(async () => ports(), (p) => p.includes(`dport ${port}`), 20_000);
    expect(ports()).toContain(`tcp dport ${port} dnat to`);
    expect(ports()).not.toContain('dport 1 ');
    expect((await fetchText(`http://127.0.0.1:${port}/index.html`)).status).toBe(200);
  });

  it('removes veth, namespace and rules with rm -f', async () => {
    expect((await suite.docker(['rm', '-f', 'web'])).code).toBe(0);
    expect(endpointsLeft()).toEqual({ veths: '', netns: [] });
    expect(ports()).not.toContain('dnat');
  });
});
