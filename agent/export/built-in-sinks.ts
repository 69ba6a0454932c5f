import type { Resource } from '@opentelemetry/resources';
import { createOtlpSink } from './otlp/otlp-sink.js';
import { otlpResource } from './otlp/otlp-resource.js';
import { createRemoteWriteSink } from './remote-write/remote-write-sink.js';
import type { SinkFactoryContext } from './sink-factory.js';
import type { ResourceConfig } from './sinks-config.js';

/**
 * The resource of what is pushed: defaults (service.name tally-agent, this
 * host's name), then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from the
 * environment, then `resource.attributes` from the config, each winning over
 * the one before, as an operator expects a config file to win.
 */
export function buildPushResource(resource: ResourceConfig, version: string): Resource {
  return otlpResource({ version, attributes: resource.attributes });
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
        externalLabels: { ...pushIdentity(resource, config.job, config.instance), ...config.external_labels },
        maxSeriesPerRequest: config.max_series_per_request,
        nativeHistograms: config.histograms === 'native',
        version,
        logger: ctx.logger.child({ sink: config.name }),
      });
    },
  };
}

/**
 * The `job` and `instance` labels a remote-write sink adds, so two agents
 * writing to one store stay apart as two scraped targets would: derived from
 * the resource as the OpenTelemetry Collector's remote-write exporter does
 * (job = service.namespace/service.name, instance = service.instance.id),
 * with the host name where no instance id is known; a configured value wins,
 * and "" leaves the label out.
 */
export function pushIdentity(resource: Resource, job: string | undefined, instance: string | undefined): Record<string, string> {
  const attr = (key: string) => {
    const v = resource.attributes[key];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const service = attr('service.name');
  const namespace = attr('service.namespace');
  const derivedJob = service === undefined ? undefined : namespace === undefined ? service : `${namespace}/${service}`;
  const out: Record<string, string> = {};
  const j = job ?? derivedJob;
  const i = instance ?? attr('service.instance.id') ?? attr('host.name');
  if (j !== undefined && j !== '') out.job = j;
  if (i !== undefined && i !== '') out.instance = i;
  return out;
}
