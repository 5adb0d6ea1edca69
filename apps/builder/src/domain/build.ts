import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, createReadStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { arch } from 'node:os';
import { detectCompression } from '@berth/compression';
import { invalidArgument, isNotFound } from '@berth/errors';
import {
  contextFilter,
  type ImageConfig,
  type Instruction,
  parseDockerfile,
  type BuildPlan,
  planBuild,
  readIgnorePatterns,
  StageState,
  stepCount,
} from '@berth/dockerfile';
import type { builderV1 } from '@berth/proto';
import { readTar } from '@berth/tar';
import type { Engine, ImageInfo } from '../clients/engine';
import type { BuildCache } from './cache';
import { resolveChown } from './chown';
import { inContext, unpackContext } from './context';
import { copyTar, matchSources, planContextCopy, type Ownership, type PlannedEntry, renameArchive } from './copy-sources';
import { fetchToFile } from './fetch-url';
import { BUILD_STEP_LABEL } from '@berth/config';

/** Label on every container a build makes, so a restarted builder can find and remove them. */
export const BUILD_LABEL = BUILD_STEP_LABEL;
export const DEFAULT_MAX_URL_BYTES = 4 * 1024 * 1024 * 1024;

const short = (id: string) => id.replace(/^sha256:/, '').slice(0, 12);
const GO_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x' };
export const hostPlatform = () => `linux/${GO_ARCH[arch()] ?? arch()}`;

export type Emit = (msg: Record<string, unknown>) => void;

class StepFailed extends Error {}

/** Ends the cache probe: the first step the cache cannot answer without doing work. */
class ProbeEnd extends Error {}

/**
 * One `docker build`: unpack the context, parse and plan the Dockerfile, dispatch every step
 * (metadata steps as config-only images, RUN in a real container, COPY/ADD through a
 * container's archive API), each ending in an image, reusing cached ones; then tag.
 * Output goes out as Docker's JSON messages through `emit`.
 */
export class Build {
  readonly id = randomBytes(8).toString('hex');
  private readonly dir: string;
  private readonly context: string;
  private keep: (rel: string) => boolean = () => true;
  private readonly containers = new Set<string>();
  private readonly stageImages = new Map<string, string>();
  private aborted = false;
  /** `--cache-from`: the named images and their parent chains, by parent ID; null without the option. */
  private cacheFrom: Map<string, ImageInfo[]> | null = null;
  /**
   * The probe pass (see `probeCache`): nothing is emitted, built or pulled, and `cached`
   * collects the recorded images of each stage instead of checking them one by one.
   */
  private probing: { chains: string[][] } | null = null;
  /** The `--cache-from` images themselves, matched by history where they have no parent chain. */
  private cacheFromImages: ImageInfo[] = [];
  /** Recorded images the probe proved to exist: the real pass reuses them without asking images. */
  private readonly verified = new Set<string>();
  /** Images looked up during this build, by reference: image IDs name immutable content. */
  private readonly looked = new Map<string, ImageInfo>();
  /** COPY/ADD plans of the context by instruction: the context does not change during a build. */
  private readonly contextPlans = new Map<string, ReturnType<typeof planContextCopy>>();

  constructor(
    private readonly engine: Engine,
    private readonly cache: BuildCache,
    private readonly o: builderV1.BuildOptions,
    private readonly emit: Emit,
    workRoot: string,
  ) {
    this.dir = join(workRoot, this.id);
    this.context = join(this.dir, 'context');
  }

  private say(text: string): void {
    if (!this.o.quiet) this.out({ stream: text });
  }

  private out(msg: Record<string, unknown>): void {
    if (!this.probing) this.emit(msg);
  }

  abort(): void {
    this.aborted = true;
  }

  /** Checks what can be refused before any work: Docker answers these with a 400. */
  static validate(o: builderV1.BuildOptions): void {
    if (o.platform && o.platform.split(',').some((p) => !hostPlatform().startsWith(p.trim().replace(/\/$/, '')) && p.trim() !== 'linux')) {
      throw invalidArgument(`"${o.platform}" is not the platform of this host (${hostPlatform()}): the classic builder builds only for its own platform`);
    }
    if (o.isolation && o.isolation !== 'default') throw invalidArgument(`Isolation mode '${o.isolation}' is not supported on linux`);
  }

