import type { ServerWritableStream } from '@grpc/grpc-js';
import { endWithError, unaryHandler } from '@berth/grpc';
import type { imagesV1 } from '@berth/proto';
import { parseReference, type Reference } from '@berth/reference';
import { pullImage, type PullDeps } from '../domain/pull';
import { pushImage, type PushDeps } from '../domain/push';
import type { JsonMessage } from '../domain/progress';
import { RegistryClient, type RegistryCredentials, type RegistryOptions } from '../domain/registry-client';

export interface RegistryHandlerDeps {
  pull: Omit<PullDeps, 'client'>;
  push: Omit<PushDeps, 'client'>;
  registry: RegistryOptions;
  event: (action: string, id: string, name: string) => void;
}

function credentials(a: imagesV1.RegistryAuth | undefined): RegistryCredentials {
  if (!a) return {};
  return { username: a.username, password: a.password, identityToken: a.identityToken, registryToken: a.registryToken };
}

/**
 * Runs a progress-reporting operation for one streaming call. A client that goes away does
 * not stop it: the work finishes (or fails) on its own and only the messages are dropped.
 */
function streamed(call: ServerWritableStream<unknown, imagesV1.ProgressMessage>, work: (emit: (m: JsonMessage) => void) => Promise<void>): void {
  let gone = false;
  call.on('cancelled', () => (gone = true));
  const emit = (m: JsonMessage) => {
    if (!gone) call.write({ json: JSON.stringify(m) });
  };
  work(emit).then(
    () => {
      if (!gone) call.end();
    },
    (err: unknown) => {
      if (!gone) endWithError(call, err);
    },
  );
}

/** The registry half of the Images contract: pull, push and login. */
export function registryHandlers(d: RegistryHandlerDeps): Pick<imagesV1.ImagesServer, 'pullImage' | 'pushImage' | 'checkAuth'> {
  const clientFor = (creds: RegistryCredentials) => (ref: Reference) => new RegistryClient(ref, creds, d.registry);
  return {
    pullImage(call: ServerWritableStream<imagesV1.PullImageRequest, imagesV1.ProgressMessage>) {
      const req = call.request;
      streamed(call, async (emit) => {
        const img = await pullImage(req.reference, req.platform, { ...d.pull, client: clientFor(credentials(req.auth)) }, emit);
        d.event('pull', img.id, req.reference);
      });
    },
    pushImage(call: ServerWritableStream<imagesV1.PushImageRequest, imagesV1.ProgressMessage>) {
      const req = call.request;
      streamed(call, async (emit) => {
        await pushImage(req.reference, { ...d.push, client: clientFor(credentials(req.auth)) }, emit);
        d.event('push', req.reference, req.reference);
      });
    },
    checkAuth: unaryHandler(async (req: imagesV1.RegistryAuth) => {
      const server = req.serverAddress.replace(/^https?:\/\//, '').replace(/\/.*$/, '') || 'docker.io';
      // Any repository will do: /v2/ is what is checked.
      const ref: Reference = { ...parseReference(`${server}/login-check`) };
      await new RegistryClient(ref, credentials(req), d.registry).ping();
      return { status: 'Login Succeeded', identityToken: '' };
    }),
  };
}
