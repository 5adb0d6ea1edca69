import { describe, expect, it } from 'vitest';
import { absolutePathArg, argValue } from './argv';

describe('monitor command lines', () => {
  it('takes the value after a flag', () => {
    expect(argValue(['--state', '/s', '--socket', '/x.sock'], '--socket')).toBe('/x.sock');
    expect(argValue(['--state'], '--state')).toBeUndefined();
    expect(argValue([], '--state')).toBeUndefined();
  });

  it('refuses a path that is missing or relative, naming the program and the flag', () => {
    expect(absolutePathArg(['--bundle', '/b'], '--bundle', 'shim')).toBe('/b');
    expect(() => absolutePathArg(['--bundle', 'b'], '--bundle', 'shim')).toThrow('shim: --bundle must be an absolute path');
    expect(() => absolutePathArg([], '--state', 'monitor')).toThrow('monitor: --state must be an absolute path');
  });
});
