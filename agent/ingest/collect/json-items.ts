/**
 * Validation of the JSON items of POST /v1/collect: each item either becomes
 * one aggregator call or one error naming why, so a batch with one bad item
 * still lands the rest.
 */
import type { DecodedTags } from '../../aggregate/tags.js';
import { COUNTER, DISTRIBUTION, GAUGE, HISTOGRAM, SET, TIMER, type MetricKind } from '../../parse/metric-kind.js';
import { UnsafeInteger, type DuplicateKeys, type JsonObject, type JsonValue } from './strict-json.js';

export const ITEM_ERROR_REASONS = [
  'not_an_object',
  'unknown_field',
  'duplicate_key',
  'missing_name',
  'bad_name',
  'missing_value',
  'bad_value',
  'bad_type',
  'bad_unit',
  'bad_tags',
  'too_many_tags',
  'tag_value_too_long',
  'bad_timestamp',
  'event_too_long',
] as const;
export type ItemErrorReason = (typeof ITEM_ERROR_REASONS)[number];

export interface ItemError {
  reason: ItemErrorReason;
  message: string;
}

export type CollectItem =
  | { kind: 'event'; name: string; value: string; tags: DecodedTags; timestampMs: number | undefined }
  | { kind: MetricKind; name: string; value: number | string; tags: DecodedTags };

export interface ItemLimits {
  maxNameBytes: number;
  maxTags: number;
  maxTagValueBytes: number;
  maxEventTextBytes: number;
}

/**
 * Time units and their factors to seconds and to milliseconds (the statsd
 * unit of timers). Two factors rather than one so that "ms" timers and "s"
 * gauges pass through without a rounding multiplication.
 */
const TIME_UNITS: Record<string, { toSeconds: (v: number) => number; toMs: (v: number) => number }> = {
  ns: { toSeconds: (v) => v / 1e9, toMs: (v) => v / 1e6 },
  us: { toSeconds: (v) => v / 1e6, toMs: (v) => v / 1e3 },
  'µs': { toSeconds: (v) => v / 1e6, toMs: (v) => v / 1e3 },
  ms: { toSeconds: (v) => v / 1e3, toMs: (v) => v },
  s: { toSeconds: (v) => v, toMs: (v) => v * 1e3 },
  min: { toSeconds: (v) => v * 60, toMs: (v) => v * 60e3 },
  h: { toSeconds: (v) => v * 3600, toMs: (v) => v * 3600e3 },
};
export const TIME_UNIT_NAMES = Object.keys(TIME_UNITS);

// Other units (bytes, %, 1, By, requests, ...) are passed through unconverted;
// the charset only keeps out what is clearly not a unit.
const OTHER_UNIT = /^[A-Za-z%][A-Za-z0-9_%/.{}-]{0,31}$/;

const TYPES: Record<string, MetricKind | 'event'> = {
  counter: COUNTER,
  gauge: GAUGE,
  timer: TIMER,
  histogram: HISTOGRAM,
  distribution: DISTRIBUTION,
  set: SET,
  event: 'event',
};

const FIELDS = new Set(['name', 'value', 'type', 'unit', 'tags', 'timestamp']);
// RFC 3339 date-time; Date.parse alone also takes many other spellings.
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
// Epoch seconds beyond this (year 5138) are taken for a unit mistake (ms or µs sent as seconds).
const MAX_EPOCH_SECONDS = 1e11;

const err = (reason: ItemErrorReason, message: string): ItemError => ({ reason, message });

// Frozen so that a consumer that ever tried to add to the shared value would fail loudly.
const NO_TAGS: DecodedTags = Object.freeze({ pairs: Object.freeze([]) as unknown as Array<[string, string]>, malformed: 0 });

/**
 * Whether `s` is longer than `limit` bytes in UTF-8. A UTF-16 code unit is at
 * most 3 UTF-8 bytes, so short strings are settled without counting.
 */
function longerThan(s: string, limit: number): boolean {
  return s.length * 3 > limit && Buffer.byteLength(s) > limit;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof UnsafeInteger);
}

function describe(v: JsonValue): string {
  if (v instanceof UnsafeInteger) return `integer ${v.text.slice(0, 40)}`;
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : typeof v;
}

