/**
 * The statsd protocol as a grammar: DogStatsD 1.0 to 1.4 (types, sample
 * rates, |# tags, events and service checks; value lists; |c: container
 * ids; |T timestamps; |e: external data and |card: cardinality) plus the
 * InfluxDB, Librato and SignalFx tags written into names. Lines generated
 * from it must read back as the model that made them; broken lines must be
 * counted under a reason; no byte sequence may throw or vanish uncounted.
 */
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import { decodeTags, splitNameTags } from '../../agent/aggregate/tags.js';
import type { ParsedEvent, ParsedServiceCheck } from '../../agent/parse/dogstatsd-extras.js';
import { KIND_NAMES, SET } from '../../agent/parse/metric-kind.js';
import { PARSE_ERROR_REASONS, type ParseErrorReason } from '../../agent/telemetry/parse-error-reasons.js';
import { forEachValue, StatsdParser, type LineSink, type ParsedLine } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';

type Pairs = Array<[string, string]>;

/** What a line means, as the agent reads it, in plain values that compare with toEqual. */
type Meaning =
  | { kind: 'metric'; name: string; type: string; samples: Array<[number, boolean]>; member?: string; rate: number; tags: Pairs }
  | { kind: 'event'; title: string; text: string; tags: Pairs }
  | { kind: 'check'; name: string; status: number; tags: Pairs; message?: string }
  | { kind: 'error'; reason: ParseErrorReason };

/** Later pairs win a key, as |# tags win over name tags; sorted, as a series' identity is. */
function merged(...lists: Pairs[]): Pairs {
  const m = new Map<string, string>();
  for (const list of lists) for (const [k, v] of list) m.set(k, v);
  return [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Reads every outcome the parser reports, splitting name tags as the aggregator does. */
class MeaningSink implements LineSink {
  readonly out: Meaning[] = [];

  line(p: ParsedLine): void {
    const buf = Buffer.from(p.buf.buffer, p.buf.byteOffset, p.buf.byteLength);
    const nameTags = splitNameTags(buf.toString('utf8', p.nameStart, p.nameEnd));
    if ('error' in nameTags) {
      this.out.push({ kind: 'error', reason: nameTags.error });
      return;
    }
    const tags = decodeTags(p.tagsStart === -1 ? '' : buf.toString('utf8', p.tagsStart, p.tagsEnd));
    const samples: Array<[number, boolean]> = [];
    let member: string | undefined;
    if (p.kind === SET) member = buf.toString('utf8', p.valueStart, p.valueEnd);
    else forEachValue(p, (v, delta) => samples.push([v, delta]));
    this.out.push({
      kind: 'metric',
      name: nameTags.name,
      type: KIND_NAMES[p.kind],
      samples,
      ...(member === undefined ? {} : { member }),
      rate: p.rate,
      tags: merged(nameTags.pairs, tags.pairs),
    });
  }

  event(e: ParsedEvent): void {
    this.out.push({ kind: 'event', title: e.title, text: e.text, tags: merged(decodeTags(e.tags).pairs) });
  }

  serviceCheck(c: ParsedServiceCheck): void {
    this.out.push({
      kind: 'check',
      name: c.name,
      status: c.status,
      tags: merged(decodeTags(c.tags).pairs),
      ...(c.message === undefined ? {} : { message: c.message }),
    });
  }

  error(reason: ParseErrorReason): void {
    this.out.push({ kind: 'error', reason });
  }
}

function read(text: string | Buffer): Meaning[] {
  const sink = new MeaningSink();
  new StatsdParser().parsePacket(typeof text === 'string' ? Buffer.from(text) : text, sink);
  return sink.out;
}

// ---- the grammar ----

const TYPES = ['c', 'g', 'ms', 'h', 'd', 's'] as const;
type StatType = (typeof TYPES)[number];
const TYPE_NAMES: Record<StatType, string> = { c: 'counter', g: 'gauge', ms: 'timer', h: 'histogram', d: 'distribution', s: 'set' };

const segment = fc.oneof(
  { weight: 8, arbitrary: fc.stringMatching(/^[a-z][a-z0-9_-]{0,8}$/) },
  { weight: 1, arbitrary: fc.constantFrom('café', 'Zürich', 'größe', 'API', 'v2') },
);
const baseName = fc.array(segment, { minLength: 1, maxLength: 4 });

/** A decimal as clients print them: 12, 0.25, .5, 1.5e3, 7E-2. */
function number(signs: readonly string[]) {
  return fc
    .tuple(
      fc.constantFrom(...signs),
      fc.stringMatching(/^(?:0|[1-9][0-9]{0,5})$/),
      fc.option(fc.stringMatching(/^[0-9]{1,4}$/), { nil: undefined }),
      fc.option(fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 20 })), { nil: undefined }),
      fc.boolean(),
    )
    .map(([sign, int, frac, exp, bareFraction]) => {
      const body = frac === undefined ? int : bareFraction && int === '0' ? `.${frac}` : `${int}.${frac}`;
      return sign + body + (exp === undefined ? '' : `${exp[0]}${exp[1]}${exp[2]}`);
    });
}

