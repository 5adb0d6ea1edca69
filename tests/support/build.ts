import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { Suite } from './berth';

// The docker CLI here has no buildx: DOCKER_BUILDKIT=0 takes the classic builder API.
export const BUILD_ENV = { DOCKER_BUILDKIT: '0' };
/** Options for a `docker build` run: the classic builder and a deadline builds on a loaded machine meet. */
export const LONG = { env: BUILD_ENV, timeoutMs: 300_000 };

/**
 * What every build test starts with: a suite with busybox loaded and a temp dir for build
 * contexts, both gone after `stop`.
 */
export class BuildSuite {
  private constructor(
    readonly s: Suite,
    readonly dir: string,
  ) {}

  static async start(prefix: string): Promise<BuildSuite> {
    const s = await Suite.startWithBusybox();
    return new BuildSuite(s, mkdtempSync(`/tmp/${prefix}`));
  }

  /** A context directory `name` with these files (paths relative to it, parents made). */
  context(name: string, files: Record<string, string>): string {
    const d = join(this.dir, name);
    mkdirSync(d, { recursive: true });
    for (const [p, text] of Object.entries(files)) {
      mkdirSync(join(d, p, '..'), { recursive: true });
      writeFileSync(join(d, p), text);
    }
    return d;
  }

  /** POST /build with a raw body over the suite's socket, for contexts the CLI would not send. */
  postBuild(body: Buffer, query = ''): Promise<{ status: number; text: string }> {
    const socketPath = this.s.dockerHost.replace(/^unix:\/\//, '');
    return new Promise((resolve, reject) => {
      const req = request({ socketPath, path: `/v1.41/build?${query}`, method: 'POST', headers: { 'Content-Type': 'application/x-tar' } }, (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  async stop(): Promise<void> {
    await this.s.removeAllContainers();
    await this.s.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
