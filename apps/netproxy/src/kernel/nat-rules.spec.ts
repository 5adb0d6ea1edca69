import { describe, expect, it } from 'vitest';
import { renderRuleset, tableName } from './nat-rules';

describe('nat rules', () => {
  it('masquerades outbound traffic and publishes ports by DNAT, replacing the table atomically', () => {
    const text = renderRuleset(tableName('bt-1'), {
      networks: [{ bridge: 'bt-1', subnet: '10.9.0.0/24', internal: false, icc: true, masquerade: true }],
      ports: [
        { hostIp: '', hostPort: 18080, protocol: 'tcp', containerIp: '10.9.0.2', containerPort: 80, bridge: 'bt-1' },
        { hostIp: '127.0.0.1', hostPort: 5353, protocol: 'udp', containerIp: '10.9.0.3', containerPort: 53, bridge: 'bt-1' },
      ],
    });
    expect(text.startsWith('table ip berth_bt_1 {}\ndelete table ip berth_bt_1\n')).toBe(true);
    expect(text).toContain('ip saddr 10.9.0.0/24 oifname != "bt-1" masquerade');
    expect(text).toContain('tcp dport 18080 dnat to 10.9.0.2:80');
    expect(text).toContain('ip daddr 127.0.0.1 udp dport 5353 dnat to 10.9.0.3:53');
    expect(text).toContain('oifname "bt-1" ip saddr 10.9.0.0/24 ct status dnat masquerade');
  });

  it('cuts internal networks off and honours icc=false', () => {
    const text = renderRuleset('t', { networks: [{ bridge: 'b', subnet: '10.9.1.0/24', internal: true, icc: false, masquerade: true }], ports: [] });
    expect(text).not.toContain('10.9.1.0/24 oifname');
    expect(text).toContain('iifname "b" oifname != "b" drop');
    expect(text).toContain('iifname "b" oifname "b" drop');
  });
});
