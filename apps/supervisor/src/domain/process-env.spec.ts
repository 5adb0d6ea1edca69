import { describe, expect, it } from 'vitest';
import { DEFAULT_PATH_ENV, daemonEnv, execEnv } from './process-env';

describe('daemonEnv', () => {
  it('gives PATH and HOSTNAME when the image and -e give none', () => {
    expect(daemonEnv({ tty: false, hostname: 'abc', env: [] })).toEqual([DEFAULT_PATH_ENV, 'HOSTNAME=abc']);
  });
  it('adds TERM=xterm only with a TTY, and the container Env replaces defaults', () => {
    expect(daemonEnv({ tty: true, hostname: 'h', links: ['DB_PORT=tcp://x'], env: ['PATH=/x', 'TERM=dumb', 'A=1'] })).toEqual(['PATH=/x', 'HOSTNAME=h', 'TERM=dumb', 'DB_PORT=tcp://x', 'A=1']);
  });
});

describe('execEnv', () => {
  it('follows the exec TTY for TERM unless the container set TERM itself', () => {
    const proc = [DEFAULT_PATH_ENV, 'HOSTNAME=h', 'TERM=xterm'];
    expect(execEnv(proc, [], false, [])).toEqual([DEFAULT_PATH_ENV, 'HOSTNAME=h']);
    expect(execEnv([DEFAULT_PATH_ENV, 'HOSTNAME=h'], [], true, ['X=1'])).toEqual([DEFAULT_PATH_ENV, 'HOSTNAME=h', 'TERM=xterm', 'X=1']);
    expect(execEnv(proc, ['TERM=xterm'], false, [])).toEqual(proc);
  });
  it('adds the default PATH to a container started before defaults existed', () => {
    expect(execEnv(['A=1'], ['A=1'], false, [])).toEqual([DEFAULT_PATH_ENV, 'A=1']);
  });
});
