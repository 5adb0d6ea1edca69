import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type ContractImpl, ServiceServer } from '@berth/grpc';
import { JsonLogWriter, type LogLine, openJsonLogPacked, unpackLines } from '@berth/json-log';
import { shimV1 } from '@berth/proto';
import { type LogBatches, type LogsQuery, serveLogEntries } from './index';

let dir: string;
let server: ServiceServer;
let addr: string;
/** What the next Logs call serves. */
let source: (q: LogsQuery) => Promise<LogBatches>;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'log-stream-'));
  addr = `unix://${join(dir, 's.sock')}`;
  server = new ServiceServer({ name: 'shim', version: 'test' });
  const impl = {
    logs: (call: ServerWritableStream<shimV1.LogsRequest, shimV1.LogEntry>) => void serveLogEntries(call, (q) => source(q)),
  } as unknown as ContractImpl<shimV1.ShimServer>;
  server.add<shimV1.ShimServer>('berth.shim.v1', shimV1.ShimService, impl);
  await server.listen(addr);
});
afterAll(async () => {
  await server.close(100);
  rmSync(dir, { recursive: true, force: true });
});

const request: shimV1.LogsRequest = { follow: false, stdout: true, stderr: true, sinceUnixNano: 0, untilUnixNano: 0, sinceUnixSec: 0, sinceNanos: 0, untilUnixSec: 0, untilNanos: 0, tail: -1, batch: false, packed: false, frames: false, framesMerged: false, framesRaw: false };

interface Got {
  lines: LogLine[];
  messages: number;
}

/** Every entry of one Logs call, whatever form the messages took. */
function call(r: Partial<shimV1.LogsRequest>): Promise<Got> {
  const c = connect(shimV1.ShimClient, addr);
  return new Promise((resolve, reject) => {
    const lines: LogLine[] = [];
    let messages = 0;
    const s = c.logs({ ...request, ...r });
    s.on('data', (m: shimV1.LogEntry) => {
      messages++;
      if (m.packed.length) lines.push(...unpackLines(Buffer.from(m.packed)));
      for (const e of m.batch.length ? m.batch : m.packed.length ? [] : [m]) {
        lines.push({ stream: e.stream === shimV1.StreamKind.STREAM_KIND_STDERR ? 'stderr' : 'stdout', line: Buffer.from(e.line), timeNano: BigInt(e.timeUnixSec) * 1_000_000_000n + BigInt(e.timeNanos) });
      }
    });
    s.on('error', (err) => {
      c.close();
      reject(err);
    });
    s.on('end', () => {
      c.close();
      resolve({ lines: lines.map((l) => ({ ...l, line: Buffer.from(l.line) })), messages });
    });
  });
}

function text(g: Got): string[] {
  return g.lines.map((l) => `${l.stream} ${l.timeNano} ${l.line.toString()}`);
}

async function* once(...batches: (Buffer | LogLine[])[]): LogBatches {
  for (const b of batches) yield b;
}

