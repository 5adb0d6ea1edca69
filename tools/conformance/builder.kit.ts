import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { builderV1 } from '@berth/proto';
import { type Case, check, equal, type Kit, type KitContext, Peer, rejectsWith, sh, unique } from './kit';

/** The base image the builder kit's Dockerfiles start FROM: it must be in the images service the builder uses. */
export const BUILDER_KIT_BASE = 'busybox:latest';

interface Message {
  stream?: string;
  aux?: { ID?: string };
  errorDetail?: { message: string };
}

/**
 * The builder contract (berth.builder.v1 Builder): a build streams Docker's JSON messages and
 * ends in an image ID, a repeat uses the cache, a failed step ends with errorDetail (the call
 * itself ends OK), options that cannot work are INVALID_ARGUMENT before anything is built, the
 * cache outlives a restart of the endpoint, and pruning it is harmless to repeat.
 */
export function builderKit(): Kit {
  const run = unique('kit');
  let address = '';
  const builder = new Peer('builder', builderV1.BuilderClient, () => address);
  let firstId = '';

  const options = (o: Partial<builderV1.BuildOptions> = {}): builderV1.BuildOptions => ({
    tags: [],
    dockerfile: '',
    remote: '',
    buildArgs: {},
    noCache: false,
    pull: false,
    rm: true,
    forceRm: false,
    quiet: false,
    target: '',
    labels: {},
    networkMode: '',
    platform: '',
    extraHosts: [],
    shmSize: 0,
    memory: 0,
    memorySwap: 0,
    cpuShares: 0,
    cpuPeriod: 0,
    cpuQuota: 0,
    cpusetCpus: '',
    cpusetMems: '',
    ulimitsJson: Buffer.alloc(0),
    cacheFrom: [],
    isolation: '',
    nullBuildArgs: [],
    ...o,
  });
  const context = async (ctx: KitContext, name: string, files: Record<string, string>): Promise<Buffer> => {
    const dir = join(ctx.scratch, name);
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    await sh('tar', ['-cf', `${dir}.tar`, '-C', dir, '.']);
    return readFileSync(`${dir}.tar`);
  };
  const build = async (data: Buffer, o: Partial<builderV1.BuildOptions> = {}) => {
    const msgs = await builder.duplex<builderV1.BuildRequest, builderV1.BuildMessage>('build', [{ options: options(o), data }], 300_000).responses;
    const parsed = msgs.map((m) => JSON.parse(m.json) as Message);
    return {
      text: parsed.map((m) => m.stream ?? '').join(''),
      id: parsed.map((m) => m.aux?.ID).filter(Boolean).pop() ?? '',
      error: parsed.find((m) => m.errorDetail)?.errorDetail?.message,
    };
  };
  const dockerfile = () => `FROM ${BUILDER_KIT_BASE}\nLABEL kit=${run}\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt > /built.txt\n`;

  const cases: Case[] = [
    {
      name: 'Info names the service and its contracts',
      async run() {
        const info = await builder.call<{ name: string; contracts: string[] }>('info', {});
        check(info.name, 'Info has no name');
        check(info.contracts.some((x) => x.startsWith('berth.builder.v1')), `Info lists no berth.builder.v1 contract: ${info.contracts.join(', ')}`);
      },
    },
    {
      name: 'Build streams the steps and ends with the image ID',
      async run(ctx) {
        const r = await build(await context(ctx, 'ok', { Dockerfile: dockerfile(), 'hello.txt': `${run}\n` }), { tags: [`berth-kit/${run}:built`] });
        equal(r.error, undefined, 'errorDetail of a good build');
        check(/Step 1\/4 : FROM busybox/.test(r.text), `no first step line: ${r.text}`);
        check(/^sha256:[0-9a-f]{64}$/.test(r.id), `no aux ID: ${r.text}`);
        firstId = r.id;
      },
    },
    {
      name: 'a repeated build uses the cache and gives the same image; no_cache runs every step again',
      async run(ctx) {
        const data = await context(ctx, 'ok', { Dockerfile: dockerfile(), 'hello.txt': `${run}\n` });
        const again = await build(data);
        check(again.text.includes('Using cache'), `a repeat did not use the cache: ${again.text}`);
        equal(again.id, firstId, 'the image of a cached build');
        const fresh = await build(data, { noCache: true });
        equal(fresh.error, undefined, 'errorDetail of a no-cache build');
        check(!fresh.text.includes('Using cache'), 'a no_cache build used the cache');
      },
    },
    {
      name: 'a failing step ends with errorDetail and no image; a missing Dockerfile fails the build',
      async run(ctx) {
        const r = await build(await context(ctx, 'bad', { Dockerfile: `FROM ${BUILDER_KIT_BASE}\nRUN exit 3\n` }), { tags: [`berth-kit/${run}:bad`] });
        check(r.error && /returned a non-zero code: 3/.test(r.error), `errorDetail of a failing step: ${r.error}`);
        equal(r.id, '', 'image ID of a failed build');
        const missing = await build(await context(ctx, 'nodf', { 'hello.txt': 'x' })).then(
          (x) => x.error ?? '',
          (err: Error) => err.message,
        );
        check(/Cannot locate specified Dockerfile/.test(missing), `a missing Dockerfile: ${missing}`);
      },
    },
    {
      name: 'options that cannot work are INVALID_ARGUMENT before anything is built',
      async run(ctx) {
        const data = await context(ctx, 'ok', { Dockerfile: dockerfile(), 'hello.txt': `${run}\n` });
        await rejectsWith(build(data, { isolation: 'hyperv' }), 'invalid_argument', 'an isolation mode Linux lacks');
        await rejectsWith(build(data, { platform: 'windows/arm64' }), 'invalid_argument', 'a platform of another host');
        await rejectsWith(builder.duplex('build', [{ options: undefined, data: Buffer.alloc(0) }]).responses, 'invalid_argument', 'a first message without options');
      },
    },
    {
      name: 'the build cache survives a restart of the endpoint',
      needsRestart: true,
      async run(ctx) {
        await ctx.restart!();
        builder.close();
        const r = await build(await context(ctx, 'ok', { Dockerfile: dockerfile(), 'hello.txt': `${run}\n` }));
        check(r.text.includes('Using cache'), `a build after restart did not use the cache: ${r.text}`);
      },
    },
    {
      name: 'PruneCache forgets cached steps; repeating it is harmless',
      async run(ctx) {
        await builder.call<builderV1.PruneCacheResponse>('pruneCache', { all: true });
        await builder.call<builderV1.PruneCacheResponse>('pruneCache', { all: true });
        const r = await build(await context(ctx, 'ok', { Dockerfile: dockerfile(), 'hello.txt': `${run}\n` }));
        equal(r.error, undefined, 'errorDetail of a build after prune');
        check(!r.text.includes('Using cache'), `a build after PruneCache used the cache: ${r.text}`);
      },
    },
  ];

  return {
    service: 'builder',
    cases,
    setup(ctx) {
      address = ctx.address;
      mkdirSync(ctx.scratch, { recursive: true });
    },
    async cleanup() {
      await builder.call('pruneCache', { all: true }).catch(() => undefined);
      builder.close();
    },
  };
}
