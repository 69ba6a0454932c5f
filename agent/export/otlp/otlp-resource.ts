import { hostname } from 'node:os';
import { detectResources, envDetector, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';

export interface OtlpResourceOptions {
  /** The agent's version: the default `service.version`. */
  version: string;
  /** From the config (`resource.attributes`: service.name, service.version, host.name, ...): they win. */
  attributes?: Record<string, string>;
  /** The default `host.name`; os.hostname() unless given. */
  hostName?: string;
}

/**
 * The Resource a push sink sends, built once at start-up. Precedence, lowest
 * first:
 *   1. defaults: service.name = tally-agent, service.version = the agent's,
 *      host.name = this host's name;
 *   2. the environment, read by @opentelemetry/resources' envDetector:
 *      OTEL_RESOURCE_ATTRIBUTES (key=value,..., percent-decoded; a malformed
 *      value is ignored whole, as the SDK specification asks), then
 *      OTEL_SERVICE_NAME over its service.name;
 *   3. the config's attributes.
 * The environment describes where the process runs; the config file is the
 * operator's deliberate choice for this agent, so it has the last word.
 */
export function otlpResource(opts: OtlpResourceOptions): Resource {
  const defaults = resourceFromAttributes({
    [ATTR_SERVICE_NAME]: 'tally-agent',
    [ATTR_SERVICE_VERSION]: opts.version,
    'host.name': opts.hostName ?? hostname(),
  });
  // envDetector is synchronous: the resource has no pending attributes.
  const fromEnv = detectResources({ detectors: [envDetector] });
  return defaults.merge(fromEnv).merge(resourceFromAttributes(opts.attributes ?? {}));
}
