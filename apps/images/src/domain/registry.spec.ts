import { describe, expect, it } from 'vitest';
import { Limiter } from './limiter';
import { humanSize, progressBar } from './progress';
import { parsePlatform, selectManifest } from './pull';
import { isInsecure, parseChallenge } from './registry-client';

const d = (n: string) => `sha256:${n.repeat(64)}`;

describe('registry client pieces', () => {
  it('parses Bearer and Basic challenges', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull' },
    });
    expect(parseChallenge('Basic realm="x"')).toEqual({ scheme: 'basic', params: { realm: 'x' } });
  });

  it('treats loopback as insecure, others only when configured', () => {
    expect(isInsecure('localhost:5000', [])).toBe(true);
    expect(isInsecure('127.0.0.1:5000', [])).toBe(true);
    expect(isInsecure('[::1]:5000', [])).toBe(true);
    expect(isInsecure('reg.example:5000', [])).toBe(false);
    expect(isInsecure('reg.example:5000', ['reg.example:5000'])).toBe(true);
  });
});

describe('platform selection', () => {
  const index = {
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('a'), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('b'), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: d('c'), size: 1, platform: { os: 'unknown', architecture: 'unknown' } },
    ],
  };
  it('picks the entry for the platform, not the first', () => {
    expect(selectManifest(index, parsePlatform('linux/amd64')).digest).toBe(d('b'));
    expect(selectManifest(index, parsePlatform('linux/arm64/v8')).digest).toBe(d('a'));
  });
  it('says so when nothing fits', () => {
    expect(() => selectManifest(index, parsePlatform('linux/s390x'))).toThrow('no matching manifest for linux/s390x in the manifest list entries');
    expect(() => parsePlatform('linux')).toThrow(/unknown operating system or architecture/);
  });
});

describe('progress', () => {
  it('sizes like Docker', () => {
    expect(humanSize(527)).toBe('527B');
    expect(humanSize(1234567)).toBe('1.235MB');
    expect(progressBar(50, 100)).toMatch(/^\[={25}>\s+\]\s+50B\/100B$/);
  });
});

describe('Limiter', () => {
  it('runs at most n at once, in order', async () => {
    const l = new Limiter(2);
    let running = 0;
    let peak = 0;
    const waited: number[] = [];
    await Promise.all(
      [0, 1, 2, 3, 4].map((i) =>
        l.run(
          async () => {
            running++;
            peak = Math.max(peak, running);
            await new Promise((r) => setTimeout(r, 10));
            running--;
          },
          () => waited.push(i),
        ),
      ),
    );
    expect(peak).toBe(2);
    expect(waited).toEqual([2, 3, 4]);
  });
});
