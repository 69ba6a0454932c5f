import { ValueType, type Meter } from '@opentelemetry/api';
import type { CollectStats } from './collect-stats.js';

/**
 * The HTTP collect API's own counts on /metrics, read at scrape time like
 * the other self-metrics so request handling only bumps numbers.
 */
export function registerHttpMetrics(meter: Meter, stats: CollectStats): void {
  const counter = (name: string, description: string) =>
    meter.createObservableCounter(name, { description, valueType: ValueType.INT });
  counter('tally_http_requests', 'Responses of POST /v1/collect, by status code.').addCallback((r) => {
    for (const [code, n] of stats.requests) r.observe(n, { code: String(code) });
  });
  counter('tally_http_collect_request_errors', 'Collect requests refused or abandoned as a whole, by reason.').addCallback((r) => {
    for (const [reason, n] of stats.requestErrors) r.observe(n, { reason });
  });
  counter('tally_http_collect_items', 'Collect items (JSON objects or statsd lines), by outcome and reason.').addCallback((r) => {
    r.observe(stats.itemsAccepted, { outcome: 'accepted' });
    for (const [reason, n] of stats.items) r.observe(n, { outcome: 'rejected', reason });
  });
}
