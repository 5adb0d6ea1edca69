import { describe, expect, it } from 'vitest';
import { eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

let suite: Suite;
busyboxSuiteForFile((s) => (suite = s));

interface Health {
  Status: string;
  FailingStreak: number;
  Log: { Start: string; End: string; ExitCode: number; Output: string }[];
}

const health = async (name: string): Promise<Health | null> =>
  JSON.parse((await suite.docker(['inspect', '--format', '{{json .State.Health}}', name])).stdout.trim() || 'null') as Health | null;
const psStatus = async (name: string) => (await suite.docker(['ps', '-a', '--filter', `name=^${name}$`, '--format', '{{.Status}}'])).stdout.trim();
/** Waits (generously: probes run on a loaded machine) until the health status is the one wanted. */
const healthBecomes = async (name: string, status: string, timeoutMs = 60_000) => {
  const h = await eventually(() => health(name), (x) => x?.Status === status, timeoutMs);
  if (h?.Status !== status) throw new Error(`${name}: health is ${JSON.stringify(h)}, waited for ${status}`);
  return h;
};
const names = async (filter: string) =>
  (await suite.docker(['ps', '-a', '--filter', filter, '--format', '{{.Names}}'])).stdout.trim().split('\n').filter(Boolean).sort();

describe('health checks', () => {
  it('turns healthy within seconds, shows it in ps, filters on it and sends health_status events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    await suite.docker(['run', '-d', '--name', 'fine', '--health-cmd', 'true', '--health-interval', '1s', 'busybox', 'sleep', '600']);
    await suite.docker(['run', '-d', '--name', 'plain', 'busybox', 'sleep', '600']);
    expect(await psStatus('fine')).toMatch(/^Up .* \((health: starting|healthy)\)$/);
    const h = await healthBecomes('fine', 'healthy');
    expect(h.FailingStreak).toBe(0);
    expect(h.Log[0]).toMatchObject({ ExitCode: 0, Output: '' });
    expect(Date.parse(h.Log[0]!.End)).toBeGreaterThanOrEqual(Date.parse(h.Log[0]!.Start));
    expect(await psStatus('fine')).toMatch(/^Up .* \(healthy\)$/);
    expect(await psStatus('plain')).toMatch(/^Up [^(]*$/);
    expect(await health('plain')).toBeNull();
    const cfg = JSON.parse((await suite.docker(['inspect', '--format', '{{json .Config.Healthcheck}}', 'fine'])).stdout) as Record<string, unknown>;
    expect(cfg).toMatchObject({ Test: ['CMD-SHELL', 'true'], Interval: 1e9 });

    expect(await names('health=healthy')).toEqual(['fine']);
    expect(await names('health=none')).toEqual(['plain']);
    expect(await names('health=unhealthy')).toEqual([]);
    const bad = await suite.docker(['ps', '--filter', 'health=great']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('Unrecognised filter value for health: great');

    const until = Math.floor(Date.now() / 1000) + 1;
    const ev = await suite.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'container=fine', '--format', '{{.Action}}|{{.Actor.Attributes.execID}}']);
    const actions = ev.stdout.trim().split('\n');
    expect(actions).toContain('health_status: healthy|<no value>');
    expect(actions.filter((a) => a.startsWith('exec_create: /bin/sh -c true|')).length).toBeGreaterThan(0);
    expect(actions.some((a) => a.startsWith('exec_start: /bin/sh -c true|'))).toBe(true);
    expect(actions.some((a) => a.startsWith('exec_die|'))).toBe(true);
    const only = await suite.docker(['events', '--since', String(since), '--until', String(until), '--filter', 'event=health_status', '--format', '{{.Action}} {{.Actor.Attributes.name}}']);
    expect(only.stdout.trim().split('\n')).toEqual(['health_status: healthy fine']);
  });

  it('turns unhealthy after Retries failures, keeping the last five results with their output', async () => {
    await suite.docker(['run', '-d', '--name', 'sick', '--health-cmd', 'echo out; echo err >&2; exit 3', '--health-interval', '1s', '--health-retries', '2', 'busybox', 'sleep', '600']);
    const h = await healthBecomes('sick', 'unhealthy');
    expect(h.FailingStreak).toBeGreaterThanOrEqual(2);
    expect(h.Log[0]).toMatchObject({ ExitCode: 3 });
    expect(h.Log[0]!.Output).toContain('out\n');
    expect(h.Log[0]!.Output).toContain('err\n');
    expect(await psStatus('sick')).toMatch(/^Up .* \(unhealthy\)$/);
    expect(await names('health=unhealthy')).toEqual(['sick']);
    const five = await eventually(() => health('sick'), (x) => (x?.FailingStreak ?? 0) >= 7, 60_000);
    expect(five!.Log).toHaveLength(5);
  });

  it('kills a probe that hangs at its timeout and counts it as a failure', async () => {
    await suite.docker(['run', '-d', '--name', 'hung', '--health-cmd', 'sleep 100', '--health-timeout', '1s', '--health-interval', '1s', '--health-retries', '1', 'busybox', 'sleep', '600']);
    const h = await healthBecomes('hung', 'unhealthy');
    expect(h.Log[0]).toMatchObject({ ExitCode: -1, Output: 'Health check exceeded timeout (1s)' });
    // The killed probes are gone; at most the current one runs.
    const top = await suite.docker(['top', 'hung']);
    expect(top.stdout.split('\n').filter((l) => l.includes('sleep 100')).length).toBeLessThanOrEqual(1);
  });

  it('keeps 4096 bytes of output and marks the cut', async () => {
    await suite.docker(['run', '-d', '--name', 'chatty', '--health-cmd', 'head -c 5000 /dev/zero | tr "\\000" a', '--health-interval', '1s', 'busybox', 'sleep', '600']);
    const h = await healthBecomes('chatty', 'healthy');
    expect(h.Log[0]!.Output).toBe(`${'a'.repeat(4096)}...`);
  });

  it('does not count failures during the start period', async () => {
    await suite.docker(['run', '-d', '--name', 'slow', '--health-cmd', 'false', '--health-interval', '1s', '--health-retries', '1', '--health-start-period', '10m', 'busybox', 'sleep', '600']);
    const h = await eventually(() => health('slow'), (x) => (x?.Log.length ?? 0) >= 2, 60_000);
    expect(h).toMatchObject({ Status: 'starting', FailingStreak: 0 });
    expect(h!.Log.length).toBeGreaterThanOrEqual(2);
  });

  it("takes HEALTHCHECK from the image; --no-healthcheck and NONE turn it off", async () => {
    await suite.docker(['create', '--name', 'base', 'busybox', 'true']);
    expect((await suite.docker(['commit', '--change', 'HEALTHCHECK --interval=1s --retries=2 CMD ["test", "-e", "/etc/passwd"]', 'base', 'checked:1'])).code).toBe(0);
    const img = JSON.parse((await suite.docker(['image', 'inspect', '--format', '{{json .Config.Healthcheck}}', 'checked:1'])).stdout) as unknown;
    expect(img).toEqual({ Test: ['CMD', 'test', '-e', '/etc/passwd'], Interval: 1e9, Retries: 2 });
    await suite.docker(['run', '-d', '--name', 'inherits', 'checked:1', 'sleep', '600']);
    await suite.docker(['run', '-d', '--name', 'overrides', '--health-cmd', 'exit 1', 'checked:1', 'sleep', '600']);
    await suite.docker(['run', '-d', '--name', 'optout', '--no-healthcheck', 'checked:1', 'sleep', '600']);
    await healthBecomes('inherits', 'healthy');
    // Only the command is overridden: interval and retries still come from the image.
    await healthBecomes('overrides', 'unhealthy');
    expect(await health('optout')).toBeNull();
    await suite.docker(['commit', '--change', 'HEALTHCHECK NONE', 'base', 'unchecked:1']);
    await suite.docker(['run', '-d', '--name', 'none', 'unchecked:1', 'sleep', '600']);
    expect(await health('none')).toBeNull();
    expect(await names('health=none')).toEqual(expect.arrayContaining(['none', 'optout']));
  });

  it('refuses bad values with dockerd messages', async () => {
    const create = (hc: unknown) => suite.api('POST', '/containers/create', { Image: 'busybox', Cmd: ['true'], Healthcheck: hc });
    for (const [hc, msg] of [
      [{ Test: ['CMD', 'true'], Interval: -1 }, 'Interval in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Interval: 500 }, 'Interval in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Timeout: -1 }, 'Timeout in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], StartPeriod: 10 }, 'StartPeriod in Healthcheck cannot be less than 1ms'],
      [{ Test: ['CMD', 'true'], Retries: -2 }, 'Retries in Healthcheck cannot be negative'],
      [{ Test: 'true' }, 'Healthcheck.Test'],
    ] as const) {
      const r = await create(hc);
      expect(r.status, JSON.stringify(hc)).toBe(400);
      expect(JSON.parse(r.body).message).toContain(msg);
    }
    const cli = await suite.docker(['run', '-d', '--health-cmd', 'true', '--health-interval', '-1s', 'busybox', 'true']);
    expect(cli.code).not.toBe(0);
  });

  it('outlives kill -9 of the supervisor: the status is kept and checks go on', async () => {
    await suite.docker(['run', '-d', '--name', 'steady', '--health-cmd', 'true', '--health-interval', '1s', 'busybox', 'sleep', '600']);
    await healthBecomes('steady', 'healthy');
    const sup = suite.state().children.supervisor!.pid;
    process.kill(sup, 'SIGKILL');
    await eventually(async () => suite.state().children.supervisor!.pid, (p) => p !== sup && p > 0);
    const after = await eventually(() => health('steady').catch(() => null), (x) => x !== null, 30_000);
    expect(after!.Status).toBe('healthy');
    const lastEnd = after!.Log[after!.Log.length - 1]!.End;
    const later = await eventually(() => health('steady'), (x) => !!x && x.Log[x.Log.length - 1]!.End > lastEnd, 60_000);
    expect(later!.Log[later!.Log.length - 1]!.End > lastEnd).toBe(true);
    expect(later!.Status).toBe('healthy');
  });
});
