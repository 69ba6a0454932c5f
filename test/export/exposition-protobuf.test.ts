/**
 * The protobuf exposition against the text one for the same snapshot: the
 * same series and values, family by family, except that histogram families
 * keeping exponential state are native histograms here; a family longer
 * than a piece split into messages; new series held at zero for a storing
 * scraper; and which Accept headers get it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { describe, expect, it } from 'vitest';
import type { ExponentialMode } from '../../agent/aggregate/series-store.js';
import { expositionChunks } from '../../agent/export/exposition-writer.js';
import { prefersProtobuf, protobufExpositionChunks } from '../../agent/export/exposition-protobuf.js';
import { goFloat } from '../../agent/export/exposition-text.js';
import { takeMetricsSnapshot } from '../../agent/export/metrics-snapshot.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { parseMappingText } from '../../agent/mapping/mapping-config.js';
import { decodeDelimited, type ProtoFamily } from '../support/prom-protobuf.js';
import { FIXTURES, exposedValues, nativeBucketCounts, seriesId, statsdPipeline } from './remote-write/helpers.js';

const resource = resourceFromAttributes({ 'service.name': 'tally-agent', 'host.name': 'proto-test' });
const SUMMARY_RULES = 'mappings:\n- match: it.summarized\n  name: it_summarized\n  observer_type: summary\n';

function pipelineWith(exponential: ExponentialMode, clock: { now: number }) {
  const p = statsdPipeline({ resource, now: () => clock.now, histogramBuckets: [256, 1024, 4096], mapper: new Mapper(parseMappingText(SUMMARY_RULES, 'rules.yaml')), exponential });
  p.send(readFileSync(join(FIXTURES, 'prometheus-batch-1.statsd'), 'utf8'));
  p.send('it.summarized:3|ms\nit.summarized:9|ms|@0.5\nit.ratio:0.25|c|@0.3\nit.payload:300|h|@0.3|#kind:json');
  // A label pair over 127 bytes (its length takes two bytes) and one that is not ASCII.
  p.send(`it.long:1|c|#note:${'x'.repeat(300)},city:Zürich`);
  // Sets show a value once an interval has ended.
  p.aggregator.flush();
  return p;
}

function concat(pieces: Iterable<Uint8Array>): Uint8Array {
  const all = [...pieces];
  const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Series identity → value, as the text exposition of the same families would show them; native histograms left out (returned apart). */
function protoValues(families: ProtoFamily[]): { values: Map<string, number>; native: Map<string, NonNullable<ProtoFamily['metric'][0]['histogram']>> } {
  const values = new Map<string, number>();
  const native = new Map<string, NonNullable<ProtoFamily['metric'][0]['histogram']>>();
  const put = (name: string, labels: Array<[string, string]>, v: number) => {
    const id = seriesId([['__name__', name], ...labels]);
    if (values.has(id)) throw new Error(`${id} twice`);
    values.set(id, v);
  };
  for (const f of families) {
    for (const m of f.metric) {
      const labels = m.label.map((l): [string, string] => [l.name, l.value]);
      switch (f.type) {
        case 'COUNTER':
          put(f.name, labels, m.counter!.value);
          break;
        case 'GAUGE':
          put(f.name, labels, m.gauge!.value);
          break;
        case 'SUMMARY':
          for (const q of m.summary!.quantile) put(f.name, [...labels, ['quantile', goFloat(q.quantile)]], q.value);
          put(`${f.name}_sum`, labels, m.summary!.sampleSum);
          put(`${f.name}_count`, labels, m.summary!.sampleCount);
          break;
        case 'HISTOGRAM': {
          const h = m.histogram!;
          if (h.schema !== undefined) {
            native.set(seriesId([['__name__', f.name], ...labels]), h);
            break;
          }
          const count = h.sampleCountFloat ?? h.sampleCount!;
          for (const b of h.bucket) put(`${f.name}_bucket`, [...labels, ['le', String(b.upperBound)]], b.cumulativeCountFloat ?? b.cumulativeCount!);
          put(`${f.name}_bucket`, [...labels, ['le', '+Inf']], count);
          put(`${f.name}_count`, labels, count);
          put(`${f.name}_sum`, labels, h.sampleSum!);
          break;
        }
        default:
          throw new Error(`unexpected type ${f.type}`);
      }
    }
  }
  return { values, native };
}

