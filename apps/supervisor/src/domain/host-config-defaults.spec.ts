import { describe, expect, it } from 'vitest';
import { groupAddGids, inspectHostConfig, validateLogConfig } from './host-config-defaults';

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
