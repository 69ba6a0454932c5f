import type { IncomingMessage } from 'node:http';

/**
 * Whether a /metrics request comes from a scraper that stores what it reads
 * (Prometheus, vmagent, Grafana Alloy, the OpenTelemetry Collector's
 * Prometheus receiver): all of them send the scrape timeout in this header,
 * which a person with curl or a browser does not.
 */
export function isStoringScraper(req: IncomingMessage): boolean {
  return req.headers['x-prometheus-scrape-timeout-seconds'] !== undefined;
}
