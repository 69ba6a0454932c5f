import { COUNTER, DISTRIBUTION, GAUGE, HISTOGRAM, SET, TIMER, type MetricKind } from './metric-kind.js';
import { parseEvent, parseServiceCheck, type ParsedEvent, type ParsedServiceCheck } from './dogstatsd-extras.js';
import type { ParseErrorReason } from '../telemetry/parse-error-reasons.js';
import { finishHash, firstLane, lanes, lowBytes, mixWord, mixWord2, zeroBytes } from './word-scan.js';

/**
 * One parsed statsd line, described as offsets into the packet rather than as
 * strings: the hot path never allocates per line. The same object is reused
 * for every line of every packet, so a consumer must copy what it keeps.
 */
export interface ParsedLine {
  buf: Uint8Array;
  /** The same bytes as `buf`, for word-at-a-time reads. */
  view: DataView;
  nameStart: number;
  nameEnd: number;
  valueStart: number;
  valueEnd: number;
  /**
   * Numeric value; NaN for sets, whose member is the raw value bytes, and for
   * a DogStatsD value list ("1:2:3"), whose samples forEachValue() yields.
   */
  value: number;
  /** Samples in the line: 1, or the length of a value list. */
  valueCount: number;
  /** A gauge value written with an explicit sign ("+3", "-2") adjusts the gauge. */
  gaugeDelta: boolean;
  kind: MetricKind;
  rate: number;
  /** The raw DogStatsD tag list after "#", or -1/-1 when absent. */
  tagsStart: number;
  tagsEnd: number;
  /**
   * Two independent 32-bit hashes of name, kind and raw tags: together the
   * key of the series alias table.
   */
  hash: number;
  hash2: number;
  /** Where the line ended: its newline, or the end of the packet. */
  lineEnd: number;
  /** DogStatsD fields ("|x:...") the agent does not know, left out while the line is kept. */
  unknownFields: number;
  /** Longer lines are rejected (an input, set by the parser's owner). */
  maxLineBytes: number;
  /**
   * Whether negative counts pass (an input): the aggregator then decides per
   * name, keeping them for up-down counters. Otherwise negative_counter.
   */
  negativeCounters: boolean;
  /** Scratch results of scanName/scanTags, kept here so the hot path allocates nothing. */
  scanEnd: number;
  scanHash: number;
  scanHash2: number;
  scanHigh: number;
}

/** Limits of one parser (a listener's or the collect endpoint's). */
export interface StatsdParserOptions {
  maxLineBytes?: number;
  maxEventTextBytes?: number;
  /** Accept negative counts (refused as negative_counter otherwise). */
  negativeCounters?: boolean;
}

export interface LineSink {
  line(parsed: ParsedLine): void;
  event(event: ParsedEvent): void;
  serviceCheck(check: ParsedServiceCheck): void;
  error(reason: ParseErrorReason, buf: Uint8Array, start: number, end: number): void;
}

