import { resourceFromAttributes } from '@opentelemetry/resources';
import { DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import { AggregateProducer } from '../../agent/export/aggregate-producer.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';

function setup() {
  const aggregator = new Aggregator({
    timerBuckets: [0.1, 1],
    histogramBuckets: [10],
    counters: new IngestCounters(),
    logger: pino({ level: 'silent' }),
    now: () => 1_700_000_000_000,
  });
  const parser = new StatsdParser();
  const producer = new AggregateProducer({
    aggregator,
    resource: resourceFromAttributes({}),
    scope: { name: 'test', version: '0' },
    now: () => 1_700_000_005_000,
  });
  const collect = async () => {
    const { resourceMetrics } = await producer.collect();
    return new Map<string, MetricData>(resourceMetrics.scopeMetrics[0]!.metrics.map((m) => [m.descriptor.name, m]));
  };
  return { aggregator, send: (t: string) => parser.parsePacket(Buffer.from(t), aggregator), collect };
}

describe('AggregateProducer', () => {
  it('hands counters, gauges and histograms to the SDK as cumulative data', async () => {
    const { send, collect } = setup();
    send('hits:2|c|#a:1\nhits:3|c|#a:1\ntemp:7|g\nlat:250|ms\nlat:50|ms');
    const m = await collect();
    const hits = m.get('hits')!;
    expect(hits.dataPointType).toBe(DataPointType.SUM);
    expect(hits.dataPoints).toHaveLength(1);
    expect(hits.dataPoints[0]!.value).toBe(5);
    expect({ ...hits.dataPoints[0]!.attributes }).toEqual({ a: '1' });
    expect(hits.dataPoints[0]!.startTime).toEqual([1_700_000_000, 0]);
    expect(hits.dataPoints[0]!.endTime).toEqual([1_700_000_005, 0]);
    expect(m.get('temp')!.dataPoints[0]!.value).toBe(7);
    const lat = m.get('lat_seconds')!;
    expect(lat.descriptor.unit).toBe('s');
    expect(lat.dataPoints[0]!.value).toEqual({ buckets: { boundaries: [0.1, 1], counts: [1, 1, 0] }, sum: 0.3, count: 2 });
  });

  it('shows a set only once its first interval has completed', async () => {
    const { send, collect, aggregator } = setup();
    send('users:a|s\nusers:b|s');
    expect((await collect()).get('users')).toBeUndefined();
    aggregator.flush();
    expect((await collect()).get('users')!.dataPoints[0]!.value).toBe(2);
    send('users:c|s');
    expect((await collect()).get('users')!.dataPoints[0]!.value).toBe(2);
  });
});
