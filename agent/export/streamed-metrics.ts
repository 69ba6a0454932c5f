import type { IncomingMessage, ServerResponse } from 'node:http';
import { PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import type { CollectionResult, ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Logger } from 'pino';
import type { Aggregator } from '../aggregate/aggregator.js';
import { sendChunks } from './chunked-response.js';
import { expositionChunks } from './exposition-writer.js';
import { PROTOBUF_EXPOSITION_TYPE, prefersProtobuf, protobufExpositionChunks, selfMetricsProtobuf } from './exposition-protobuf.js';
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
 * gzipped when asked, then the agent's own metrics. In the text, these are
 * as the OpenTelemetry serializer writes them. A scraper that prefers the
 * protobuf exposition (Prometheus with --enable-feature=native-histograms)
 * gets that instead, with the histogram families that keep exponential
 * state as native histograms (exposition-protobuf.ts).
 */
export function streamedMetricsHandler(opts: StreamedMetricsOptions): RequestHandler {
  // target_info comes from expositionChunks, once, ahead of everything.
  const serializer = new PrometheusSerializer(undefined, false, undefined, true, true);
  /** The agent's own metrics, undefined when there are none. */
  const selfMetrics = async (): Promise<ResourceMetrics | undefined> => {
    if (opts.selfMetrics === undefined) return undefined;
    const { resourceMetrics, errors } = await opts.selfMetrics.collect();
    if (errors.length > 0) opts.logger.warn({ errors }, "errors while collecting the agent's own metrics");
    return resourceMetrics.scopeMetrics.every((s) => s.metrics.length === 0) ? undefined : resourceMetrics;
  };
  const selfText = async (): Promise<string> => {
    try {
      const rm = await selfMetrics();
      return rm === undefined ? '' : serializer.serialize(rm);
    } catch (err) {
      return `# failed to export the agent's own metrics: ${String(err).replace(/\n/g, ' ')}\n`;
    }
  };
  const selfProtobuf = async (): Promise<Uint8Array | undefined> => {
    try {
      const rm = await selfMetrics();
      return rm === undefined ? undefined : selfMetricsProtobuf(rm);
    } catch (err) {
      // The protobuf format has no comment to say it in, as the text does.
      opts.logger.error({ err }, "could not export the agent's own metrics: the scrape goes without them");
      return undefined;
    }
  };
  return (req: IncomingMessage, res: ServerResponse) => {
    // Taken now, before the first yield: see takeMetricsSnapshot for what it fixes and why.
    const snapshot = takeMetricsSnapshot(opts.aggregator, isStoringScraper(req));
    if (prefersProtobuf(req.headers.accept)) {
      async function* protobuf(): AsyncGenerator<Uint8Array, void, undefined> {
        yield* protobufExpositionChunks(snapshot, opts.resource.attributes);
        const self = await selfProtobuf();
        if (self !== undefined) yield self;
      }
      sendChunks(req, res, protobuf(), PROTOBUF_EXPOSITION_TYPE).catch((err: unknown) => opts.logger.error({ err }, 'could not serve /metrics'));
      return;
    }
    async function* body(): AsyncGenerator<string, void, undefined> {
      yield* expositionChunks(snapshot, opts.resource.attributes);
      const self = await selfText();
      if (self !== '') yield self;
    }
    sendChunks(req, res, body()).catch((err: unknown) => opts.logger.error({ err }, 'could not serve /metrics'));
  };
}
