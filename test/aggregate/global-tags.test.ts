import { describe, expect, it } from 'vitest';
import { aggregatorHarness } from '../support/aggregator-harness.js';
import { globalTags } from '../../agent/aggregate/global-tags.js';
import { decodeTags } from '../../agent/aggregate/tags.js';
import { COUNTER, TIMER } from '../../agent/parse/metric-kind.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { parseMappingText } from '../../agent/mapping/mapping-config.js';

describe('globalTags', () => {
  it('lets the OpenTelemetry environment override the file, and TALLY_TAGS override both', () => {
    const t = globalTags({
      config: { service: 'from-file', env: 'staging', team: 'payments' },
      resource: { 'service.name': 'shop', 'service.version': '1.4.0', 'deployment.environment': 'prod' },
      tallyTags: 'version:1.5.0 region:eu-west-1,team:checkout',
    });
    expect(Object.fromEntries(t.pairs)).toEqual({
      service: 'shop',
      version: '1.5.0',
      env: 'prod',
      team: 'checkout',
      region: 'eu-west-1',
    });
    expect(t.pairs.map(([k]) => k)).toEqual(['env', 'region', 'service', 'team', 'version']);
    expect(t.ignored).toEqual([]);
  });

  it('prefers deployment.environment.name to the older deployment.environment', () => {
    const t = globalTags({
      config: {},
      resource: { 'deployment.environment.name': 'prod', 'deployment.environment': 'old' },
      tallyTags: undefined,
    });
    expect(t.pairs).toEqual([['env', 'prod']]);
  });

  it('reports TALLY_TAGS entries that name no tag, and sanitizes keys as labels', () => {
    const t = globalTags({ config: { 'k8s.pod': 'p-1' }, resource: { 'host.name': 'ignored' }, tallyTags: 'flag,:x,empty:,ok:1' });
    expect(t.ignored).toEqual(['flag', ':x', 'empty:']);
    expect(t.pairs).toEqual([
      ['k8s_pod', 'p-1'],
      ['ok', '1'],
    ]);
  });
});

function setup(tags: Array<[string, string]>, mapper?: Mapper) {
  const h = aggregatorHarness({ globalTags: tags, mapper, histogramBuckets: [1, 10] });
  const attributes = (name: string) => (h.family(name)?.series ?? []).map((s) => ({ ...s.attributes }));
  return { agg: h.agg, send: h.send, attributes };
}

describe('Aggregator with global tags', () => {
  const global: Array<[string, string]> = [
    ['env', 'prod'],
    ['service', 'shop'],
    ['version', '1.4.0'],
  ];

  it('puts them on every kind of series: lines, HTTP samples, events and service checks', () => {
    const { agg, send, attributes } = setup(global);
    send('hits:1|c\nlatency:12|ms|#route:/cart\n_sc|db|0\n_e{5,5}:title|hello');
    agg.recordSample(TIMER, 'checkout.time', 120, decodeTags(''));
    agg.recordEvent('feature-used', 'Export PDF', decodeTags(''), 1_700_000_000_000);
    expect(attributes('hits_total')).toEqual([{ env: 'prod', service: 'shop', version: '1.4.0' }]);
    expect(attributes('latency_seconds')).toEqual([{ env: 'prod', service: 'shop', version: '1.4.0', route: '/cart' }]);
    expect(attributes('checkout_time_seconds')).toEqual([{ env: 'prod', service: 'shop', version: '1.4.0' }]);
    expect(attributes('feature_used_total')).toEqual([{ env: 'prod', service: 'shop', version: '1.4.0', value: 'Export PDF' }]);
    expect(attributes('feature_used_last_seen_timestamp_seconds')).toHaveLength(1);
    expect(attributes('service_check_status')).toEqual([{ env: 'prod', service: 'shop', version: '1.4.0', check: 'db' }]);
    expect(attributes('title_total')).toEqual([{ env: 'prod', service: 'shop', version: '1.4.0' }]);
  });

  it('loses to a tag of the same name sent on the line, in any tag style', () => {
    const { agg, send, attributes } = setup(global);
    send('a:1|c|#version:2.0.0\nb,version=3.0.0:1|c');
    agg.recordSample(COUNTER, 'c', 1, decodeTags('env:dev'));
    expect(attributes('a_total')).toEqual([{ env: 'prod', service: 'shop', version: '2.0.0' }]);
    expect(attributes('b_total')).toEqual([{ env: 'prod', service: 'shop', version: '3.0.0' }]);
    expect(attributes('c_total')).toEqual([{ env: 'dev', service: 'shop', version: '1.4.0' }]);
  });

  it('loses to a mapping rule\'s label of the same name', () => {
    const mapper = new Mapper(parseMappingText('mappings:\n  - match: "api.*.hits"\n    name: api_hits\n    labels: { env: "$1" }\n', 'm.yaml'));
    const { send, attributes } = setup(global, mapper);
    send('api.canary.hits:1|c');
    expect(attributes('api_hits_total')).toEqual([{ env: 'canary', service: 'shop', version: '1.4.0' }]);
  });

  it('keeps one series per tag set whatever the order tags arrive in', () => {
    const { send, attributes } = setup(global);
    send('x:1|c|#a:1,b:2\nx:1|c|#b:2,a:1');
    expect(attributes('x_total')).toEqual([{ a: '1', b: '2', env: 'prod', service: 'shop', version: '1.4.0' }]);
  });

  it('counts toward the series limits as any label', () => {
    const { agg, send } = aggregatorHarness({
      globalTags: global,
      timerBuckets: [1],
      histogramBuckets: [1],
      limits: { maxSeries: 2, maxSeriesPerMetric: 10, maxTags: 64, maxTagValueBytes: 1024 },
    });
    send('a:1|c\nb:1|c\nc:1|c');
    expect(agg.seriesCount).toBe(2);
  });
});
