import { existsSync, readFileSync } from 'node:fs';
import { shimV1 } from '@berth/proto';
import { serviceHealthy } from '@berth/clients';
import { type Case, check, equal, eventually, type Kit, Peer, rejectsWith, unique } from './kit';

/**
 * The container the shim kit needs its monitor to serve: created (not started) from the busybox
 * fixture with this command, no TTY, no stdin. `npm run conformance -- shim unix://<socket>`
 * takes the socket of such a container's monitor (its bundle's shim.json names it).
 */
export const SHIM_KIT_COMMAND = ['sh', '-c', 'echo kit-out; echo kit-err >&2; exec sleep 100000'];

export const SHIM_RESTART_CASE = 'the container keeps running, with its process and its log, across a SIGKILL of the monitor';

const STDOUT = shimV1.StreamKind.STREAM_KIND_STDOUT;
const STDERR = shimV1.StreamKind.STREAM_KIND_STDERR;

/**
 * The shim contract (berth.shim.v1 Shim), for any monitor implementation: one container's
 * process from created to shut down, its output in the log and on attached streams, execs with
 * stdin and exit codes, pause and resume, the exit status, a start after an exit, and the
 * container kept running (same process, same log) across a SIGKILL of the monitor itself.
 */
export function shimKit(): Kit {
  const run = unique('kit');
  let address = '';
  const shim = new Peer('shim', shimV1.ShimClient, () => address);
  let pid = 0;
  const state = () => shim.call<shimV1.StateResponse>('state', {}, { idempotent: false });
  const logLines = async (extra: Partial<shimV1.LogsRequest> = {}) => {
    const entries = await shim.read<shimV1.LogEntry>('logs', { follow: false, stdout: true, stderr: true, sinceUnixNano: 0, untilUnixNano: 0, tail: -1, sinceUnixSec: 0, sinceNanos: 0, untilUnixSec: 0, untilNanos: 0, batch: false, ...extra });
    return entries.flatMap((e) => (e.batch.length ? e.batch : [e])).map((e) => ({ stream: e.stream, line: Buffer.from(e.line).toString() }));
  };
  const proc = (args: string[]) => Buffer.from(JSON.stringify({ terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/usr/bin:/bin', 'HOME=/root'], cwd: '/' }));
  const exec = async (execId: string, args: string[], stdin?: string) => {
    const first = { execId, processJson: proc(args), stdin: stdin !== undefined, stdout: true, stderr: true, stdinData: Buffer.alloc(0), closeStdin: false };
    const more = stdin !== undefined ? [{ ...first, processJson: Buffer.alloc(0), stdinData: Buffer.from(stdin) }, { ...first, processJson: Buffer.alloc(0), closeStdin: true }] : [];
    const msgs = await shim.duplex<shimV1.ExecRequest, shimV1.ExecResponse>('exec', [first, ...more]).responses;
    const text = (kind: shimV1.StreamKind) => Buffer.concat(msgs.filter((m) => m.stream === kind && m.data.length).map((m) => Buffer.from(m.data))).toString();
    return { stdout: text(STDOUT), stderr: text(STDERR), started: msgs.some((m) => m.started), exit: msgs.find((m) => m.exited) };
  };
  const waitExit = () => shim.call<shimV1.WaitResponse>('wait', {}, { deadlineMs: 120_000, idempotent: false });

  const cases: Case[] = [
    {
      name: 'Info names the service and its contracts',
      async run() {
        const info = await shim.call<{ name: string; contracts: string[] }>('info', {});
        check(info.name, 'Info has no name');
        check(info.contracts.some((x) => x.startsWith('berth.shim.v1')), `Info lists no berth.shim.v1 contract: ${info.contracts.join(', ')}`);
      },
    },
    {
      name: 'State of a created container; Prepare leaves it Created; Start runs it; a second Start is FAILED_PRECONDITION',
      async run() {
        const s = await state();
        equal(s.status, 'created', 'status before Start');
        check(/^[0-9a-f]{64}$/.test(s.id) && s.bundle.startsWith('/'), `id ${s.id} / bundle ${s.bundle}`);
        // The supervisor may have prepared it at create already: either answer is the contract's.
        await shim.call<shimV1.PrepareResponse>('prepare', {}, { idempotent: false });
        equal([(await state()).status, (await state()).pid], ['created', 0], 'state after Prepare');
        pid = (await shim.call<shimV1.StartResponse>('start', {}, { idempotent: false })).pid;
        check(pid > 0, `Start gave pid ${pid}`);
        const after = await state();
        equal([after.status, after.pid], ['running', pid], 'state after Start');
        await rejectsWith(shim.call('start', {}, { idempotent: false }), 'failed_precondition', 'a second Start');
      },
    },
    {
      name: 'the process output is in the log by stream; tail and batches give the same lines',
      async run() {
        await eventually(async () => (await logLines()).length >= 2, 'two log lines');
        const lines = await logLines();
        check(lines.some((l) => l.stream === STDOUT && l.line === 'kit-out\n'), `no kit-out on stdout: ${JSON.stringify(lines)}`);
        check(lines.some((l) => l.stream === STDERR && l.line === 'kit-err\n'), `no kit-err on stderr: ${JSON.stringify(lines)}`);
        equal((await logLines({ stderr: false })).map((l) => l.line), ['kit-out\n'], 'stdout only');
        equal((await logLines({ tail: 1 })).length, 1, 'entries with tail 1');
        equal(await logLines({ batch: true }), lines, 'the same lines in batches');
      },
    },
    {
      name: 'Exec runs with stdin and reports its output and exit code; ExecState keeps it; a missing program fails the call',
      async run() {
        const r = await exec(`${run}-cat`, ['sh', '-c', 'cat; echo exec-err >&2; exit 3'], 'from stdin\n');
        check(r.started, 'Exec sent no started message');
        equal([r.stdout, r.stderr, r.exit?.exitCode], ['from stdin\n', 'exec-err\n', 3], 'exec output and exit');
        const st = await shim.call<shimV1.ExecStateResponse>('execState', { execId: `${run}-cat` });
        equal([st.found, st.running, st.exitCode], [true, false, 3], 'ExecState of the finished exec');
        equal((await shim.call<shimV1.ExecStateResponse>('execState', { execId: `${run}-none` })).found, false, 'ExecState of an unknown exec');
        const missing = await exec(`${run}-missing`, ['/no/such/program']).then(
          (x) => (x.exit?.exitCode ?? 0) !== 0,
          () => true,
        );
        check(missing, 'an exec of a missing program succeeded');
      },
    },
    {
      name: 'Attach receives what the container writes; Resize without a TTY is FAILED_PRECONDITION; Pids lists its process; Pause and Resume',
      async run() {
        const { responses, stream } = shim.duplex<shimV1.AttachRequest, shimV1.AttachResponse>('attach', [{ stdin: false, stdout: true, stderr: true, stdinData: Buffer.alloc(0), closeStdin: false }], 60_000, true);
        responses.catch(() => undefined);
        let got = '';
        stream.on('data', (m: shimV1.AttachResponse) => (got += Buffer.from(m.data).toString()));
        await new Promise((r) => setTimeout(r, 500));
        await exec(`${run}-write`, ['sh', '-c', `echo attached-${run} > /proc/1/fd/1`]);
        await eventually(() => got.includes(`attached-${run}`), 'the attached stream shows the line');
        stream.cancel();
        // Without a TTY there is nothing to resize: refused as a precondition, never a crash.
        await rejectsWith(shim.call('resize', { height: 40, width: 120 }, { idempotent: false }), 'failed_precondition', 'Resize of a container without a TTY');
        await shim.call('resizeExec', { execId: `${run}-write`, height: 40, width: 120 }, { idempotent: false });
        const { pids } = await shim.call<shimV1.PidsResponse>('pids', {});
        check(pids.includes(pid), `Pids ${pids.join(',')} lacks ${pid}`);
        await shim.call('pause', {}, { idempotent: false });
        equal((await state()).status, 'paused', 'status after Pause');
        await shim.call('resume', {}, { idempotent: false });
        equal((await state()).status, 'running', 'status after Resume');
      },
    },
    {
      name: SHIM_RESTART_CASE,
      needsRestart: true,
      async run(ctx) {
        await ctx.restart!();
        shim.close();
        const s = await state();
        equal([s.status, s.pid], ['running', pid], 'state after the monitor came back');
        check((await logLines()).some((l) => l.line === 'kit-out\n'), 'the log after the monitor came back');
        equal((await exec(`${run}-after`, ['echo', 'still'])).stdout, 'still\n', 'an exec after the monitor came back');
      },
    },
    {
      name: 'Kill ends the process; Wait and State report 137; a second Wait answers at once',
      async run() {
        const waiting = waitExit();
        waiting.catch(() => undefined);
        await new Promise((r) => setTimeout(r, 300));
        await shim.call('kill', { signal: 9, all: false }, { idempotent: false });
        equal((await waiting).exitCode, 137, 'Wait after SIGKILL');
        const s = await state();
        equal([s.status, s.exitCode], ['stopped', 137], 'state after the exit');
        check(Number(s.exitedUnixMs) > 0, 'no exit time');
        equal((await waitExit()).exitCode, 137, 'a second Wait');
      },
    },
    {
      name: 'Start after an exit runs the process again, appending to the log; Kill with all ends it',
      async run() {
        const again = (await shim.call<shimV1.StartResponse>('start', {}, { idempotent: false })).pid;
        check(again > 0 && again !== pid, `pid of the second start ${again}`);
        await eventually(async () => (await logLines()).filter((l) => l.line === 'kit-out\n').length === 2, 'the second run\'s line in the log');
        const waiting = waitExit();
        waiting.catch(() => undefined);
        await new Promise((r) => setTimeout(r, 300));
        await shim.call('kill', { signal: 9, all: true }, { idempotent: false });
        equal((await waiting).exitCode, 137, 'Wait after Kill with all');
      },
    },
    {
      name: 'Shutdown takes the container away and the monitor stops serving',
      async run() {
        const { bundle } = await state();
        await shim.call('shutdown', {}, { idempotent: false }).catch((err: Error) => {
          // The monitor may go before its answer is out.
          if (!/unavailable|cancelled|closed/i.test(err.message)) throw err;
        });
        shim.close();
        await eventually(async () => !(await serviceHealthy('shim', address, { deadlineMs: 1_000 })), 'the monitor stops after Shutdown');
        check(existsSync(bundle), 'the bundle itself belongs to the supervisor and stays');
        const left = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => (l.split(' ')[4] ?? '').startsWith(`${bundle}/`));
        equal(left, [], 'mounts left under the bundle after Shutdown');
      },
    },
  ];

  return {
    service: 'shim',
    cases,
    setup(ctx) {
      address = ctx.address;
    },
    async cleanup() {
      await shim.call('shutdown', {}, { idempotent: false, deadlineMs: 5_000 }).catch(() => undefined);
      shim.close();
    },
  };
}
