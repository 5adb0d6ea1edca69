import { describe, expect, it } from 'vitest';
import { groupAddGids, inspectHostConfig, validateLogConfig } from './host-config-defaults';
import { parseSize } from './json-file-opts';

describe('inspectHostConfig', () => {
  it('shows dockerd zero values under what a minimal client sent', () => {
    const hc = inspectHostConfig({ Memory: 1024, LogConfig: { Type: '', Config: {} } });
    expect(hc).toMatchObject({ Memory: 1024, CpuQuota: 0, ShmSize: 67108864, IpcMode: 'private', LogConfig: { Type: 'json-file', Config: {} }, RestartPolicy: { Name: 'no', MaximumRetryCount: 0 } });
  });
});

describe('validateLogConfig', () => {
  it('accepts json-file, none and no type; refuses others in dockerd words', () => {
    for (const Type of ['json-file', 'none', '']) expect(() => validateLogConfig({ LogConfig: { Type, Config: {} } })).not.toThrow();
    expect(() => validateLogConfig({ LogConfig: { Type: 'syslogx', Config: {} } })).toThrow("logger: no log driver named 'syslogx' is registered");
    expect(() => validateLogConfig({ LogConfig: { Type: 'none', Config: { 'max-size': '1m' } } })).toThrow(/unknown log opt/);
  });
});

describe('groupAddGids', () => {
  it('takes numbers as given and names from the group file', () => {
    expect(groupAddGids(['1234', 'daemon'], 'root:x:0:\ndaemon:x:1:\n')).toEqual([1234, 1]);
    expect(() => groupAddGids(['nosuch'], 'root:x:0:\n')).toThrow('Unable to find group nosuch');
  });
});

describe('json-file options', () => {
  const v = (Config: Record<string, string>) => () => validateLogConfig({ LogConfig: { Type: 'json-file', Config } });
  it('takes what dockerd takes', () => {
    for (const c of [{ 'max-size': '10k', 'max-file': '3' }, { 'max-size': '1m' }, { 'max-file': '2' }, { 'max-size': '5MiB', 'max-file': '2', compress: 'true' }, { tag: 'x', labels: 'a', env: 'B' }] as Record<string, string>[]) expect(v(c)).not.toThrow();
  });
  it('refuses what dockerd refuses, in its words', () => {
    expect(v({ 'max-sise': '1m' })).toThrow("unknown log opt 'max-sise' for json-file log driver");
    expect(v({ 'max-size': 'abc' })).toThrow("invalid size: 'abc'");
    expect(v({ 'max-size': '0' })).toThrow('max-size must be a positive number');
    expect(v({ 'max-size': '1m', 'max-file': '0' })).toThrow('max-file cannot be less than 1');
    expect(v({ 'max-size': '1m', 'max-file': 'two' })).toThrow('strconv.Atoi: parsing "two": invalid syntax');
    expect(v({ 'max-size': '1m', compress: 'true' })).toThrow('compress cannot be true when max-file is less than 2 or max-size is not set');
    expect(v({ compress: 'yes' })).toThrow('strconv.ParseBool: parsing "yes": invalid syntax');
  });
  it('counts sizes in decimal units, as dockerd', () => {
    expect(parseSize('10k')).toBe(10_000);
    expect(parseSize('1m')).toBe(1_000_000);
    expect(parseSize('2KiB')).toBe(2_000);
    expect(parseSize('100')).toBe(100);
    expect(parseSize(undefined)).toBe(0);
  });
});
