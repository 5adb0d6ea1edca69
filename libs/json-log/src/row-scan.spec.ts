import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeEntry, decodeRow, encodeEntry, openJsonLog, unescapeInPlace } from './index';

/** The scan against JSON.parse (decodeEntry) on the same row: same entry, or both refuse. */
function same(row: string): void {
  const buf = Buffer.from(row);
  let want: unknown;
  try {
    want = decodeEntry(row);
  } catch {
    want = 'refused';
  }
  let got: unknown;
  try {
    const l = decodeRow(buf, 0, buf.length, true);
    got = { ...l, line: Buffer.from(l.line) };
  } catch {
    got = 'refused';
  }
  expect(got).toEqual(want);
}

const T = '"time":"2024-05-06T07:08:09.123456789Z"';

describe('decodeRow', () => {
  it('reads our own rows byte for byte, whatever the text', () => {
    const texts = ['plain\n', '', 'no newline', 'tab\tquote"back\\slash/\r\n', '\u0000\u0001\u001f\u007f', 'é 漢字 🐳 \u2028\u2029', '<a href="x">&amp;</a>\n', 'x'.repeat(16 * 1024)];
    for (const [i, t] of texts.entries()) {
      const row = encodeEntry({ stream: i % 2 ? 'stderr' : 'stdout', line: Buffer.from(t), timeNano: 1_714_979_289_123_456_789n + BigInt(i) }).toString().replace(/\n$/, '');
      const buf = Buffer.from(row);
      const l = decodeRow(buf, 0, buf.length, true);
      expect(Buffer.from(l.line).toString()).toBe(t);
      expect(l.timeNano).toBe(1_714_979_289_123_456_789n + BigInt(i));
      same(row);
    }
  });

  it('unescapes every JSON escape as JSON.parse does, surrogates included', () => {
    for (const s of ['\\n\\r\\t\\b\\f\\/\\\\\\"', '\\u003c\\u003e\\u0026', '\\u00e9\\u6F22', '\\ud83d\\udc33', '\\ud83d', '\\udc33x', '\\ud83dx\\udc33', '\\ud83d\\u0041', 'a\\u0000b'])
      same(`{"log":"${s}","stream":"stdout",${T}}`);
  });

  it('takes a trailing CR (CRLF files) and refuses what JSON.parse refuses', () => {
    same(`{"log":"x\\n","stream":"stderr",${T}}\r`);
    for (const bad of [`{"log":"x\\q","stream":"stdout",${T}}`, `{"log":"x\\u12g4","stream":"stdout",${T}}`, `{"log":"x\u0001","stream":"stdout",${T}}`, `{"log":"x\\","stream":"stdout",${T}}`, `{"log":"torn`, `{"log":"x","stream":"stdin",${T}}`, `{"log":"x","stream":"stdout","time":"2024-05-06T07:08:09.1`, ''])
      same(bad);
  });

  it('leaves other layouts to JSON.parse, with the same result', () => {
    same(`{"log":"x\\n","stream":"stdout","attrs":{"a":"b"},${T}}`);
    same(`{ "log": "x\\n", "stream": "stdout", ${T} }`);
    same(`{"stream":"stdout","log":"x\\n",${T}}`);
    same(`{"log":"x","stream":"stdout","time":"2024-05-06T07:08:09Z"}`);
    same(`{"log":"x","stream":"stdout","time":"2024-05-06T09:08:09.5+02:00"}`);
    same(`{"log":"x","stream":"stdout","time":"2024-05-06T07:08:09.1234567891Z"}`);
    same(`{"log":"x","stream":"stdout","time":"garbage"}`);
  });

  it('decodes invalid UTF-8 as JSON.parse of its text does when not known to be UTF-8', () => {
    const buf = Buffer.concat([Buffer.from('{"log":"a'), Buffer.from([0xff, 0xc3]), Buffer.from(`b","stream":"stdout",${T}}`)]);
    expect(decodeRow(buf, 0, buf.length, false).line).toEqual(decodeEntry(buf.toString()).line);
  });

  it('changes the row only when it takes it', () => {
    const row = `{"log":"x\\n","stream":"stdin",${T}}`;
    const buf = Buffer.from(row);
    expect(() => decodeRow(buf, 0, buf.length, true)).toThrow();
    expect(buf.toString()).toBe(row);
    const b = Buffer.from('ab\\ncd\\u00e9');
    expect(b.subarray(0, unescapeInPlace(b, 0, b.length)).toString()).toBe('ab\ncdé');
  });
});

describe('reading a log in chunks', () => {
  it('gives every row of a log of several chunks whole, rows cut by chunk ends, a torn last row and CRLF included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'row-scan-'));
    try {
      const texts = Array.from({ length: 40_000 }, (_, i) => `${i} ${'é🐳"\\\t'.repeat(i % 7)}${i % 3 ? '\n' : ''}`);
      const rows = texts.map((t, i) => encodeEntry({ stream: 'stdout', line: Buffer.from(t), timeNano: BigInt(i + 1) * 1_000_000n }).toString());
      const body = rows.map((r, i) => (i % 5 ? r : r.replace(/\n$/, '\r\n'))).join('') + '{"log":"torn';
      writeFileSync(join(dir, 'log'), body);
      expect(Buffer.byteLength(body)).toBeGreaterThan(3 * 1024 * 1024);
      const got: string[] = [];
      for await (const b of await openJsonLog(join(dir, 'log'), { maxFiles: 1, tail: -1, sinceNano: 0n, untilNano: 0n })) for (const l of b) got.push(l.line.toString());
      expect(got).toEqual(texts);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
