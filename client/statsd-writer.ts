/**
 * Encodes calls as DogStatsD lines straight into a reused buffer and cuts it
 * into datagrams of at most `maxDatagramBytes`. Names and tag keys are
 * cleaned once and cached; numbers are written digit by digit; so a call
 * with a known name and integer or timer values allocates nothing until a
 * datagram is cut.
 */
import type { Kind, Tags } from './types.js';

/** Largest UDP payload over IPv4; a line longer than this cannot be sent at all. */
export const MAX_UDP_PAYLOAD = 65507;
// Room for the longest line plus the datagram before it.
const CAPACITY = MAX_UDP_PAYLOAD + 2048;
const NAME_CACHE_LIMIT = 10_000;

// Bytes that end or split a statsd name (':' '|' '@'), start tags in a name
// (',' InfluxDB, '#' Librato, '[' ']' SignalFx, '='), or end a line.
const BAD_NAME = /[\s:|@#,=[\]]/g;
const BAD_KEY = /[\s:|@#,]/g;
// A tag value ends at ',' or '|' and a line at a newline; ':' inside a value is fine.
const BAD_VALUE = /[,|\r\n]/;
const BAD_VALUE_G = /[,|\r\n]/g;

const enum Ch {
  newline = 0x0a,
  hash = 0x23,
  comma = 0x2c,
  minus = 0x2d,
  dot = 0x2e,
  zero = 0x30,
  colon = 0x3a,
  at = 0x40,
  pipe = 0x7c,
}

/** Outcome of one append, for the transport's counters. */
export const APPENDED = 1;
export const INVALID = -1;
export const TOO_LARGE = -2;

export interface StatsdWriterOptions {
  prefix?: string;
  globalTags?: Record<string, string>;
  maxDatagramBytes: number;
  /**
   * Called with each datagram cut: bytes [0, length) of a buffer the writer
   * reuses as soon as the call returns (copy them), and the lines in it.
   */
  onDatagram: (staging: Buffer, length: number, lines: number) => void;
}

export function cleanName(name: string): string {
  return name.replace(BAD_NAME, '_');
}

export function cleanTagKey(key: string): string {
  return key.replace(BAD_KEY, '_');
}

export function cleanTagValue(value: string): string {
  return BAD_VALUE.test(value) ? value.replace(BAD_VALUE_G, '_') : value;
}

export class StatsdWriter {
  private readonly buf = Buffer.allocUnsafe(CAPACITY);
  /** End of the lines of the current datagram. */
  private end = 0;
  /** Lines in the current datagram. */
  private count = 0;
  /** Write position while a line is being written. */
  private pos = 0;
  private overflow = false;
  private readonly names = new Map<string, string>();
  private readonly rawNames = new Map<string, string>();
  private readonly keys = new Map<string, string>();
  private readonly prefix: string;
  private readonly globalText: string;
  private readonly globalPairs: Array<[string, string]>;
  private readonly maxDatagram: number;
  private readonly onDatagram: StatsdWriterOptions['onDatagram'];
  private rate = 1;
  private rateText = '1';

  constructor(opts: StatsdWriterOptions) {
    this.prefix = opts.prefix ?? '';
    this.maxDatagram = Math.min(opts.maxDatagramBytes, MAX_UDP_PAYLOAD);
    this.onDatagram = opts.onDatagram;
    this.globalPairs = Object.entries(opts.globalTags ?? {}).map(([k, v]) => [k, `${cleanTagKey(k)}:${cleanTagValue(v)}`]);
    this.globalText = this.globalPairs.map((p) => p[1]).join(',');
  }

  /** Bytes waiting for the next datagram. */
  get bufferedBytes(): number {
    return this.end;
  }

  /** Lines waiting for the next datagram. */
  get bufferedLines(): number {
    return this.count;
  }

  /**
   * Appends one call: APPENDED, or INVALID / TOO_LARGE (nothing written).
   * Validation is here because only here is the value looked at anyway.
   */
  append(kind: Kind, name: string, value: number | string, tags: Tags | undefined, rate: number, outcome: string | undefined, raw: boolean): number {
    if (name === '') return INVALID;
    if (kind === 'e') return this.appendEvent(name, String(value), tags, raw);
    if (typeof value !== 'number' || !Number.isFinite(value)) return INVALID;
    if ((kind === 'c' || kind === 'ms') && value < 0) return INVALID;
    const start = this.end === 0 ? 0 : this.end + 1;
    this.pos = start;
    this.overflow = false;
    const head = raw ? this.rawNames.get(name) ?? this.cacheName(name, true) : this.names.get(name) ?? this.cacheName(name, false);
    if (kind === 'g' && value < 0) {
      // A signed gauge value adjusts the gauge in statsd; a negative level is set as 0 and then adjusted.
      this.str(head);
      this.byte(Ch.colon);
      this.byte(Ch.zero);
      this.byte(Ch.pipe);
      this.byte(0x67);
      this.tagSection(tags, 'outcome', outcome);
      this.byte(Ch.newline);
    }
    this.str(head);
    this.byte(Ch.colon);
    if (kind === 'ms') this.millis(value);
    else this.num(value);
    this.byte(Ch.pipe);
    if (kind === 'c') this.byte(0x63);
    else if (kind === 'g') this.byte(0x67);
    else if (kind === 'h') this.byte(0x68);
    else if (kind === 'd') this.byte(0x64);
    else {
      this.byte(0x6d);
      this.byte(0x73);
    }
    if (rate < 1) {
      this.byte(Ch.pipe);
      this.byte(Ch.at);
      if (rate !== this.rate) {
        this.rate = rate;
        this.rateText = String(rate);
      }
      this.str(this.rateText);
    }
    this.tagSection(tags, 'outcome', outcome);
    return this.commit(start, kind === 'g' && value < 0 ? 2 : 1);
  }

  /** Cuts the current datagram, if any, and hands it to onDatagram. */
  cut(): void {
    if (this.end === 0) return;
    const length = this.end;
    const lines = this.count;
    this.end = 0;
    this.count = 0;
    this.onDatagram(this.buf, length, lines);
  }

  private appendEvent(name: string, text: string, tags: Tags | undefined, raw: boolean): number {
    const title = raw ? this.rawNames.get(name) ?? this.cacheName(name, true) : this.names.get(name) ?? this.cacheName(name, false);
    // The agent reads "\n" in an event text back as a newline; a raw newline would end the line.
    const body = text.includes('\n') || text.includes('\r') ? text.replace(/\r?\n|\r/g, '\\n') : text;
    const start = this.end === 0 ? 0 : this.end + 1;
    this.pos = start;
    this.overflow = false;
    this.str('_e{');
    this.num(Buffer.byteLength(title));
    this.byte(Ch.comma);
    this.num(Buffer.byteLength(body));
    this.str('}:');
    this.str(title);
    this.byte(Ch.pipe);
    this.str(body);
    // The agent counts a DogStatsD event by its title and tags, not its text (free prose elsewhere);
    // the text as a `value` tag gives the series POST /v1/collect gives: name_total{value}, name_last_seen_timestamp_seconds{value}.
    this.tagSection(tags, 'value', text.includes('\n') || text.includes('\r') ? text.replace(/\r?\n|\r/g, ' ') : text);
    return this.commit(start, 1);
  }

  /** Ends the line written from `start`: into the current datagram, or the datagram is cut first. */
  private commit(start: number, lines: number): number {
    const lineEnd = this.pos;
    const length = lineEnd - start;
    if (this.overflow || length > MAX_UDP_PAYLOAD) {
      this.pos = this.end;
      return TOO_LARGE;
    }
    if (this.end > 0 && lineEnd > this.maxDatagram) {
      // The line does not fit beside the others: they go now, and it opens the next datagram.
      this.cut();
      this.buf.copyWithin(0, start, lineEnd);
      this.end = length;
      this.count = lines;
    } else {
      if (this.end > 0) this.buf[start - 1] = Ch.newline;
      this.end = lineEnd;
      this.count += lines;
    }
    // A line longer than a datagram on its own is sent alone (loopback and most paths carry it fragmented).
    if (this.end >= this.maxDatagram) this.cut();
    return APPENDED;
  }

  /** `|#` call tags, then `extraKey:extra` unless the call has that key, then the global tags the call did not override. */
  private tagSection(tags: Tags | undefined, extraKey: string, extra: string | undefined): void {
    const mark = this.pos;
    this.byte(Ch.pipe);
    this.byte(Ch.hash);
    const first = this.pos;
    let overridden = false;
    if (tags !== undefined) {
      for (const k in tags) {
        const v = tags[k];
        if (v === undefined) continue;
        if (this.pos !== first) this.byte(Ch.comma);
        this.str(this.keys.get(k) ?? this.cacheKey(k));
        this.byte(Ch.colon);
        if (typeof v === 'string') this.str(BAD_VALUE.test(v) ? v.replace(BAD_VALUE_G, '_') : v);
        else if (typeof v === 'number') this.num(v);
        else this.str(v ? 'true' : 'false');
        if (!overridden && this.globalPairs.length > 0 && this.isGlobal(k)) overridden = true;
      }
    }
    if (extra !== undefined && (tags === undefined || tags[extraKey] === undefined)) {
      if (this.pos !== first) this.byte(Ch.comma);
      this.str(extraKey);
      this.byte(Ch.colon);
      this.str(BAD_VALUE.test(extra) ? extra.replace(BAD_VALUE_G, '_') : extra);
    }
    if (this.globalPairs.length > 0) {
      if (!overridden) {
        if (this.pos !== first) this.byte(Ch.comma);
        this.str(this.globalText);
      } else {
        // A tag given on the call wins over the global one of the same key.
        for (const [k, text] of this.globalPairs) {
          if (tags![k] !== undefined) continue;
          if (this.pos !== first) this.byte(Ch.comma);
          this.str(text);
        }
      }
    }
    if (this.pos === first) this.pos = mark;
  }

  private isGlobal(key: string): boolean {
    for (const p of this.globalPairs) if (p[0] === key) return true;
    return false;
  }

  private cacheName(name: string, raw: boolean): string {
    const map = raw ? this.rawNames : this.names;
    if (map.size >= NAME_CACHE_LIMIT) map.clear();
    const clean = cleanName(raw ? name : this.prefix + name);
    map.set(name, clean);
    return clean;
  }

  private cacheKey(key: string): string {
    if (this.keys.size >= NAME_CACHE_LIMIT) this.keys.clear();
    const clean = cleanTagKey(key);
    this.keys.set(key, clean);
    return clean;
  }

  private byte(b: number): void {
    if (this.pos < CAPACITY) this.buf[this.pos++] = b;
    else this.overflow = true;
  }

  private str(s: string): void {
    const n = s.length;
    if (this.pos + n * 3 > CAPACITY && this.pos + Buffer.byteLength(s) > CAPACITY) {
      this.overflow = true;
      return;
    }
    if (n < 24) {
      // Short ASCII is copied here: cheaper than a call into the encoder.
      const buf = this.buf;
      let p = this.pos;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        this.pos = p;
        return;
      }
    }
    this.pos += this.buf.write(s, this.pos);
  }

  /** Integers digit by digit; other numbers as JavaScript prints them (the agent reads exponents too). */
  private num(v: number): void {
    if (v < 0) {
      this.byte(Ch.minus);
      v = -v;
    }
    if (Number.isInteger(v) && v < 1e15) this.uint(v);
    else this.str(String(v));
  }

  /** Milliseconds to the microsecond, without building a string. */
  private millis(ms: number): void {
    if (ms >= 1e12) {
      this.str(String(ms));
      return;
    }
    const us = Math.round(ms * 1000);
    const whole = Math.floor(us / 1000);
    let frac = us - whole * 1000;
    this.uint(whole);
    if (frac === 0) return;
    this.byte(Ch.dot);
    this.byte(Ch.zero + Math.floor(frac / 100));
    frac %= 100;
    if (frac === 0) return;
    this.byte(Ch.zero + Math.floor(frac / 10));
    frac %= 10;
    if (frac !== 0) this.byte(Ch.zero + frac);
  }

  private uint(n: number): void {
    if (this.pos + 16 > CAPACITY) {
      this.overflow = true;
      return;
    }
    const buf = this.buf;
    if (n < 10) {
      buf[this.pos++] = Ch.zero + n;
      return;
    }
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let p = this.pos + digits;
    this.pos = p;
    while (n >= 10) {
      const q = Math.floor(n / 10);
      buf[--p] = Ch.zero + (n - q * 10);
      n = q;
    }
    buf[--p] = Ch.zero + n;
  }
}
