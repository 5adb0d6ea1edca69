import { describe, expect, it } from 'vitest';
import { counter, enableMetrics, gauge, histogram, mergeMetrics, metricsEnabled, metricsJson } from './index';

describe('metrics', () => {
  it('cost nothing while off: no series, no prom-client', async () => {
    const c = counter('spec_early_total', 'declared before metrics are on', ['kind']);
    c.inc({ kind: 'a' });
    expect(metricsEnabled()).toBe(false);
    expect(await metricsJson()).toBe('[]');
    expect(Object.keys(require.cache).some((k) => k.includes('/prom-client/'))).toBe(false);
    enableMetrics('spec');
    c.inc({ kind: 'a' }, 2);
    const h = histogram('spec_seconds', 'a timing');
    h.observe({}, 0.2);
    gauge('spec_things', 'read when scraped', ['state'], () => [{ labels: { state: 'on' }, value: 3 }]);
    const json = JSON.parse(await metricsJson()) as { name: string; values: { labels: Record<string, string>; value: number }[] }[];
    const early = json.find((m) => m.name === 'spec_early_total')!;
    // Counts made while off are gone: only what happened after enabling.
    expect(early.values).toEqual([{ labels: { kind: 'a', service: 'spec' }, value: 2 }]);
    expect(json.find((m) => m.name === 'spec_things')!.values[0]!.value).toBe(3);
    expect(json.some((m) => m.name === 'process_cpu_user_seconds_total')).toBe(true);
  });

  it('merge several services into one family per name and skip garbage', async () => {
    const part = (service: string, value: number) =>
      JSON.stringify([{ name: 'x_total', help: 'h', type: 'counter', aggregator: 'sum', values: [{ labels: { service }, value }] }]);
    const { text } = await mergeMetrics([part('a', 1), part('b', 2), 'not json']);
    expect(text.match(/# TYPE x_total counter/g)).toHaveLength(1);
    expect(text).toContain('x_total{service="a"} 1');
    expect(text).toContain('x_total{service="b"} 2');
  });
});
