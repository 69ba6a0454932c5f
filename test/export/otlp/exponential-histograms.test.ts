/**
 * Per-sink and per-rule choice of histogram form, through the real
 * Aggregator and OTLP sinks to the test receiver, which
 * decodes with the OpenTelemetry protos: a sink with `histograms:
 * exponential` sends every family that keeps an exponential histogram as
 * one; any OTLP sink sends the families a mapping rule asked for as one; the
 * rest keep their explicit buckets.
 */
import { randomUUID } from 'node:crypto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Aggregator } from '../../../agent/aggregate/aggregator.js';
import { takeMetricsSnapshot } from '../../../agent/export/metrics-snapshot.js';
import type { FlushSnapshot as OtlpSnapshot } from '../../../agent/export/sink.js';
import { createOtlpSink, type OtlpSink, type OtlpSinkOptions } from '../../../agent/export/otlp/otlp-sink.js';
import { Mapper } from '../../../agent/mapping/mapper.js';
import { parseMappingText } from '../../../agent/mapping/mapping-config.js';
import { StatsdParser } from '../../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../../agent/telemetry/ingest-counters.js';
import { metricPoints, OtlpReceiver, type FlatPoint } from '../../support/otlp-receiver.js';

const T0 = 1_700_000_000_000;
const DELTA = 1;
const CUMULATIVE = 2;
const RULES = 'mappings:\n- match: ruled.*\n  name: ruled\n  histogram_options:\n    native_histogram_bucket_factor: 2\n';

/** The agent's aggregation with exponential state for every histogram family, flushed as the flush loop does. */
function agent() {
  let now = T0;
  const aggregator = new Aggregator({
    timerBuckets: [0.1, 1],
    histogramBuckets: [10],
    exponential: 'all',
    mapper: new Mapper(parseMappingText(RULES, 'm.yaml')),
    counters: new IngestCounters(),
    logger: pino({ level: 'silent' }),
    now: () => now,
  });
  const parser = new StatsdParser();
  const resource = resourceFromAttributes({});
  return {
    at: (ms: number) => (now = ms),
    send: (lines: string) => parser.parsePacket(Buffer.from(lines), aggregator),
    async flush(): Promise<OtlpSnapshot> {
      aggregator.flush();
      return { batchId: randomUUID(), timeMs: now, metrics: { resource, scopeMetrics: [] }, families: takeMetricsSnapshot(aggregator, false, now), events: [] };
    },
  };
}

let rx: OtlpReceiver;
const sinks: OtlpSink[] = [];
beforeEach(async () => {
  rx = await OtlpReceiver.start();
});
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()));
  await rx.close();
});

function makeSink(opts: Partial<OtlpSinkOptions>): OtlpSink {
  const sink = createOtlpSink({
    name: 'otlp-test',
    endpoint: rx.url,
    encoding: 'protobuf',
    compression: 'none',
    temporality: 'delta',
    timeoutMs: 5000,
    version: '9.9.9',
    ...opts,
  });
  sinks.push(sink);
  return sink;
}

/** Sends a flush through a sink; returns the points the receiver decoded from it. */
async function ship(sink: OtlpSink, snapshot: OtlpSnapshot): Promise<FlatPoint[]> {
  const before = rx.accepted('metrics').length;
  for (const r of await sink.encode(snapshot)) expect(await sink.send(r, new AbortController().signal)).toEqual({ kind: 'delivered', status: 200 });
  return rx.accepted('metrics').slice(before).flatMap((r) => metricPoints(r.message));
}

const kinds = (points: FlatPoint[]) => Object.fromEntries(points.map((p) => [p.metric, p.kind]));
const total = (side: { bucketCounts: number[] }) => side.bucketCounts.reduce((a, b) => a + b, 0);

