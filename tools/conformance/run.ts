// npm run conformance -- <service> <address> [--restart "<shell command>"]
// Runs one contract's conformance kit against any endpoint that serves it. With --restart, the
// cases that check durability run the command (which must restart the endpoint) in the middle.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runKit } from './kit';
import { KITS } from './kits';
import { waitHealthy } from './service-process';

const USAGE = `usage: npm run conformance -- <service> <address> [--restart "<command that restarts the endpoint>"]
services: ${Object.keys(KITS).join(', ')}`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { restart: { type: 'string' } } });
  const [service, address] = positionals;
  const kit = service ? KITS[service] : undefined;
  if (!kit || !address) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  await waitHealthy(service!, address);
  const scratch = mkdtempSync(join(tmpdir(), 'berth-conformance-'));
  try {
    const restart = values.restart
      ? async () => {
          execFileSync('sh', ['-c', values.restart!], { stdio: 'inherit' });
          await waitHealthy(service!, address);
        }
      : undefined;
    const r = await runKit(kit(), { address, restart, scratch });
    return r.failed === 0 ? 0 : 1;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (require.main === module) void main().then((code) => process.exit(code));