export function newParsedLine(): ParsedLine {
  return {
    buf: new Uint8Array(0),
    view: new DataView(new ArrayBuffer(0)),
    nameStart: 0,
    nameEnd: 0,
    valueStart: 0,
    valueEnd: 0,
    value: 0,
    valueCount: 1,
    gaugeDelta: false,
    kind: COUNTER,
    rate: 1,
    tagsStart: -1,
    tagsEnd: -1,
    hash: 0,
    hash2: 0,
    lineEnd: 0,
    unknownFields: 0,
    maxLineBytes: 65536,
    negativeCounters: false,
    scanEnd: 0,
    scanHash: 0,
    scanHash2: 0,
    scanHigh: 0,
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
const UNDERSCORE = 95;

const COLON4 = lanes(COLON);
const PIPE4 = lanes(PIPE);
const NL4 = lanes(NL);
const HASH_SEED = 0x9747b28c;
const HASH_SEED2 = 0x3c6ef372;
// The folds of mixWord and mixWord2, written out in scanName and scanTags.
const HASH_M1 = 0x9e3779b1;
const HASH_M2 = 0x85ebca77;
const HASH_X2 = 0x27d4eb2f;

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses statsd packets. Each packet is first copied into one long-lived
 * buffer: a memcpy is cheaper than a DataView per packet, and the hot path
 * then only ever sees one buffer object, which keeps its code monomorphic.
 */
export class StatsdParser {
  private scratch = Buffer.alloc(65536 + 1);
  private view = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
  private readonly out = newParsedLine();

  private readonly maxEventTextBytes: number;

  constructor(opts: StatsdParserOptions = {}) {
    if (opts.maxLineBytes !== undefined) this.out.maxLineBytes = opts.maxLineBytes;
    this.out.negativeCounters = opts.negativeCounters ?? false;
    this.maxEventTextBytes = opts.maxEventTextBytes ?? 4096;
  }

  /** Splits a packet into lines and parses each; errors never stop the rest of the packet. */
  parsePacket(packet: Uint8Array, sink: LineSink): void {
    this.parseRange(packet, 0, packet.length, sink);
  }

  /** parsePacket for bytes [from, to) of a larger buffer, such as one slot of a batched receive. */
  parseRange(source: Uint8Array, from: number, to: number, sink: LineSink): void {
    const len = to - from;
    if (len + 1 > this.scratch.length) {
      this.scratch = Buffer.alloc(len + 1);
      this.view = new DataView(this.scratch.buffer, this.scratch.byteOffset, this.scratch.byteLength);
    }
    const buf = this.scratch;
    const view = this.view;
    const out = this.out;
    buf.set(from === 0 && to === source.length ? source : source.subarray(from, to));
    // A sentinel newline bounds every search to this packet's bytes.
    buf[len] = NL;
    // Fields stop at a newline, so lines are found while parsing them rather than by a search per line.
    let start = 0;
    while (start < len) {
      const c0 = buf[start];
      if (c0 === NL || (c0 === CR && buf[start + 1] === NL)) {
        start += c0 === NL ? 1 : 2;
        continue;
      }
      if (c0 === UNDERSCORE && this.isExtra(start)) {
        const end = buf.indexOf(NL, start);
        this.parseExtra(start, buf[end - 1] === CR ? end - 1 : end, sink);
        start = end + 1;
        continue;
      }
      let reason = parseLine(buf, view, start, len, out);
      let end = reason === undefined ? out.lineEnd : buf.indexOf(NL, start);
      let lineEnd = end;
      if (buf[end - 1] === CR) {
        // A "\r\n" line end (rare): the CR was read as part of the last field, so parse the line again without it.
        lineEnd = end - 1;
        reason = parseLine(buf, view, start, lineEnd, out);
        if (reason !== undefined) end = buf.indexOf(NL, start);
      }
      if (reason === undefined) sink.line(out);
      else sink.error(reason, buf, start, lineEnd);
      start = end + 1;
    }
  }

  /** DogStatsD events ("_e{") and service checks ("_sc|"): rare, so parsed with strings. */
  private isExtra(start: number): boolean {
    const buf = this.scratch;
    return (buf[start + 1] === 101 && buf[start + 2] === 123) || (buf[start + 1] === 115 && buf[start + 2] === 99 && buf[start + 3] === PIPE);
  }

  private parseExtra(start: number, end: number, sink: LineSink): void {
    const line = this.scratch.subarray(start, end);
    if (end - start > this.out.maxLineBytes) {
      sink.error('line_too_long', this.scratch, start, end);
      return;
    }
    const parsed = line[1] === 101 ? parseEvent(line, this.maxEventTextBytes) : parseServiceCheck(line);
    if (typeof parsed === 'string') sink.error(parsed, this.scratch, start, end);
    else if ('title' in parsed) sink.event(parsed);
    else sink.serviceCheck(parsed);
  }


}

/**
 * Scans a name: buf[i, end) up to the first ':', '|' or newline, folding every byte
 * passed into two hashes four at a time. A field's words start at the
 * field's first byte, so equal fields hash equally wherever they sit.
 *
 * scanName and scanTags are twins that differ only in their delimiters. Kept
 * apart, each has one call site and constant delimiters that TurboFan folds
 * in; the folds are written out because V8 stops inlining helpers into a
 * caller this large. Together this halved the per-byte cost in a profile.
 */
function scanName(buf: Uint8Array, view: DataView, i: number, end: number, out: ParsedLine): void {
  let h = HASH_SEED;
  let h2 = HASH_SEED2;
  let high = 0;
  let part = 0;
  let found = false;
  for (; i + 4 <= end; i += 4) {
    const w = view.getInt32(i, true);
    const hits = zeroBytes(w ^ COLON4) | zeroBytes(w ^ PIPE4) | zeroBytes(w ^ NL4);
    if (hits !== 0) {
      const n = firstLane(hits);
      part = lowBytes(w, n);
      i += n;
      found = true;
      break;
    }
    h = (h + Math.imul(w, HASH_M1)) | 0;
    h = (h << 13) | (h >>> 19);
    h2 = (h2 + Math.imul(w ^ HASH_X2, HASH_M2)) | 0;
    h2 = (h2 << 17) | (h2 >>> 15);
    high |= w;
  }
  if (!found) {
    let shift = 0;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c === COLON || c === PIPE || c === NL) break;
      part |= c << shift;
      shift += 8;
    }
  }
  if (part !== 0) {
    h = (h + Math.imul(part, HASH_M1)) | 0;
    h = (h << 13) | (h >>> 19);
    h2 = (h2 + Math.imul(part ^ HASH_X2, HASH_M2)) | 0;
    h2 = (h2 << 17) | (h2 >>> 15);
    high |= part;
  }
  out.scanEnd = i;
  out.scanHash = h;
  out.scanHash2 = h2;
  out.scanHigh = high;
}

