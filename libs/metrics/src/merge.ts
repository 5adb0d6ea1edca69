import type * as Prom from 'prom-client';

/**
 * Puts the registries of several processes (prom-client JSON, one per service, each series
 * labelled with its service) together as one Prometheus text exposition, one family per name,
 * as the metrics endpoint serves it. Unreadable parts are skipped, never fatal.
 */
export async function mergeMetrics(parts: string[]): Promise<{ text: string; contentType: string }> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prom = require('prom-client') as typeof Prom;
  const metrics: Prom.MetricObjectWithValues<Prom.MetricValue<string>>[][] = [];
  for (const p of parts) {
    try {
      metrics.push(JSON.parse(p) as Prom.MetricObjectWithValues<Prom.MetricValue<string>>[]);
    } catch {
      // a service that answered garbage is left out of this scrape
    }
  }
  const merged = prom.AggregatorRegistry.aggregate(metrics);
  return { text: await merged.metrics(), contentType: merged.contentType };
}
