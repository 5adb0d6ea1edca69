/**
 * Runs one command against a private Berth suite with the client fixtures loaded:
 *
 *   npx tsx tests/clients/with-suite.ts -- /usr/bin/pytest-3 tests/clients/python
 *
 * The command gets DOCKER_HOST (and BERTH_SUITE_BASE, BERTH_SUITE_POOL) in its environment; its
 * exit status is ours. The suite is stopped and its roots, bridges and netns removed on the way
 * out, also when the command fails or we are interrupted.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Suite } from '../support/berth';
import { loadClientImages } from './load-images';

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] === '--' ? argv.slice(1) : argv;
  if (cmd.length === 0) {
    console.error('usage: with-suite.ts -- <command> [args...]');
    return 2;
  }
  const suite = await Suite.start();
  let child: ReturnType<typeof spawn> | undefined;
  const interrupt = () => child?.kill('SIGTERM');
  process.on('SIGINT', interrupt);
  process.on('SIGTERM', interrupt);
  try {
    await loadClientImages(suite);
    console.error(`with-suite: DOCKER_HOST=${suite.dockerHost}`);
    child = spawn(cmd[0]!, cmd.slice(1), {
      stdio: 'inherit',
      env: {
        ...process.env,
        DOCKER_HOST: suite.dockerHost,
        DOCKER_CONFIG: join(suite.base, 'docker-config'),
        BERTH_SUITE_BASE: suite.base,
        BERTH_SUITE_POOL: suite.addressPool,
      },
    });
    const code = await new Promise<number>((resolve) => child!.on('exit', (c, sig) => resolve(c ?? (sig ? 128 : 1))));
    return code;
  } finally {
    await suite.removeAllContainers({ volumes: true }).catch(() => undefined);
    await suite.stop();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`with-suite: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