/** Scans a DogStatsD tag list up to the next '|' or newline: scanName's twin, continuing the line's hashes. */
function scanTags(buf: Uint8Array, view: DataView, i: number, end: number, h: number, h2: number, out: ParsedLine): void {
  let high = 0;
  let part = 0;
  let found = false;
  for (; i + 4 <= end; i += 4) {
    const w = view.getInt32(i, true);
    const hits = zeroBytes(w ^ PIPE4) | zeroBytes(w ^ NL4);
    if (hits !== 0) {
      const n = firstLane(hits);
      part = lowBytes(w, n);
      i += n;
      found = true;
      break;
    }
    h = (h + Math.imul(w, HASH_M1)) | 0;
    h = (h << 13) | (h >>> 19);
    h2 = (h2 + Math.imul(w ^ HASH_X2, HASH_M2)) | 0;
    h2 = (h2 << 17) | (h2 >>> 15);
    high |= w;
  }
  if (!found) {
    let shift = 0;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c === PIPE || c === NL) break;
      part |= c << shift;
      shift += 8;
    }
  }
  if (part !== 0) {
    h = (h + Math.imul(part, HASH_M1)) | 0;
    h = (h << 13) | (h >>> 19);
    h2 = (h2 + Math.imul(part ^ HASH_X2, HASH_M2)) | 0;
    h2 = (h2 << 17) | (h2 >>> 15);
    high |= part;
  }
  out.scanEnd = i;
  out.scanHash = h;
  out.scanHash2 = h2;
  out.scanHigh = high;
}

/**
 * Parses the line starting at `start` into `out`; it ends at the first newline
 * or at `end`, and `out.lineEnd` says where. Returns the reason when the line
 * is rejected (the caller then finds its end itself).
 */
export function parseLine(buf: Uint8Array, view: DataView, start: number, end: number, out: ParsedLine): ParseErrorReason | undefined {
  // Name: everything up to the first ':'.
  scanName(buf, view, start, end, out);
  let i = out.scanEnd;
  let hash = out.scanHash;
  let hash2 = out.scanHash2;
  let highBits = out.scanHigh;
  if (i === start) return i < end && buf[i] === COLON ? 'empty_name' : 'missing_value';
  if (i === end || buf[i] !== COLON) return 'missing_value';
  const nameEnd = i;
  const valueStart = ++i;
  let c = 0;
  while (i < end && (c = buf[i]!) !== PIPE && c !== NL) i++;
  const valueEnd = i;
  if (valueEnd === valueStart) return 'missing_value';
  if (i === end || c !== PIPE) return 'missing_type';

  // Type: between the first and second '|'.
  const typeStart = ++i;
  while (i < end && (c = buf[i]!) !== PIPE && c !== NL) i++;
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
  hash = mixWord(hash, kind);
  hash2 = mixWord2(hash2, kind);

  // Optional sections: |@rate, |#tags, and DogStatsD's |T<ts>, |c:<container>, |e:<external data>, |card:<cardinality>.
  let unknownFields = 0;
  let rate = 1;
  let haveRate = false;
  let tagsStart = -1;
  let tagsEnd = -1;
  while (i < end && buf[i] === PIPE) {
    const sectionStart = ++i; // skip '|'
    const s0 = i < end ? buf[i] : NL;
    if (s0 === HASH) {
      if (tagsStart !== -1) return 'duplicate_field';
      tagsStart = sectionStart + 1;
      scanTags(buf, view, tagsStart, end, mixWord(hash, HASH), mixWord2(hash2, HASH), out);
      tagsEnd = i = out.scanEnd;
      hash = out.scanHash;
      hash2 = out.scanHash2;
      highBits |= out.scanHigh;
      continue;
    }
    while (i < end && (c = buf[i]!) !== PIPE && c !== NL) i++;
    const sectionEnd = i;
    if (sectionEnd === sectionStart) {
      // "foo:1|c|" has an empty trailing section: harmless, as other agents accept it.
      continue;
    }
    if (s0 === AT) {
      if (haveRate) return 'duplicate_field';
      haveRate = true;
      rate = parseNumber(buf, sectionStart + 1, sectionEnd);
      if (!(rate > 0 && rate <= 1)) return 'bad_sample_rate';
    } else if (s0 === 84 /* T */) {
      // A timestamp is accepted so DogStatsD clients work; it does not change the series. The Datadog agent refuses a bad one.
      if (!wholeSeconds(buf, sectionStart + 1, sectionEnd)) return 'bad_timestamp';
    } else {
      const field = dogstatsdField(buf, sectionStart, sectionEnd);
      if (field === NOT_A_FIELD) return 'bad_field';
      // Container id (c:), external data (e:) and cardinality (card:) name where a metric comes from, not which series it is.
      // Any other field is a newer client's: the Datadog agent ignores it so that clients can move first, and so does Tally.
      if (field === UNKNOWN_FIELD) unknownFields++;
    }
  }

  // Value.
  let value: number;
  let gaugeDelta = false;
  let valueCount = 1;
  if (kind === SET) {
    value = NaN;
    for (let j = valueStart; j < valueEnd; j++) highBits |= buf[j]!;
  } else {
    const v0 = buf[valueStart];
    gaugeDelta = kind === GAUGE && (v0 === PLUS || v0 === MINUS);
    value = parseNumber(buf, valueStart, valueEnd);
    if (!Number.isFinite(value)) {
      // DogStatsD packs several samples of one metric as "name:1:2:3|h".
      const checked = checkValueList(buf, valueStart, valueEnd, kind, out.negativeCounters);
      if (typeof checked === 'string') return checked;
      valueCount = checked;
      value = NaN;
    } else if (kind === COUNTER && value < 0 && !out.negativeCounters) {
      return 'negative_counter';
    }
  }

  const lineEnd = i;
  if (lineEnd - start > out.maxLineBytes) return 'line_too_long';
  if ((highBits & 0x80808080) !== 0 && !validUtf8(buf, start, lineEnd)) return 'invalid_utf8';

  out.buf = buf;
  out.view = view;
  out.lineEnd = lineEnd;
  out.unknownFields = unknownFields;
  out.nameStart = start;
  out.nameEnd = nameEnd;
  out.valueStart = valueStart;
  out.valueEnd = valueEnd;
  out.value = value;
  out.valueCount = valueCount;
  out.gaugeDelta = gaugeDelta;
  out.kind = kind;
  out.rate = rate;
  out.tagsStart = tagsStart;
  out.tagsEnd = tagsEnd;
  const identityLength = nameEnd - start + (tagsEnd - tagsStart);
  out.hash = finishHash(hash, identityLength);
  out.hash2 = finishHash(hash2, identityLength);
  return undefined;
}

