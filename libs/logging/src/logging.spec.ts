import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { consoleLine, createLogger, log, withLogger } from './index';

function collect(stream: PassThrough): () => string {
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return () => text;
}

describe('logging', () => {
  it('writes structured JSON with the service name and fields', async () => {
    const out = new PassThrough();
    const read = collect(out);
    createLogger({ service: 'images', destination: out }).info({ digest: 'sha256:ab' }, 'blob written');
    await new Promise((r) => setImmediate(r));
    const rec = JSON.parse(read().trim()) as Record<string, unknown>;
    expect(rec).toMatchObject({ service: 'images', msg: 'blob written', digest: 'sha256:ab', level: 30 });
  });

  it('renders console lines for humans', () => {
    const line = consoleLine(JSON.stringify({ level: 40, time: 0, service: 'gateway', msg: 'slow', ms: 12 }));
    expect(line).toBe('00:00:00.000 WARN  [gateway] slow ms=12');
  });

  it('carries a child logger through async work', async () => {
    const out = new PassThrough();
    const read = collect(out);
    const child = createLogger({ service: 's', destination: out }).child({ req: 7 });
    await withLogger(child, async () => {
      await new Promise((r) => setTimeout(r, 1));
      log().info('inside');
    });
    await new Promise((r) => setImmediate(r));
    expect(JSON.parse(read().trim())).toMatchObject({ req: 7, msg: 'inside' });
  });
});
