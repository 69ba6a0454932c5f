import { COUNTER, DISTRIBUTION, GAUGE, HISTOGRAM, SET, TIMER, type MetricKind } from './metric-kind.js';
import type { ParseErrorReason } from './parse-error.js';

/**
 * One parsed statsd line, described as offsets into the packet rather than as
 * strings: the hot path never allocates per line. The same object is reused
 * for every line of every packet, so a consumer must copy what it keeps.
 */
export interface ParsedLine {
  buf: Uint8Array;
  nameStart: number;
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
  /** Numeric value; NaN for sets, whose member is the raw value bytes. */
  value: number;
  /** A gauge value written with an explicit sign ("+3", "-2") adjusts the gauge. */
  gaugeDelta: boolean;
  kind: MetricKind;
  rate: number;
  /** The raw DogStatsD tag list after "#", or -1/-1 when absent. */
  tagsStart: number;
  tagsEnd: number;
  /** Tags that become no label: DogStatsD flags without ":" and tags with an empty key. */
  flagTags: number;
  /** FNV-1a over name, kind and raw tags: the key of the series alias table. */
  hash: number;
}

export interface LineSink {
  line(parsed: ParsedLine): void;
  error(reason: ParseErrorReason, buf: Uint8Array, start: number, end: number): void;
}

export function newParsedLine(): ParsedLine {
  return {
    buf: new Uint8Array(0),
    nameStart: 0,
    nameEnd: 0,
    valueStart: 0,
    valueEnd: 0,
    value: 0,
    gaugeDelta: false,
    kind: COUNTER,
    rate: 1,
    tagsStart: -1,
    tagsEnd: -1,
    flagTags: 0,
    hash: 0,
  };
}

const NL = 10;
const CR = 13;
const COLON = 58;
const PIPE = 124;
const HASH = 35;
const AT = 64;
const COMMA = 44;
const DOT = 46;
const PLUS = 43;
const MINUS = 45;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Splits a packet into lines and parses each; errors never stop the rest of the packet. */
export function parsePacket(buf: Uint8Array, out: ParsedLine, sink: LineSink): void {
  const len = buf.length;
  let start = 0;
  while (start < len) {
    let end = buf.indexOf(NL, start);
    if (end === -1) end = len;
    let lineEnd = end;
    if (lineEnd > start && buf[lineEnd - 1] === CR) lineEnd--;
    if (lineEnd > start) {
      const reason = parseLine(buf, start, lineEnd, out);
      if (reason === undefined) sink.line(out);
      else sink.error(reason, buf, start, lineEnd);
    }
    start = end + 1;
  }
}

