import { QueueKeys } from 'bullmq';
import { describe, expect, it } from 'vitest';
import { UNFINISHED_KEY_TYPES } from './jobs';

describe('the keys that say a job is unfinished', () => {
  // The service loads bullmq only when Redis holds one of them: a bullmq that renamed its
  // keys would leave a dead service's jobs unrun, so an upgrade that does fails here.
  it('are keys bullmq itself uses for its queues', () => {
    const keys = new QueueKeys('berth').getKeys('images-pull');
    for (const t of UNFINISHED_KEY_TYPES) expect(keys[t], t).toBe(`berth:images-pull:${t}`);
  });
});
