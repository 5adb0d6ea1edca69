import type * as Prom from 'prom-client';

/**
 * One Prometheus registry per process, off unless the suite runs with `--metrics-addr`: a
 * service that nobody scrapes loads no prom-client and keeps no timers. Metrics are declared
 * once at module level with `counter`/`histogram`/`gauge` and cost a branch while off.
 */
let registry: Prom.Registry | undefined;
let prom: typeof Prom | undefined;
const pending: (() => void)[] = [];

/** Turns metrics on for this process; every series gets `service="<name>"`. */
export function enableMetrics(service: string): void {
  if (registry) return;
  // Loaded here, not at import, so a process without metrics never pays for it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  prom = require('prom-client') as typeof Prom;
  registry = new prom.Registry();
  registry.setDefaultLabels({ service });
  prom.collectDefaultMetrics({ register: registry });
  for (const make of pending.splice(0)) make();
}

export function metricsEnabled(): boolean {
  return registry !== undefined;
}

/** The registry in prom-client's JSON form (what the Metrics RPC carries); `[]` while off. */
export async function metricsJson(): Promise<string> {
  return registry ? JSON.stringify(await registry.getMetricsAsJSON()) : '[]';
}

type Labels = Record<string, string | number>;

function lazily<M>(make: (p: typeof Prom, r: Prom.Registry) => M): () => M | undefined {
  let metric: M | undefined;
  const create = () => {
    if (!metric && prom && registry) metric = make(prom, registry);
  };
  if (registry) create();
  else pending.push(create);
  return () => {
    create();
    return metric;
  };
}

export interface Counter {
  inc(labels?: Labels, by?: number): void;
}

export function counter(name: string, help: string, labelNames: string[] = []): Counter {
  const get = lazily((p, r) => new p.Counter({ name, help, labelNames, registers: [r] }));
  return { inc: (labels = {}, by = 1) => get()?.inc(labels, by) };
}

export interface Histogram {
  observe(labels: Labels, seconds: number): void;
  /** Starts a timer; calling the result records the seconds since, with labels known only then. */
  time(labels?: Labels): (more?: Labels) => void;
}

export const DEFAULT_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export function histogram(name: string, help: string, labelNames: string[] = [], buckets = DEFAULT_SECONDS_BUCKETS): Histogram {
  const get = lazily((p, r) => new p.Histogram({ name, help, labelNames, buckets, registers: [r] }));
  return {
    observe: (labels, seconds) => get()?.observe(labels, seconds),
    time: (labels = {}) => {
      if (!registry) return () => undefined;
      const start = process.hrtime.bigint();
      return (more = {}) => get()?.observe({ ...labels, ...more }, Number(process.hrtime.bigint() - start) / 1e9);
    },
  };
}

/** A gauge whose values are read when scraped: `collect` returns one value per label set. */
export function gauge(name: string, help: string, labelNames: string[], collect: () => Promise<{ labels: Labels; value: number }[]> | { labels: Labels; value: number }[]): void {
  lazily(
    (p, r) =>
      new p.Gauge({
        name,
        help,
        labelNames,
        registers: [r],
        async collect() {
          this.reset();
          for (const { labels, value } of await collect()) this.set(labels, value);
        },
      }),
  );
}
