/**
 * The per-item validation of POST /v1/collect with its unit conversions,
 * on items read by the strict JSON reader.
 */
import { describe, expect, it } from 'vitest';
import { validateItem, type ItemLimits } from '../../../agent/ingest/collect/json-items.js';
import { parseStrictJson } from '../../../agent/ingest/collect/strict-json.js';
import { COUNTER, DISTRIBUTION, GAUGE, HISTOGRAM, SET, TIMER } from '../../../agent/parse/metric-kind.js';

const LIMITS = { maxDepth: 8, maxTopLevelItems: 100 };
const ITEM_LIMITS: ItemLimits = { maxNameBytes: 200, maxTags: 4, maxTagValueBytes: 16, maxEventTextBytes: 32 };

function item(text: string) {
  const r = parseStrictJson(text, LIMITS);
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return validateItem(r.value, r.duplicates, ITEM_LIMITS);
}

describe('validateItem', () => {
  it('reads the issue examples: a timer in seconds and a string event', () => {
    expect(
      item('{"name": "checkout time", "value": 0.12, "unit": "s", "type": "timer", "tags": {"version": "1.4.0"}, "timestamp": "2026-11-22T10:00:00Z"}'),
    ).toEqual({ kind: TIMER, name: 'checkout time', value: 120, tags: { pairs: [['version', '1.4.0']], malformed: 0 } });
    expect(item('{"name": "feature-used", "value": "Export PDF"}')).toEqual({
      kind: 'event',
      name: 'feature-used',
      value: 'Export PDF',
      tags: { pairs: [], malformed: 0 },
      timestampMs: undefined,
    });
  });

  it('infers the type: string → event, number with a time unit → timer, other number → counter', () => {
    expect(item('{"name":"a","value":"x"}')).toMatchObject({ kind: 'event' });
    expect(item('{"name":"a","value":3,"unit":"ms"}')).toMatchObject({ kind: TIMER, value: 3 });
    expect(item('{"name":"a","value":3,"unit":"bytes"}')).toMatchObject({ kind: COUNTER, value: 3 });
    expect(item('{"name":"a","value":3}')).toMatchObject({ kind: COUNTER, value: 3 });
  });

  it('converts time units: timers to milliseconds (the statsd unit), everything else to seconds', () => {
    const cases: Array<[string, string, number]> = [
      ['timer', 'ns', 0.002],
      ['timer', 'us', 2],
      ['timer', 'µs', 2],
      ['timer', 'ms', 2000],
      ['timer', 's', 2_000_000],
      ['timer', 'min', 120_000_000],
      ['gauge', 'ms', 2],
      ['gauge', 'ns', 0.000002],
      ['histogram', 'us', 0.002],
      ['distribution', 'min', 120_000],
      ['counter', 'h', 7_200_000],
    ];
    for (const [type, unit, want] of cases) {
      const got = item(`{"name":"a","value":2000,"type":"${type}","unit":"${unit}"}`);
      expect('value' in got ? got.value : got, `${type} ${unit}`).toBeCloseTo(want, 12);
    }
    expect(item('{"name":"a","value":120,"type":"timer"}')).toMatchObject({ kind: TIMER, value: 120 });
    expect(item('{"name":"a","value":5,"type":"histogram","unit":"bytes"}')).toMatchObject({ kind: HISTOGRAM, value: 5 });
    expect(item('{"name":"a","value":5,"type":"distribution"}')).toMatchObject({ kind: DISTRIBUTION, value: 5 });
    expect(item('{"name":"a","value":0.5,"type":"gauge","unit":"s"}')).toMatchObject({ kind: GAUGE, value: 0.5 });
  });

  it('turns tag numbers and booleans into strings and sets into members', () => {
    expect(item('{"name":"a","value":1,"tags":{"n":2,"b":true,"s":"x"}}')).toMatchObject({
      tags: { pairs: [['n', '2'], ['b', 'true'], ['s', 'x']] },
    });
    expect(item('{"name":"u","value":42,"type":"set"}')).toMatchObject({ kind: SET, value: '42' });
  });

  it('names the reason for each kind of bad item', () => {
    const cases: Array<[string, string]> = [
      ['[1]', 'not_an_object'],
      ['{"value":1}', 'missing_name'],
      ['{"name":"","value":1}', 'missing_name'],
      ['{"name":3,"value":1}', 'bad_name'],
      [`{"name":"${'x'.repeat(201)}","value":1}`, 'bad_name'],
      ['{"name":"a"}', 'missing_value'],
      ['{"name":"a","value":null}', 'missing_value'],
      ['{"name":"a","value":[1]}', 'bad_value'],
      ['{"name":"a","value":-1}', 'bad_value'],
      ['{"name":"a","value":9007199254740993}', 'bad_value'],
      ['{"name":"a","value":9007199254740993,"type":"gauge"}', 'bad_value'],
      ['{"name":"a","value":"x","type":"gauge"}', 'bad_value'],
      ['{"name":"a","value":1,"type":"event"}', 'bad_value'],
      ['{"name":"a","value":1,"type":"meter"}', 'bad_type'],
      ['{"name":"a","value":1,"type":1}', 'bad_type'],
      ['{"name":"a","value":1,"unit":"bytes","type":"timer"}', 'bad_unit'],
      ['{"name":"a","value":1,"unit":"!!"}', 'bad_unit'],
      ['{"name":"a","value":"x","unit":"s"}', 'bad_unit'],
      ['{"name":"a","value":1,"tags":["a"]}', 'bad_tags'],
      ['{"name":"a","value":1,"tags":{"a":{"b":"c"}}}', 'bad_tags'],
      ['{"name":"a","value":1,"tags":{"a":null}}', 'bad_tags'],
      ['{"name":"a","value":1,"tags":{"":"x"}}', 'bad_tags'],
      ['{"name":"a","value":1,"tags":{"a":"1","b":"2","c":"3","d":"4","e":"5"}}', 'too_many_tags'],
      ['{"name":"a","value":"x","tags":{"a":"1","b":"2","c":"3","d":"4"}}', 'too_many_tags'],
      ['{"name":"a","value":1,"tags":{"a":"12345678901234567"}}', 'tag_value_too_long'],
      ['{"name":"a","value":1,"tags":{"a":"1","a":"2"}}', 'duplicate_key'],
      ['{"name":"a","value":1,"value":2}', 'duplicate_key'],
      ['{"name":"a","value":1,"timestamp":"yesterday"}', 'bad_timestamp'],
      ['{"name":"a","value":1,"timestamp":"2026-11-22 10:00"}', 'bad_timestamp'],
      ['{"name":"a","value":1,"timestamp":"2026-13-22T10:00:00Z"}', 'bad_timestamp'],
      ['{"name":"a","value":1,"timestamp":-5}', 'bad_timestamp'],
      ['{"name":"a","value":1,"timestamp":1e12}', 'bad_timestamp'],
      [`{"name":"a","value":"${'x'.repeat(33)}"}`, 'event_too_long'],
      ['{"name":"a","value":1,"tag":{}}', 'unknown_field'],
    ];
    for (const [text, reason] of cases) {
      expect(item(text), text).toMatchObject({ reason });
    }
  });

  it('measures name, tag and event lengths in UTF-8 bytes, not characters', () => {
    // '€' is 3 bytes in UTF-8 and one UTF-16 unit; '😀' is 4 bytes and two units.
    expect(item(`{"name":"${'€'.repeat(66)}","value":1}`)).toMatchObject({ kind: COUNTER });
    expect(item(`{"name":"${'€'.repeat(67)}","value":1}`)).toMatchObject({ reason: 'bad_name' });
    expect(item(`{"name":"a","value":1,"tags":{"t":"${'😀'.repeat(4)}"}}`)).toMatchObject({ kind: COUNTER });
    expect(item(`{"name":"a","value":1,"tags":{"t":"${'😀'.repeat(4)}x"}}`)).toMatchObject({ reason: 'tag_value_too_long' });
    expect(item(`{"name":"a","value":"${'€'.repeat(10)}xx"}`)).toMatchObject({ kind: 'event' });
    expect(item(`{"name":"a","value":"${'€'.repeat(11)}"}`)).toMatchObject({ reason: 'event_too_long' });
  });

  it('reads timestamps as RFC 3339 or epoch seconds', () => {
    expect(item('{"name":"a","value":"x","timestamp":"2026-11-22T10:00:00Z"}')).toMatchObject({ timestampMs: Date.UTC(2026, 10, 22, 10) });
    expect(item('{"name":"a","value":"x","timestamp":"2026-11-22T11:00:00.5+01:00"}')).toMatchObject({ timestampMs: Date.UTC(2026, 10, 22, 10, 0, 0, 500) });
    expect(item('{"name":"a","value":"x","timestamp":1795000000.25}')).toMatchObject({ timestampMs: 1795000000250 });
  });
});
