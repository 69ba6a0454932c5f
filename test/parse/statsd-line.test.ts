import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ParsedEvent, ParsedServiceCheck } from '../../agent/parse/dogstatsd-extras.js';
import { KIND_NAMES } from '../../agent/parse/metric-kind.js';
import { PARSE_ERROR_REASONS, type ParseErrorReason } from '../../agent/telemetry/parse-error-reasons.js';
import { StatsdParser, parseNumber, type LineSink, type ParsedLine } from '../../agent/parse/statsd-line.js';

interface Valid {
  line: string;
  name: string;
  kind: string;
  value?: number;
  rate: number;
  tags: string | null;
  gaugeDelta?: boolean;
  member?: string;
  valueCount?: number;
  unknownFields?: number;
}
interface Invalid {
  line: string;
  reason: ParseErrorReason;
}

const fixture = <T>(name: string): T[] => JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8'));

interface Seen {
  lines: Array<{ name: string; kind: string; value: number; rate: number; tags: string | null; member: string; gaugeDelta: boolean; valueCount: number; hash: number; unknownFields: number }>;
  errors: Array<{ reason: ParseErrorReason; text: string }>;
  events: ParsedEvent[];
  checks: ParsedServiceCheck[];
}

function collect(packet: Uint8Array): Seen {
  const seen: Seen = { lines: [], errors: [], events: [], checks: [] };
  const dec = (b: Uint8Array, s: number, e: number) => Buffer.from(b.subarray(s, e)).toString('utf8');
  const sink: LineSink = {
    event: (e) => seen.events.push(e),
    serviceCheck: (c) => seen.checks.push(c),
    line(p: ParsedLine) {
      seen.lines.push({
        name: dec(p.buf, p.nameStart, p.nameEnd),
        kind: KIND_NAMES[p.kind],
        value: p.value,
        rate: p.rate,
        tags: p.tagsStart === -1 ? null : dec(p.buf, p.tagsStart, p.tagsEnd),
        member: dec(p.buf, p.valueStart, p.valueEnd),
        gaugeDelta: p.gaugeDelta,
        valueCount: p.valueCount,
        hash: p.hash,
        unknownFields: p.unknownFields,
      });
    },
    error(reason, buf, start, end) {
      seen.errors.push({ reason, text: Buffer.from(buf.subarray(start, end)).toString('latin1') });
    },
  };
  new StatsdParser().parsePacket(packet, sink);
  return seen;
}

