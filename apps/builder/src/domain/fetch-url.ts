import { lookup } from 'node:dns/promises';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { isIP } from 'node:net';
import { invalidArgument } from '@berth/errors';

const MAX_REDIRECTS = 10;

async function isLoopback(host: string): Promise<boolean> {
  const h = host.replace(/^\[|\]$/g, '');
  const addrs = isIP(h) ? [h] : (await lookup(h, { all: true })).map((a) => a.address);
  return addrs.length > 0 && addrs.every((a) => a === '::1' || a.startsWith('127.') || a === '::ffff:127.0.0.1');
}

/**
 * Downloads a URL into `file` (ADD <url>, remote=<url>), following redirects by hand so that
 * each hop is checked before any connection is made: a URL on a loopback address may only
 * redirect to loopback addresses (a local server cannot bounce the builder to the network).
 * Returns the final URL and the Last-Modified time.
 */
export async function fetchToFile(url: string, file: string, maxBytes: number, what: string): Promise<{ url: string; mtimeSeconds: number }> {
  let current = new URL(url);
  if (current.protocol !== 'http:' && current.protocol !== 'https:') throw invalidArgument(`${what}: unsupported URL scheme ${current.protocol}`);
  const startLoopback = await isLoopback(current.hostname);
  for (let hop = 0; ; hop++) {
    let res: Response;
    try {
      res = await fetch(current, { redirect: 'manual' });
    } catch (err) {
      throw invalidArgument(`${what}: error downloading ${current.href}: ${(err as Error).message}`);
    }
    if (res.status >= 300 && res.status < 400 && res.headers.get('location')) {
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw invalidArgument(`${what}: stopped after ${MAX_REDIRECTS} redirects`);
      const next = new URL(res.headers.get('location')!, current);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') throw invalidArgument(`${what}: redirect to unsupported URL scheme ${next.protocol}`);
      if (startLoopback && !(await isLoopback(next.hostname))) {
        throw invalidArgument(`${what}: refusing redirect from ${current.href} to a non-loopback address: ${next.href}`);
      }
      current = next;
      continue;
    }
    if (!res.ok || !res.body) throw invalidArgument(`${what}: failed to GET ${current.href} with status ${res.status} ${res.statusText}`);
    const out = createWriteStream(file, { mode: 0o600 });
    let n = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += chunk.length;
      if (n > maxBytes) {
        out.destroy();
        throw invalidArgument(`${what}: ${current.href} is larger than ${maxBytes} bytes`);
      }
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'close');
    const lm = res.headers.get('last-modified');
    return { url: current.href, mtimeSeconds: lm ? Date.parse(lm) / 1000 : Date.now() / 1000 };
  }
}
