import { execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';

let suite: Suite;
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
});
afterAll(async () => {
  if (suite) {
    await suite.removeAllContainers();
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

/** Dead, or a zombie its frozen parent has not reaped. */
function gone(p: number): boolean {
  if (!alive(p)) return true;
  try {
    return / Z /.test(readFileSync(`/proc/${p}/stat`, 'utf8').replace(/^\d+ \(.*\)/, ''));
  } catch {
    return true;
  }
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

  it('writes --add-host (with host-gateway), --dns, --dns-search and --dns-option, and again at restart', async () => {
    const r = await suite.docker([
      'run', '-d', '--name', 'names', '--add-host', 'db.local:10.1.2.3', '--add-host', 'gw.local:host-gateway',
      '--dns', '10.9.9.9', '--dns-search', 'corp.example', '--dns-option', 'ndots:2', 'busybox', 'sleep', '600',
    ]);
    expect(r.code).toBe(0);
    const files = 'cat /etc/hosts /etc/resolv.conf';
    const first = (await suite.docker(['exec', 'names', 'sh', '-c', files])).stdout;
    const gw = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.Gateway}}', 'names'])).stdout.trim();
    expect(first).toContain('10.1.2.3\tdb.local');
    expect(first).toContain(`${gw}\tgw.local`);
    expect(first).toContain('nameserver 10.9.9.9');
    expect(first).toContain('search corp.example');
    expect(first).toContain('options ndots:2');
    await suite.docker(['exec', 'names', 'sh', '-c', 'echo 10.0.0.1 scribble >> /etc/hosts']);
    expect((await suite.docker(['restart', '-t', '0', 'names'])).code).toBe(0);
    const again = (await suite.docker(['exec', 'names', 'sh', '-c', files])).stdout;
    expect(again).not.toContain('scribble');
    expect(again).toContain('10.1.2.3\tdb.local');
    expect((await suite.docker(['rm', '-f', 'names'])).code).toBe(0);
  });

  it('gives --link its hosts entry and environment on the default bridge', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'linked', '--expose', '80', '-e', 'SECRET=s3', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'])).code).toBe(0);
    const ip = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'linked'])).stdout.trim();
    const r = await suite.docker(['run', '--rm', '--name', 'linker', '--link', 'linked:db', 'busybox', 'sh', '-c', 'env | grep ^DB_ | sort; grep -w db /etc/hosts; wget -qO- http://db/index.html']);
    expect(r.stdout).toContain(`DB_PORT=tcp://${ip}:80\nDB_PORT_80_TCP=tcp://${ip}:80\nDB_PORT_80_TCP_ADDR=${ip}\nDB_PORT_80_TCP_PORT=80\nDB_PORT_80_TCP_PROTO=tcp\n`);
    expect(r.stdout).toContain('DB_NAME=/linker/db\n');
    expect(r.stdout).toContain('DB_ENV_SECRET=s3\n');
    expect(r.stdout).toMatch(new RegExp(`${ip.replace(/\./g, '\\.')}\tdb [0-9a-f]{12} linked\n`));
    expect(r.stdout).toContain('hello from berth');
    const missing = await suite.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { Links: ['nosuch:x'] } });
    expect(missing.status).toBe(404);
    expect((await suite.docker(['rm', '-f', 'linked'])).code).toBe(0);
  });

  it('keeps none and host as they were', async () => {
    const none = await suite.docker(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net']);
    expect(none.stdout.trim()).toBe('lo');
    const host = await suite.docker(['run', '--rm', '--network', 'host', '-p', '1:1', 'busybox', 'true']);
    expect(host.stderr).toBe('WARNING: Published ports are discarded when using host network mode\n');
    // The CLI answers any 404 at create by trying to pull the image: a missing network is a 400.
    const unknown = await suite.api('POST', '/containers/create', { Image: 'busybox', HostConfig: { NetworkMode: 'nosuchnet' } });
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.body)).toEqual({ message: 'network nosuchnet not found' });
    const viaCli = await suite.docker(['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true']);
    expect(viaCli.code).toBe(125);
    expect(viaCli.stderr).toContain('network nosuchnet not found');
    expect(viaCli.stderr).not.toContain('Unable to find image');
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
    expect((await suite.docker(['ps', '--filter', `publish=${port}`, '--format', '{{.Names}}'])).stdout).toBe('web\n');
    expect((await suite.docker(['ps', '--filter', 'expose=80/tcp', '--format', '{{.Names}}'])).stdout).toBe('web\n');
    expect((await suite.docker(['ps', '--filter', 'publish=1-2', '--format', '{{.Names}}'])).stdout).toBe('');
    // Through the host's address on the bridge, from another container and from itself (hairpin).
    const gw = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.Gateway}}', 'web'])).stdout.trim();
    const viaHost = await suite.docker(['run', '--rm', 'busybox', 'wget', '-qO-', `http://${gw}:${port}/index.html`]);
    expect(viaHost.stdout).toBe('hello from berth\n');
    const self = await suite.docker(['exec', 'web', 'wget', '-qO-', `http://${gw}:${port}/index.html`]);
    expect(self.stdout).toBe('hello from berth\n');

    // A download held open (paused after its first bytes) while both services die.
    const res = await new Promise<IncomingMessage>((resolve, reject) => get(`http://127.0.0.1:${port}/big`, resolve).on('error', reject));
    let received = 0;
    res.on('data', (d: Buffer) => (received += d.length));
    res.pause();
    const before = { netproxy: pid('netproxy'), supervisor: pid('supervisor') };
    // The launcher is frozen so that both services stay down while the traffic is checked.
    process.kill(suite.state().pid, 'SIGSTOP');
    try {
      process.kill(before.netproxy, 'SIGKILL');
      process.kill(before.supervisor, 'SIGKILL');
      await eventually(async () => [gone(before.netproxy), gone(before.supervisor)], (a) => a[0]! && a[1]!);
      const during = await fetchText(`http://127.0.0.1:${port}/index.html`);
      expect(during.status).toBe(200);
      const done = new Promise((resolve) => res.on('end', resolve));
      res.resume();
      await done;
      expect(received).toBe(64 << 20);
    } finally {
      process.kill(suite.state().pid, 'SIGCONT');
    }
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
    // As in Docker, the port is taken at start: the containers stay, created, without ports.
    expect((await suite.docker(['ps', '-a', '--filter', 'name=web2', '--format', '{{.Status}}|{{.Ports}}'])).stdout).toBe('Created|80/tcp\n');
    expect((await suite.docker(['rm', 'web2', 'web3'])).code).toBe(0);
    expect(endpointsLeft().netns).toHaveLength(1);
  });

  it('treats a port another engine forwards by DNAT as taken', async () => {
    const port = await freePort();
    const table = `bt_foreign_${suite.bridge}`;
    execFileSync('nft', ['-f', '-'], {
      input: `table ip ${table} {\n chain pre {\n type nat hook prerouting priority dstnat; policy accept;\n tcp dport ${port} dnat to 10.255.255.254:80\n }\n}\n`,
    });
    try {
      const r = await suite.docker(['run', '-d', '--name', 'foreign', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80']);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain(`Bind for 0.0.0.0:${port} failed: port is already allocated`);
    } finally {
      sh('nft', ['delete', 'table', 'ip', table]);
    }
    expect((await suite.docker(['rm', 'foreign'])).code).toBe(0);
  });

  it('holds host ports only while the container runs', async () => {
    const port = await freePort();
    expect((await suite.docker(['create', '--name', 'p1', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'])).code).toBe(0);
    expect((await suite.docker(['create', '--name', 'p2', '-p', `${port}:80`, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'])).code).toBe(0);
    expect((await suite.docker(['port', 'p1'])).stdout).toBe('');
    expect((await suite.docker(['start', 'p1'])).code).toBe(0);
    const busy = await suite.docker(['start', 'p2']);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(`driver failed programming external connectivity on endpoint p2`);
    expect(busy.stderr).toContain(`Bind for 0.0.0.0:${port} failed: port is already allocated`);
    expect((await suite.docker(['stop', '-t', '0', 'p1'])).code).toBe(0);
    await eventually(async () => ports(), (p) => !p.includes(`dport ${port}`));
    expect((await suite.docker(['start', 'p2'])).code).toBe(0);
    const got = await eventually(() => fetchText(`http://127.0.0.1:${port}/index.html`).catch(() => ({ status: 0, body: '' })), (x) => x.status === 200);
    expect(got.status).toBe(200);
    const restarted = await suite.docker(['restart', '-t', '0', 'p2']);
    expect(restarted.code, restarted.stderr).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect((await suite.docker(['port', 'p2'])).stdout).toBe(`80/tcp -> 0.0.0.0:${port}\n`);
    expect(ports()).toContain(`dport ${port}`);
    const again = await eventually(() => fetchText(`http://127.0.0.1:${port}/index.html`).catch(() => ({ status: 0, body: '' })), (x) => x.status === 200);
    expect(again.status).toBe(200);
    expect((await suite.docker(['rm', '-f', 'p1', 'p2'])).code).toBe(0);
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

  it('takes a free port of a host range', async () => {
    const a = await freePort();
    const range = `127.0.0.1:${a}-${a + 2}:80`;
    expect((await suite.docker(['run', '-d', '--name', 'r1', '-p', range, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'])).code).toBe(0);
    expect((await suite.docker(['run', '-d', '--name', 'r2', '-p', range, 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'])).code).toBe(0);
    expect((await suite.docker(['port', 'r1'])).stdout).toBe(`80/tcp -> 127.0.0.1:${a}\n`);
    expect((await suite.docker(['port', 'r2'])).stdout).toBe(`80/tcp -> 127.0.0.1:${a + 1}\n`);
    expect((await suite.docker(['run', '-d', '--name', 'r3', '-p', '127.0.0.1::80', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'])).code).toBe(0);
    expect((await suite.docker(['port', 'r3', '80'])).stdout).toMatch(/^127\.0\.0\.1:\d{5}\n$/);
    expect((await suite.docker(['rm', '-f', 'r1', 'r2', 'r3'])).code).toBe(0);
  });

  it('publishes UDP ports', async () => {
    const port = await freePort();
    const r = await suite.docker(['run', '-d', '--name', 'udp', '-p', `127.0.0.1:${port}:7000/udp`, 'busybox', 'sleep', '600']);
    expect(r.code).toBe(0);
    expect((await suite.docker(['port', 'udp'])).stdout).toBe(`7000/udp -> 127.0.0.1:${port}\n`);
    // busybox has no UDP server: one runs in the container's namespace from the host side.
    const netns = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'udp'])).stdout.trim();
    const server = spawn('nsenter', [`--net=${netns}`, process.execPath, '-e',
      "const s=require('dgram').createSocket('udp4');s.on('message',(m)=>{process.stdout.write(m);s.close()});s.bind(7000,()=>console.log('ready'))"]);
    let got = '';
    server.stdout.on('data', (d: Buffer) => (got += d.toString()));
    await eventually(async () => got, (g) => g.includes('ready'));
    const sock = createSocket('udp4');
    await eventually(async () => {
      sock.send('ping over udp', port, '127.0.0.1');
      await new Promise((res) => setTimeout(res, 100));
      return got;
    }, (g) => g.includes('ping over udp'));
    sock.close();
    server.kill();
    expect(got).toContain('ping over udp');
    expect((await suite.docker(['rm', '-f', 'udp'])).code).toBe(0);
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

  it('rebuilds a stopped container\'s namespace and veth lost to a reboot when netproxy starts', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'rb', 'busybox', 'sleep', '600'])).code).toBe(0);
    const ip = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'rb'])).stdout.trim();
    const netns = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'rb'])).stdout.trim();
    expect((await suite.docker(['stop', '-t', '0', 'rb'])).code).toBe(0);
    // What a reboot leaves: the namespace file without its mount, no veth.
    const peer = sh('nsenter', [`--net=${netns}`, 'cat', '/sys/class/net/eth0/iflink']).trim();
    const hostIf = new RegExp(`^${peer}:\\s+([^@:\\s]+)`, 'm').exec(sh('ip', ['-o', 'link', 'show']))![1]!;
    sh('ip', ['link', 'del', hostIf]);
    sh('umount', [netns]);
    expect(sh('cat', ['/proc/self/mountinfo']).includes(netns)).toBe(false);
    const old = pid('netproxy');
    process.kill(old, 'SIGKILL');
    await eventually(async () => sh('cat', ['/proc/self/mountinfo']), (m) => m.includes(netns), 20_000);
    const r = await eventually(() => suite.docker(['start', 'rb']), (x) => x.code === 0);
    expect(r.code).toBe(0);
    expect((await suite.docker(['exec', 'rb', 'ip', '-o', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(`inet ${ip}/24`);
    expect((await suite.docker(['rm', '-f', 'rb'])).code).toBe(0);
  });

  it('finishes releasing a container removed while netproxy was down once it is back', async () => {
    const port = await freePort();
    expect((await suite.docker(['run', '-d', '--name', 'orphan', '-p', `${port}:80`, 'busybox', 'sleep', '600'])).code).toBe(0);
    const netns = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.SandboxKey}}', 'orphan'])).stdout.trim();
    const launcher = suite.state().pid;
    const old = pid('netproxy');
    process.kill(launcher, 'SIGSTOP');
    try {
      process.kill(old, 'SIGKILL');
      await eventually(async () => gone(old), (g) => g);
      const rm = await suite.docker(['rm', '-f', 'orphan']);
      expect(rm.code).toBe(0);
      expect((await suite.docker(['ps', '-aq', '--filter', 'name=orphan'])).stdout).toBe('');
      expect(ports()).toContain(`dport ${port}`);
    } finally {
      process.kill(launcher, 'SIGCONT');
    }
    await eventually(async () => sh('cat', ['/proc/self/mountinfo']).includes(netns), (still) => !still, 30_000);
    expect(ports()).not.toContain(`dport ${port}`);
  });

  it('removes veth, namespace and rules with rm -f', async () => {
    expect((await suite.docker(['rm', '-f', 'web'])).code).toBe(0);
    expect(endpointsLeft()).toEqual({ veths: '', netns: [] });
    expect(ports()).not.toContain('dnat');
  });
});

describe('user-defined networks', () => {
  const inNet = (net: string, script: string, extra: string[] = []) => suite.docker(['run', '--rm', '--network', net, ...extra, 'busybox', 'sh', '-c', script]);

  it('creates, lists and inspects networks like Docker, and refuses bad ones', async () => {
    const c = await suite.docker(['network', 'create', '--label', 'team=a', 'front']);
    expect(c.code).toBe(0);
    expect(c.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const ls = await suite.docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    expect(ls.stdout.split('\n').filter(Boolean).sort()).toEqual(['bridge bridge', 'front bridge', 'host host', 'none null']);
    const dup = await suite.docker(['network', 'create', 'front']);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain('network with name front already exists');
    const overlap = await suite.docker(['network', 'create', '--subnet', suite.addressPool, 'wide']);
    expect(overlap.stderr).toContain('Pool overlaps with other one on this address space');
    const badGw = await suite.docker(['network', 'create', '--subnet', '10.254.250.0/24', '--gateway', '10.254.251.1', 'badgw']);
    expect(badGw.stderr).toContain('no matching subnet for gateway 10.254.251.1');
    const badName = await suite.docker(['network', 'create', 'a/b']);
    expect(badName.code).toBe(1);
    const missing = await suite.docker(['network', 'inspect', 'nosuch']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('network nosuch not found');
    expect((await suite.docker(['network', 'rm', 'bridge'])).stderr).toContain('bridge is a pre-defined network and cannot be removed');
    const bad = async (method: string, path: string, body: unknown, status: number, message: RegExp) => {
      const r = await suite.api(method, path, body);
      expect(r.status, `${method} ${path}: ${r.body}`).toBe(status);
      expect((JSON.parse(r.body) as { message: string }).message).toMatch(message);
    };
    await bad('POST', '/networks/create', '{not json', 400, /invalid JSON/);
    await bad('POST', '/networks/create', { Name: 'x1', IPAM: { Config: [{ Subnet: '10.0.0.0/99' }] } }, 400, /invalid CIDR address/);
    await bad('POST', '/networks/create', { Name: 'x2', Driver: 'overlay' }, 404, /plugin "overlay" not found/);
    await bad('POST', '/networks/create', { Name: 'x3', Driver: 'host' }, 403, /only one instance of "host" network is allowed/);
    await bad('POST', '/networks/create', {}, 400, /network name is required/);
    await bad('DELETE', '/networks/nosuch', undefined, 404, /network nosuch not found/);
    await bad('POST', '/networks/front/connect', { Container: 'nosuch' }, 404, /No such container: nosuch/);
    await bad('POST', '/networks/prune?filters=%7B%22bogus%22%3A%5B%22x%22%5D%7D', undefined, 400, /invalid filter 'bogus'/);
    expect((await suite.docker(['network', 'ls', '-q'])).stdout.trim().split('\n')).toHaveLength(4);
  });

  it('lets containers reach each other by name and alias; another network cannot', async () => {
    expect((await suite.docker(['network', 'create', 'back'])).code).toBe(0);
    const web = await suite.docker(['run', '-d', '--name', 'api', '--network', 'front', '--network-alias', 'api-alias', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www']);
    expect(web.code).toBe(0);
    const byName = await inNet('front', 'wget -qO- http://api/index.html && wget -qO- http://api-alias/index.html');
    expect(byName.stdout).toBe('hello from berth\nhello from berth\n');
    const ip = JSON.parse((await suite.docker(['inspect', '-f', '{{json .NetworkSettings.Networks.front}}', 'api'])).stdout) as { IPAddress: string; MacAddress: string; Aliases: string[] };
    expect(ip.Aliases).toContain('api-alias');
    // The search domain keeps the failed lookup's retries (api.<search>) from leaving the host.
    const other = await inNet('back', `nslookup api >/dev/null 2>&1 && echo resolved; echo | nc -w 2 ${ip.IPAddress} 80 >/dev/null 2>&1 && echo reached; echo done`, ['--dns-search', 'invalid']);
    expect((await inNet('front', 'cat /etc/resolv.conf')).stdout).toMatch(/options ndots:0/);
    expect(other.stdout).toBe('done\n');
    const fromDefault = await suite.docker(['run', '--rm', 'busybox', 'sh', '-c', `echo | nc -w 2 ${ip.IPAddress} 80 >/dev/null 2>&1 && echo reached; echo done`]);
    expect(fromDefault.stdout).toBe('done\n');

    const inspect = JSON.parse((await suite.docker(['network', 'inspect', 'front'])).stdout) as {
      Name: string; Driver: string; IPAM: { Config: { Subnet: string; Gateway: string }[] }; Labels: Record<string, string>;
      Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string; EndpointID: string }>;
    }[];
    expect(inspect[0]!.Name).toBe('front');
    expect(inspect[0]!.Labels).toEqual({ team: 'a' });
    const entries = Object.values(inspect[0]!.Containers);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ Name: 'api', MacAddress: ip.MacAddress });
    expect(entries[0]!.IPv4Address).toBe(`${ip.IPAddress}/24`);
    expect((await suite.docker(['network', 'rm', 'front'])).stderr).toContain('has active endpoints');
    expect((await suite.docker(['ps', '--filter', 'network=front', '--format', '{{.Names}}'])).stdout).toBe('api\n');
    expect((await suite.docker(['ps', '--filter', 'network=back', '--format', '{{.Names}}'])).stdout).toBe('');
    expect((await suite.docker(['network', 'ls', '--filter', 'type=custom', '--filter', 'label=team=a', '--format', '{{.Name}}'])).stdout).toBe('front\n');
    expect((await suite.docker(['network', 'ls', '--filter', 'driver=null', '--format', '{{.Name}}'])).stdout).toBe('none\n');
  });

  it('honours --ip and --ip-range, and --internal has no way out', async () => {
    expect((await suite.docker(['network', 'create', '--internal', '--subnet', '10.254.77.0/24', '--ip-range', '10.254.77.128/25', 'closed'])).code).toBe(0);
    const r = await inNet('closed', 'ip -o -4 addr show eth0; ip route');
    expect(r.stdout).toContain('inet 10.254.77.128/24');
    expect(r.stdout).not.toContain('default');
    const fixed = await inNet('closed', 'ip -o -4 addr show eth0', ['--ip', '10.254.77.9']);
    expect(fixed.stdout).toContain('inet 10.254.77.9/24');
    const outside = await inNet('closed', 'ip route get 1.1.1.1 >/dev/null 2>&1 && echo routed; echo done');
    expect(outside.stdout).toBe('done\n');
    const taken = await suite.docker(['run', '-d', '--name', 'fix1', '--network', 'closed', '--ip', '10.254.77.10', 'busybox', 'sleep', '60']);
    expect(taken.code).toBe(0);
    const again = await suite.api('POST', '/containers/create', {
      Image: 'busybox', HostConfig: { NetworkMode: 'closed' }, NetworkingConfig: { EndpointsConfig: { closed: { IPAMConfig: { IPv4Address: '10.254.77.10' } } } },
    });
    expect(again.status).toBe(409);
    expect((await suite.docker(['rm', '-f', 'fix1'])).code).toBe(0);
  });

  it('applies the MTU and enable_icc options', async () => {
    const c = await suite.docker(['network', 'create', '-o', 'com.docker.network.driver.mtu=1280', '-o', 'com.docker.network.bridge.enable_icc=false', 'noicc']);
    expect(c.code).toBe(0);
    expect((await suite.docker(['run', '-d', '--name', 'lonely', '--network', 'noicc', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/www'])).code).toBe(0);
    const ip = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.Networks.noicc.IPAddress}}', 'lonely'])).stdout.trim();
    const r = await inNet('noicc', `cat /sys/class/net/eth0/mtu; echo | nc -w 2 ${ip} 80 >/dev/null 2>&1 && echo reached; echo done`);
    expect(r.stdout).toBe('1280\ndone\n');
    const bad = await suite.docker(['network', 'create', '-o', 'com.docker.network.bridge.enable_icc=maybe', 'badicc']);
    expect(bad.code).toBe(1);
    expect((await suite.docker(['rm', '-f', 'lonely'])).code).toBe(0);
    expect((await suite.docker(['network', 'rm', 'noicc'])).code).toBe(0);
  });

  it('shares interfaces with --network container:, has only lo with none', async () => {
    const ip = (await suite.docker(['inspect', '-f', '{{.NetworkSettings.Networks.front.IPAddress}}', 'api'])).stdout.trim();
    const joined = await suite.docker(['run', '--rm', '--network', 'container:api', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; wget -qO- http://127.0.0.1/index.html']);
    expect(joined.stdout).toContain(`inet ${ip}/24`);
    expect(joined.stdout).toContain('hello from berth');
    const conflictPorts = await suite.docker(['run', '--rm', '--network', 'container:api', '-p', '9999:80', 'busybox', 'true']);
    expect(conflictPorts.code).toBe(125);
    expect(conflictPorts.stderr).toContain('conflicting options: port publishing and the container type network mode');
    const conflictName = await suite.docker(['run', '--rm', '--network', 'container:api', '--hostname', 'x', 'busybox', 'true']);
    expect(conflictName.stderr).toContain('conflicting options: hostname and the network mode');
    const conflictHosts = await suite.docker(['run', '--rm', '--network', 'container:api', '--add-host', 'a:1.2.3.4', 'busybox', 'true']);
    expect(conflictHosts.stderr).toContain('conflicting options: custom host-to-IP mapping and the network mode');
  });

  it('connects and disconnects a running container', async () => {
    expect((await suite.docker(['run', '-d', '--name', 'roamer', 'busybox', 'sleep', '600'])).code).toBe(0);
    expect((await suite.docker(['network', 'connect', '--alias', 'wanderer', 'front', 'roamer'])).code).toBe(0);
    const two = await suite.docker(['exec', 'roamer', 'sh', '-c', 'ip -o -4 addr | grep -c eth; ip route | grep default;']);
    expect(two.stdout.split('\n')[0]).toBe('2');
    expect(two.stdout).toContain('dev eth0');
    const found = await inNet('front', 'nslookup wanderer >/dev/null && echo ok');
    expect(found.stdout).toBe('ok\n');
    expect((await suite.docker(['rename', 'roamer', 'rover'])).code).toBe(0);
    const renamed = await inNet('front', 'nslookup rover >/dev/null && echo ok');
    expect(renamed.stdout).toBe('ok\n');
    const inspected = JSON.parse((await suite.docker(['network', 'inspect', 'front'])).stdout) as { Containers: Record<string, { Name: string }> }[];
    expect(Object.values(inspected[0]!.Containers).map((c) => c.Name).sort()).toEqual(['api', 'rover']);
    expect((await suite.docker(['rename', 'rover', 'roamer'])).code).toBe(0);
    const nets = JSON.parse((await suite.docker(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'roamer'])).stdout) as Record<string, unknown>;
    expect(Object.keys(nets).sort()).toEqual(['bridge', 'front']);
    expect((await suite.docker(['network', 'disconnect', 'front', 'roamer'])).code).toBe(0);
    expect((await suite.docker(['exec', 'roamer', 'sh', '-c', 'ip -o -4 addr | grep -c eth'])).stdout).toBe('1\n');
    const notThere = await suite.docker(['network', 'disconnect', 'front', 'roamer']);
    expect(notThere.code).toBe(1);
    expect((await suite.docker(['rm', '-f', 'roamer'])).code).toBe(0);
    const both = await suite.docker(['run', '--rm', '--network', 'front', '--network', 'back', 'busybox', 'sh', '-c', 'ip -o -4 addr | grep -c eth; nslookup api >/dev/null && echo found']);
    expect(both.stdout).toBe('2\nfound\n');
  });

  it('removes and prunes networks with their bridges', async () => {
    expect((await suite.docker(['rm', '-f', 'api'])).code).toBe(0);
    const bridges = suite.bridges().filter((b) => b !== suite.bridge);
    expect(bridges.length).toBe(3);
    expect((await suite.docker(['network', 'rm', 'closed'])).stdout).toBe('closed\n');
    const pruned = await suite.docker(['network', 'prune', '-f', '--filter', 'label=team=a']);
    expect(pruned.stdout).toContain('front');
    expect(pruned.stdout).not.toContain('back');
    expect((await suite.docker(['network', 'prune', '-f'])).stdout).toContain('back');
    for (const b of bridges) expect(sh('ip', ['link', 'show', b])).toBe('');
    expect(endpointsLeft().netns).toEqual([]);
  });
});
