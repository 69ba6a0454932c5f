import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import type { CollectionResult } from '@opentelemetry/sdk-metrics';
import type { Logger } from 'pino';
import type { Aggregator } from '../aggregate/aggregator.js';
import { sendChunks } from './chunked-response.js';
import { expositionChunks } from './exposition-writer.js';
import type { RequestHandler } from '../shared/request-handler.js';
import { takeMetricsSnapshot } from './metrics-snapshot.js';
import { isStoringScraper } from './storing-scraper.js';

export interface StreamedMetricsOptions {
  aggregator: Aggregator;
  /** The resource target_info shows: the agent's own, as the MeterProvider has it. */
  resource: Resource;
  /** Reads the agent's own metrics (tally_*, process), which the SDK's serializer renders after the aggregator's families. */
  selfMetrics?: { collect(): Promise<CollectionResult> };
  logger: Logger;
}

/**
 * GET /metrics: the aggregator's families by Tally's own writer, streamed and
 * gzipped when asked, then the agent's own metrics as the OpenTelemetry
 * serializer writes them (a few dozen series, not worth a second writer).
 */
export function streamedMetricsHandler(opts: StreamedMetricsOptions): RequestHandler {
  // target_info comes from expositionChunks, once, ahead of everything.
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  const selfText = async (): Promise<string> => {
    if (opts.selfMetrics === undefined) return '';
    try {
      const { resourceMetrics, errors } = await opts.selfMetrics.collect();
      if (errors.length > 0) opts.logger.warn({ errors }, "errors while collecting the agent's own metrics");
      if (resourceMetrics.scopeMetrics.every((s) => s.metrics.length === 0)) return '';
      return serializer.serialize(resourceMetrics);
    } catch (err) {
      return `# failed to export the agent's own metrics: ${String(err).replace(/\n/g, ' ')}\n`;
    }
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    // Taken now, before the first yield: see takeMetricsSnapshot for what it fixes and why.
    const snapshot = takeMetricsSnapshot(opts.aggregator, isStoringScraper(req));
    async function* body(): AsyncGenerator<string, void, undefined> {
      yield* expositionChunks(snapshot, opts.resource.attributes);
      const self = await selfText();
      if (self !== '') yield self;
    }
    sendChunks(req, res, body()).catch((err: unknown) => opts.logger.error({ err }, 'could not serve /metrics'));
  };
}