const nameTagKey = fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/);
const nameTagValue = fc.stringMatching(/^[A-Za-z0-9_./-]{1,8}$/);
const nameTagList = (minLength: number) => fc.uniqueArray(fc.tuple(nameTagKey, nameTagValue), { selector: (t) => t[0], minLength, maxLength: 3 });

/** A name with tags in it: none, InfluxDB, Librato, or SignalFx brackets anywhere between segments. */
const nameWithTags = fc.oneof(
  baseName.map((segs) => ({ text: segs.join('.'), name: segs.join('.'), pairs: [] as Pairs })),
  fc.tuple(baseName, nameTagList(1), fc.constantFrom(',', '#')).map(([segs, pairs, sep]) => ({
    text: segs.join('.') + sep + pairs.map(([k, v]) => `${k}=${v}`).join(','),
    name: segs.join('.'),
    pairs,
  })),
  fc
    .tuple(baseName, nameTagList(0), fc.nat())
    .map(([segs, pairs, at]) => {
      const bracket = `[${pairs.map(([k, v]) => `${k}=${v}`).join(',')}]`;
      const cut = at % (segs.length + 1);
      const before = segs.slice(0, cut).join('.');
      const after = segs.slice(cut).join('.');
      // "a.[k=v]b" and "a[k=v]" and "[k=v]a": the name is what is left, as statsd_exporter reads it.
      const text = cut === 0 ? bracket + after : cut === segs.length ? before + bracket : `${before}.${bracket}${after}`;
      return { text, name: segs.join('.'), pairs };
    }),
);

const dogTagKey = fc.stringMatching(/^[a-z][a-z0-9_./-]{0,8}$/);
const dogTagValue = fc.oneof(fc.stringMatching(/^[A-Za-z0-9_./:-]{1,10}$/), fc.constantFrom('Zürich', 'http://x:80/a'));
const dogTags = fc.uniqueArray(fc.tuple(dogTagKey, dogTagValue), { selector: (t) => t[0], maxLength: 4 });

interface MetricModel {
  name: { text: string; name: string; pairs: Pairs };
  type: StatType;
  values: string[];
  rate?: string;
  tags?: Pairs;
  /** Fields that change nothing: |T, |c:, |e:, |card:, a newer client's |x:, an empty section. */
  extras: string[];
  /** Empty entries ("#a:1,,b:2"), which the agent skips. */
  emptyTagEntries: boolean;
  crlf: boolean;
  order: number[];
}

const extraField = fc.oneof(
  fc.integer({ min: 0, max: 4_000_000_000 }).map((t) => `T${t}`), // 1.3
  fc.stringMatching(/^[0-9a-f]{8,64}$/).map((id) => `c:${id}`), // 1.2
  fc.constant('c:ci-abc123,in-4567'),
  fc.constant('e:it-false,cn-nginx,pu-75a2b6d5'), // 1.4
  fc.constantFrom('card:low', 'card:orchestrator', 'card:high'), // 1.4
  fc.constantFrom('zz:from-a-newer-client', 'q:1'), // a later version's field
  fc.constant(''), // "foo:1|c|"
);

