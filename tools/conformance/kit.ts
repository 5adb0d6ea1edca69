import { execFile } from 'node:child_process';
import { kindOf, type ErrorKind } from '@berth/errors';

/** What a kit's cases get: the endpoint's address and, where the harness can, a way to restart it. */
export interface KitContext {
  address: string;
  /** Restarts the endpoint (kill and start again) and resolves once it answers; undefined when the caller gave no way. */
  restart?: () => Promise<void>;
  /** A private directory for files the cases make (layers, trees to compare). */
  scratch: string;
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
  for (const c of kit.cases) {
    if (c.needsRestart && !ctx.restart) {
      result.skipped++;
      out(`skip - ${kit.service}: ${c.name} (no --restart given)`);
      continue;
    }
    try {
      await c.run(ctx);
      result.passed++;
      out(`ok - ${kit.service}: ${c.name}`);
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
