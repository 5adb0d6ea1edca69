import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FuzzAnswer, type FuzzRequest, generateRequests, send } from '../support/api-fuzz';
import { Suite } from '../support/berth';

const SEED = 15;
/** A request not answered in this long is a hang (generous: the machine running CI is loaded). */
const DEADLINE_MS = 30_000;
const CONCURRENCY = 4;

let suite: Suite;
let ids: { container: string; network: string; volume: string; exec: string };
beforeAll(async () => {
  suite = await Suite.startWithBusybox();
  const run = await suite.docker(['run', '-d', '--name', 'fz', 'busybox', 'sleep', '600']);
  expect(run.code, run.stderr).toBe(0);
  const net = await suite.docker(['network', 'create', 'fznet']);
  expect(net.code, net.stderr).toBe(0);
  const vol = await suite.docker(['volume', 'create', 'fzvol']);
  expect(vol.code, vol.stderr).toBe(0);
  const exec = await suite.api('POST', '/containers/fz/exec', { Cmd: ['true'] });
  expect(exec.status, exec.body).toBe(201);
  ids = { container: run.stdout.trim(), network: net.stdout.trim(), volume: 'fzvol', exec: (JSON.parse(exec.body) as { Id: string }).Id };
});
afterAll(async () => {
  if (!suite) return;
  await suite.removeAllContainers({ volumes: true });
  await suite.stop();
});

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

const hasMessage = (body: string) => {
  try {
    return typeof (JSON.parse(body) as { message?: unknown }).message === 'string';
  } catch {
    return false;
  }
};

describe('hostile requests on the Engine API socket', () => {
  it('answers every one with a 4xx and a message (or what dockerd accepts), within a deadline, and nothing crashes', async () => {
    const before = suite.state().children;
    const requests = generateRequests(SEED, ids);
    const socket = suite.dockerHost.replace('unix://', '');
    const answers = await pool(requests, CONCURRENCY, (r) => send(socket, r, DEADLINE_MS));
    const after = suite.state().children;

    const pairs = requests.map((r, i) => [r, answers[i]!] as [FuzzRequest, FuzzAnswer]);
    const show = ([r, a]: [FuzzRequest, FuzzAnswer]) => `${r.kind}: ${r.method} ${r.path.slice(0, 120)} -> ${a.status} ${a.error ?? ''}${a.body.slice(0, 200)}`;
    const fivexx = pairs.filter(([, a]) => a.status >= 500);
    const hangs = pairs.filter(([, a]) => a.hung);
    const failed = pairs.filter(([, a]) => a.error);
    const fourxx = pairs.filter(([, a]) => a.status >= 400 && a.status < 500);
    const noMessage = fourxx.filter(([r, a]) => r.method !== 'HEAD' && !hasMessage(a.body));
    const wrongStatus = pairs.filter(([r, a]) => r.expectStatus !== undefined && a.status !== r.expectStatus);
    const restarted = Object.keys(before).filter((svc) => after[svc]?.pid !== before[svc]!.pid);
    console.log(
      `api fuzz (seed ${SEED}): ${requests.length} requests tried, ${fourxx.length} 4xx, ${pairs.filter(([, a]) => a.status > 0 && a.status < 400).length} 1xx-3xx, ` +
        `${fivexx.length} 5xx, ${restarted.length} crashes, ${hangs.length} hangs, ${failed.length} connection failures`,
    );

    expect(fivexx.map(show)).toEqual([]);
    expect(hangs.map(show)).toEqual([]);
    expect(failed.map(show)).toEqual([]);
    expect(restarted).toEqual([]);
    expect(noMessage.map(show)).toEqual([]);
    expect(wrongStatus.map(show)).toEqual([]);
  });

  it('leaves every list and inspect working for everyone', async () => {
    const ps = await suite.docker(['ps', '-a', '--no-trunc', '--format', '{{.ID}}']);
    expect(ps.code, ps.stderr).toBe(0);
    const all = ps.stdout.trim().split('\n').filter(Boolean);
    expect(all).toContain(ids.container);
    const inspect = await suite.docker(['inspect', ...all]);
    expect(inspect.code, inspect.stderr).toBe(0);
    for (const args of [['network', 'ls'], ['volume', 'ls'], ['images'], ['network', 'inspect', 'fznet'], ['volume', 'inspect', 'fzvol']]) {
      const r = await suite.docker(args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });
});
