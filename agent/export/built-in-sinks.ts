import type { Resource } from '@opentelemetry/resources';
import type { TallyConfig } from '../config/schema.js';
import { createOtlpSink } from './otlp/otlp-sink.js';
import { otlpResource } from './otlp/otlp-resource.js';
import { createRemoteWriteSink } from './remote-write/remote-write-sink.js';
import type { SinkFactoryContext } from './sink-factory.js';

/**
 * The resource of what is pushed: defaults (service.name tally-agent, this
 * host's name), then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from the
 * environment, then `resource.attributes` from the config, each winning over
 * the one before, as an operator expects a config file to win.
 */
export function buildPushResource(config: TallyConfig, version: string): Resource {
  return otlpResource({ version, attributes: config.resource.attributes });
}

/** The built-in sink types, made from their config. */
export function builtInSinks(resource: Resource, version: string): SinkFactoryContext['builtIn'] {
  return {
    otlp: (config, ctx) => {
      if (config.type !== 'otlp') throw new TypeError(`sink ${config.name} is not an OTLP sink`);
      return createOtlpSink({
        name: config.name,
        endpoint: config.endpoint,
        encoding: config.encoding,
        compression: config.compression,
        temporality: config.temporality,
        histograms: config.histograms,
        headers: config.headers,
        timeoutMs: config.timeout,
        version,
        resource,
        events: config.events,
        logger: ctx.logger.child({ sink: config.name }),
      });
    },
    prometheus_remote_write: (config, ctx) => {
      if (config.type !== 'prometheus_remote_write') throw new TypeError(`sink ${config.name} is not a remote-write sink`);
      return createRemoteWriteSink({
        name: config.name,
        url: config.endpoint,
        headers: config.headers,
        timeoutMs: config.timeout,
        externalLabels: config.external_labels,
        maxSeriesPerRequest: config.max_series_per_request,
        version,
        logger: ctx.logger.child({ sink: config.name }),
      });
    },
  };
}
