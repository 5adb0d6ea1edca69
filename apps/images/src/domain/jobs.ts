import { createHash } from 'node:crypto';
import type { ConnectionOptions, Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BerthError, type ErrorKind, internal, kindOf, messageOf } from '@berth/errors';
import type { Emit, JsonMessage } from './progress';

/**
 * Pulls and pushes as bullmq jobs on Redis, so that they are bounded by config, outlive the
 * client that asked (a disconnect only stops the watching) and outlive `images` itself: a job
 * whose worker died is found stalled by the next `images` and run again, which resumes from
 * the blobs already verified (half-written ones are gone with the ingest directory).
 *
 * Terms: a *job* is keyed by what it does (`pull` of a reference for a platform by a user),
 * so a second client asking for the same thing while it runs joins it rather than starting
 * another; its *progress* is a Redis stream of Docker JSON messages ending in an `end` or
 * `error` entry, which every watcher reads from the start.
 */
export type JobKind = 'pull' | 'push';

export interface JobSpec {
  kind: JobKind;
  /** What makes two requests the same job. */
  identity: string;
  data: Record<string, unknown>;
}

export type JobProcessor = (kind: JobKind, data: Record<string, unknown>, emit: Emit) => Promise<void>;

export interface JobOptions {
  redisUrl: string;
  concurrency: Record<JobKind, number>;
  /** A worker that stops renewing its lock for this long is considered dead. */
  lockDurationMs: number;
  /** How long a finished job's progress stays readable. */
  progressTtlSeconds: number;
}

export const DEFAULT_JOB_LOCK_MS = 5_000;
export const DEFAULT_PROGRESS_TTL_SECONDS = 120;
const PREFIX = 'berth';
const BLOCK_MS = 2_000;

function connection(url: string): ConnectionOptions {
  const common = { maxRetriesPerRequest: null, enableOfflineQueue: true } as const;
  if (url.startsWith('unix://')) return { path: url.slice('unix://'.length), ...common };
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), password: u.password || undefined, db: Number(u.pathname.slice(1) || 0), ...common };
}

const progressKey = (job: Job) => `${PREFIX}:images:progress:${job.id}:${job.timestamp}`;

/**
 * bullmq's keys (its QueueKeys) that hold a job not yet finished: waiting, running (a worker
 * that died leaves its job here, for the stalled check to run again), delayed or parked.
 * Finished jobs are removed (removeOnComplete, removeOnFail), so an empty set means no work.
 */
export const UNFINISHED_KEY_TYPES = ['wait', 'active', 'waiting-children', 'paused', 'delayed', 'prioritized'] as const;
const KINDS = ['pull', 'push'] as const;
const queueName = (kind: JobKind) => `images-${kind}`;

interface Started {
  queues: Record<JobKind, Queue>;
  workers: Worker[];
}

export class ImageJobs {
  private readonly redis: Redis;
  private started: Promise<Started> | undefined;
  private closed = false;

  constructor(
    private readonly opts: JobOptions,
    private readonly processor: JobProcessor,
    private readonly onError: (err: unknown) => void,
  ) {
    const conn = connection(opts.redisUrl);
    this.redis = new Redis(conn as never);
    this.redis.on('error', onError);
    // bullmq (its code, queues, workers and their Lua scripts: ~4 MiB of an idle service) is
    // loaded by the first pull or push, or now if Redis holds a job a previous `images` left
    // unfinished, which its workers must run again.
    const keys = KINDS.flatMap((kind) => UNFINISHED_KEY_TYPES.map((t) => `${PREFIX}:${queueName(kind)}:${t}`));
    this.redis.exists(...keys).then(
      (n) => n > 0 && void this.start().catch(onError),
      () => void this.start().catch(onError),
    );
  }

