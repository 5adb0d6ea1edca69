import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { alive, eventually, Suite } from '../support/berth';
import { busyboxSuiteForFile } from '../support/file-suite';

// max-size/max-file under the suite's monitor (the default, conmon; BERTH_TEST_MONITOR=shim for the other).
let suite: Suite;
busyboxSuiteForFile((s) => (suite = s));

const inspect = async (name: string, f: string) => (await suite.docker(['inspect', '--format', f, name])).stdout.trim();
const idOf = (name: string) => inspect(name, '{{.Id}}');
const monitorOf = async (name: string) =>
  (JSON.parse(readFileSync(join(suite.dataRoot, 'supervisor', 'records', `${await idOf(name)}.json`), 'utf8')) as { monitor?: { name: string } }).monitor?.name ?? 'shim';

/**
 * The container's log files, oldest first, as they are on disk. `during` a rotation the current
 * file may be between its rename and conmon's new one (absent for a moment); otherwise it exists.
 */
async function logFiles(name: string, during = false): Promise<{ path: string; files: string[] }> {
  const path = await inspect(name, '{{.LogPath}}');
  if (!during) expect(existsSync(path)).toBe(true);
  const rotated = readdirSync(dirname(path))
    .filter((f) => f.startsWith(`${basename(path)}.`) && /\.\d+$/.test(f))
    .map((f) => Number(f.slice(basename(path).length + 1)))
    .sort((a, b) => b - a);
  return { path, files: [...rotated.map((n) => `${path}.${n}`), path] };
}

const counted = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `line-${from + i}`);
const logLines = async (name: string, extra: string[] = []) => {
  const r = await suite.docker(['logs', ...extra, name]);
  expect(r.code).toBe(0);
  return r.stdout.split('\n').slice(0, -1);
};
/** Rows of one log file (either monitor's format), each a line here since every line is short. */
const rowsIn = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean).length;

/** n lines, paced so that the rotation is seen near its size on a loaded machine. */
const paced = (n: number) => `i=0; while [ $i -lt ${n} ]; do echo line-$i; i=$((i+1)); [ $((i % 20)) = 0 ] && usleep 2000; done`;

