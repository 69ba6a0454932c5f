import { emptyResource } from '@opentelemetry/resources';
import { AggregationTemporality, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { ValueType } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { compileSinkMatch } from '../../agent/export/sink-match.js';
import type { FlushSnapshot } from '../../agent/export/sink.js';
import { takeMetricsSnapshot, type MetricsSnapshot } from '../../agent/export/metrics-snapshot.js';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';
import { pino } from 'pino';

function gauge(name: string, points: Array<Record<string, string>>): MetricData {
  return {
    descriptor: { name, description: '', unit: '', valueType: ValueType.DOUBLE },
    aggregationTemporality: AggregationTemporality.CUMULATIVE,
    dataPointType: DataPointType.GAUGE,
    dataPoints: points.map((attributes, i) => ({ attributes, startTime: [0, 0], endTime: [1, 0], value: i })),
  };
}

/** Tally's own families of the same flush, from a real aggregator: the form remote write reads. */
function families(): MetricsSnapshot {
  const aggregator = new Aggregator({ timerBuckets: [0.1, 1], histogramBuckets: [1], counters: new IngestCounters(), logger: pino({ level: 'silent' }) });
  const parser = new StatsdParser();
  parser.parsePacket(
    Buffer.from(
      [
        'checkout.latency:1|ms|#env:prod,route:/a',
        'checkout.latency:1|ms|#env:dev,route:/a',
        'checkout.items:1|g|#env:prod',
        'login:1|c|#env:prod',
        'visitors:ann|s|#env:dev',
        'visitors:bob|s|#env:prod',
        'visitors:cy|s|#env:prod',
      ].join('\n'),
    ),
    aggregator,
  );
  aggregator.flush();
  return takeMetricsSnapshot(aggregator, false, 1);
}

const snapshot: FlushSnapshot = {
  batchId: 'b',
  timeMs: 1,
  families: families(),
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

const familyNames = (s: FlushSnapshot) =>
  s.families.families.map((f) => `${f.family.name}:${f.series.slice(0, f.length).map((x) => x.attributes.env).join(',')}${f.setCounts ? `:${[...f.setCounts].join(',')}` : ''}`);
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

  it("filters Tally's own families by the same names and tags, each set's count staying with its series", () => {
    expect(familyNames(snapshot)).toEqual(['checkout_latency_seconds:prod,dev', 'checkout_items:prod', 'login_total:prod', 'visitors:dev,prod:1,2']);
    // A counter's name is matched without the `_total` the exposition adds, as its OpenTelemetry name above.
    expect(familyNames(compileSinkMatch({ names: ['checkout_*', 'login'] })!(snapshot))).toEqual(['checkout_latency_seconds:prod,dev', 'checkout_items:prod', 'login_total:prod']);
    expect(familyNames(compileSinkMatch({ tags: { env: 'prod' } })!(snapshot))).toEqual(['checkout_latency_seconds:prod', 'checkout_items:prod', 'login_total:prod', 'visitors:prod:2']);
    expect(familyNames(compileSinkMatch({ tags: { env: 'qa' } })!(snapshot))).toEqual([]);
  });
});
