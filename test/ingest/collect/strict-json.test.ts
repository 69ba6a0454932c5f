/**
 * The strict JSON reader of POST /v1/collect: what it reads, where it stops,
 * and that a body that is not JSON comes back as a result, never a throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonSyntaxError, parseStrictJson, UnsafeInteger, type JsonValue, type StrictJsonLimits, type StrictJsonResult } from '../../../agent/ingest/collect/strict-json.js';

const LIMITS = { maxDepth: 8, maxTopLevelItems: 100 };

function syntaxReason(text: string, limits = LIMITS): string | undefined {
  const r = parseStrictJson(text, limits);
  return r.ok ? undefined : r.error.reason;
}

/** A parse that the test expects to succeed. */
function parse(text: string, limits: StrictJsonLimits = LIMITS): StrictJsonResult {
  const r = parseStrictJson(text, limits);
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r;
}

describe('parseStrictJson', () => {
  it('reads what JSON.parse reads, for any JSON value without duplicate keys', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (v) => {
        const text = JSON.stringify(v, null, Math.random() < 0.5 ? 0 : 1);
        const got = parse(text, { maxDepth: 100, maxTopLevelItems: 1e6 }).value;
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
        // A throw fails the property: a body that is not JSON must come back as a result.
        const ours = parseStrictJson(text, { maxDepth: 100, maxTopLevelItems: 1e6 });
        if (!ours.ok) {
          expect(ours.error).toBeInstanceOf(JsonSyntaxError);
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
    const { value, duplicates } = parse('{"name":"a","value":1,"name":"b"}', LIMITS);
    expect(duplicates.get(value as never)).toBe('name');
    expect((value as Record<string, unknown>).name).toBe('a');
    // Escapes are decoded before comparing: "n\u0061me" is "name".
    const again = parse('{"name":"a","n\\u0061me":"b"}', LIMITS);
    expect(again.duplicates.get(again.value as never)).toBe('name');
  });

  it('marks integer literals past 2^53 and keeps floats and safe integers as numbers', () => {
    const v = parse('[9007199254740991, 9007199254740993, -9007199254740993, 9007199254740993.0, 1e300]', LIMITS).value as JsonValue[];
    expect(v[0]).toBe(9007199254740991);
    expect(v[1]).toEqual(new UnsafeInteger('9007199254740993'));
    expect(v[2]).toEqual(new UnsafeInteger('-9007199254740993'));
    expect(v[3]).toBe(9007199254740992);
    expect(v[4]).toBe(1e300);
  });

  it('treats __proto__ as an ordinary key', () => {
    const v = parse('{"__proto__": {"polluted": 1}}', LIMITS).value as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('inherits no key: Object.prototype names are data, and their duplicates are caught', () => {
    const { value, duplicates } = parse('{"constructor":1,"toString":"x","hasOwnProperty":true,"valueOf":null}', LIMITS);
    const obj = value as Record<string, unknown>;
    expect(Object.keys(obj)).toEqual(['constructor', 'toString', 'hasOwnProperty', 'valueOf']);
    expect(duplicates.get(value as never)).toBeUndefined();
    const empty = parse('{}', LIMITS).value as object;
    for (const k of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) expect(k in empty, k).toBe(false);
    const again = parse('{"constructor":1,"constructor":2}', LIMITS);
    expect(duplicates.get(again.value as never)).toBe('constructor');
    expect((again.value as Record<string, unknown>).constructor).toBe(1);
  });

  it('keeps nothing from one parse to the next: a failed parse leaves the next one whole', () => {
    expect(syntaxReason('{"name":"a","value":')).toBe('bad_json');
    expect(syntaxReason('[[[[[[[[[[1]]]]]]]]]]')).toBe('too_deep');
    const a = parse('{"k":1,"k":2}', LIMITS);
    const b = parse('{"k":1}', LIMITS);
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
    for (const [text, want] of cases) expect(parse(text, LIMITS).value, text).toEqual(want);
    for (const bad of ['-', '-a', '1.e5', '1e', '1e+', '00', '-01', '.1', '1.2.3']) expect(syntaxReason(bad), bad).toBe('bad_json');
  });

  it('rejects JSON.parse leniencies that are not JSON', () => {
    for (const bad of ['', ' ', '01', '1.', '.5', '+1', '"\t"', "'a'", '[1,]', '{"a":1,}', 'NaN', '"\\x41"', '[1] x', '"abc']) {
      expect(syntaxReason(bad), bad).toBe('bad_json');
    }
  });
});
