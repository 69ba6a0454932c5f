import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import { pushIdentity } from '../../agent/export/built-in-sinks.js';

describe('pushIdentity', () => {
  it('derives job from the service and instance from the host, as the Collector does', () => {
    const r = resourceFromAttributes({ 'service.name': 'tally-agent', 'host.name': 'node-7' });
    expect(pushIdentity(r, undefined, undefined)).toEqual({ job: 'tally-agent', instance: 'node-7' });
  });

  it('prefixes the namespace and prefers service.instance.id to the host name', () => {
    const r = resourceFromAttributes({ 'service.name': 'shop', 'service.namespace': 'retail', 'service.instance.id': 'pod-1', 'host.name': 'node-7' });
    expect(pushIdentity(r, undefined, undefined)).toEqual({ job: 'retail/shop', instance: 'pod-1' });
  });

  it('takes configured values, and leaves a label out when it is configured empty', () => {
    const r = resourceFromAttributes({ 'service.name': 'shop', 'host.name': 'node-7' });
    expect(pushIdentity(r, 'checkout', '')).toEqual({ job: 'checkout' });
    expect(pushIdentity(resourceFromAttributes({}), undefined, undefined)).toEqual({});
  });
});