  private start(): Promise<Started> {
    this.started ??= import('bullmq').then(({ Queue, Worker }) => {
      if (this.closed) throw internal('image jobs are closed');
      const { opts, processor, onError } = this;
      // One connection for every queue and worker (each worker adds the blocking one it must have
      // to itself): the service held seven where three do.
      const make = (kind: JobKind) => new Queue(queueName(kind), { connection: this.redis, prefix: PREFIX });
      const queues = { pull: make('pull'), push: make('push') };
      const workers = KINDS.map((kind) => {
        const w = new Worker(
          queueName(kind),
          async (job: Job) => {
            const key = progressKey(job);
            const append = (fields: string[]) => this.redis.multi().xadd(key, '*', ...fields).expire(key, opts.progressTtlSeconds).exec();
            // A rerun after a crash starts its watchers' view afresh.
            await this.redis.del(key);
            let chain = Promise.resolve() as Promise<unknown>;
            const emit = (m: JsonMessage) => {
              chain = chain.then(() => append(['m', JSON.stringify(m)])).catch(onError);
            };
            try {
              await processor(kind, job.data as Record<string, unknown>, emit);
              await chain;
              await append(['end', '']);
            } catch (err) {
              await chain;
              await append(['error', JSON.stringify({ kind: kindOf(err), message: messageOf(err) })]);
              throw err;
            }
          },
          {
            connection: this.redis,
            prefix: PREFIX,
            concurrency: Math.max(1, opts.concurrency[kind]),
            lockDuration: opts.lockDurationMs,
            stalledInterval: opts.lockDurationMs,
            // Rerun once after a crash; a job that kills its worker twice fails.
            maxStalledCount: 1,
          },
        );
        w.on('error', onError);
        return w;
      });
      return { queues, workers };
    });
    return this.started;
  }

  /**
   * Starts the job (or joins the one running for the same thing) and relays its progress
   * until it ends; rejects with the job's own error.
   */
  async run(spec: JobSpec, emit: Emit, signal: AbortSignal): Promise<void> {
    const q = (await this.start()).queues[spec.kind];
    const jobId = createHash('sha256').update(`${spec.kind}\0${spec.identity}`).digest('hex');
    for (let tries = 0; ; tries++) {
      await q.add(spec.kind, spec.data, { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 });
      // The stored job, not our request: when joining, its timestamp names its progress.
      const job = await q.getJob(jobId);
      if (job) return this.follow(q, job, emit, signal);
      // It finished between add and getJob; a fresh one answers quickly (e.g. "up to date").
      if (tries > 3) throw internal('the job vanished before it could be watched');
    }
  }

  private async follow(q: Queue, job: Job, emit: Emit, signal: AbortSignal): Promise<void> {
    const key = progressKey(job);
    const sub = this.redis.duplicate();
    sub.on('error', () => undefined);
    const stop = () => sub.disconnect();
    signal.addEventListener('abort', stop, { once: true });
    try {
      let from = '0';
      while (!signal.aborted) {
        const res = await sub.xread('COUNT', 500, 'BLOCK', BLOCK_MS, 'STREAMS', key, from);
        if (signal.aborted) return;
        if (!res) {
          // Nothing new: make sure the job still exists (it may have failed with its worker).
          const state = await q.getJob(job.id!).then((j) => (j && j.timestamp === job.timestamp ? j.getState() : 'gone'));
          if (state === 'gone' || state === 'failed') {
            const last = await this.redis.xrevrange(key, '+', '-', 'COUNT', 1);
            if (last.length && (last[0]![1][0] === 'end' || last[0]![1][0] === 'error')) continue;
            throw internal(`the ${job.name} was interrupted (its worker stopped); try again`);
          }
          continue;
        }
        for (const [, entries] of res) {
          for (const [id, fields] of entries) {
            from = id;
            const [field, value] = fields as [string, string];
            if (field === 'm') emit(JSON.parse(value) as JsonMessage);
            else if (field === 'end') return;
            else if (field === 'error') {
              const e = JSON.parse(value) as { kind: ErrorKind; message: string };
              throw new BerthError(e.kind, e.message);
            }
          }
        }
      }
    } finally {
      signal.removeEventListener('abort', stop);
      sub.disconnect();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const started = await this.started?.catch(() => undefined);
    if (started) {
      // Forced: a running job is not awaited; it stays active and the next start reruns it.
      await Promise.allSettled(started.workers.map((w) => w.close(true)));
      await Promise.allSettled(Object.values(started.queues).map((q) => q.close()));
    }
    this.redis.disconnect();
  }
}
