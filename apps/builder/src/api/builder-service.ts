import type { ServerDuplexStream } from '@grpc/grpc-js';
import { type ContractImpl, endWithError, requestMessages, unaryHandler } from '@berth/grpc';
import { invalidArgument, messageOf } from '@berth/errors';
import type { Logger } from '@berth/logging';
import type { builderV1 } from '@berth/proto';
import type { Engine } from '../clients/engine';
import { Build } from '../domain/build';
import type { BuildCache } from '../domain/cache';

/**
 * The Builder contract over the build domain. Only a bad first message ends the call with a
 * status; a build that started reports its failure as an `errorDetail` message, the way
 * dockerd streams it, and the call ends OK.
 */
export function builderService(engine: Engine, cache: BuildCache, workRoot: string, logger: Logger): ContractImpl<builderV1.BuilderServer> {
  return {
    build(call: ServerDuplexStream<builderV1.BuildRequest, builderV1.BuildMessage>) {
      // Read on demand: the stream's own iterator destroys a half-closed call (the client's end of
      // the context) before the build has answered.
      const it = requestMessages<builderV1.BuildRequest>(call);
      void (async () => {
        const first = await it.next();
        if (first.done || !first.value.options) throw invalidArgument('Build: the first message must carry the options');
        const o = first.value.options;
        Build.validate(o);
        const firstData = Buffer.from(first.value.data);
        const source = (async function* () {
          if (firstData.length) yield firstData;
          for (let r = await it.next(); !r.done; r = await it.next()) if (r.value.data.length) yield Buffer.from(r.value.data);
        })();
        let emitted = false;
        const emit = (m: Record<string, unknown>) => {
          emitted = true;
          if (!call.cancelled) call.write({ json: JSON.stringify(m) });
        };
        const b = new Build(engine, cache, o, emit, workRoot);
        call.on('cancelled', () => b.abort());
        const log = logger.child({ build: b.id });
        try {
          const id = await b.run(source);
          log.info({ image: id, tags: o.tags }, 'built');
        } catch (err) {
          const message = messageOf(err);
          log.info({ err: message }, 'build failed');
          // Before any output Docker answers with an HTTP error; after, with an errorDetail line.
          if (!emitted) throw err;
          emit({ errorDetail: { message }, error: message });
        }
        call.end();
      })().catch((err: unknown) => endWithError(call, err));
    },
    pruneCache: unaryHandler(async (req: builderV1.PruneCacheRequest) => {
      void req;
      let images = cache.clear();
      const deleted: string[] = [];
      // Only images nothing else holds go: tagged ones are kept, those under containers and those
      // other images are built on refuse; a child going first frees its parent for the next pass.
      for (let progress = true; progress && images.length; ) {
        progress = false;
        const left: string[] = [];
        for (const id of images) {
          // A tagged image is the user's, whatever built it (a delete by ID would untag it).
          const img = await engine.image(id).catch(() => null);
          if (!img || img.repoTags.length) continue;
          const gone = await engine.deleteImage(id).catch(() => null);
          if (gone) {
            deleted.push(...gone);
            progress = true;
          } else left.push(id);
        }
        images = left;
      }
      return { deleted, spaceReclaimed: 0 };
    }),
  };
}