describe('protobufExpositionChunks', () => {
  it('holds the series and values the text shows, when no family keeps exponential state', () => {
    const clock = { now: 1_000 };
    const p = pipelineWith('off', clock);
    const snapshot = takeMetricsSnapshot(p.aggregator, false, 2_000);
    const text = [...expositionChunks(snapshot, resource.attributes)].join('');
    const families = decodeDelimited(concat(protobufExpositionChunks(snapshot, resource.attributes)));
    const { values, native } = protoValues(families);
    expect(native.size).toBe(0);
    expect(values).toEqual(exposedValues(text));
    // Whole counts are integers only; a fractional one (|@0.3) is a float beside its rounded integer.
    const ratio = families.find((f) => f.name === 'it_ratio_total');
    expect(ratio?.type).toBe('COUNTER');
    const latency = families.find((f) => f.name === 'it_latency_seconds')!;
    expect(latency.help).toBe('statsd histogram it_latency_seconds');
    expect(latency.metric[0]!.histogram!.sampleCountFloat).toBeUndefined();
    const summarized = families.find((f) => f.name === 'it_summarized')!.metric[0]!;
    expect(summarized.summary!.sampleCount).toBe(3);
  });

  it('writes a histogram family that keeps exponential state as native histograms, the rest as the text does', () => {
    const clock = { now: 1_000 };
    const p = pipelineWith('all', clock);
    const snapshot = takeMetricsSnapshot(p.aggregator, false, 2_000);
    const text = exposedValues([...expositionChunks(snapshot, resource.attributes)].join(''));
    const { values, native } = protoValues(decodeDelimited(concat(protobufExpositionChunks(snapshot, resource.attributes))));
    // Every text series but the histograms' own is there, with its value.
    const histogramNames = new Set(['it_latency_seconds', 'it_payload']);
    const base = (id: string) => (JSON.parse(id) as Array<[string, string]>).find(([n]) => n === '__name__')![1].replace(/_(bucket|count|sum)$/, '');
    expect(values).toEqual(new Map([...text].filter(([id]) => !histogramNames.has(base(id)))));
    expect([...native.keys()].map(base).sort()).toEqual(['it_latency_seconds', 'it_latency_seconds', 'it_payload']);
    for (const [id, h] of native) {
      const labels = (JSON.parse(id) as Array<[string, string]>).filter(([n]) => n !== '__name__');
      const name = base(id);
      // Native counts are whole: a fractional weight (|@0.3) is rounded, bucket by bucket.
      expect(h.sampleCount).toBe(Math.round(text.get(seriesId([['__name__', `${name}_count`], ...labels]))!));
      expect(h.sampleSum).toBeCloseTo(text.get(seriesId([['__name__', `${name}_sum`], ...labels]))!, 12);
      expect(h.bucket).toEqual([]);
      expect(h.zeroThreshold).toBe(0);
      const buckets = nativeBucketCounts(h.positiveSpan, h.positiveDelta);
      expect([...buckets.values()].reduce((a, b) => a + b, 0) + (h.zeroCount ?? 0)).toBe(h.sampleCount);
    }
    // The ten /checkout timings (7 ms to 2.5 s), each in its bucket at the schema sent.
    const checkout = native.get(seriesId([['__name__', 'it_latency_seconds'], ['route', '/checkout']]))!;
    const want = new Map<number, number>();
    for (const ms of [12, 18, 25, 33, 40, 60, 90, 140, 400, 2500]) {
      const k = Math.ceil(Math.log2(ms / 1000) * 2 ** checkout.schema!);
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    expect(nativeBucketCounts(checkout.positiveSpan, checkout.positiveDelta)).toEqual(want);
  });

  it('splits a family longer than a piece into messages of the same name, help and type', () => {
    const clock = { now: 1_000 };
    const p = statsdPipeline({ resource, now: () => clock.now });
    const lines: string[] = [];
    for (let i = 0; i < 6_000; i++) lines.push(`it.many:${i}|c|#n:${i}`);
    for (let i = 0; i < lines.length; i += 500) p.send(lines.slice(i, i + 500).join('\n'));
    const snapshot = takeMetricsSnapshot(p.aggregator, false, 2_000);
    const pieces = [...protobufExpositionChunks(snapshot, resource.attributes)];
    expect(pieces.length).toBeGreaterThan(2);
    const families = decodeDelimited(concat(pieces));
    const many = families.filter((f) => f.name === 'it_many_total');
    expect(many.length).toBeGreaterThan(2);
    for (const f of many) expect([f.help, f.type]).toEqual([many[0]!.help, 'COUNTER']);
    expect(many.reduce((n, f) => n + f.metric.length, 0)).toBe(6_000);
    expect(protoValues(families).values).toEqual(exposedValues([...expositionChunks(snapshot, resource.attributes)].join('')));
  });

  it('holds a new series at zero for a storing scraper, a native one as an empty histogram Prometheus 2.42 still reads as native', () => {
    const clock = { now: 1_000 };
    const p = pipelineWith('all', clock);
    clock.now = 5_000;
    p.send('it.fresh:30|ms\nit.fresh.count:4|c');
    const snapshot = takeMetricsSnapshot(p.aggregator, true, 5_000);
    const families = decodeDelimited(concat(protobufExpositionChunks(snapshot, resource.attributes)));
    const fresh = families.find((f) => f.name === 'it_fresh_seconds')!.metric[0]!.histogram!;
    expect(fresh).toMatchObject({ sampleCount: 0, sampleSum: 0, zeroCount: 0, zeroThreshold: 2 ** -128, positiveSpan: [], positiveDelta: [] });
    expect(fresh.schema).toBeDefined();
    expect(families.find((f) => f.name === 'it_fresh_count_total')!.metric[0]!.counter!.value).toBe(0);
  });
});

describe('prefersProtobuf', () => {
  it('takes what Prometheus asks for with native histograms on, and nothing else', () => {
    // Prometheus 2.42's Accept with --enable-feature=native-histograms, and without.
    expect(
      prefersProtobuf(
        'application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
      ),
    ).toBe(true);
    expect(prefersProtobuf('application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1')).toBe(false);
    expect(prefersProtobuf(undefined)).toBe(false);
    expect(prefersProtobuf('*/*')).toBe(false);
    expect(prefersProtobuf('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0,text/plain')).toBe(false);
    expect(prefersProtobuf('application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=text')).toBe(false);
    expect(prefersProtobuf('text/plain;q=0.9,application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5')).toBe(false);
    expect(prefersProtobuf('Application/Vnd.Google.Protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited')).toBe(true);
  });
});
