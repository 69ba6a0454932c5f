import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decideSeries, PLAIN } from '../../agent/aggregate/series-decision.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { loadMappingFile } from '../../agent/mapping/mapping-config.js';
import { COUNTER, GAUGE, HISTOGRAM, SET, TIMER } from '../../agent/parse/metric-kind.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const rules = new Mapper(loadMappingFile(join(FIXTURES, 'series-decision.yaml')));
const nativeDefaults = new Mapper(loadMappingFile(join(FIXTURES, 'native-defaults.yaml')));
const tags: Array<[string, string]> = [['env', 'prod']];

describe('decideSeries', () => {
  it('leaves a name no mapping touches as it is, plain and unscaled', () => {
    expect(decideSeries(undefined, TIMER, 'checkout', tags, false)).toEqual({ drop: false, name: 'checkout', pairs: tags, shape: PLAIN, scale: 1 });
    expect(decideSeries(rules, COUNTER, 'checkout', tags, false)).toEqual({ drop: false, name: 'checkout', pairs: tags, shape: PLAIN, scale: 1 });
  });

  it('marks a listed counter as one that may go down', () => {
    expect(decideSeries(undefined, COUNTER, 'queue', tags, true)).toMatchObject({ drop: false, shape: { mapped: false, upDown: true } });
  });

  it("gives unmapped observers the defaults' observer type, and nothing else of the defaults' to counters and gauges", () => {
    const d = decideSeries(rules, TIMER, 'checkout', tags, false);
    expect(d).toMatchObject({ drop: false, name: 'checkout', scale: 1, shape: { mapped: false, summary: { maxAgeMs: 600_000, ageBuckets: 5 } } });
    expect(decideSeries(rules, GAUGE, 'checkout', tags, false)).toMatchObject({ shape: PLAIN });
  });

  it("gives unmapped observers the defaults' native histogram options", () => {
    const d = decideSeries(nativeDefaults, HISTOGRAM, 'size', tags, false);
    expect(d).toMatchObject({ drop: false, shape: { mapped: false, exponential: { maxSize: 160 } } });
    expect(decideSeries(nativeDefaults, COUNTER, 'size', tags, false)).toMatchObject({ shape: PLAIN });
  });

  it("takes a rule's name, labels, buckets, help, ttl and scale; the rule's label wins over a tag", () => {
    const d = decideSeries(rules, TIMER, 'shop.berlin.latency_ms', tags, false);
    expect(d).toEqual({
      drop: false,
      name: 'shop_latency_seconds',
      pairs: [['env', 'prod'], ['shop', 'berlin'], ['env', 'rule']],
      shape: { mapped: true, bounds: [0.1, 1], ttlMs: 60_000, help: 'Latency by shop', summary: undefined, exponential: undefined, upDown: false },
      scale: 0.001,
    });
  });

  it('lets the tag win under honor_labels', () => {
    expect(decideSeries(rules, COUNTER, 'honor.x', tags, false)).toMatchObject({ pairs: [['env', 'rule'], ['env', 'prod']] });
  });

  it('never scales a set, whose members a scale cannot apply to', () => {
    expect(decideSeries(rules, GAUGE, 'users.x', [], false)).toMatchObject({ name: 'users', scale: 10 });
    expect(decideSeries(rules, SET, 'users.x', [], false)).toMatchObject({ name: 'users', scale: 1 });
  });

  it('drops for action: drop and for a name that expands to nothing', () => {
    expect(decideSeries(rules, COUNTER, 'noisy.x', tags, false)).toEqual({ drop: true });
    expect(decideSeries(rules, COUNTER, 'empty.x', tags, false)).toEqual({ drop: true });
  });
});
