import { createHmac, randomBytes } from 'node:crypto';
import { failedPrecondition } from '@berth/errors';
import type { RegistryCredentials } from './registry-client';

/**
 * Registry credentials of running pulls and pushes, held only in this process's memory. Job data
 * in Redis (which keeps it on disk) names them by a keyed fingerprint: equal credentials give equal
 * fingerprints, so a pull joins a running one only when it brings the same credentials, and the
 * fingerprint tells nothing about them (its key never leaves memory and changes with each start).
 */
export class CredentialVault {
  private readonly key = randomBytes(32);
  private readonly held = new Map<string, { creds: RegistryCredentials; refs: number }>();

  /** '' for no credentials at all; otherwise a fingerprint that names these exact credentials. */
  fingerprint(c: RegistryCredentials): string {
    if (!c.username && !c.password && !c.identityToken && !c.registryToken) return '';
    const canonical = JSON.stringify([c.username ?? '', c.password ?? '', c.identityToken ?? '', c.registryToken ?? '']);
    return createHmac('sha256', this.key).update(canonical).digest('hex');
  }

  /** Keeps the credentials until every holder has released them; returns the release. */
  hold(id: string, creds: RegistryCredentials): () => void {
    if (!id) return () => undefined;
    const e = this.held.get(id) ?? { creds, refs: 0 };
    e.refs++;
    this.held.set(id, e);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (--e.refs === 0 && this.held.get(id) === e) this.held.delete(id);
    };
  }

  /** The credentials a job names; a job rerun after a restart finds none and must be asked again. */
  get(id: string | undefined): RegistryCredentials {
    if (!id) return {};
    const e = this.held.get(id);
    if (!e) throw failedPrecondition('the credentials of this job are no longer held (the images service restarted); run the command again');
    return e.creds;
  }

  get size(): number {
    return this.held.size;
  }
}