describe.each(['protobuf', 'json'] as const)('histogram form per sink and per rule, %s', (encoding) => {
  it('sends exponential histograms in place of the explicit ones to an exponential sink, and the ruled ones to every sink', async () => {
    const a = agent();
    const exponentialSink = makeSink({ encoding, histograms: 'exponential' });
    const explicitSink = makeSink({ encoding });
    a.send('lat:250|ms|#route:/a\nlat:50|ms|#route:/a\nlat:30|ms|#route:/b\nruled.x:3|h\nruled.x:5|h\nhits:1|c');
    a.at(T0 + 10_000);
    const first = await a.flush();
    const toExponential = await ship(exponentialSink, first);
    const toExplicit = await ship(explicitSink, first);
    expect(kinds(toExponential)).toEqual({ lat_seconds: 'exponentialHistogram', ruled: 'exponentialHistogram', hits: 'sum' });
    expect(kinds(toExplicit)).toEqual({ lat_seconds: 'histogram', ruled: 'exponentialHistogram', hits: 'sum' });
    // Each exactly once: the twin replaces the HISTOGRAM, it is not added beside it.
    expect(toExponential.filter((p) => p.metric === 'lat_seconds')).toHaveLength(2);
    expect(toExplicit.filter((p) => p.metric === 'lat_seconds')).toHaveLength(2);

    const routeA = toExponential.find((p) => p.metric === 'lat_seconds' && p.attributes.route === '/a')!;
    expect(routeA).toMatchObject({ unit: 's', temporality: DELTA, description: 'statsd histogram lat_seconds' });
    const v = routeA.value as Record<string, any>;
    expect(v).toMatchObject({ count: 2, zeroCount: 0, scale: 6 });
    expect(v.sum).toBeCloseTo(0.3, 12);
    expect(total(v.positive)).toBe(2);
    // Same series, same times, in either form.
    const explicitA = toExplicit.find((p) => p.metric === 'lat_seconds' && p.attributes.route === '/a')!;
    expect([explicitA.startTimeUnixNano, explicitA.timeUnixNano]).toEqual([routeA.startTimeUnixNano, routeA.timeUnixNano]);
    expect((explicitA.value as Record<string, any>).bucketCounts).toEqual([1, 1, 0]);
    // The rule's factor 2 is scale 0: 3 and 5 fall in (2, 4] and (4, 8].
    for (const points of [toExponential, toExplicit]) {
      expect(points.find((p) => p.metric === 'ruled')!.value).toMatchObject({ scale: 0, count: 2, sum: 8, positive: { offset: 1, bucketCounts: [1, 1] } });
    }

    // A second flush: deltas of the exponential form too, at the scale the wider range needs.
    a.send('lat:4000|ms|#route:/a\nlat:60|ms|#route:/a');
    a.at(T0 + 20_000);
    const second = await ship(exponentialSink, await a.flush());
    const delta = second.find((p) => p.metric === 'lat_seconds' && p.attributes.route === '/a')!;
    const dv = delta.value as Record<string, any>;
    expect(dv.count).toBe(2);
    expect(dv.sum).toBeCloseTo(4.06, 12);
    expect(total(dv.positive)).toBe(2);
    expect(dv.scale).toBeLessThan(6);
    expect(delta.startTimeUnixNano).toBe(routeA.timeUnixNano);
  });
});

describe('cumulative exponential histograms', () => {
  it('carry min and max over the series lifetime, and the explicit sink still gets buckets for the rest', async () => {
    const a = agent();
    const sink = makeSink({ temporality: 'cumulative', histograms: 'exponential' });
    a.send('size:5|h\nsize:0|h\nsize:-3|d');
    a.at(T0 + 10_000);
    await ship(sink, await a.flush());
    a.send('size:40|h');
    a.at(T0 + 20_000);
    const [size] = (await ship(sink, await a.flush())).filter((p) => p.metric === 'size');
    expect(size).toMatchObject({ kind: 'exponentialHistogram', temporality: CUMULATIVE });
    expect(size!.value).toMatchObject({ count: 4, sum: 42, zeroCount: 1, min: -3, max: 40 });
    expect(total((size!.value as Record<string, any>).negative)).toBe(1);
    expect(total((size!.value as Record<string, any>).positive)).toBe(2);
  });
});
