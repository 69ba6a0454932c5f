import { hostname } from 'node:os';
import { envDetector, detectResources, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { TallyConfig } from '../config/schema.js';
import type { SinkConfig } from '../config/sinks-schema.js';
import type { Sink } from './sink.js';
import type { SinkFactoryContext } from './sink-factory.js';

/**
 * The resource of what is pushed: defaults (service.name tally-agent, this
 * host's name), then OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME from the
 * environment, then `resource.attributes` from the config, each winning over
 * the one before, as an operator expects a config file to win.
 */
export async function buildPushResource(config: TallyConfig, version: string): Promise<Resource> {
  const defaults = resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'tally-agent', [ATTR_SERVICE_VERSION]: version, 'host.name': hostname() });
  const env = detectResources({ detectors: [envDetector] });
  await env.waitForAsyncAttributes?.();
  return defaults.merge(env).merge(resourceFromAttributes(config.resource.attributes));
}

export function builtInSinks(resource: Resource, version: string): SinkFactoryContext['builtIn'] {
  const notYet = (config: SinkConfig): Sink => {
    throw new Error(`sink ${config.name}: type ${config.type} is not available in this build (resource ${String(resource.attributes[ATTR_SERVICE_NAME])}, ${version})`);
  };
  return { otlp: notYet, prometheus_remote_write: notYet };
}
