import { describe, expect, it } from 'vitest';
import { familiarName, formatReference, parseReference } from './index';

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest', 'busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36', 'busybox:1.36'],
    ['me/app', 'docker.io/me/app:latest', 'me/app:latest'],
    ['localhost:5000/x/y:t', 'localhost:5000/x/y:t', 'localhost:5000/x/y:t'],
    ['localhost/x', 'localhost/x:latest', 'localhost/x:latest'],
    ['index.docker.io/library/redis', 'docker.io/library/redis:latest', 'redis:latest'],
    [`busybox@sha256:${'a'.repeat(64)}`, `docker.io/library/busybox@sha256:${'a'.repeat(64)}`, `busybox@sha256:${'a'.repeat(64)}`],
  ])('normalises %s', (input, full, familiar) => {
    const ref = parseReference(input);
    expect(formatReference(ref)).toBe(full);
    expect(familiarName(ref)).toBe(familiar);
  });

  it.each(['', 'UPPER', 'a:b:c', 'x@sha256:short', 'bad//path', 'ok:t@g', '-lead'])('refuses %j', (input) => {
    expect(() => parseReference(input)).toThrow(/invalid reference format/);
  });
});
