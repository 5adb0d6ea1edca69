import { describe, expect, it } from 'vitest';
import { parseQuery, reply, TYPE_A } from './dns-message';

function query(name: string, type = TYPE_A): Buffer {
  const parts = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const head = Buffer.from([0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(type, 0);
  tail.writeUInt16BE(1, 2);
  return Buffer.concat([head, ...parts, Buffer.from([0]), tail]);
}

describe('dns messages', () => {
  it('reads a question and answers it with A records', () => {
    const q = parseQuery(query('Web.example'))!;
    expect(q).toMatchObject({ id: 0x1234, name: 'web.example', type: TYPE_A });
    const r = reply(query('Web.example'), q, ['10.1.0.2']);
    expect(r.readUInt16BE(2) & 0x8000).toBe(0x8000);
    expect(r.readUInt16BE(6)).toBe(1);
    expect([...r.subarray(r.length - 4)]).toEqual([10, 1, 0, 2]);
  });

  it('drops malformed queries', () => {
    expect(parseQuery(Buffer.from([1, 2, 3]))).toBeUndefined();
    const bad = query('a.b');
    expect(parseQuery(bad.subarray(0, 15))).toBeUndefined();
  });
});