/** Whether bytes [start, end) are a non-negative whole number of seconds, as a DogStatsD timestamp must be. */
function wholeSeconds(buf: Uint8Array, start: number, end: number): boolean {
  if (end === start || end - start > 15) return false;
  for (let j = start; j < end; j++) {
    const c = buf[j]!;
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const KNOWN_FIELD = 0;
const UNKNOWN_FIELD = 1;
const NOT_A_FIELD = 2;

/**
 * A DogStatsD field is "key:value" with a short lower-case key: c (container
 * id), e (external data) and card (cardinality) are known; other keys are a
 * newer protocol's. A section without that shape is no field at all.
 */
function dogstatsdField(buf: Uint8Array, start: number, end: number): number {
  let j = start;
  while (j < end && j - start < 16 && buf[j]! >= 97 && buf[j]! <= 122) j++;
  if (j === start || j === end || buf[j] !== COLON) return NOT_A_FIELD;
  const keyLen = j - start;
  const k0 = buf[start];
  if (keyLen === 1 && (k0 === 99 /* c */ || k0 === 101) /* e */) return KNOWN_FIELD;
  if (keyLen === 4 && k0 === 99 && buf[start + 1] === 97 && buf[start + 2] === 114 && buf[start + 3] === 100) return KNOWN_FIELD; // card
  return UNKNOWN_FIELD;
}

/** Validates a value list "v1:v2:...": the sample count, or why the line is rejected. */
function checkValueList(buf: Uint8Array, start: number, end: number, kind: MetricKind, negativeCounters: boolean): number | ParseErrorReason {
  let count = 0;
  let from = start;
  for (let j = start; j <= end; j++) {
    if (j < end && buf[j] !== COLON) continue;
    const v = parseNumber(buf, from, j);
    if (!Number.isFinite(v)) return 'bad_value';
    if (kind === COUNTER && v < 0 && !negativeCounters) return 'negative_counter';
    count++;
    from = j + 1;
  }
  return count > 1 ? count : 'bad_value';
}

/** Calls fn for each sample of a parsed line's value list; `delta` marks a signed gauge sample. */
export function forEachValue(p: ParsedLine, fn: (value: number, delta: boolean) => void): void {
  const buf = p.buf;
  let from = p.valueStart;
  for (let j = from; j <= p.valueEnd; j++) {
    if (j < p.valueEnd && buf[j] !== COLON) continue;
    fn(parseNumber(buf, from, j), buf[from] === PLUS || buf[from] === MINUS);
    from = j + 1;
  }
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
    const v = scale === 1 ? mantissa : mantissa / scale;
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
