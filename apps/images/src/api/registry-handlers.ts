import type { ServerWritableStream } from '@grpc/grpc-js';
import { endWithError, unaryHandler } from '@berth/grpc';
import type { imagesV1 } from '@berth/proto';
import { notFound } from '@berth/errors';
import { familiarName, formatReference, parseReference, type Reference } from '@berth/reference';
import type { JobKind, JobSpec } from '../domain/jobs';
import { pullImage, type PullDeps } from '../domain/pull';
import { pushImage, type PushDeps } from '../domain/push';
import type { Emit, JsonMessage } from '../domain/progress';
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

/** What a pull or push job does, given its stored data; run by the job worker. */
export function jobProcessor(d: RegistryHandlerDeps) {
  const clientFor = (creds: RegistryCredentials) => (ref: Reference) => new RegistryClient(ref, creds, d.registry);
  return async (kind: JobKind, data: Record<string, unknown>, emit: Emit): Promise<void> => {
    const auth = credentials(data.auth as imagesV1.RegistryAuth | undefined);
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
  };
}

/** The registry half of the Images contract: pull, push and login. */
export function registryHandlers(d: RegistryHandlerDeps, jobs: JobRunner): Pick<imagesV1.ImagesServer, 'pullImage' | 'pushImage' | 'checkAuth'> {
  return {
    pullImage(call: ServerWritableStream<imagesV1.PullImageRequest, imagesV1.ProgressMessage>) {
      const req = call.request;
      streamed(call, async (emit, signal) => {
        // Checked here so that a bad reference is an error of this call, not of a job.
        const full = formatReference(parseReference(req.reference));
        const identity = [req.allTags ? `${full} all-tags` : full, req.platform, req.auth?.username ?? ''].join('\0');
        await jobs.run({ kind: 'pull', identity, data: { reference: req.reference, platform: req.platform, auth: req.auth, allTags: req.allTags } }, emit, signal);
      });
    },
    pushImage(call: ServerWritableStream<imagesV1.PushImageRequest, imagesV1.ProgressMessage>) {
      const req = call.request;
      streamed(call, async (emit, signal) => {
        parseReference(req.reference);
        const identity = [req.reference, req.auth?.username ?? ''].join('\0');
        await jobs.run({ kind: 'push', identity, data: { reference: req.reference, auth: req.auth } }, emit, signal);
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