const metricModel: fc.Arbitrary<MetricModel> = fc
  .record({
    name: nameWithTags,
    type: fc.constantFrom(...TYPES),
    valueCount: fc.oneof({ weight: 4, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 4 }) }),
    rate: fc.option(fc.constantFrom('1', '0.5', '0.25', '0.1', '.5', '0.125', '1.0', '0.01'), { nil: undefined }),
    tags: fc.option(dogTags, { nil: undefined }),
    extras: fc.array(extraField, { maxLength: 3 }),
    emptyTagEntries: fc.boolean(),
    crlf: fc.boolean(),
    seed: fc.array(fc.nat(), { minLength: 8, maxLength: 8 }),
  })
  .chain((m) => {
    const value =
      m.type === 's'
        ? fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/)
        : m.type === 'c'
          ? number(['', '+'])
          : number(['', '', '+', '-']);
    const count = m.type === 's' ? 1 : m.valueCount;
    return fc.array(value, { minLength: count, maxLength: count }).map((values) => {
      const sections = (m.rate === undefined ? 0 : 1) + (m.tags === undefined ? 0 : 1) + m.extras.length;
      // A permutation of the optional sections: the protocol fixes no order.
      const order = [...Array(sections).keys()].sort((a, b) => m.seed[a % 8]! - m.seed[b % 8]! || a - b);
      return { name: m.name, type: m.type, values, rate: m.rate, tags: m.tags, extras: m.extras, emptyTagEntries: m.emptyTagEntries, crlf: m.crlf, order };
    });
  });

function renderMetric(m: MetricModel): string {
  const sections: string[] = [];
  if (m.rate !== undefined) sections.push(`@${m.rate}`);
  if (m.tags !== undefined) {
    const list = m.tags.map(([k, v]) => `${k}:${v}`);
    sections.push(`#${m.emptyTagEntries ? [...list, ''].join(',,') : list.join(',')}`);
  }
  sections.push(...m.extras);
  const ordered = m.order.map((i) => sections[i]!);
  return `${m.name.text}:${m.values.join(':')}|${m.type}${ordered.map((s) => `|${s}`).join('')}${m.crlf ? '\r' : ''}`;
}

function metricMeaning(m: MetricModel): Meaning {
  return {
    kind: 'metric',
    name: m.name.name,
    type: TYPE_NAMES[m.type],
    samples: m.type === 's' ? [] : m.values.map((v) => [Number(v), v.startsWith('+') || v.startsWith('-')]),
    ...(m.type === 's' ? { member: m.values[0]! } : {}),
    rate: m.rate === undefined ? 1 : Number(m.rate),
    tags: merged(m.name.pairs, m.tags ?? []),
  };
}

