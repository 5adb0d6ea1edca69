import { execFile } from 'node:child_process';
import type { Client, ClientDuplexStream, ClientReadableStream, ClientWritableStream, ServiceError } from '@grpc/grpc-js';
import { kindOf, type ErrorKind } from '@berth/errors';
import { type CallOpts, type ClientCtor, connect, fromServiceError, unary, type UnaryMethod } from '@berth/grpc';

/** What a kit's cases get: the endpoint's address and, where the harness can, a way to restart it. */
export interface KitContext {
  address: string;
  /** Restarts the endpoint (kill and start again) and resolves once it answers; undefined when the caller gave no way. */
  restart?: () => Promise<void>;
  /** A private directory for files the cases make (layers, trees to compare). */
  scratch: string;
  /**
   * Cases this implementation is known to fail, by case name, with the reason (a recorded bug):
   * they are skipped and counted as such, never passed.
   */
  knownGaps?: Record<string, string>;
}

export interface Case {
  name: string;
  /** Cases that need `restart` are skipped (and counted as such) when the harness cannot restart. */
  needsRestart?: boolean;
  run(ctx: KitContext): Promise<void>;
}

export interface Kit {
  service: string;
  cases: Case[];
  /** Runs before the first case (e.g. to learn the address). */
  setup?(ctx: KitContext): Promise<void> | void;
  /** Removes what the cases left on the endpoint (best effort), after all ran. */
  cleanup?(ctx: KitContext): Promise<void>;
}

export interface KitResult {
  passed: number;
  failed: number;
  skipped: number;
}

/** Runs every case in order, printing one TAP-like line each, then the `N passed, N failed` line. */
export async function runKit(kit: Kit, ctx: KitContext, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<KitResult> {
  const result: KitResult = { passed: 0, failed: 0, skipped: 0 };
  await kit.setup?.(ctx);
  for (const c of kit.cases) {
    if (c.needsRestart && !ctx.restart) {
      result.skipped++;
      out(`skip - ${kit.service}: ${c.name} (no --restart given)`);
      continue;
    }
    const gap = ctx.knownGaps?.[c.name];
    if (gap) {
      result.skipped++;
      out(`skip - ${kit.service}: ${c.name} (known gap: ${gap})`);
      continue;
    }
    const t0 = Date.now();
    try {
      await c.run(ctx);
      result.passed++;
      out(`ok - ${kit.service}: ${c.name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (err) {
      result.failed++;
      out(`not ok - ${kit.service}: ${c.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  await kit.cleanup?.(ctx).catch(() => undefined);
  out(`${kit.service} conformance: ${result.passed} passed, ${result.failed} failed${result.skipped ? `, ${result.skipped} skipped` : ''}`);
  return result;
}

export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

export function equal<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

/** Resolves when `p` rejects with an error of `kind` (the contract's promise), throws otherwise. */
export async function rejectsWith(p: Promise<unknown>, kind: ErrorKind, what: string): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (kindOf(err) === kind) return;
    throw new Error(`${what}: expected ${kind}, got ${kindOf(err)} (${err instanceof Error ? err.message : String(err)})`);
  }
  throw new Error(`${what}: expected ${kind}, but the call succeeded`);
}

export function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout))),
  );
}

/** A name no earlier run used, so kits can run against a live endpoint without colliding. */
export function unique(prefix: string): string {
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

type AnyClient = Client & Record<string, unknown>;

/**
 * One contract's client at the kit's address, reconnected after a restart. Calls are by method
 * name so a kit reads like the contract; errors come back in the suite's taxonomy.
 */
export class Peer<C extends Client> {
  private c: C | undefined;
  constructor(
    private readonly service: string,
    private readonly Ctor: ClientCtor<C>,
    private readonly address: () => string,
  ) {}

  get client(): C {
    return (this.c ??= connect(this.Ctor, this.address()));
  }

  call<Res>(method: string, req: object, opts: CallOpts = {}): Promise<Res> {
    const c = this.client as unknown as AnyClient;
    const fn = c[method] as UnaryMethod<object, Res> | undefined;
    if (typeof fn !== 'function') throw new Error(`${this.service}: the client has no method ${method}`);
    return unary<object, Res>(this.service, fn.bind(c) as UnaryMethod<object, Res>, req, { deadlineMs: 60_000, ...opts });
  }

  /** A server stream read to its end. */
  read<Res>(method: string, req: object, timeoutMs = 60_000): Promise<Res[]> {
    const c = this.client as unknown as AnyClient;
    const stream = (c[method] as (r: object, opts: object) => ClientReadableStream<Res>).call(c, req, { deadline: Date.now() + timeoutMs });
    return drain(this.service, stream);
  }

  /** A client stream: writes the messages, then half-closes, and resolves with the one answer. */
  write<Req, Res>(method: string, messages: Req[], timeoutMs = 60_000): Promise<Res> {
    const c = this.client as unknown as AnyClient;
    return new Promise<Res>((resolve, reject) => {
      const stream = (c[method] as (opts: object, cb: (err: ServiceError | null, res: Res) => void) => ClientWritableStream<Req>).call(
        c,
        { deadline: Date.now() + timeoutMs },
        (err, res) => (err ? reject(fromServiceError(err, this.service)) : resolve(res)),
      );
      for (const m of messages) stream.write(m);
      stream.end();
    });
  }

  /** A bidirectional stream: writes the messages, half-closes, and reads what comes back to its end. */
  duplex<Req, Res>(method: string, messages: Req[], timeoutMs = 60_000, keepOpen = false): { responses: Promise<Res[]>; stream: ClientDuplexStream<Req, Res> } {
    const c = this.client as unknown as AnyClient;
    const stream = (c[method] as (opts: object) => ClientDuplexStream<Req, Res>).call(c, { deadline: Date.now() + timeoutMs });
    for (const m of messages) stream.write(m);
    if (!keepOpen) stream.end();
    return { responses: drain(this.service, stream), stream };
  }

  close(): void {
    this.c?.close();
    this.c = undefined;
  }
}

function drain<Res>(service: string, stream: ClientReadableStream<Res> | ClientDuplexStream<unknown, Res>): Promise<Res[]> {
  return new Promise<Res[]>((resolve, reject) => {
    const out: Res[] = [];
    stream.on('data', (m: Res) => out.push(m));
    stream.on('error', (err: ServiceError) => reject(fromServiceError(err, service)));
    stream.on('end', () => resolve(out));
  });
}

/** Waits for `probe` to hold, polling; fails with `what` after the deadline (generous: the host is loaded). */
export async function eventually(probe: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