export function validateItem(
  item: JsonValue,
  duplicates: DuplicateKeys,
  limits: ItemLimits,
): CollectItem | ItemError {
  if (!isObject(item)) return err('not_an_object', `expected an object, got ${describe(item)}`);
  const dup = duplicates.get(item);
  if (dup !== undefined) return err('duplicate_key', `key "${dup.slice(0, 100)}" appears more than once`);
  for (const key in item) {
    if (!FIELDS.has(key)) return err('unknown_field', `unknown field "${key.slice(0, 100)}" (expected name, value, type, unit, tags, timestamp)`);
  }

  const name = item.name;
  if (name === undefined || name === '') return err('missing_name', 'name is missing or empty');
  if (typeof name !== 'string') return err('bad_name', `name must be a string, got ${describe(name)}`);
  if (longerThan(name, limits.maxNameBytes)) return err('bad_name', `name longer than ${limits.maxNameBytes} bytes`);

  const value = item.value;
  if (value === undefined || value === null) return err('missing_value', 'value is missing');
  if (value instanceof UnsafeInteger) {
    return err('bad_value', `${value.text.slice(0, 40)} is an integer past 2^53, which cannot be kept exactly`);
  }
  if (typeof value !== 'number' && typeof value !== 'string') return err('bad_value', `value must be a number or a string, got ${describe(value)}`);

  let unit: string | undefined;
  if (item.unit !== undefined) {
    if (typeof item.unit !== 'string' || !(item.unit in TIME_UNITS || OTHER_UNIT.test(item.unit))) {
      return err('bad_unit', `unit must be a time unit (${TIME_UNIT_NAMES.join(', ')}) or a plain unit name such as "bytes"`);
    }
    unit = item.unit;
  }
  const time = unit !== undefined ? TIME_UNITS[unit] : undefined;

  let kind: MetricKind | 'event';
  if (item.type !== undefined) {
    const t = typeof item.type === 'string' ? TYPES[item.type] : undefined;
    if (t === undefined) return err('bad_type', `type must be one of ${Object.keys(TYPES).join(', ')}`);
    kind = t;
  } else {
    kind = typeof value === 'string' ? 'event' : time !== undefined ? TIMER : COUNTER;
  }

  const tags = readTags(item.tags, duplicates, limits, kind === 'event' ? 1 : 0);
  if ('reason' in tags) return tags;

  let timestampMs: number | undefined;
  if (item.timestamp !== undefined) {
    const ts = item.timestamp;
    if (typeof ts === 'string') {
      timestampMs = RFC3339.test(ts) ? Date.parse(ts) : NaN;
    } else if (typeof ts === 'number' && ts >= 0 && ts < MAX_EPOCH_SECONDS) {
      timestampMs = ts * 1000;
    } else {
      timestampMs = NaN;
    }
    if (Number.isNaN(timestampMs)) return err('bad_timestamp', 'timestamp must be RFC 3339 (2026-11-22T10:00:00Z) or epoch seconds');
  }

  if (kind === 'event') {
    if (typeof value !== 'string') return err('bad_value', 'an event value must be a string');
    if (unit !== undefined) return err('bad_unit', 'an event has no unit');
    if (longerThan(value, limits.maxEventTextBytes)) return err('event_too_long', `event value longer than ${limits.maxEventTextBytes} bytes`);
    return { kind: 'event', name, value, tags, timestampMs };
  }
  if (kind === SET) {
    if (unit !== undefined) return err('bad_unit', 'a set has no unit');
    return { kind, name, value: String(value), tags };
  }
  if (typeof value !== 'number') return err('bad_value', `a ${item.type ?? 'counter'} value must be a number`);
  if (!Number.isFinite(value)) return err('bad_value', 'value is not finite');
  if (kind === COUNTER && value < 0) return err('bad_value', 'a counter only goes up: value must not be negative');
  if (kind === TIMER) {
    // statsd timers carry milliseconds, which is also what a unitless JSON timer is taken to be.
    if (unit !== undefined && time === undefined) return err('bad_unit', `a timer needs a time unit (${TIME_UNIT_NAMES.join(', ')})`);
    return { kind, name, value: time === undefined ? value : time.toMs(value), tags };
  }
  return { kind, name, value: time === undefined ? value : time.toSeconds(value), tags };
}

function readTags(
  raw: JsonValue | undefined,
  duplicates: DuplicateKeys,
  limits: ItemLimits,
  extraTags: number,
): DecodedTags | ItemError {
  if (raw === undefined) return NO_TAGS;
  const pairs: Array<[string, string]> = [];
  if (!isObject(raw)) return err('bad_tags', `tags must be an object of strings, got ${describe(raw)}`);
  const dup = duplicates.get(raw);
  if (dup !== undefined) return err('duplicate_key', `tag "${dup.slice(0, 100)}" appears more than once`);
  for (const key in raw) {
    const v = raw[key]!;
    if (key === '') return err('bad_tags', 'a tag key is empty');
    if (typeof v === 'string') pairs.push([key, v]);
    else if (typeof v === 'number' || typeof v === 'boolean') pairs.push([key, String(v)]);
    else if (v instanceof UnsafeInteger) pairs.push([key, v.text]);
    else return err('bad_tags', `tag "${key.slice(0, 100)}" must be a string, number or boolean, got ${describe(v)}`);
    if (longerThan(pairs[pairs.length - 1]![1], limits.maxTagValueBytes)) {
      return err('tag_value_too_long', `tag "${key.slice(0, 100)}" is longer than ${limits.maxTagValueBytes} bytes`);
    }
  }
  if (pairs.length + extraTags > limits.maxTags) return err('too_many_tags', `more than ${limits.maxTags} tags`);
  return { pairs, malformed: 0 };
}