describe('statsd line parser', () => {
  for (const ex of fixture<Valid>('valid-lines.json')) {
    it(`accepts ${JSON.stringify(ex.line)}`, () => {
      const { lines, errors } = collect(Buffer.from(ex.line));
      expect(errors).toEqual([]);
      expect(lines).toHaveLength(1);
      const got = lines[0]!;
      expect(got.name).toBe(ex.name);
      expect(got.kind).toBe(ex.kind);
      expect(got.rate).toBe(ex.rate);
      expect(got.tags).toBe(ex.tags);
      if (ex.value !== undefined) expect(got.value).toBe(ex.value);
      if (ex.member !== undefined) expect(got.member).toBe(ex.member);
      if (ex.gaugeDelta !== undefined) expect(got.gaugeDelta).toBe(ex.gaugeDelta);
      expect(got.valueCount).toBe(ex.valueCount ?? 1);
      expect(got.unknownFields).toBe(ex.unknownFields ?? 0);
    });
  }

  for (const ex of fixture<Invalid>('invalid-lines.json')) {
    it(`rejects ${JSON.stringify(ex.line)} as ${ex.reason}`, () => {
      const { lines, errors } = collect(Buffer.from(ex.line));
      expect(lines).toEqual([]);
      expect(errors).toEqual([{ reason: ex.reason, text: ex.line }]);
    });
  }

  it('parses every line of a multi-metric packet and keeps going past bad ones', () => {
    const packet = Buffer.from('a:1|c\nbad\r\nb:2|g\n\n:3|c\nc:4|ms\n');
    const { lines, errors } = collect(packet);
    expect(lines.map((l) => l.name)).toEqual(['a', 'b', 'c']);
    expect(errors.map((e) => e.reason)).toEqual(['missing_value', 'empty_name']);
  });

  it('strips a CR before the newline from the last field, whichever field that is', () => {
    const { lines, errors } = collect(Buffer.from('a:1|c|#env:prod\r\nb:2|g\r\n\r\nc:3|ms|@0.5\r\nbad\r\n_sc|up|0\r\n'));
    expect(errors).toEqual([{ reason: 'missing_value', text: 'bad' }]);
    expect(lines.map((l) => [l.name, l.kind, l.tags, l.rate])).toEqual([
      ['a', 'counter', 'env:prod', 1],
      ['b', 'gauge', null, 1],
      ['c', 'timer', null, 0.5],
    ]);
  });

  it('rejects names and tags that are not UTF-8 without touching the other lines', () => {
    const packet = Buffer.concat([Buffer.from('ok:1|c\nbad'), Buffer.from([0xc3, 0x28]), Buffer.from(':1|c\nt:1|c|#k:'), Buffer.from([0xff]), Buffer.from('\nok2:1|c')]);
    const { lines, errors } = collect(packet);
    expect(lines.map((l) => l.name)).toEqual(['ok', 'ok2']);
    expect(errors.map((e) => e.reason)).toEqual(['invalid_utf8', 'invalid_utf8']);
  });

  it('rejects a line longer than the configured limit and keeps the next one', () => {
    const seen: string[] = [];
    const sink: LineSink = { line: () => seen.push('ok'), error: (reason) => seen.push(reason), event: () => {}, serviceCheck: () => {} };
    new StatsdParser({ maxLineBytes: 16 }).parsePacket(Buffer.from(`${'x'.repeat(20)}:1|c\nshort:1|c\n`), sink);
    expect(seen).toEqual(['line_too_long', 'ok']);
  });

  it('survives a maximal 65,507-byte datagram and 10,000 lines in one datagram', () => {
    const huge = Buffer.alloc(65507, 0x61); // one 64 KiB line with no ':'
    expect(collect(huge).errors.map((e) => e.reason)).toEqual(['missing_value']);
    const many = Buffer.from(Array.from({ length: 10_000 }, (_, i) => `m${i % 7}:1|c`).join('\n'));
    const seen = collect(many);
    expect(seen.lines).toHaveLength(10_000);
    expect(seen.errors).toHaveLength(0);
  });

  it('hashes the same spelling the same way and a different tag order differently (the aggregator canonicalises)', () => {
    const { lines } = collect(Buffer.from('a:1|c|#x:1,y:2\na:5|c|@0.5|#x:1,y:2\na:1|c|#y:2,x:1\na:1|g|#x:1,y:2'));
    expect(lines[0]!.hash).toBe(lines[1]!.hash);
    expect(lines[2]!.hash).not.toBe(lines[0]!.hash);
    expect(lines[3]!.hash).not.toBe(lines[0]!.hash);
  });
});