describe('json-file max-size and max-file', () => {
  it('rotates at the size, keeps max-file files, and docker logs / --tail read across them in order', async () => {
    const n = 3000;
    expect((await suite.docker(['run', '--name', 'rot-size', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c', paced(n)], { timeoutMs: 120_000 })).code).toBe(0);
    const { files } = await logFiles('rot-size');
    expect(files.map((f) => f.slice(-2))).toEqual(['.2', '.1', 'og']);
    // Rotated when past the size, not long after it (a check follows the writes; the machine is loaded).
    for (const f of files.slice(0, 2)) {
      expect(statSync(f).size).toBeGreaterThanOrEqual(10_000);
      expect(statSync(f).size).toBeLessThan(60_000);
    }
    const all = await logLines('rot-size');
    const rows = files.reduce((s, f) => s + rowsIn(f), 0);
    // What the files hold, oldest first: a run of the counter that ends at its last line.
    expect(all.length).toBeLessThanOrEqual(rows);
    const first = Number(all[0]!.slice(5));
    expect(first).toBeGreaterThan(0);
    expect(all).toEqual(counted(first, n));
    // --tail from the end, within the live file and across into the rotated ones.
    const live = rowsIn(files[2]!);
    // conmon writes a line it read in two pieces as two rows (P, then F): --tail counts the line once,
    // as dockerd does. Only a line cut by a rotation (its P row ends a file) can count twice.
    const cut = files.slice(0, -1).some((f) => / (stdout|stderr) P [^\n]*\n$/.test(readFileSync(f, 'utf8')));
    for (const t of [1, live, live + 5, rows - 1, rows + 100]) {
      const tail = await logLines('rot-size', ['--tail', String(t)]);
      if (cut) expect(tail, `--tail ${t}`).toEqual(all.slice(all.length - tail.length));
      else expect(tail, `--tail ${t}`).toEqual(t === 0 ? [] : all.slice(-Math.min(t, all.length)));
    }
  });

  it('max-file bounds the disk; max-file 1 keeps only the current file', async () => {
    const n = 6000;
    for (const [name, files] of [['rot-bound', '2'], ['rot-one', '1']] as const) {
      expect((await suite.docker(['run', '-d', '--name', name, '--log-opt', 'max-size=8k', '--log-opt', `max-file=${files}`, 'busybox', 'sh', '-c', paced(n)])).code).toBe(0);
    }
    for (const name of ['rot-bound', 'rot-one']) expect((await suite.docker(['wait', name], { timeoutMs: 120_000 })).stdout.trim()).toBe('0');
    const bound = await logFiles('rot-bound');
    // Two files, also when the exit cut the last rotation short: its renamed file is the current one
    // again and `.1` is still there (it was lost once, the rename having replaced it).
    expect(bound.files.length).toBe(2);
    expect(bound.files.reduce((s, f) => s + statSync(f).size, 0)).toBeLessThan(2 * 60_000);
    const one = await logFiles('rot-one');
    expect(one.files).toEqual([one.path]);
    expect(statSync(one.path).size).toBeLessThan(60_000);
    for (const name of ['rot-bound', 'rot-one']) {
      const lines = await logLines(name);
      // max-file 1: a rotation just after the last line leaves the current file empty (dockerd's keeps the line that rotated it).
      if (name === 'rot-one' && !lines.length) continue;
      expect(lines[lines.length - 1]).toBe(`line-${n - 1}`);
      expect(lines).toEqual(counted(Number(lines[0]!.slice(5)), n));
    }
  });

  it('docker run attached prints every line across rotations', async () => {
    const n = 2000;
    const r = await suite.docker(['run', '--rm', '--log-opt', 'max-size=4k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', paced(n)], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, -1)).toEqual(counted(0, n));
  });

  // Bug pinned: a burst that ended (and conmon with it) before the monitor's first look at the size
  // stayed in one file past max-size; dockerd cuts it into max-file files. The cut is made after the
  // exit, before it is answered: the attached client still gets every line, --rm's too.
  it('a burst shorter than a rotation check ends in dockerd\'s files, and an attached run prints all of it', async () => {
    const burst = 'i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done';
    const opts = ['--log-opt', 'max-size=1k', '--log-opt', 'max-file=2'];
    const r = await suite.docker(['run', '--name', 'rot-burst', ...opts, 'busybox', 'sh', '-c', burst]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').slice(0, -1)).toEqual(counted(0, 300));
    const { files } = await logFiles('rot-burst');
    expect(files.map((f) => f.slice(-2))).toEqual(['.1', 'og']);
    const all = await logLines('rot-burst');
    expect(all.length).toBeLessThan(300);
    expect(all).toEqual(counted(300 - all.length, 300));
    // Cut at max-size within a row: dockerd's json-file (and the conmon monitor's cut) rotates once a
    // file has reached it, the Node shim before a row would pass it.
    expect(Math.abs(statSync(files[0]!).size - 1000)).toBeLessThan(100);
    expect(rowsIn(files[0]!) + rowsIn(files[1]!)).toBeGreaterThanOrEqual(all.length);
    for (const t of [0, 1, 5, rowsIn(files[1]!) + 2, 1000]) {
      expect(await logLines('rot-burst', ['--tail', String(t)]), `--tail ${t}`).toEqual(all.slice(all.length - Math.min(t, all.length)));
    }
    const rm = await suite.docker(['run', '--rm', ...opts, 'busybox', 'sh', '-c', burst]);
    expect(rm.code).toBe(0);
    expect(rm.stdout.split('\n').slice(0, -1)).toEqual(counted(0, 300));
  });

  // Bug pinned: a rotation that came while a burst ran left `.1` far past max-size and the live file
  // under it; the cut at the exit looked at the live file only, so every line stayed (CI, under load).
  it('a rotation that lands late in a burst still ends in dockerd\'s files', async () => {
    const script = 'i=0; while [ $i -lt 290 ]; do echo line-$i; i=$((i+1)); done; sleep 1.5; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done';
    expect((await suite.docker(['run', '--name', 'rot-late', '--log-opt', 'max-size=1k', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', script])).code).toBe(0);
    const { files } = await logFiles('rot-late');
    expect(files.map((f) => f.slice(-2))).toEqual(['.1', 'og']);
    expect(Math.abs(statSync(files[0]!).size - 1000)).toBeLessThan(100);
    const all = await logLines('rot-late');
    expect(all.length).toBeLessThan(60);
    expect(all).toEqual(counted(300 - all.length, 300));
  });

  it('--since and --until apply across the files', async () => {
    const script = `${paced(300)}; sleep 2; i=300; while [ $i -lt 600 ]; do echo line-$i; i=$((i+1)); [ $((i % 20)) = 0 ] && usleep 2000; done`;
    expect((await suite.docker(['run', '--name', 'rot-times', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=50', 'busybox', 'sh', '-c', script], { timeoutMs: 60_000 })).code).toBe(0);
    expect((await logFiles('rot-times')).files.length).toBeGreaterThan(3);
    const stamped = await logLines('rot-times', ['-t']);
    expect(stamped.map((l) => l.split(' ')[1])).toEqual(counted(0, 600));
    const late = stamped[300]!.split(' ')[0]!;
    const cut = new Date(Date.parse(late) - 1000).toISOString();
    expect(await logLines('rot-times', ['--until', cut])).toEqual(counted(0, 300));
    expect(await logLines('rot-times', ['--since', cut])).toEqual(counted(300, 600));
  });

  it('refuses bad options with dockerd words and a 400', async () => {
    for (const [opts, msg] of [
      [['max-size=abc'], "invalid size: 'abc'"],
      [['max-size=0'], 'max-size must be a positive number'],
      [['max-size=1m', 'max-file=0'], 'max-file cannot be less than 1'],
      [['max-sise=1m'], "unknown log opt 'max-sise' for json-file log driver"],
      [['max-size=1m', 'compress=true'], 'compress cannot be true when max-file is less than 2 or max-size is not set'],
    ] as const) {
      const r = await suite.api('POST', '/v1.41/containers/create', { Image: 'busybox', Cmd: ['true'], HostConfig: { LogConfig: { Type: 'json-file', Config: Object.fromEntries(opts.map((o) => o.split('='))) } } });
      expect(r.status, opts.join(' ')).toBe(400);
      expect(JSON.parse(r.body)).toEqual({ message: msg });
    }
  });
});

describe('rotation under the conmon monitor', () => {
  it('a container with max-size gets conmon', async () => {
    expect((await suite.docker(['create', '--name', 'rot-choice', '--log-opt', 'max-size=1m', 'busybox', 'true'])).code).toBe(0);
    expect(await monitorOf('rot-choice')).toBe(process.env.BERTH_TEST_MONITOR === 'shim' ? 'shim' : 'conmon');
  });

  it('kill -9 of the monitor mid-stream loses no line, and rotation goes on after it', async () => {
    if (process.env.BERTH_TEST_MONITOR === 'shim') return;
    // It ends a moment after /stop appears: the exec that makes the file must be done by then, or
    // the end of the container's pid namespace kills it (137, as with dockerd).
    const script = 'i=0; while [ ! -f /stop ]; do echo line-$i; i=$((i+1)); usleep 1000; done; usleep 500000';
    expect((await suite.docker(['run', '-d', '--name', 'rot-kill', '--log-opt', 'max-size=4k', '--log-opt', 'max-file=10000', 'busybox', 'sh', '-c', script])).code).toBe(0);
    const follower = spawn('docker', ['logs', '-f', 'rot-kill'], { env: { ...process.env, DOCKER_HOST: suite.dockerHost } });
    let followed = '';
    follower.stdout.on('data', (d: Buffer) => (followed += d.toString()));
    const closed = new Promise<number>((res) => follower.on('close', (code) => res(code ?? -1)));
    await eventually(async () => (await logFiles('rot-kill', true)).files.length, (k) => k > 3, 60_000);
    const mon = suite.monitorPid();
    expect(mon).toBeGreaterThan(0);
    process.kill(mon, 'SIGKILL');
    await eventually(async () => alive(mon), (a) => !a);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await eventually(() => inspect('rot-kill', '{{.State.Status}}'), (s) => s === 'running', 60_000)).toBe('running');
    // A call that needs the monitor starts one; it finds the log as it was left and rotates it again.
    expect((await suite.docker(['logs', '--tail', '1', 'rot-kill'])).code).toBe(0);
    const before = (await logFiles('rot-kill', true)).files.length;
    expect(await eventually(async () => (await logFiles('rot-kill', true)).files.length, (k) => k > before + 2, 60_000)).toBeGreaterThan(before + 2);
    expect((await suite.docker(['exec', 'rot-kill', 'touch', '/stop'])).code).toBe(0);
    expect((await suite.docker(['wait', 'rot-kill'], { timeoutMs: 60_000 })).stdout.trim()).toBe('0');
    const lines = await logLines('rot-kill');
    expect(lines.length).toBeGreaterThan(200);
    expect(lines).toEqual(counted(0, lines.length));
    // The follower's connection went with the monitor: what it saw is a prefix, without a gap or a repeat.
    await Promise.race([closed, new Promise((r) => setTimeout(r, 30_000))]);
    follower.kill('SIGKILL');
    const seen = followed.split('\n').slice(0, -1);
    expect(seen).toEqual(lines.slice(0, seen.length));
  });
});

describe('compress=true under the conmon monitor', () => {
  /** The log's files as dockerd's json-file with compress leaves them: `.N.gz` oldest first, then the plain current one. */
  async function compressedFiles(name: string): Promise<{ path: string; gz: string[] }> {
    const path = await inspect(name, '{{.LogPath}}');
    expect(existsSync(path)).toBe(true);
    const others = readdirSync(dirname(path)).filter((f) => f.startsWith(`${basename(path)}.`));
    const gz = others.filter((f) => /\.\d+\.gz$/.test(f)).sort((a, b) => Number(b.split('.').at(-2)) - Number(a.split('.').at(-2)));
    // Nothing plain, partial or held left beside them once the container has exited.
    expect(others.sort()).toEqual([...gz].sort());
    return { path, gz: gz.map((f) => join(dirname(path), f)) };
  }

  it('keeps .1.gz and .2.gz beside the plain current file; docker logs and --tail read through them', async () => {
    if (process.env.BERTH_TEST_MONITOR === 'shim') return;
    const n = 800;
    const r = await suite.docker(['run', '--name', 'rot-gz', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=3', '--log-opt', 'compress=true', 'busybox', 'sh', '-c', paced(n)], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    const { path, gz } = await compressedFiles('rot-gz');
    expect(gz.map((f) => f.slice(path.length))).toEqual(['.2.gz', '.1.gz']);
    // Valid gzip holding k8s-file rows of about max-size each (the check follows the writes: a little past it).
    const inflated = gz.map((f) => gunzipSync(readFileSync(f)).toString());
    for (const t of inflated) {
      expect(t).toMatch(/^(\S+ stdout [PF] line-\d*\n)+$/);
      expect(t.length).toBeGreaterThanOrEqual(2_000);
    }
    const rowList = [...inflated, readFileSync(path, 'utf8')].join('').split('\n').filter(Boolean);
    const rows = rowList.length;
    // The lines the files hold, oldest first (a P row is the head of the line its next F row ends).
    const held: string[] = [];
    let head = '';
    for (const row of rowList) {
      const [, tag, text] = /^\S+ \S+ ([PF]) (.*)$/.exec(row)!;
      head += text;
      if (tag !== 'F') continue;
      held.push(head);
      head = '';
    }
    const all = await logLines('rot-gz');
    expect(all).toEqual(held);
    const first = Number(all[0]!.slice(5));
    expect(first).toBeGreaterThan(0);
    expect(all).toEqual(counted(first, n));
    // --tail counts back across the current file into the compressed ones (a line cut by a rotation is given whole, see above).
    const cut = inflated.some((t) => / stdout P [^\n]*\n$/.test(t));
    for (const t of [5, rows - 3]) {
      const tail = await logLines('rot-gz', ['--tail', String(t)]);
      if (cut) expect(tail, `--tail ${t}`).toEqual(all.slice(all.length - tail.length));
      else expect(tail, `--tail ${t}`).toEqual(all.slice(-Math.min(t, all.length)));
    }
    expect(await logLines('rot-gz', ['--tail', '5'])).toEqual(counted(n - 5, n));
  });

  it('kill -9 of the monitor while it rotates and compresses: a monitor started again leaves only .N.gz and every line once', async () => {
    if (process.env.BERTH_TEST_MONITOR === 'shim') return;
    const script = 'i=0; while [ ! -f /stop ]; do echo line-$i; i=$((i+1)); usleep 1000; done; usleep 500000';
    expect((await suite.docker(['run', '-d', '--name', 'rot-gz-kill', '--log-opt', 'max-size=2k', '--log-opt', 'max-file=50', '--log-opt', 'compress=true', 'busybox', 'sh', '-c', script])).code).toBe(0);
    const path = await inspect('rot-gz-kill', '{{.LogPath}}');
    const gzCount = () => readdirSync(dirname(path)).filter((f) => f.startsWith(`${basename(path)}.`) && f.endsWith('.gz')).length;
    await eventually(async () => gzCount(), (k) => k > 3, 60_000);
    const mon = suite.monitorPid();
    expect(mon).toBeGreaterThan(0);
    process.kill(mon, 'SIGKILL');
    await eventually(async () => alive(mon), (a) => !a);
    expect(await eventually(() => inspect('rot-gz-kill', '{{.State.Status}}'), (s) => s === 'running', 60_000)).toBe('running');
    expect((await suite.docker(['logs', '--tail', '1', 'rot-gz-kill'])).code).toBe(0);
    const before = gzCount();
    await eventually(async () => gzCount(), (k) => k > before + 2 || k >= 49, 60_000);
    expect((await suite.docker(['exec', 'rot-gz-kill', 'touch', '/stop'])).code).toBe(0);
    expect((await suite.docker(['wait', 'rot-gz-kill'], { timeoutMs: 60_000 })).stdout.trim()).toBe('0');
    await compressedFiles('rot-gz-kill');
    const lines = await logLines('rot-gz-kill');
    expect(lines.length).toBeGreaterThan(200);
    expect(lines).toEqual(counted(Number(lines[0]!.slice(5)), Number(lines[0]!.slice(5)) + lines.length));
  });
});

