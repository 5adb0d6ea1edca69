import { describe, expect, it } from 'vitest';
import { resolveApiTls } from './api-tls';

describe('resolveApiTls', () => {
  it('refuses TCP without TLS unless --tls=false is given', () => {
    expect(() => resolveApiTls({}, ['tcp://127.0.0.1:2375'])).toThrow(/refusing to listen on tcp:\/\/127.0.0.1:2375 without TLS/);
    expect(resolveApiTls({ tls: false }, ['tcp://127.0.0.1:2375']).insecureAllowed).toBe(true);
    expect(resolveApiTls({}, ['unix:///x.sock']).enabled).toBe(false);
  });

  it('takes --tlsverify as --tls, with dockerd\'s default paths', () => {
    process.env.DOCKER_CERT_PATH = '/certs';
    const t = resolveApiTls({ tlsverify: true }, ['tcp://127.0.0.1:2376']);
    expect(t).toMatchObject({ enabled: true, verify: true, caCert: '/certs/ca.pem', cert: '/certs/cert.pem', key: '/certs/key.pem' });
    delete process.env.DOCKER_CERT_PATH;
    expect(resolveApiTls({ tls: true, tlscert: '/c', tlskey: '/k' }, ['tcp://127.0.0.1:2376'])).toMatchObject({ enabled: true, verify: false, cert: '/c' });
  });
});
