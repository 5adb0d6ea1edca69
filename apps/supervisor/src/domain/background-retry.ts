import { messageOf } from '@berth/errors';
import type { Logger } from '@berth/logging';

const RETRY_INTERVAL_MS = 2000;
const RETRY_FOR_MS = 10 * 60_000;

/**
 * Runs a call to a peer service now and, if it fails (the peer restarting, say), again in the
 * background until it succeeds or ten minutes pass: a container's removal or exit must not wait
 * for a peer that is down, nor leave its ports, namespace or snapshot behind once the peer is
 * back. Resolves after the first try; what is still undone after the last one is the next
 * supervisor start's to reconcile.
 */
export async function withRetry(what: string, fn: () => Promise<unknown>, logger: Logger): Promise<void> {
  try {
    await fn();
    return;
  } catch (err) {
    logger.warn({ what, err: messageOf(err) }, 'call failed; retrying in the background');
  }
  const deadline = Date.now() + RETRY_FOR_MS;
  const again = () => {
    fn().catch((err: unknown) => {
      if (Date.now() < deadline) setTimeout(again, RETRY_INTERVAL_MS).unref();
      else logger.error({ what, err: messageOf(err) }, 'call gave up; the next supervisor start reconciles it');
    });
  };
  setTimeout(again, RETRY_INTERVAL_MS).unref();
}