describe('DogStatsD events and service checks', () => {
  it('reads an event with every optional field, lengths in UTF-8 bytes, "|" allowed inside', () => {
    const title = 'Deploy | ü';
    const text = 'v1.4.0\\nrolled out';
    const line = `_e{${Buffer.byteLength(title)},${Buffer.byteLength(text)}}:${title}|${text}|d:1700000000|h:web-1|p:low|t:warning|s:ci|k:deploys|#env:prod,team:a`;
    const { events, errors, lines } = collect(Buffer.from(`a:1|c\n${line}\nb:1|c`));
    expect(errors).toEqual([]);
    expect(lines).toHaveLength(2);
    expect(events).toEqual([
      {
        title,
        text: 'v1.4.0\nrolled out',
        timestamp: 1700000000,
        tags: 'env:prod,team:a',
        fields: { hostname: 'web-1', priority: 'low', alert_type: 'warning', source_type_name: 'ci', aggregation_key: 'deploys' },
        ignored: [],
      },
    ]);
  });

  it('keeps an event or a service check whose metadata it cannot read, naming what it left out', () => {
    const { events, checks, errors } = collect(Buffer.from('_e{5,3}:hello|abc|d:soon|zz|x:1|#env:prod\n_sc|db.up|0|q:1|d:-5|#env:prod'));
    expect(errors).toEqual([]);
    expect(events).toEqual([{ title: 'hello', text: 'abc', tags: 'env:prod', fields: {}, ignored: ['bad_timestamp', 'unknown_field', 'unknown_field'] }]);
    expect(checks).toEqual([{ name: 'db.up', status: 0, tags: 'env:prod', ignored: ['unknown_field', 'bad_timestamp'] }]);
  });

  it('reads service checks, with a message that may contain "|"', () => {
    const { checks, errors } = collect(Buffer.from('_sc|db.up|0\n_sc|db.up|2|d:1700000000|h:db-1|#env:prod|m:down | since 5 min'));
    expect(errors).toEqual([]);
    expect(checks).toEqual([
      { name: 'db.up', status: 0, tags: '', ignored: [] },
      { name: 'db.up', status: 2, timestamp: 1700000000, tags: 'env:prod', message: 'down | since 5 min', ignored: [] },
    ]);
  });

  const bad: Array<[string, string]> = [
    ['_e{5,3}:hello|ab', 'bad_event'],
    ['_e{0,3}:|abc', 'bad_event'],
    ['_e{5,3}:hello|abcdef', 'bad_event'],
    ['_e{x,3}:hello|abc', 'bad_event'],
    ['_e{5,5000}:hello|' + 'x'.repeat(5000), 'event_too_long'],
    ['_sc|db.up|7', 'bad_service_check'],
    ['_sc||0', 'bad_service_check'],
    ['_sc|db.up', 'bad_service_check'],
  ];
  for (const [line, reason] of bad) {
    it(`rejects ${line.slice(0, 40)} as ${reason}`, () => {
      expect(collect(Buffer.from(line)).errors.map((e) => e.reason)).toEqual([reason]);
    });
  }
});

describe('parseNumber', () => {
  const num = (s: string) => parseNumber(Buffer.from(s), 0, Buffer.byteLength(s));

  it('agrees with Number() on every plain decimal', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
        const text = String(d);
        expect(num(text)).toBe(Number(text));
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 999_999_999 }), fc.integer({ min: 0, max: 999_999 }), (i, f) => {
        const text = `${i}.${String(f).padStart(6, '0')}`;
        expect(num(text)).toBe(Number(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('returns NaN for what is not a finite decimal literal', () => {
    for (const s of ['', '-', '+', '.', 'NaN', 'Inf', '-Infinity', '1e309', '0x1f', '1_000', ' 1', '1 ', '1e', '--1']) {
      expect(num(s), s).toBeNaN();
    }
  });
});

describe('parser properties', () => {
  const reasons = new Set<string>(PARSE_ERROR_REASONS);

  it('never throws on any byte string, and accounts for every non-empty line exactly once', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const { lines, errors, events, checks } = collect(bytes);
        const nonEmpty = Buffer.from(bytes)
          .toString('latin1')
          .split('\n')
          .filter((l) => l.replace(/\r$/, '').length > 0).length;
        expect(lines.length + errors.length + events.length + checks.length).toBe(nonEmpty);
        for (const e of errors) expect(reasons.has(e.reason)).toBe(true);
        for (const l of lines) expect(Number.isNaN(l.value) ? l.kind === 'set' : Number.isFinite(l.value)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips well-formed lines built from random parts', () => {
    const name = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_.\-]{0,30}$/);
    const tag = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/), fc.stringMatching(/^[a-zA-Z0-9_/.\-]{0,12}$/));
    const kind = fc.constantFrom(['c', 'counter'], ['g', 'gauge'], ['ms', 'timer'], ['h', 'histogram'], ['d', 'distribution']);
    fc.assert(
      fc.property(name, fc.double({ min: 0, max: 1e12, noNaN: true }), kind, fc.option(fc.double({ min: 0.001, max: 1, noNaN: true })), fc.array(tag, { maxLength: 5 }), (n, v, [t, kindName], rate, tags) => {
        let line = `${n}:${v}|${t}`;
        if (rate !== null) line += `|@${rate}`;
        if (tags.length > 0) line += `|#${tags.map(([k, val]) => `${k}:${val}`).join(',')}`;
        const { lines, errors } = collect(Buffer.from(line));
        expect(errors).toEqual([]);
        expect(lines[0]).toMatchObject({ name: n, kind: kindName, value: v, rate: rate ?? 1 });
      }),
      { numRuns: 2000 },
    );
  });
});