  async run(source: AsyncIterable<Buffer>): Promise<string> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      return await this.runIn(source);
    } finally {
      for (const c of this.containers) await this.engine.removeContainer(c).catch(() => undefined);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private async runIn(source: AsyncIterable<Buffer>): Promise<string> {
    let dockerfileName = this.o.dockerfile || 'Dockerfile';
    if (this.o.remote) {
      const dl = join(this.dir, 'remote');
      await fetchToFile(this.o.remote, dl, DEFAULT_MAX_URL_BYTES, 'remote');
      const head = readFileSync(dl).subarray(0, 512);
      const isTar = detectCompression(head) !== 'none' || head.subarray(257, 262).toString('latin1') === 'ustar';
      if (isTar) await unpackContext(createReadStream(dl) as AsyncIterable<Buffer>, this.context);
      else {
        mkdirSync(this.context, { recursive: true });
        copyFileSync(dl, join(this.context, 'Dockerfile'));
        dockerfileName = 'Dockerfile';
      }
    } else {
      await unpackContext(source, this.context);
    }
    const dfPath = inContext(this.context, dockerfileName, (p) => (statSync(p).isFile() ? p : null));
    if (!dfPath) throw invalidArgument(`Cannot locate specified Dockerfile: ${dockerfileName}`);
    const ignoreFile = inContext(this.context, '.dockerignore', (p) => readFileSync(p, 'utf8'));
    this.keep = contextFilter(readIgnorePatterns(ignoreFile ?? ''), dockerfileName);
    let text = readFileSync(dfPath, 'utf8');
    const labels = Object.entries(this.o.labels);
    if (labels.length) text += `\nLABEL ${labels.map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ')}\n`;
    const parsed = parseDockerfile(text);
    for (const w of parsed.warnings) this.say(`${w}\n`);
    const buildArgs: Record<string, string | undefined> = { ...this.o.buildArgs };
    for (const k of this.o.nullBuildArgs) buildArgs[k] = undefined;
    const plan = planBuild(parsed, buildArgs, this.o.target);
    if (this.o.cacheFrom.length) this.cacheFrom = await this.cacheSources(this.o.cacheFrom);
    else if (!this.o.noCache) await this.probeCache(plan, parsed.escape, buildArgs);
    return this.dispatchAll(plan, parsed.escape, buildArgs);
  }

  /**
   * A cached rebuild used to ask images about every step's recorded image. Instead, a first
   * pass walks the plan with the cache records alone (no output, no containers, no pulls)
   * up to the first step they cannot answer, then checks the last recorded image of each
   * stage: every recorded image was committed on the one before it, and images refuses to
   * delete an image another is built on, so the last one existing proves its whole chain.
   * A stale record (an image deleted since) fails the check and that stage is checked step
   * by step as before, so a stale record never gives an image that is not there.
   */
  private async probeCache(plan: BuildPlan, escape: string, buildArgs: Record<string, string | undefined>): Promise<void> {
    const probe = { chains: [] as string[][] };
    this.probing = probe;
    try {
      await this.dispatchAll(plan, escape, buildArgs);
    } catch {
      // ProbeEnd, or an error the real pass meets again and reports.
    } finally {
      this.probing = null;
      this.stageImages.clear();
    }
    await Promise.all(
      probe.chains.map(async (chain) => {
        const last = chain.at(-1);
        if (last && (await this.lookup(last).catch(() => null))) for (const id of chain) this.verified.add(id);
      }),
    );
  }

  private async dispatchAll(plan: BuildPlan, escape: string, buildArgs: Record<string, string | undefined>): Promise<string> {
    const total = stepCount(plan);
    let n = 0;
    const step = (i: Instruction) => this.say(`Step ${++n}/${total} : ${i.original}\n`);
    for (const a of plan.metaArgs) step(a);
    const used = new Set<string>(Object.keys(plan.metaValues).filter((k) => k in buildArgs));
    let image = '';
    for (const stage of plan.stages) {
      step(stage.from);
      const base = await this.baseImage(stage.base, stage.platform);
      image = base.id;
      // dockerd prints no id for scratch: there is no image yet.
      if (image) this.say(` ---> ${short(image)}\n`);
      this.probing?.chains.push([]);
      const state = new StageState((base.doc.config ?? {}) as ImageConfig, buildArgs, plan.metaValues, escape);
      const triggers = (base.doc.config?.OnBuild as string[] | null | undefined) ?? [];
      if (triggers.length) {
        this.say(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
        for (const t of parseDockerfile(t0(triggers)).instructions) image = await this.dispatch(state, t, image);
      }
      for (const i of stage.commands) {
        if (this.aborted) throw invalidArgument('Build cancelled');
        step(i);
        image = await this.dispatch(state, i, image);
        this.say(` ---> ${short(image)}\n`);
      }
      for (const k of state.usedArgs) used.add(k);
      if (!image) throw invalidArgument('No image was generated. Is your Dockerfile empty?');
      this.out({ aux: { ID: image } });
      this.stageImages.set(String(stage.index), image);
      if (stage.name) this.stageImages.set(stage.name, image);
    }
    if (this.probing) throw new ProbeEnd();
    const unused = StageState.unusedArgs(buildArgs, used);
    if (unused.length) this.say(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    this.say(`Successfully built ${short(image)}\n`);
    for (const t of this.o.tags) await this.engine.tag(image, t);
    for (const t of this.o.tags) this.say(`Successfully tagged ${normalTag(t)}\n`);
    if (this.o.quiet) this.emit({ stream: `${image}\n` });
    return image;
  }

  /** An image by reference, asked of images once per build. */
  private async lookup(ref: string): Promise<ImageInfo | null> {
    const known = this.looked.get(ref);
    if (known) return known;
    const img = await this.engine.image(ref);
    if (img) this.looked.set(ref, img);
    return img;
  }

  private async baseImage(ref: string, platform: string): Promise<ImageInfo> {
    const stage = this.stageImages.get(ref.toLowerCase());
    if (stage) {
      const img = await this.lookup(stage);
      if (!img) throw this.probing ? new ProbeEnd() : invalidArgument(`No such image: ${stage}`);
      return img;
    }
    if (ref === 'scratch') return SCRATCH;
    if (platform && !hostPlatform().startsWith(platform.replace(/\/$/, ''))) {
      throw invalidArgument(`FROM --platform=${platform}: the classic builder builds only for ${hostPlatform()}`);
    }
    let img = this.o.pull ? null : await this.lookup(ref);
    if (!img) {
      if (this.probing) throw new ProbeEnd();
      await this.engine.pull(ref, platform, (json) => {
        const m = JSON.parse(json) as Record<string, unknown>;
        if (m.error) throw invalidArgument(String(m.error));
        if (!this.o.quiet) this.emit(m);
      });
      img = await this.lookup(ref);
      if (!img) throw invalidArgument(`pull access denied for ${ref}, repository does not exist or may require 'docker login'`);
    }
    return img;
  }

  /**
   * `--cache-from` images and every image under them, grouped by parent. Names that match
   * nothing are left out, as dockerd goes on without them.
   */
  private async cacheSources(refs: string[]): Promise<Map<string, ImageInfo[]>> {
    const byParent = new Map<string, ImageInfo[]>();
    const seen = new Set<string>();
    for (const ref of refs) {
      const named = await this.engine.image(ref);
      if (named) this.cacheFromImages.push(named);
      for (let img = named; img && !seen.has(img.id); img = img.parent ? await this.engine.image(img.parent) : null) {
        seen.add(img.id);
        byParent.set(img.parent, [...(byParent.get(img.parent) ?? []), img]);
      }
    }
    return byParent;
  }

  /**
   * The image a step made before, or a new one from `make`. With `--cache-from`, as dockerd's
   * classic builder, only those images' chains count: a child of `parent` there whose last
   * history entry is this step's `createdBy`.
   */
  private async cached(parent: string, key: string, make: () => Promise<string>, createdBy: string, config: Record<string, unknown>): Promise<string> {
    const k = createHash('sha256').update(`${parent}\n${key}`).digest('hex');
    if (this.probing && (this.o.noCache || this.cacheFrom)) throw new ProbeEnd();
    if (!this.o.noCache) {
      let hit: string | undefined;
      if (this.cacheFrom) {
        const history = (i: ImageInfo) => ((i.doc.history as { created_by?: string }[] | undefined) ?? []).at(-1)?.created_by;
        const recorded = this.cache.get(k);
        hit = (this.cacheFrom.get(parent) ?? []).find((i) => i.id === recorded || history(i) === createdBy)?.id;
        if (!hit) hit = await this.fromHistory(parent, createdBy, config);
        if (hit) this.cache.put(k, hit, parent);
      } else {
        hit = this.cache.get(k);
        if (this.probing) {
          if (!hit) throw new ProbeEnd();
          this.probing.chains.at(-1)!.push(hit);
          return hit;
        }
        if (hit && !this.verified.has(hit) && !(await this.engine.image(hit))) hit = undefined;
      }
      if (hit) {
        this.say(' ---> Using cache\n');
        return hit;
      }
    }
    if (this.probing) throw new ProbeEnd();
    const id = await make();
    this.cache.put(k, id, parent);
    return id;
  }

  /**
   * As dockerd's classic builder with `--cache-from` a pulled or loaded image (no parents,
   * only history): an image whose history and layers begin with the parent's and whose next
   * history entry is this step's `createdBy` is the cache. On its last entry the step is that
   * image; before, the step becomes an image of its own, the parent plus that entry and its
   * layer (the same ID each time), and later steps match that image alone.
   */
  private async fromHistory(parent: string, createdBy: string, config: Record<string, unknown>): Promise<string | undefined> {
    const p = parent ? await this.lookup(parent) : null;
    if (parent && !p) return undefined;
    const history = (i: ImageInfo | null) => (i?.doc.history as { created_by?: string }[] | undefined) ?? [];
    const diffIds = (i: ImageInfo | null) => ((i?.doc.rootfs as { diff_ids?: string[] } | undefined)?.diff_ids ?? []);
    const ph = history(p);
    const pd = diffIds(p);
    for (const t of this.cacheFromImages) {
      const th = history(t);
      const td = diffIds(t);
      if (th.length <= ph.length || pd.length > td.length) continue;
      if (ph.some((h, i) => JSON.stringify(h) !== JSON.stringify(th[i])) || pd.some((d, i) => d !== td[i])) continue;
      if (th[ph.length]!.created_by !== createdBy) continue;
      this.cacheFromImages = [t];
      if (th.length - 1 === ph.length) return t.id;
      return this.engine.commitReused(parent, t.id, ph.length, config);
    }
    return undefined;
  }

  private async dispatch(state: StageState, i: Instruction, parent: string): Promise<string> {
    switch (i.name) {
      case 'run':
        return this.run1(state, i, parent);
      case 'copy':
      case 'add':
        return this.copy1(state, i, parent);
      case 'from':
        throw invalidArgument('FROM inside a stage');
      default: {
        const createdBy = state.apply(i);
        return this.cached(parent, `${createdBy}\n${state.author}`, () => this.engine.commitConfig(parent, imageDoc(state), createdBy, state.author), createdBy, imageDoc(state));
      }
    }
  }

  private hostConfig(): Record<string, unknown> {
    const o = this.o;
    let ulimits: unknown[] = [];
    try {
      ulimits = o.ulimitsJson.length ? (JSON.parse(Buffer.from(o.ulimitsJson).toString()) as unknown[]) : [];
    } catch {
      throw invalidArgument('invalid ulimits');
    }
    return {
      NetworkMode: o.networkMode || 'default',
      ExtraHosts: o.extraHosts.length ? o.extraHosts : null,
      ...(o.shmSize ? { ShmSize: Number(o.shmSize) } : {}),
      ...(o.memory ? { Memory: Number(o.memory) } : {}),
      ...(o.memorySwap ? { MemorySwap: Number(o.memorySwap) } : {}),
      ...(o.cpuShares ? { CpuShares: Number(o.cpuShares) } : {}),
      ...(o.cpuPeriod ? { CpuPeriod: Number(o.cpuPeriod) } : {}),
      ...(o.cpuQuota ? { CpuQuota: Number(o.cpuQuota) } : {}),
      ...(o.cpusetCpus ? { CpusetCpus: o.cpusetCpus } : {}),
      ...(o.cpusetMems ? { CpusetMems: o.cpusetMems } : {}),
      ...(ulimits.length ? { Ulimits: ulimits } : {}),
    };
  }

  /** A container of `image` for a step, never started unless it is a RUN. */
  private async container(state: StageState, image: string, cmd: string[], env: string[]): Promise<string> {
    const c = state.config;
    const id = await this.engine.createContainer({
      Image: image,
      Cmd: cmd,
      Entrypoint: [],
      Env: env,
      WorkingDir: c.WorkingDir ?? '',
      User: c.User ?? '',
      Volumes: {},
      AttachStdout: true,
      AttachStderr: true,
      Labels: { [BUILD_LABEL]: this.id },
      HostConfig: this.hostConfig(),
    });
    this.containers.add(id);
    return id;
  }

  private async removeStepContainer(id: string): Promise<void> {
    await this.engine.removeContainer(id);
    this.containers.delete(id);
  }

  private async run1(state: StageState, i: Instruction, parent: string): Promise<string> {
    const step = state.run(i);
    if (!parent) throw new StepFailed(`failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${step.cmd[0]}": stat ${step.cmd[0]}: no such file or directory: unknown`);
    return this.cached(parent, `RUN\n${step.createdBy}`, async () => {
      const envNames = new Set((state.config.Env ?? []).map((e) => e.split('=')[0]));
      const env = [...(state.config.Env ?? []), ...step.args.filter((a) => !envNames.has(a.split('=')[0]))];
      const cid = await this.container(state, parent, step.cmd, env);
      this.say(` ---> Running in ${short(cid)}\n`);
      const out = await this.engine.attach(cid);
      const pump = (async () => {
        for await (const chunk of out.chunks) this.say(chunk.toString('utf8'));
      })();
      let code: number;
      try {
        code = await this.engine.run(cid);
      } finally {
        await Promise.race([pump, new Promise((r) => setTimeout(r, 5_000).unref())]);
        out.close();
      }
      if (code !== 0) {
        if (!this.o.forceRm) this.containers.delete(cid);
        throw new StepFailed(`The command '${step.cmd.join(' ')}' returned a non-zero code: ${code}`);
      }
      const id = await this.engine.commitContainer(cid, imageDoc(state), step.createdBy, state.author);
      if (this.o.rm || this.o.forceRm) {
        this.say(`Removing intermediate container ${short(cid)}\n`);
        await this.removeStepContainer(cid);
      } else this.containers.delete(cid);
      return id;
    }, step.createdBy, imageDoc(state));
  }

  /** Directories on the way to `dir` that the image lacks, outermost first (names under '/'). */
  private async missingParents(cid: string, dir: string): Promise<string[]> {
    const parts = dir.split('/').filter(Boolean);
    const missing: string[] = [];
    for (let k = parts.length; k > 0; k--) {
      const p = parts.slice(0, k).join('/');
      const st = await this.engine.statPath(cid, `/${p}`);
      if (st) {
        if (!st.dir) throw invalidArgument(`failed to copy files: /${p} is not a directory`);
        break;
      }
      missing.unshift(p);
    }
    return missing;
  }

  /** Owner and mode of copied files; names in --chown are looked up in the step's container (none for scratch). */
  private async ownership(chown: string, chmod: string, cid: string): Promise<Ownership> {
    const own: Ownership = { uid: 0, gid: 0, ...(chmod ? { mode: parseInt(chmod, 8) } : {}) };
    if (!chown) return own;
    return { ...own, ...(await resolveChown(chown, (p) => (cid ? this.imageFile(cid, p) : Promise.resolve(null)))) };
  }

  /** A small text file of a step's container, its symlinks followed inside the container; null when absent. */
  private async imageFile(cid: string, path: string): Promise<string | null> {
    let p = path;
    for (let hop = 0; hop < 16; hop++) {
      if (!(await this.engine.statPath(cid, p))) return null;
      let link = '';
      let text: string | null = null;
      try {
        for await (const e of readTar(this.engine.archive(cid, p))) {
          if (e.header.type === 'symlink') link = e.header.linkname;
          else if (e.header.type === 'file') {
            const chunks: Buffer[] = [];
            let n = 0;
            for await (const c of e.content) {
              n += c.length;
              if (n > MAX_ID_FILE_BYTES) throw invalidArgument(`${path} in the image is larger than ${MAX_ID_FILE_BYTES} bytes`);
              chunks.push(c);
            }
            text = Buffer.concat(chunks).toString('utf8');
          }
          break;
        }
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
      if (!link) return text;
      p = posix.resolve(posix.dirname(p), link);
    }
    return null;
  }

  private async copy1(state: StageState, i: Instruction, parent: string): Promise<string> {
    const c = state.copy(i);
    const what = c.add ? 'ADD' : 'COPY';
    const destDirOf = (name: string) => (c.dest.endsWith('/') ? c.dest : posix.dirname(name));
    const createdBy = (label: string) => state.nop(`${what} ${label} in ${c.dest} `);
    /**
     * `put` writes the step's files through `write`: into a container of the parent, or, on
     * scratch (no parent to make a container of), straight into a new first layer.
     */
    const commit = async (key: string, label: string, put: (write: (tar: AsyncIterable<Buffer>) => Promise<void>, own: Ownership, cid: string) => Promise<void>) =>
      this.cached(parent, `${what}\n${key}\n${c.dest}\n${c.chown}\n${c.chmod}`, async () => {
        if (!parent) {
          const own = await this.ownership(c.chown, c.chmod, '');
          let id = '';
          await put(async (tar) => {
            id = await this.engine.commitLayer('', tar, imageDoc(state), createdBy(label), state.author);
          }, own, '');
          if (!id) throw invalidArgument(`${what} failed: nothing to copy`);
          return id;
        }
        const cid = await this.container(state, parent, [...state.shell(), `#(nop) ${what} ${label} in ${c.dest} `], state.config.Env ?? []);
        const own = await this.ownership(c.chown, c.chmod, cid);
        await put((tar) => this.engine.putArchive(cid, '/', tar), own, cid);
        const id = await this.engine.commitContainer(cid, imageDoc(state), createdBy(label), state.author);
        await this.removeStepContainer(cid);
        return id;
      }, createdBy(label), imageDoc(state));

    if (c.from) {
      const src = this.stageImages.get(c.from.toLowerCase()) ?? (await this.baseImage(c.from, '')).id;
      const hashes: string[] = [];
      return commit(`${src}\n${c.sources.join('\n')}`, `--from=${c.from} ${c.sources.join(' ')}`, async (write, own, cid) => {
        if (!cid && c.sources.length > 1) throw invalidArgument(`${what} --from onto scratch: one source per instruction`);
        const from = await this.container(state, src, ['#(nop) COPY --from'], []);
        try {
          for (const s of c.sources) {
            const p = posix.normalize(`/${s}`);
            const st = await this.engine.statPath(from, p);
            if (!st) throw invalidArgument(`${what} failed: stat ${p}: file does not exist`);
            const dir = st.dir ? c.dest.replace(/\/$/, '') || '/' : destDirOf(c.dest);
            const parents = cid ? await this.missingParents(cid, dir) : allParents(dir);
            await write(renameArchive(this.engine.archive(from, p), st.dir, posix.basename(p), c.dest, parents, own));
            hashes.push(p);
          }
        } finally {
          await this.removeStepContainer(from).catch(() => undefined);
        }
      });
    }

    const urls = c.sources.filter((s) => c.add && /^https?:\/\//.test(s));
    const locals = c.sources.filter((s) => !urls.includes(s));
    const entries: PlannedEntry[] = [];
    const sums: string[] = [];
    const labels: string[] = [];
    if (locals.length) {
      const dest = c.sources.length > 1 && !c.dest.endsWith('/') ? `${c.dest}/` : c.dest;
      const planKey = JSON.stringify([what, locals, dest]);
      let planned = this.contextPlans.get(planKey);
      if (!planned) {
        const matched = locals.flatMap((s) => matchSources(this.context, s, this.keep, what));
        planned = planContextCopy(this.context, matched, dest, this.keep, c.add);
        this.contextPlans.set(planKey, planned);
      }
      if (c.sources.length > 1 && !c.dest.endsWith('/')) throw invalidArgument('When using COPY with more than one source file, the destination must be a directory and end with a /');
      entries.push(...planned.entries);
      sums.push(planned.checksum);
      labels.push(planned.label);
    }
    // Whether a URL's content changed is only known by fetching it: the probe ends there.
    if (urls.length && this.probing) throw new ProbeEnd();
    for (const [k, u] of urls.entries()) {
      const file = join(this.dir, `url-${k}`);
      const got = await fetchToFile(u, file, DEFAULT_MAX_URL_BYTES, what);
      const name = c.dest.endsWith('/') || urls.length > 1 ? posix.join(c.dest, posix.basename(new URL(got.url).pathname) || 'index.html') : c.dest;
      const bytes = readFileSync(file);
      const sum = createHash('sha256').update(bytes).digest('hex');
      sums.push(sum);
      labels.push(`file:${sum}`);
      entries.push({ from: file, name: name.replace(/^\/+/, ''), type: 'file', mode: 0o600, size: bytes.length, mtime: got.mtimeSeconds, linkname: '' });
    }
    const label = labels.length === 1 ? labels[0]! : `multi:${createHash('sha256').update(labels.join(',')).digest('hex')}`;
    return commit(sums.join(','), label, async (write, own, cid) => {
      const top = c.dest.endsWith('/') || entries.some((e) => e.type === 'directory' || e.type === 'archive') ? c.dest.replace(/\/$/, '') : posix.dirname(c.dest);
      const dirOf = entries.length === 0 ? c.dest : top || '/';
      const parents = cid ? await this.missingParents(cid, dirOf) : allParents(dirOf);
      await write(copyTar(parents, entries, own));
    });
  }

  static isStepFailure(err: unknown): boolean {
    return err instanceof StepFailed;
  }
}

/** `FROM scratch`: no image, no layers, an empty config. */
const SCRATCH: ImageInfo = { id: '', repoTags: [], parent: '', doc: { config: {} } };

/** /etc/passwd and /etc/group are small; a huge one is not read into memory. */
const MAX_ID_FILE_BYTES = 4 * 1024 * 1024;

/** Every directory on the way to `dir`, outermost first (names under '/'): on scratch none exists. */
function allParents(dir: string): string[] {
  const parts = dir.split('/').filter(Boolean);
  return parts.map((_, k) => parts.slice(0, k + 1).join('/'));
}

/** The image config a step records: the stage's config, as Docker writes it. */
function imageDoc(state: StageState): Record<string, unknown> {
  const c = { ...state.config } as Record<string, unknown>;
  if (!c.OnBuild || (c.OnBuild as unknown[]).length === 0) c.OnBuild = null;
  return c;
}

function t0(triggers: string[]): string {
  return `${triggers.join('\n')}\n`;
}

/** How Docker prints a tag: `name:latest` when no tag was given. */
function normalTag(t: string): string {
  const slash = t.lastIndexOf('/');
  return t.slice(slash + 1).includes(':') || t.includes('@') ? t : `${t}:latest`;
}