describe('serveLogEntries', () => {
  it('sends a log from disk packed, batched or one by one: every form reads back the same entries', async () => {
    const w = new JsonLogWriter(join(dir, 'a.log'), 0, 1);
    const lines = Array.from({ length: 3000 }, (_, i): LogLine => ({ stream: i % 3 ? 'stdout' : 'stderr', line: Buffer.from(`line ${i} ${'é'.repeat(i % 7)}\n`), timeNano: 1_714_979_289_000_000_000n + BigInt(i) }));
    w.writeMany(lines);
    w.close();
    source = () => openJsonLogPacked(w.path, { maxFiles: 1, tail: -1, sinceNano: 0n, untilNano: 0n });
    const want = lines.map((l) => `${l.stream} ${l.timeNano} ${l.line.toString()}`);
    const packed = await call({ packed: true, batch: true });
    expect(text(packed)).toEqual(want);
    expect(packed.messages).toBeLessThan(5);
    // An old caller (no packed field known) gets batches, an older one a message per entry.
    expect(text(await call({ batch: true }))).toEqual(want);
    const single = await call({});
    expect(text(single)).toEqual(want);
    expect(single.messages).toBe(3000);
    // Only the streams asked for, in every form.
    const errs = want.filter((l) => l.startsWith('stderr'));
    expect(text(await call({ packed: true, stdout: false }))).toEqual(errs);
    expect(text(await call({ batch: true, stdout: false }))).toEqual(errs);
    expect(text(await call({ stdout: false }))).toEqual(errs);
  });

  it('packs LogLine batches too (a monitor converting its own log format), an entry bigger than a message whole', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 'x');
    const lines: LogLine[] = [
      { stream: 'stdout', line: Buffer.from('a\n'), timeNano: 5_000_000_001n },
      { stream: 'stderr', line: big, timeNano: 5_000_000_002n },
      ...Array.from({ length: 200 }, (_, i): LogLine => ({ stream: 'stdout', line: Buffer.alloc(16 * 1024, 'y'), timeNano: 6_000_000_000n + BigInt(i) })),
    ];
    source = async () => once(lines);
    const got = await call({ packed: true });
    expect(got.lines.map((l) => [l.stream, l.line.length, l.timeNano])).toEqual(lines.map((l) => [l.stream, l.line.length, l.timeNano]));
    expect(got.lines[1]!.line.equals(big)).toBe(true);
    // The 3 MiB entry travels alone; the 200 small ones in messages of about 1 MiB.
    expect(got.messages).toBeGreaterThanOrEqual(4);
    source = async () => once(lines);
    expect((await call({ batch: true })).lines.map((l) => l.line.length)).toEqual(lines.map((l) => l.line.length));
  });

  it('sends the client bytes when asked for frames, from the reader or framed from LogLine batches', async () => {
    const lines: LogLine[] = [
      { stream: 'stdout', line: Buffer.from('a\n'), timeNano: 5_000_000_001n },
      { stream: 'stdout', line: Buffer.from('b\n'), timeNano: 5_000_000_002n },
      { stream: 'stderr', line: Buffer.from('c\n'), timeNano: 5_000_000_003n },
    ];
    const w = new JsonLogWriter(join(dir, 'f.log'), 0, 1);
    w.writeMany(lines);
    w.close();
    const bytes = (r: Partial<shimV1.LogsRequest>) =>
      new Promise<string>((resolve, reject) => {
        const c = connect(shimV1.ShimClient, addr);
        const got: Buffer[] = [];
        const s = c.logs({ ...request, packed: true, frames: true, ...r });
        s.on('data', (m: shimV1.LogEntry) => {
          expect(m.packed.length).toBe(0);
          got.push(Buffer.from(m.frames));
        });
        s.on('error', reject);
        s.on('end', () => {
          c.close();
          resolve(Buffer.concat(got).toString('latin1'));
        });
      });
    const head = (stream: number, len: number) => String.fromCharCode(stream, 0, 0, 0, 0, 0, 0, len);
    for (const from of ['disk', 'lines'] as const) {
      source = async (q) => (from === 'disk' ? openJsonLogPacked(w.path, { maxFiles: 1, tail: q.tail, sinceNano: 0n, untilNano: 0n, frames: q.frames }) : once(lines));
      expect(await bytes({ stdout: true, stderr: true })).toBe(`${head(1, 2)}a\n${head(1, 2)}b\n${head(2, 2)}c\n`);
      expect(await bytes({ stdout: true, stderr: true, framesMerged: true })).toBe(`${head(1, 4)}a\nb\n${head(2, 2)}c\n`);
      expect(await bytes({ stdout: false, stderr: true })).toBe(`${head(2, 2)}c\n`);
      expect(await bytes({ stdout: true, stderr: true, framesRaw: true })).toBe('a\nb\nc\n');
    }
  });

  it('a log that cannot be opened is the call error, before any output', async () => {
    source = () => openJsonLogPacked(dir, { maxFiles: 1, tail: -1, sinceNano: 0n, untilNano: 0n });
    await expect(call({ packed: true })).rejects.toThrow(/EISDIR/);
  });
});
