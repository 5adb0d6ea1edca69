import { spawn } from 'node:child_process';
import { internal } from '@berth/errors';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a system tool (ip, nft, nsenter) to completion, with optional stdin; never rejects on exit status. */
export function runCommand(cmd: string, args: string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    if (child.stdin) {
      // A tool that exits without reading its input must not take this process down.
      child.stdin.on('error', () => undefined);
      child.stdin.end(input);
    }
  });
}

/** Like runCommand, but a non-zero exit is an error naming the command. */
export async function mustRun(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await runCommand(cmd, args, input);
  if (r.code !== 0) throw internal(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}
