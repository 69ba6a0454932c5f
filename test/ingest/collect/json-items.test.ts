/**
 * The pieces of POST /v1/collect that need no server: the strict JSON reader
 * and the per-item validation with its unit conversions.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateItem, type ItemLimits } from '../../../agent/ingest/collect/json-items.js';
import { JsonSyntaxError, parseStrictJson, UnsafeInteger, type JsonValue } from '../../../agent/ingest/collect/strict-json.js';
import { COUNTER, DISTRIBUTION, GAUGE, HISTOGRAM, SET, TIMER } from '../../../agent/parse/metric-kind.js';

const LIMITS = { maxDepth: 8, maxTopLevelItems: 100 };
const ITEM_LIMITS: ItemLimits = { maxNameBytes: 200, maxTags: 4, maxTagValueBytes: 16, maxEventTextBytes: 32 };

function syntaxReason(text: string, limits = LIMITS): string | undefined {
  try {
    parseStrictJson(text, limits);
    return undefined;
  } catch (e) {
    if (e instanceof JsonSyntaxError) return e.reason;
    throw e;
  }
}

function item(text: string) {
  const { value, duplicates } = parseStrictJson(text, LIMITS);
  return validateItem(value, duplicates, ITEM_LIMITS);
}

describe('parseStrictJson', () => {
  it('reads what JSON.parse reads, for any JSON value without duplicate keys', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => {
        const text = JSON.stringify(v, null, Math.random() < 0.5 ? 0 : 1);
        const got = parseStrictJson(text, { maxDepth: 100, maxTopLevelItems: 1e6 }).value;
        // Large integers come back marked rather than rounded; compare on plain JSON otherwise.
        expect(JSON.stringify(got, (_k, x: unknown) => (x instanceof UnsafeInteger ? Number(x.text) : x))).toBe(JSON.stringify(JSON.parse(text)));
      }),
      { numRuns: 300 },
    );
  });

  it('never accepts what JSON.parse rejects, and fails only with a JsonSyntaxError', () => {
    const jsonish = fc.string({ unit: fc.constantFrom(...'{}[]",:0123456789.-eE tfnrulas\\u\n'.split('')), maxLength: 40 });
    fc.assert(
      fc.property(fc.oneof(jsonish, fc.string({ maxLength: 40 })), (text) => {
        let ours: unknown;
        try {
          ours = parseStrictJson(text, { maxDepth: 100, maxTopLevelItems: 1e6 });
        } catch (e) {
          expect(e).toBeInstanceOf(JsonSyntaxError);
          return;
        }
        expect(ours).toBeDefined();
        expect(() => JSON.parse(text)).not.toThrow();
      }),
      { numRuns: 3000 },
    );
  });

  it('stops at the depth limit without recursing further', () => {
    expect(syntaxReason('[[[[[[[[1]]]]]]]]')).toBeUndefined();
    expect(syntaxReason('[[[[[[[[[1]]]]]]]]]')).toBe('too_deep');
    // A hundred thousand brackets cost one failure at depth 9, not a stack overflow.
    expect(syntaxReason('['.repeat(100_000))).toBe('too_deep');
    expect(syntaxReason('{"a":'.repeat(9) + '1' + '}'.repeat(9))).toBe('too_deep');
  });

  it('stops reading the top-level array at the item limit', () => {
    expect(syntaxReason(`[${'{},'.repeat(99)}{}]`)).toBeUndefined();
    expect(syntaxReason(`[${'{},'.repeat(100)}{}]`)).toBe('too_many_items');
  });

  it('marks objects with duplicate keys and keeps the first value', () => {
    const { value, duplicates } = parseStrictJson('{"name":"a","value":1,"name":"b"}', LIMITS);
    expect(duplicates.get(value as never)).toBe('name');
    expect((value as Record<string, unknown>).name).toBe('a');
    // Escapes are decoded before comparing: "n\u0061me" is "name".
    const again = parseStrictJson('{"name":"a","n\\u0061me":"b"}', LIMITS);
    expect(again.duplicates.get(again.value as never)).toBe('name');
  });

  it('marks integer literals past 2^53 and keeps floats and safe integers as numbers', () => {
    const v = parseStrictJson('[9007199254740991, 9007199254740993, -9007199254740993, 9007199254740993.0, 1e300]', LIMITS).value as JsonValue[];
    expect(v[0]).toBe(9007199254740991);
    expect(v[1]).toEqual(new UnsafeInteger('9007199254740993'));
    expect(v[2]).toEqual(new UnsafeInteger('-9007199254740993'));
    expect(v[3]).toBe(9007199254740992);
    expect(v[4]).toBe(1e300);
  });

  it('treats __proto__ as an ordinary key', () => {
    const v = parseStrictJson('{"__proto__": {"polluted": 1}}', LIMITS).value as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('inherits no key: Object.prototype names are data, and their duplicates are caught', () => {
    const { value, duplicates } = parseStrictJson('{"constructor":1,"toString":"x","hasOwnProperty":true,"valueOf":null}', LIMITS);
    const obj = value as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(['constructor', 'toString', 'hasOwnProperty', 'valueOf']);
    expect(duplicates.get(value as never)).toBeUndefined();
    const empty = parseStrictJson('{}', LIMITS).value as object;
    for (const k of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) expect(k in empty, k).toBe(false);
    const again = parseStrictJson('{"constructor":1,"constructor":2}', LIMITS);
    expect(duplicates.get(again.value as never)).toBe('constructor');
    expect((again.value as Record<string, unknown>).constructor).toBe(1);
  });

  it('keeps nothing from one parse to the next: a failed parse leaves the next one whole', () => {
    expect(syntaxReason('{"name":"a","value":')).toBe('bad_json');
    expect(syntaxReason('[[[[[[[[[[1]]]]]]]]]]')).toBe('too_deep');
    const a = parseStrictJson('{"k":1,"k":2}', LIMITS);
    const b = parseStrictJson('{"k":1}', LIMITS);
    expect(a.duplicates.get(a.value as never)).toBe('k');
    expect(b.duplicates.get(b.value as never)).toBeUndefined();
    expect(b.value).toEqual({ k: 1 });
  });

  it('reads numbers by the JSON grammar, marking only unsafe integer literals', () => {
    const cases: Array<[string, unknown]> = [
      ['0', 0],
      ['-0', -0],
      ['12.5e-1', 1.25],
      ['1E+2', 100],
      ['-9007199254740991', -9007199254740991],
      ['123456789012345678', new UnsafeInteger('123456789012345678')],
      ['1e400', Infinity],
    ];
    for (const [text, want] of cases) expect(parseStrictJson(text, LIMITS).value, text).toEqual(want);
    for (const bad of ['-', '-a', '1.e5', '1e', '1e+', '00', '-01', '.1', '1.2.3']) expect(syntaxReason(bad), bad).toBe('bad_json');
  });

  it('rejects JSON.parse leniencies that are not JSON', () => {
    for (const bad of ['', ' ', '01', '1.', '.5', '+1', '"\t"', "'a'", '[1,]', '{"a":1,}', 'NaN', '"\\x41"', '[1] x', '"abc']) {
      expect(syntaxReason(bad), bad).toBe('bad_json');
    }
  });
});

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
