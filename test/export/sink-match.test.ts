import { emptyResource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { compileSinkMatch } from '../../agent/export/sink-match.js';
import type { FlushSnapshot } from '../../agent/export/sink.js';

function gauge(name: string, points: Array<Record<string, string>>): MetricData {
  return {
    descriptor: { name, description: '', unit: '', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points.map((attributes, i) => ({ attributes, startTime: [0, 0], endTime: [1, 0], value: i })),
  };
}

const snapshot: FlushSnapshot = {
  batchId: 'b',
  timeMs: 1,
  metrics: {
    resource: emptyResource(),
    scopeMetrics: [
      {
        scope: { name: 'tally-agent' },
        metrics: [
          gauge('checkout_latency_seconds', [{ env: 'prod', route: '/a' }, { env: 'dev', route: '/a' }]),
          gauge('checkout_items', [{ env: 'prod' }]),
          gauge('login_total', [{ env: 'prod' }]),
        ],
      },
    ],
  },
  events: [
    { name: 'checkout_failed', value: 'card', attributes: [['env', 'prod']], timeMs: 1 },
    { name: 'feature_used', value: 'Export PDF', attributes: [['env', 'prod']], timeMs: 1 },
    { name: 'checkout_failed', value: 'stock', attributes: [['env', 'dev']], timeMs: 1 },
  ],
};

const names = (s: FlushSnapshot) => s.metrics.scopeMetrics.flatMap((sm) => sm.metrics.map((m) => `${m.descriptor.name}:${m.dataPoints.length}`));

describe('a sink match', () => {
  it('absent or empty, passes the flush through as it is', () => {
    expect(compileSinkMatch(undefined)).toBeUndefined();
    expect(compileSinkMatch({})).toBeUndefined();
  });

  it('by name globs keeps matching metrics and events', () => {
    const out = compileSinkMatch({ names: ['checkout_*'] })!(snapshot);
    expect(names(out)).toEqual(['checkout_latency_seconds:2', 'checkout_items:1']);
    expect(out.events.map((e) => e.value)).toEqual(['card', 'stock']);
  });

  it('by tags keeps only the points (and events) whose tags all hold, exactly or by glob', () => {
    const out = compileSinkMatch({ tags: { env: 'prod' } })!(snapshot);
    expect(names(out)).toEqual(['checkout_latency_seconds:1', 'checkout_items:1', 'login_total:1']);
    expect(out.events.map((e) => e.value)).toEqual(['card', 'Export PDF']);
    const both = compileSinkMatch({ names: ['checkout_*'], tags: { env: 'p*', route: '/a' } })!(snapshot);
    expect(names(both)).toEqual(['checkout_latency_seconds:1']);
    expect(both.events).toEqual([]);
  });

  it('drops scopes left without metrics, and treats glob metacharacters other than * literally', () => {
    const out = compileSinkMatch({ names: ['checkout.latency'] })!(snapshot);
    expect(out.metrics.scopeMetrics).toEqual([]);
  });

  it('filters exponential histograms as the explicit histogram of the same name, so either form carries the same series', () => {
    const twin = (name: string, points: Array<Record<string, string>>, fromMapping: boolean) => ({
      metric: { ...gauge(name, points), dataPointType: DataPointType.EXPONENTIAL_HISTOGRAM } as unknown as MetricData,
      fromMapping,
    });
    const withTwins: FlushSnapshot = {
      ...snapshot,
      exponential: [twin('checkout_latency_seconds', [{ env: 'prod', route: '/a' }, { env: 'dev', route: '/a' }], true), twin('upload_bytes', [{ env: 'dev' }], false)],
    };
    const out = compileSinkMatch({ names: ['checkout_*', 'upload_*'], tags: { env: 'prod' } })!(withTwins);
    expect(out.exponential!.map((t) => [t.metric.descriptor.name, t.metric.dataPoints.map((p) => p.attributes.env), t.fromMapping])).toEqual([
      ['checkout_latency_seconds', ['prod'], true],
    ]);
    expect(compileSinkMatch({ names: ['login_*'] })!(withTwins).exponential).toEqual([]);
  });
});