/** Parses buf[start, end) into `out`; returns the reason when the line is rejected. */
export function parseLine(buf: Uint8Array, start: number, end: number, out: ParsedLine): ParseErrorReason | undefined {
  let highBits = 0;
  let hash = FNV_OFFSET;

  // Name: everything up to the first ':'.
  let i = start;
  while (i < end) {
    const c = buf[i]!;
    if (c === COLON || c === PIPE) break;
    highBits |= c;
    hash = Math.imul(hash ^ c, FNV_PRIME);
    i++;
  }
  if (i === start) return i < end && buf[i] === COLON ? 'empty_name' : 'missing_value';
  if (i === end || buf[i] !== COLON) return 'missing_value';
  const nameEnd = i;
  const valueStart = ++i;
  while (i < end && buf[i] !== PIPE) i++;
  const valueEnd = i;
  if (valueEnd === valueStart) return 'missing_value';
  if (i === end) return 'missing_type';

  // Type: between the first and second '|'.
  const typeStart = ++i;
  while (i < end && buf[i] !== PIPE) i++;
  const typeLen = i - typeStart;
  let kind: MetricKind;
  const t0 = typeLen > 0 ? buf[typeStart] : 0;
  if (typeLen === 1) {
    if (t0 === 99) kind = COUNTER; // c
    else if (t0 === 103) kind = GAUGE; // g
    else if (t0 === 104) kind = HISTOGRAM; // h
    else if (t0 === 100) kind = DISTRIBUTION; // d
    else if (t0 === 115) kind = SET; // s
    else return 'unknown_type';
  } else if (typeLen === 2 && t0 === 109 && buf[typeStart + 1] === 115) {
    kind = TIMER; // ms
  } else {
    return 'unknown_type';
  }
  hash = Math.imul(hash ^ kind, FNV_PRIME);

  // Optional sections: |@rate, |#tags, and DogStatsD's |T<ts> and |c:<container>.
  let rate = 1;
  let haveRate = false;
  let tagsStart = -1;
  let tagsEnd = -1;
  let flagTags = 0;
  while (i < end) {
    const sectionStart = ++i; // skip '|'
    while (i < end && buf[i] !== PIPE) i++;
    const sectionEnd = i;
    if (sectionEnd === sectionStart) {
      // "foo:1|c|" has an empty trailing section: harmless, as other agents accept it.
      continue;
    }
    const s0 = buf[sectionStart];
    if (s0 === AT) {
      if (haveRate) return 'duplicate_field';
      haveRate = true;
      rate = parseNumber(buf, sectionStart + 1, sectionEnd);
      if (!(rate > 0 && rate <= 1)) return 'bad_sample_rate';
    } else if (s0 === HASH) {
      if (tagsStart !== -1) return 'duplicate_field';
      tagsStart = sectionStart + 1;
      tagsEnd = sectionEnd;
      hash = Math.imul(hash ^ HASH, FNV_PRIME);
      let tagStart = tagsStart;
      let sawColon = false;
      for (let j = tagsStart; j <= tagsEnd; j++) {
        const c = j < tagsEnd ? buf[j]! : COMMA;
        if (c === COMMA) {
          if (j > tagStart && !sawColon) flagTags++;
          tagStart = j + 1;
          sawColon = false;
        } else if (c === COLON && j > tagStart) {
          sawColon = true;
        }
        highBits |= c;
        hash = Math.imul(hash ^ c, FNV_PRIME);
      }
    } else if (s0 === 84 /* T */ || (s0 === 99 /* c */ && buf[sectionStart + 1] === COLON)) {
      // Timestamps and container ids are accepted so DogStatsD clients work; they do not change the series.
    } else {
      return 'bad_field';
    }
  }

  // Value.
  let value: number;
  let gaugeDelta = false;
  if (kind === SET) {
    value = NaN;
    for (let j = valueStart; j < valueEnd; j++) highBits |= buf[j]!;
  } else {
    const v0 = buf[valueStart];
    gaugeDelta = kind === GAUGE && (v0 === PLUS || v0 === MINUS);
    value = parseNumber(buf, valueStart, valueEnd);
    if (!Number.isFinite(value)) return 'bad_value';
    if (kind === COUNTER && value < 0) return 'negative_counter';
  }

  if (highBits >= 0x80 && !validUtf8(buf, start, end)) return 'invalid_utf8';

  out.buf = buf;
  out.nameStart = start;
  out.nameEnd = nameEnd;
  out.valueStart = valueStart;
  out.valueEnd = valueEnd;
  out.value = value;
  out.gaugeDelta = gaugeDelta;
  out.kind = kind;
  out.rate = rate;
  out.tagsStart = tagsStart;
  out.tagsEnd = tagsEnd;
  out.flagTags = flagTags;
  out.hash = hash >>> 0;
  return undefined;
}

const STRICT_NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Parses a decimal number from bytes. Plain decimals of up to 15 significant
 * digits take an exact integer path (one correctly rounded division, so the
 * result equals Number()); anything else falls back to a strict regex + Number.
 * Returns NaN for anything that is not a finite decimal literal.
 */
export function parseNumber(buf: Uint8Array, start: number, end: number): number {
  let i = start;
  let negative = false;
  const c0 = buf[i];
  if (c0 === MINUS) {
    negative = true;
    i++;
  } else if (c0 === PLUS) {
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let scale = 1;
  let d: number;
  while (i < end && (d = buf[i]! - 48) >= 0 && d <= 9) {
    mantissa = mantissa * 10 + d;
    digits++;
    i++;
  }
  if (i < end && buf[i] === DOT) {
    i++;
    while (i < end && (d = buf[i]! - 48) >= 0 && d <= 9) {
      mantissa = mantissa * 10 + d;
      scale *= 10;
      digits++;
      i++;
    }
  }
  if (i === end && digits > 0 && digits <= 15) {
    const v = mantissa / scale;
    return negative ? -v : v;
  }
  const text = latin1.decode(buf.subarray(start, end));
  if (!STRICT_NUMBER.test(text)) return NaN;
  const v = Number(text);
  return Number.isFinite(v) ? v : NaN;
}

function validUtf8(buf: Uint8Array, start: number, end: number): boolean {
  try {
    utf8.decode(buf.subarray(start, end));
    return true;
  } catch {
    return false;
  }
}
