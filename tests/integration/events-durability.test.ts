import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';

// The event stream lives in Redis (append-only file under the data root), so `docker events
// --since/--until` replays across restarts of the gateway and of Redis; a Redis outage fails only
// the event path, clearly, and everything recovers by itself.
describe('events across restarts', () => {
  let suite: Suite;
  let t0: number;
  let id: string;
  beforeAll(async () => {
    suite = await Suite.startWithBusybox();
    t0 = Math.floor(Date.now() / 1000) - 1;
    id = (await suite.docker(['run', '-d', '--name', 'evt', 'busybox', 'sleep', '300'])).stdout.trim();
  });
  afterAll(async () => {
    await suite?.removeAllContainers();
    await suite?.stop();
  });

  const replay = () => suite.docker(['events', '--since', String(t0), '--until', String(Math.floor(Date.now() / 1000) + 1), '--filter', `container=${id}`, '--format', '{{.Action}}'], { timeoutMs: 30_000 });
  const restarted = async (svc: string, kill: () => void) => {
    const before = suite.state().children[svc]!.pid;
    kill();
    await eventually(async () => suite.state().children[svc]!, (c) => c.pid !== before && c.pid > 0 && c.status === 'running', 30_000);
  };

  it('replays after kill -9 of Redis and of the gateway', async () => {
    await new Promise((r) => setTimeout(r, 1_200)); // past Redis' once-a-second fsync of its log
    const first = await replay();
    expect(first.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'start']));
    await restarted('redis', () => process.kill(suite.state().children.redis!.pid, 'SIGKILL'));
    const afterRedis = await eventually(() => replay(), (r) => r.code === 0 && r.stdout.includes('start'), 30_000);
    expect(afterRedis.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'start']));
    await restarted('gateway', () => process.kill(suite.state().children.gateway!.pid, 'SIGKILL'));
    const afterGateway = await eventually(() => replay(), (r) => r.code === 0 && r.stdout.includes('start'), 30_000);
    expect(afterGateway.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'start']));
    expect((await suite.docker(['inspect', '-f', '{{.State.Running}}', 'evt'])).stdout.trim()).toBe('true');
  });

  it('a Redis that does not answer fails only the event path, clearly, and recovers', async () => {
    const redis = suite.state().children.redis!.pid;
    process.kill(redis, 'SIGSTOP');
    try {
      const events = await replay();
      expect(events.code).not.toBe(0);
      expect(events.stderr).toContain('the event stream is unavailable');
      // Containers and the rest of the API do not depend on Redis.
      expect((await suite.docker(['ps', '-q'])).stdout.trim()).toBe(id.slice(0, 12));
      expect((await suite.docker(['exec', 'evt', 'echo', 'still'])).stdout).toBe('still\n');
      expect((await suite.docker(['pause', 'evt'])).code).toBe(0);
      expect((await suite.docker(['unpause', 'evt'])).code).toBe(0);
    } finally {
      process.kill(redis, 'SIGCONT');
    }
    expect(alive(redis)).toBe(true);
    // An event made while Redis was stopped was kept and arrives once it answers again.
    const back = await eventually(() => replay(), (r) => r.code === 0 && r.stdout.includes('unpause'), 30_000);
    expect(back.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'start', 'pause', 'unpause']));
  });
});
