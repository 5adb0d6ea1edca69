import type { ClientDuplexStream, ClientReadableStream, ServiceError } from '@grpc/grpc-js';
import { type Peers, unary } from '@berth/clients';
import { isNotFound } from '@berth/errors';
import { connect, fromServiceError } from '@berth/grpc';
import { type imagesV1, shimV1, type supervisorV1 } from '@berth/proto';

export interface ImageInfo {
  id: string;
  repoTags: string[];
  /** The image it was committed on ('' for none: pulled and loaded images). */
  parent: string;
  /** The image's config document (the OCI/Docker config blob). */
  doc: { config?: Record<string, unknown>; os?: string; architecture?: string; [k: string]: unknown };
}

const LONG = { deadlineMs: 24 * 3600_000, idempotent: false };

/** A CommitImage message with every field empty, to spread the ones a message sets over. */
const NO_COMMIT: imagesV1.CommitImageRequest = {
  parent: '', configJson: Buffer.alloc(0), changes: [], comment: '', author: '', tag: '', containerId: '', createdBy: '', data: Buffer.alloc(0), emptyLayer: false, reuseFrom: '', reuseHistoryIndex: 0,
};

/** Output of a step's container, stdout and stderr as they come. */
export interface Output {
  chunks: AsyncIterable<Buffer>;
  close(): void;
}

/**
 * Everything the builder asks of the other services, over their contracts only: images for
 * image records, pulls, metadata commits and tags; the supervisor for step containers, their
 * files and their commits; a container's shim for its output.
 */
export class Engine {
  constructor(private readonly peers: Peers) {}

  async image(reference: string): Promise<ImageInfo | null> {
    const c = this.peers.images;
    try {
      const img = await unary('images', c.getImage.bind(c), { reference });
      return { id: img.id, repoTags: img.repoTags, parent: img.parent, doc: JSON.parse(Buffer.from(img.configJson).toString('utf8')) as ImageInfo['doc'] };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** Pulls, relaying Docker's progress messages (already JSON) to `onMessage`. */
  pull(reference: string, platform: string, onMessage: (json: string) => void): Promise<void> {
    const call: ClientReadableStream<imagesV1.ProgressMessage> = this.peers.images.pullImage({ reference, platform, allTags: false, auth: undefined });
    return new Promise((resolve, reject) => {
      call.on('data', (m: imagesV1.ProgressMessage) => onMessage(m.json));
      call.on('error', (err: ServiceError) => reject(fromServiceError(err, 'images')));
      call.on('end', () => resolve());
    });
  }

  /** An image of `parent`'s layers under a new config (a metadata step). */
  commitConfig(parent: string, config: Record<string, unknown>, createdBy: string, author: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const call = this.peers.images.commitImage((err: ServiceError | null, img?: imagesV1.Image) => (err ? reject(fromServiceError(err, 'images')) : resolve(img!.id)));
      call.write({ ...NO_COMMIT, parent, configJson: Buffer.from(JSON.stringify(config)), author, createdBy, emptyLayer: true });
      call.end();
    });
  }

  /** An image of `parent` plus step `historyIndex` of `from` (its history entry and layer), under `config`. */
  commitReused(parent: string, from: string, historyIndex: number, config: Record<string, unknown>): Promise<string> {
    return new Promise((resolve, reject) => {
      const call = this.peers.images.commitImage((err: ServiceError | null, img?: imagesV1.Image) => (err ? reject(fromServiceError(err, 'images')) : resolve(img!.id)));
      call.write({ ...NO_COMMIT, parent, configJson: Buffer.from(JSON.stringify(config)), reuseFrom: from, reuseHistoryIndex: historyIndex });
      call.end();
    });
  }

