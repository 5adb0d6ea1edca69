import type { ServerWritableStream } from '@grpc/grpc-js';
import { endWithError, unaryHandler } from '@berth/grpc';
import type { imagesV1 } from '@berth/proto';
import { notFound } from '@berth/errors';
import { familiarName, formatReference, parseReference, type Reference } from '@berth/reference';
import type { JobKind, JobSpec } from '../domain/jobs';
import { pullImage, type PullDeps } from '../domain/pull';
import { pushImage, type PushDeps } from '../domain/push';
import type { Emit, JsonMessage } from '../domain/progress';
import type { CredentialVault } from '../domain/credential-vault';
import { RegistryClient, type RegistryCredentials, type RegistryOptions } from '../domain/registry-client';

export interface RegistryHandlerDeps {
  pull: Omit<PullDeps, 'client'>;
  push: Omit<PushDeps, 'client'>;
  registry: RegistryOptions;
  event: (action: string, id: string, name: string) => void;
}

/** Where pulls and pushes run: as jobs (see jobs.ts), or right here when there is no queue. */
export interface JobRunner {
  run(spec: JobSpec, emit: Emit, signal: AbortSignal): Promise<void>;
}

function credentials(a: imagesV1.RegistryAuth | undefined): RegistryCredentials {
  if (!a) return {};
  return { username: a.username, password: a.password, identityToken: a.identityToken, registryToken: a.registryToken };
}

/**
 * Relays one job's progress to a streaming call. A client that goes away only stops
 * watching: the job itself finishes (or fails) on its own.
 */
function streamed(call: ServerWritableStream<unknown, imagesV1.ProgressMessage>, work: (emit: Emit, signal: AbortSignal) => Promise<void>): void {
  const ctl = new AbortController();
  call.on('cancelled', () => ctl.abort());
  const emit = (m: JsonMessage) => {
    if (!ctl.signal.aborted) call.write({ json: JSON.stringify(m) });
  };
  work(emit, ctl.signal).then(
    () => {
      if (!ctl.signal.aborted) call.end();
    },
    (err: unknown) => {
      if (!ctl.signal.aborted) endWithError(call, err);
    },
  );
}

/** `docker pull -a`: the repository's tags as references, in the registry's order. */
async function allTags(reference: string, client: (ref: Reference) => RegistryClient): Promise<string[]> {
  const ref = parseReference(reference);
  const tags = await client(ref).tags();
  if (tags.length === 0) throw notFound(`no tags found for ${familiarName({ domain: ref.domain, path: ref.path })}`);
  return tags.map((t) => formatReference({ domain: ref.domain, path: ref.path, tag: t }));
}

/**
 * What a pull or push job does, given its stored data; run by the job worker. The data names its
 * credentials by fingerprint only: they are taken from the vault, never from Redis.
 */
export function jobProcessor(d: RegistryHandlerDeps, vault: CredentialVault) {
  const clientFor = (creds: RegistryCredentials) => (ref: Reference) => new RegistryClient(ref, creds, d.registry);
  return async (kind: JobKind, data: Record<string, unknown>, emit: Emit): Promise<void> => {
    const id = typeof data.credentials === 'string' ? data.credentials : undefined;
    const auth = vault.get(id);
    const release = vault.hold(id ?? '', auth);
    try {
      await runJob(kind, data, auth, emit);
    } finally {
      release();
    }
  };

  async function runJob(kind: JobKind, data: Record<string, unknown>, auth: RegistryCredentials, emit: Emit): Promise<void> {
    if (kind === 'pull') {
      const deps = { ...d.pull, client: clientFor(auth) };
      const refs = data.allTags ? await allTags(String(data.reference), deps.client) : [String(data.reference)];
      for (const r of refs) {
        const img = await pullImage(r, String(data.platform ?? ''), deps, emit);
        d.event('pull', img.id, r);
      }
    } else {
      await pushImage(String(data.reference), { ...d.push, client: clientFor(auth) }, emit);
      d.event('push', String(data.reference), String(data.reference));
    }
  }
}

/** Runs a job while its caller's credentials are held in memory for it. */
async function withCredentials(vault: CredentialVault, req: imagesV1.RegistryAuth | undefined, work: (credentialsId: string) => Promise<void>): Promise<void> {
  const creds = credentials(req);
  const id = vault.fingerprint(creds);
  const release = vault.hold(id, creds);
  try {
    await work(id);
  } finally {
    release();
  }
}

/** The registry half of the Images contract: pull, push and login. */
export function registryHandlers(d: RegistryHandlerDeps, jobs: JobRunner, vault: CredentialVault): Pick<imagesV1.ImagesServer, 'pullImage' | 'pushImage' | 'checkAuth'> {
  return {
    pullImage(call: ServerWritableStream<imagesV1.PullImageRequest, imagesV1.ProgressMessage>) {
      const req = call.request;
      streamed(call, async (emit, signal) => {
        // Checked here so that a bad reference is an error of this call, not of a job.
        const full = formatReference(parseReference(req.reference));
        await withCredentials(vault, req.auth, async (credentials) => {
          // Only a pull with the very same credentials may join a running one.
          const identity = [req.allTags ? `${full} all-tags` : full, req.platform, credentials].join('\0');
          await jobs.run({ kind: 'pull', identity, data: { reference: req.reference, platform: req.platform, credentials, allTags: req.allTags } }, emit, signal);
        });
      });
    },
    pushImage(call: ServerWritableStream<imagesV1.PushImageRequest, imagesV1.ProgressMessage>) {
      const req = call.request;
      streamed(call, async (emit, signal) => {
        parseReference(req.reference);
        await withCredentials(vault, req.auth, async (credentials) => {
          const identity = [req.reference, credentials].join('\0');
          await jobs.run({ kind: 'push', identity, data: { reference: req.reference, credentials } }, emit, signal);
        });
      });
    },
    checkAuth: unaryHandler(async (req: imagesV1.RegistryAuth) => {
      const server = req.serverAddress.replace(/^https?:\/\//, '').replace(/\/.*$/, '') || 'docker.io';
      // Any repository will do: /v2/ is what is checked.
      const ref: Reference = parseReference(`${server}/login-check`);
      await new RegistryClient(ref, credentials(req), d.registry).ping();
      return { status: 'Login Succeeded', identityToken: '' };
    }),
  };
}
