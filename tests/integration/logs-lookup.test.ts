import { describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

// The gateway looks up a container's monitor during an inspect, for the logs call the docker CLI
// sends next (apps/gateway/src/domain/shim-lookups.ts), stopped containers included: that lookup
// must never start a monitor, and a monitor gone or replaced since must not fail the logs.
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s), ['--default-monitor', 'conmon']);

async function killMonitor(): Promise<void> {
  const mon = suite.monitorPid();
  expect(mon).toBeGreaterThan(0);
  process.kill(mon, 'SIGKILL');
  await eventually(async () => alive(mon), (a) => !a);
}

/** The last stdout line of a multiplexed logs body (one frame per line here). */
function lastLine(body: string): string {
  return body.split('\n').filter(Boolean).pop()!.slice(8);
}

async function stopped(name: string): Promise<string> {
  expect((await suite.docker(['run', '--name', name, 'busybox', 'sh', '-c', 'echo a; echo b'])).code).toBe(0);
  return (await suite.docker(['inspect', '-f', '{{.Id}}', name])).stdout.trim();
}

describe("a stopped container's logs after the CLI's inspect", () => {
  it('--tail reads the stopped container through the monitor looked up at the inspect', async () => {
    await stopped('ll-plain');
    const r = await suite.docker(['logs', '--tail', '1', 'll-plain']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('b\n');
    await suite.docker(['rm', 'll-plain']);
  });

  it('an inspect starts no monitor; the logs call that follows does', async () => {
    await stopped('ll-none');
    await killMonitor();
    expect((await suite.api('GET', '/v1.41/containers/ll-none/json')).status).toBe(200);
    // The lookup runs beside the inspect's answer: give it time to start one, if it would.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(suite.monitorPid()).toBe(0);
    const r = await suite.docker(['logs', '--tail', '1', 'll-none']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('b\n');
    expect(suite.monitorPid()).toBeGreaterThan(0);
    await suite.docker(['rm', 'll-none']);
  });

  it('the monitor killed between the inspect and the logs: the logs ask again and are whole', async () => {
    const id = await stopped('ll-killed');
    expect((await suite.api('GET', '/v1.41/containers/ll-killed/json')).status).toBe(200);
    await killMonitor();
    // By ID, as the CLI asks after an inspect by name.
    const logs = await suite.api('GET', `/v1.41/containers/${id}/logs?stdout=1&tail=1`);
    expect(logs.status).toBe(200);
    expect(lastLine(logs.body)).toBe('b');
    await suite.docker(['rm', 'll-killed']);
  });

  it('the monitor killed and started again between the inspect and the logs', async () => {
    const id = await stopped('ll-again');
    await stopped('ll-other');
    expect((await suite.api('GET', '/v1.41/containers/ll-again/json')).status).toBe(200);
    await killMonitor();
    // Another container's call brings a new monitor up on the same socket paths.
    expect((await suite.docker(['logs', 'll-other'])).stdout).toBe('a\nb\n');
    const logs = await suite.api('GET', `/v1.41/containers/${id}/logs?stdout=1&tail=1`);
    expect(logs.status).toBe(200);
    expect(lastLine(logs.body)).toBe('b');
    await suite.docker(['rm', 'll-again', 'll-other']);
  });

  it('an inspect of a container that does not exist is a 404, and its logs too', async () => {
    const i = await suite.api('GET', '/v1.41/containers/ll-missing/json');
    expect(i.status).toBe(404);
    expect(JSON.parse(i.body)).toEqual({ message: 'No such container: ll-missing' });
    const l = await suite.api('GET', '/v1.41/containers/ll-missing/logs?stdout=1&tail=1');
    expect(l.status).toBe(404);
    expect(JSON.parse(l.body)).toEqual({ message: 'No such container: ll-missing' });
  });
});