  /** An image of `parent`'s layers ('' for none: scratch) plus one layer, the given tar. */
  commitLayer(parent: string, tar: AsyncIterable<Buffer>, config: Record<string, unknown>, createdBy: string, author: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const call = this.peers.images.commitImage((err: ServiceError | null, img?: imagesV1.Image) => (err ? reject(fromServiceError(err, 'images')) : resolve(img!.id)));
      const opts = { ...NO_COMMIT, parent, configJson: Buffer.from(JSON.stringify(config)), author, createdBy };
      void (async () => {
        try {
          call.write(opts);
          for await (const data of tar) {
            if (!call.write({ ...NO_COMMIT, data })) await new Promise((r) => call.once('drain', r));
          }
          call.end();
        } catch (err) {
          call.cancel();
          reject(err);
        }
      })();
    });
  }

  async tag(source: string, target: string): Promise<void> {
    const c = this.peers.images;
    await unary('images', c.tagImage.bind(c), { source, target }, { idempotent: true });
  }

  async createContainer(body: Record<string, unknown>): Promise<string> {
    const c = this.peers.containers;
    const r = await unary('supervisor', c.createContainer.bind(c), { name: '', bodyJson: Buffer.from(JSON.stringify(body)) }, { deadlineMs: 120_000, idempotent: false });
    return r.id;
  }

  /** Attaches to stdout and stderr before start, so no output is lost. */
  async attach(id: string): Promise<Output> {
    const c = this.peers.containers;
    const a = await unary('supervisor', c.shimAddress.bind(c), { reference: id });
    const shim = connect(shimV1.ShimClient, a.address);
    const call: ClientDuplexStream<shimV1.AttachRequest, shimV1.AttachResponse> = shim.attach();
    call.write({ stdin: false, stdout: true, stderr: true, stdinData: Buffer.alloc(0), closeStdin: false });
    const chunks = (async function* () {
      try {
        for await (const m of call as AsyncIterable<shimV1.AttachResponse>) yield Buffer.from(m.data);
      } catch {
        // The stream ends with the container; how it ends is the exit code's business.
      }
    })();
    return {
      chunks,
      close: () => {
        call.cancel();
        shim.close();
      },
    };
  }

  /** Starts the container and waits for its exit code. */
  async run(id: string): Promise<number> {
    const c = this.peers.containers;
    const wait: ClientReadableStream<supervisorV1.WaitContainerResponse> = c.waitContainer({ reference: id, condition: 'next-exit' });
    const exit = new Promise<number>((resolve, reject) => {
      wait.on('data', (m: supervisorV1.WaitContainerResponse) => {
        if (!m.registered) resolve(m.exitCode);
      });
      wait.on('error', (err: ServiceError) => reject(fromServiceError(err, 'supervisor')));
    });
    const registered = new Promise<void>((resolve) => wait.once('data', () => resolve()));
    await registered;
    await unary('supervisor', c.startContainer.bind(c), { reference: id }, { deadlineMs: 120_000, idempotent: false });
    return exit;
  }

  async kill(id: string): Promise<void> {
    const c = this.peers.containers;
    await unary('supervisor', c.killContainer.bind(c), { reference: id, signal: 'SIGKILL' }, { idempotent: false }).catch(() => undefined);
  }

  /** Extracts a tar (as chunks) into `path` in the container; entries cannot leave its root. */
  putArchive(id: string, path: string, tar: AsyncIterable<Buffer>): Promise<void> {
    return new Promise((resolve, reject) => {
      const call = this.peers.containers.putArchive((err: ServiceError | null) => (err ? reject(fromServiceError(err, 'supervisor')) : resolve()));
      void (async () => {
        let first = true;
        try {
          for await (const data of tar) {
            const ok = call.write({ reference: first ? id : '', path: first ? path : '', noOverwriteDirNonDir: false, copyUidGid: true, data });
            first = false;
            if (!ok) await new Promise((r) => call.once('drain', r));
          }
          if (first) call.write({ reference: id, path, noOverwriteDirNonDir: false, copyUidGid: true, data: Buffer.alloc(0) });
          call.end();
        } catch (err) {
          call.cancel();
          reject(err);
        }
      })();
    });
  }

  /** Whether a path exists in the container, and whether it is a directory (Go FileMode bit 31). */
  async statPath(id: string, path: string): Promise<{ dir: boolean } | null> {
    const c = this.peers.containers;
    try {
      const st = await unary('supervisor', c.statContainerPath.bind(c), { reference: id, path });
      return { dir: (st.mode & 0x80000000) !== 0 };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /** A tar of `path` in the container, entries named from its base name. */
  archive(id: string, path: string): AsyncIterable<Buffer> {
    const call: ClientReadableStream<supervisorV1.ArchiveChunk> = this.peers.containers.getArchive({ reference: id, path });
    return (async function* () {
      try {
        for await (const m of call as AsyncIterable<supervisorV1.ArchiveChunk>) if (m.data.length) yield Buffer.from(m.data);
      } catch (err) {
        throw fromServiceError(err as ServiceError, 'supervisor');
      }
    })();
  }

  async commitContainer(id: string, config: Record<string, unknown>, createdBy: string, author: string): Promise<string> {
    const c = this.peers.containers;
    const r = await unary(
      'supervisor',
      c.commitContainer.bind(c),
      { reference: id, tag: '', comment: '', author, changes: [], pause: false, configJson: Buffer.from(JSON.stringify(config)), replaceConfig: true, createdBy },
      LONG,
    );
    return r.id;
  }

  async removeContainer(id: string): Promise<void> {
    const c = this.peers.containers;
    await unary('supervisor', c.deleteContainer.bind(c), { reference: id, force: true, removeVolumes: true }, { deadlineMs: 120_000 });
  }

  async listContainerIdsWithLabel(key: string): Promise<string[]> {
    const c = this.peers.containers;
    const r = await unary('supervisor', c.listContainers.bind(c), { all: true });
    return r.containers.filter((x) => x.labels[key] !== undefined).map((x) => x.id);
  }

  async deleteImage(reference: string): Promise<string[]> {
    const c = this.peers.images;
    const r = await unary('images', c.deleteImage.bind(c), { reference, force: false, noPrune: true, inUse: [] }, { idempotent: false });
    return r.deleted;
  }

  async imagesList(): Promise<imagesV1.Image[]> {
    const c = this.peers.images;
    return (await unary('images', c.listImages.bind(c), {})).images;
  }
}