const eventModel = fc.record({
  // Lengths are UTF-8 bytes, so title and text may hold '|' and ':'.
  title: fc.stringMatching(/^[A-Za-z0-9 .|:_-]{1,20}$/),
  text: fc.oneof(fc.stringMatching(/^[A-Za-z0-9 .|:#,_-]{0,30}$/), fc.constantFrom('déploiement réussi', 'a|b|c')),
  meta: fc.array(fc.constantFrom('d:1700000000', 'p:low', 'p:normal', 't:error', 't:info', 's:deploy', 'h:web-1', 'k:agg'), { maxLength: 3 }),
  tags: fc.option(dogTags, { nil: undefined }),
});

type EventModel = typeof eventModel extends fc.Arbitrary<infer T> ? T : never;

function renderEvent(e: EventModel): string {
  const tags = e.tags === undefined ? [] : [`#${e.tags.map(([k, v]) => `${k}:${v}`).join(',')}`];
  return `_e{${Buffer.byteLength(e.title)},${Buffer.byteLength(e.text)}}:${e.title}|${e.text}${[...e.meta, ...tags].map((s) => `|${s}`).join('')}`;
}

const checkModel = fc.record({
  name: fc.stringMatching(/^[a-z][a-z0-9._]{0,15}$/),
  status: fc.integer({ min: 0, max: 3 }),
  meta: fc.array(fc.constantFrom('d:1700000000', 'h:web-1'), { maxLength: 2 }),
  tags: fc.option(dogTags, { nil: undefined }),
  message: fc.option(fc.stringMatching(/^[A-Za-z0-9 .|:_-]{0,20}$/), { nil: undefined }),
});

type CheckModel = typeof checkModel extends fc.Arbitrary<infer T> ? T : never;

function renderCheck(c: CheckModel): string {
  const sections = [...c.meta, ...(c.tags === undefined ? [] : [`#${c.tags.map(([k, v]) => `${k}:${v}`).join(',')}`])];
  if (c.message !== undefined) sections.push(`m:${c.message}`);
  return `_sc|${c.name}|${c.status}${sections.map((s) => `|${s}`).join('')}`;
}

/** Any line of the grammar, with the meaning it must be read as. */
const wellFormed: fc.Arbitrary<{ line: string; meaning: Meaning }> = fc.oneof(
  { weight: 8, arbitrary: metricModel.map((m) => ({ line: renderMetric(m), meaning: metricMeaning(m) })) },
  {
    weight: 1,
    arbitrary: eventModel.map((e) => ({ line: renderEvent(e), meaning: { kind: 'event', title: e.title, text: e.text, tags: merged(e.tags ?? []) } as Meaning })),
  },
  {
    weight: 1,
    arbitrary: checkModel.map((c) => ({
      line: renderCheck(c),
      meaning: {
        kind: 'check',
        name: c.name,
        status: c.status,
        tags: merged(c.tags ?? []),
        ...(c.message === undefined ? {} : { message: c.message }),
      } as Meaning,
    })),
  },
);

// ---- mutations ----

/** Breakages with the reason each must be counted under. */
const breakages: Array<{ what: string; reason: ParseErrorReason; apply: (m: MetricModel) => string | Buffer | undefined }> = [
  { what: 'a value that is no number', reason: 'bad_value', apply: (m) => (m.type === 's' ? undefined : renderMetric({ ...m, values: [...m.values.slice(1), 'abc'] })) },
  { what: 'no type', reason: 'missing_type', apply: (m) => `${m.name.text}:${m.values.join(':')}` },
  { what: 'an unknown type', reason: 'unknown_type', apply: (m) => renderMetric({ ...m, type: 'q' as StatType }) },
  { what: 'a sample rate that is no rate', reason: 'bad_sample_rate', apply: (m) => `${renderMetric(withoutRate(m))}|@abc` },
  { what: 'a sample rate of 0', reason: 'bad_sample_rate', apply: (m) => `${renderMetric(withoutRate(m))}|@0` },
  { what: 'a sample rate over 1', reason: 'bad_sample_rate', apply: (m) => `${renderMetric(withoutRate(m))}|@2` },
  { what: 'a timestamp that is not whole seconds', reason: 'bad_timestamp', apply: (m) => `${renderMetric({ ...m, crlf: false })}|TABCD` },
  { what: 'two tag sections', reason: 'duplicate_field', apply: (m) => `${renderMetric({ ...m, crlf: false })}|#a:1|#b:2` },
  { what: 'two sample rates', reason: 'duplicate_field', apply: (m) => `${renderMetric({ ...m, crlf: false })}|@0.5|@0.5` },
  { what: 'a section that is no field', reason: 'bad_field', apply: (m) => `${renderMetric({ ...m, crlf: false })}|!!` },
  { what: 'a name that is not UTF-8', reason: 'invalid_utf8', apply: (m) => Buffer.concat([Buffer.from(m.name.text), Buffer.from([0xff]), Buffer.from(`:${m.values.join(':')}|${m.type}`)]) },
  { what: 'an empty name', reason: 'empty_name', apply: (m) => renderMetric({ ...m, name: { ...m.name, text: '' } }) },
  { what: 'a negative count', reason: 'negative_counter', apply: (m) => (m.type === 'c' ? renderMetric({ ...m, values: ['-1', ...m.values.slice(1)] }) : undefined) },
  { what: 'an unclosed bracket', reason: 'bad_tag_style', apply: (m) => renderMetric({ ...m, name: { ...m.name, text: `${m.name.name}[a=b` } }) },
  { what: 'an InfluxDB tag without "="', reason: 'bad_tag_style', apply: (m) => renderMetric({ ...m, name: { ...m.name, text: `${m.name.name},env` } }) },
  { what: 'two name tag styles', reason: 'bad_tag_style', apply: (m) => renderMetric({ ...m, name: { ...m.name, text: `${m.name.name}[a=b],c=d` } }) },
];

/** The model with its sample rate left out, so that a section appended after it is the only one. */
function withoutRate(m: MetricModel): MetricModel {
  const sections = (m.tags === undefined ? 0 : 1) + m.extras.length;
  return { ...m, rate: undefined, crlf: false, order: [...Array(sections).keys()] };
}

/** Bytes that mean something in the protocol, and a few that never should. */
const significant = fc.constantFrom(...':|#@,=[]{}\n\r.+-eET_ cs0 9'.split(''), '\u00ff', '\u00e9', '\u0000');

const byteMutation = fc.oneof(
  fc.tuple(fc.constant('insert' as const), fc.nat(), significant),
  fc.tuple(fc.constant('replace' as const), fc.nat(), significant),
  fc.tuple(fc.constant('delete' as const), fc.nat(), fc.constant('')),
  fc.tuple(fc.constant('truncate' as const), fc.nat(), fc.constant('')),
);

function mutate(line: Buffer, [op, at, ch]: [string, number, string]): Buffer {
  const i = line.length === 0 ? 0 : at % (line.length + (op === 'insert' ? 1 : 0));
  // latin1: one byte per char, so "\u00ff" is a byte that is never valid UTF-8 alone.
  const b = Buffer.from(ch, 'latin1');
  if (op === 'insert') return Buffer.concat([line.subarray(0, i), b, line.subarray(i)]);
  if (op === 'replace') return Buffer.concat([line.subarray(0, i), b, line.subarray(i + 1)]);
  if (op === 'delete') return Buffer.concat([line.subarray(0, i), line.subarray(i + 1)]);
  return line.subarray(0, i);
}

/** Lines the parser must report one outcome for: empty lines and a lone "\r" before "\n" are skipped. */
function lineCount(packet: Buffer): number {
  return packet
    .toString('latin1')
    .split('\n')
    .filter((l) => l.length > 0 && l !== '\r').length;
}

const REASONS = new Set<string>(PARSE_ERROR_REASONS);

describe('the protocol grammar', () => {
  it('reads every well-formed line as the model that made it', () => {
    fc.assert(
      fc.property(wellFormed, ({ line, meaning }) => {
        expect(read(line)).toEqual([meaning]);
      }),
      { numRuns: 1000 },
    );
  });

  it('reads a packet of well-formed lines line by line, whatever the line ends', () => {
    fc.assert(
      fc.property(fc.array(wellFormed, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), (lines, nl, trailing) => {
        const packet = lines.map((l) => l.line.replace(/\r$/, '')).join(nl) + (trailing ? nl : '');
        expect(read(packet)).toEqual(lines.map((l) => l.meaning));
      }),
      { numRuns: 200 },
    );
  });

  for (const b of breakages) {
    it(`counts ${b.what} as ${b.reason}`, () => {
      fc.assert(
        fc.property(metricModel, (m) => {
          const line = b.apply(m);
          if (line === undefined) return;
          expect(read(line)).toEqual([{ kind: 'error', reason: b.reason }]);
        }),
        { numRuns: 100 },
      );
    });
  }

  it('gives any byte mutation of a line one outcome per line, a reading or a counted reason, and never throws', () => {
    const counters = new IngestCounters();
    const agg = new Aggregator({ timerBuckets: [0.1, 1], histogramBuckets: [1, 10], counters, logger: pino({ level: 'silent' }), now: () => 1_700_000_000_000 });
    const aggParser = new StatsdParser();
    fc.assert(
      fc.property(wellFormed, fc.array(byteMutation, { minLength: 1, maxLength: 3 }), ({ line }, mutations) => {
        let packet: Buffer = Buffer.from(line);
        for (const m of mutations) packet = mutate(packet, m);
        const outcomes = read(packet);
        expect(outcomes).toHaveLength(lineCount(packet));
        for (const o of outcomes) {
          if (o.kind === 'error') expect(REASONS.has(o.reason), o.reason).toBe(true);
          else if (o.kind === 'metric') {
            // Whatever was read is something a series can hold.
            expect(o.name.length).toBeGreaterThan(0);
            expect(o.rate > 0 && o.rate <= 1).toBe(true);
            for (const [v] of o.samples) expect(Number.isFinite(v)).toBe(true);
            if (o.type === 'counter') for (const [v] of o.samples) expect(v).toBeGreaterThanOrEqual(0);
          }
        }
        // The whole pipeline stage too: the aggregator takes whatever the parser passes.
        aggParser.parsePacket(packet, agg);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the meaning of a line through changes the protocol says are none', () => {
    // Reordered sections, a newer client's fields, empty sections and tag entries, "@1": generated by the grammar
    // itself; here the one left, the same tags in another order.
    fc.assert(
      fc.property(metricModel, fc.nat(), (m, seed) => {
        if (m.tags === undefined || m.tags.length < 2) return;
        const k = seed % m.tags.length;
        const rotated = { ...m, tags: [...m.tags.slice(k), ...m.tags.slice(0, k)] };
        expect(read(renderMetric(rotated))).toEqual(read(renderMetric(m)));
      }),
      { numRuns: 500 },
    );
  });
});
