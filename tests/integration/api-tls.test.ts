import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run, Suite } from '../support/berth';
import { freePort } from '../support/registry';

let suite: Suite;
let certs: string;
let port: number;
let sock: string;

/** A CA, a server certificate for 127.0.0.1 and a client certificate, as Docker's docs make them. */
function makeCerts(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=berth-test-ca');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server-cert.pem', '-days', '2', '-extfile', 'server.ext');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage = clientAuth\n');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'client.csr', '-subj', '/CN=client');
  ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '2', '-extfile', 'client.ext');
}

beforeAll(async () => {
  certs = mkdtempSync('/tmp/bt-certs-');
  makeCerts(certs);
  port = await freePort();
  sock = join(certs, 'api.sock');
  suite = await Suite.startWithBusybox([
    '-H', `unix://${sock}`, '-H', `tcp://127.0.0.1:${port}`,
    '--tlsverify', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'server-cert.pem'), '--tlskey', join(certs, 'server-key.pem'),
  ]);
});
afterAll(async () => {
  if (suite) await suite.stop();
  rmSync(certs, { recursive: true, force: true });
});


describe('the Engine API over TCP with TLS', () => {
  it('serves the docker CLI with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', async () => {
    const r = await run('docker', ['version', '--format', '{{.Server.Version}}'], {
      env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs, DOCKER_CONFIG: join(certs, 'cfg') },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+/);
    // Attach is a hijacked connection: it must work inside TLS too.
    const hello = await run('docker', ['run', '--rm', 'busybox', 'echo', 'over tls'], {
      env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs, DOCKER_CONFIG: join(certs, 'cfg') },
    });
    expect(hello.code, hello.stderr).toBe(0);
    expect(hello.stdout).toBe('over tls\n');
  });

  it('refuses a client without a certificate, and plain HTTP', async () => {
    const withCert = await run('curl', ['-sS', '--cacert', join(certs, 'ca.pem'), '--cert', join(certs, 'cert.pem'), '--key', join(certs, 'key.pem'), `https://127.0.0.1:${port}/_ping`]);
    expect(withCert.stdout).toBe('OK');
    const noCert = await run('curl', ['-sS', '--cacert', join(certs, 'ca.pem'), `https://127.0.0.1:${port}/_ping`]);
    expect(noCert.code).not.toBe(0);
    expect(noCert.stdout).toBe('');
    const plain = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env: { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_CONFIG: join(certs, 'cfg') } });
    expect(plain.code).not.toBe(0);
    // A certificate from another CA does not get in either.
    const other = mkdtempSync('/tmp/bt-certs-other-');
    try {
      makeCerts(other);
      const foreign = await run('curl', ['-sS', '--cacert', join(certs, 'ca.pem'), '--cert', join(other, 'cert.pem'), '--key', join(other, 'key.pem'), `https://127.0.0.1:${port}/_ping`]);
      expect(foreign.stdout).toBe('');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('keeps the unix socket 0660, owned by the docker group when there is one', () => {
    const st = statSync(sock);
    expect(st.mode & 0o777).toBe(0o660);
    const line = readFileSync('/etc/group', 'utf8').split('\n').find((l) => l.startsWith('docker:'));
    if (line) expect(st.gid).toBe(Number(line.split(':')[2]));
    else console.log('api-tls.test: no docker group on this host; the socket stays root:root');
  });
});

describe('TCP without TLS', () => {
  it('is refused at start unless --tls=false says it is meant, and then warns as dockerd does', async () => {
    const p = await freePort();
    await expect(Suite.start(['-H', `tcp://127.0.0.1:${p}`], 20_000)).rejects.toThrow(/refusing to listen on tcp:\/\/127\.0\.0\.1:\d+ without TLS/);
    const open = await Suite.start(['-H', `unix://${join(certs, 'plain.sock')}`, '-H', `tcp://127.0.0.1:${p}`, '--tls=false']);
    try {
      const r = await run('docker', ['version', '--format', '{{.Server.Version}}'], { env: { DOCKER_HOST: `tcp://127.0.0.1:${p}`, DOCKER_CONFIG: join(certs, 'cfg') } });
      expect(r.code, r.stderr).toBe(0);
      expect(open.logs).toContain('Binding to IP address without --tlsverify is insecure and gives root access on this machine to everyone who has access to your network.');
    } finally {
      await open.stop();
    }
  });
});
