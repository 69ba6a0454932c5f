/**
 * scripts/prom-text.mjs, the one Prometheus text reader that the tests, the
 * benches and the demo read /metrics with. Every test that checks the agent's
 * exposition trusts it, so it must read what the agent writes exactly, and
 * must throw on what it cannot read rather than lose a sample.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeHelp, familyHeader, labelPairs, sampleValue as formatValue } from '../../agent/export/exposition-text.js';
import {
  familyType,
  findSample,
  formatLabels,
  parsePromText,
  sampleValue,
  samplesNamed,
  sumSamples,
  type Labels,
} from '../../scripts/prom-text.mjs';

const EXPOSITION = [
  '# HELP http_requests_total Requests served, by "code" \\\\ route\\nsecond line',
  '# UNIT req_seconds seconds',
  '# TYPE http_requests_total counter',
  '# a free comment, which the format allows',
  'http_requests_total{code="200",route="/a"} 3',
  'http_requests_total{code="500",route="/a"} 1 1700000000000',
  '',
  'http_requests_total{ code="200" , route="/b" } 4',
  'up 1',
  'temperature{where="say \\"hi\\"\\\\ then\\nnew line"} -2.5e-3',
  'edges{v="a"} +Inf',
  'edges{v="b"} -Inf',
  'edges{v="c"} NaN',
  '',
].join('\n');

describe('parsePromText', () => {
  it('reads samples in served order, with unescaped labels, values and optional timestamps', () => {
    const { samples } = parsePromText(EXPOSITION);
    expect(samples.map((s) => [s.name, s.labels, s.value])).toEqual([
      ['http_requests_total', { code: '200', route: '/a' }, 3],
      ['http_requests_total', { code: '500', route: '/a' }, 1],
      ['http_requests_total', { code: '200', route: '/b' }, 4],
      ['up', {}, 1],
      ['temperature', { where: 'say "hi"\\ then\nnew line' }, -0.0025],
      ['edges', { v: 'a' }, Infinity],
      ['edges', { v: 'b' }, -Infinity],
      ['edges', { v: 'c' }, NaN],
    ]);
    expect(samples[3]!.line).toBe('up 1');
  });

  it('keeps TYPE, HELP and UNIT by family, HELP and UNIT as served', () => {
    const { families } = parsePromText(EXPOSITION);
    expect(families.get('http_requests_total')).toEqual({ type: 'counter', help: 'Requests served, by "code" \\\\ route\\nsecond line' });
    expect(families.get('req_seconds')).toEqual({ unit: 'seconds' });
    expect(familyType(EXPOSITION, 'http_requests_total')).toBe('counter');
    expect(familyType(EXPOSITION, 'up')).toBeUndefined();
  });

  it('takes a label named like an Object.prototype member as a label', () => {
    const [s] = parsePromText('m{constructor="a",__proto__="b",toString="c"} 1\n').samples;
    expect(Object.keys(s!.labels)).toEqual(['constructor', '__proto__', 'toString']);
    expect(s!.labels['__proto__']).toBe('b');
    expect(Object.getPrototypeOf(s!.labels)).toBe(Object.prototype);
  });

  // Each line is one a reader that skipped what it could not match would have lost silently.
  it.each([
    ['no metric name', '{a="b"} 1', /no metric name/],
    ['a name that is not a name', 'my-metric 1', /expected a space/],
    ['no value', 'up', /expected a value/],
    ['a value that is not a number', 'up one', /bad value one/],
    ['a number with junk', 'up 1x', /bad value 1x/],
    ['three fields', 'up 1 2 3', /expected a value and an optional timestamp/],
    ['a timestamp that is not an integer', 'up 1 now', /bad timestamp now/],
    ['no space before the value', 'up{a="b"}1', /expected a space/],
    ['an unterminated label value', 'up{a="b} 1', /unterminated label value/],
    ['an escaped closing quote', 'up{a="b\\"} 1', /unterminated label value/],
    ['an unknown escape', 'up{a="b\\t"} 1', /bad escape/],
    ['an unquoted label value', 'up{a=b} 1', /expected =" at column 5/],
    ['a bad label name', 'up{1a="b"} 1', /bad label name/],
    ['a missing comma', 'up{a="b" c="d"} 1', /expected , or }/],
    ['an unclosed label set', 'up{a="b"', /expected , or }/],
    ['a label given twice', 'up{a="b",a="c"} 1', /label a given twice/],
    ['a TYPE without a type', '# TYPE up', /TYPE without a type/],
    ['an unknown escape in HELP', '# HELP up a \\d', /bad escape in HELP/],
  ])('throws on %s, naming the line', (_, line, why) => {
    const text = `# TYPE ok gauge\nok 1\n${line}\nok2 2\n`;
    expect(() => parsePromText(text)).toThrow(why);
    expect(() => parsePromText(text)).toThrow(`exposition line 3: `);
    expect(() => parsePromText(text)).toThrow(JSON.stringify(line));
  });
});

describe('the lookups', () => {
  const exp = parsePromText(EXPOSITION);

  it('findSample matches the exact label set, and throws when a series is served twice', () => {
    expect(findSample(exp, 'http_requests_total', { code: '200', route: '/a' })).toBe(3);
    expect(findSample(exp, 'http_requests_total', { code: '200' })).toBeUndefined();
    expect(findSample(exp, 'up')).toBe(1);
    expect(findSample(EXPOSITION, 'missing')).toBeUndefined();
    expect(() => findSample('m{a="1"} 1\nm{a="1"} 2\n', 'm', { a: '1' })).toThrow('m{a="1"} is served 2 times');
  });

  it('sampleValue throws on a missing sample with what was served under that name', () => {
    expect(sampleValue(exp, 'up')).toBe(1);
    expect(() => sampleValue(exp, 'http_requests_total', { code: '404', route: '/a' })).toThrow(
      'no sample http_requests_total{code="404",route="/a"}; served under that name: http_requests_total{code="200",route="/a"} 3 | ',
    );
    expect(() => sampleValue(exp, 'nothing')).toThrow('served under that name: (none)');
  });

  it('samplesNamed takes the exact name; sumSamples adds those whose labels include the given ones', () => {
    expect(samplesNamed(exp, 'edges')).toHaveLength(3);
    expect(samplesNamed(exp, 'http_requests')).toEqual([]);
    expect(sumSamples(exp, 'http_requests_total')).toBe(8);
    expect(sumSamples(exp, 'http_requests_total', { code: '200' })).toBe(7);
    expect(sumSamples(exp, 'http_requests_total', { code: '418' })).toBe(0);
  });

  it('formatLabels writes a label set for messages', () => {
    expect(formatLabels({})).toBe('');
    expect(formatLabels({ a: 'x"y', b: '' })).toBe('{a="x\\"y",b=""}');
  });
});

describe('parsePromText properties', () => {
  const labelName = fc.stringMatching(/^[a-zA-Z_][a-zA-Z0-9_]{0,12}$/);
  // Label values weighted towards what needs escaping, plus any other text.
  const labelValue = fc.oneof(
    fc.string({ unit: fc.constantFrom('\\', '"', '\n', 'n', 'a', ' ', '{', '}', ',', '=', '#'), maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
  );
  const labels: fc.Arbitrary<Labels> = fc.dictionary(labelName, labelValue, { maxKeys: 5 }).map((d) => ({ ...d }));
  const value = fc.oneof(
    fc.double().map((v) => (Object.is(v, -0) ? 0 : v)),
    fc.integer(),
    fc.constantFrom(Infinity, -Infinity, NaN),
  );
  const sample = fc.record({
    name: fc.stringMatching(/^[a-zA-Z_:][a-zA-Z0-9_:]{0,20}$/),
    labels,
    value,
  });

  it("reads back every sample the agent's writer pieces write, labels unescaped exactly", () => {
    fc.assert(
      fc.property(fc.array(sample, { maxLength: 8 }), (written) => {
        const text = written
          .map((s) => `${s.name}${Object.keys(s.labels).length ? `{${labelPairs(s.labels)}}` : ''} ${formatValue(s.value)}\n`)
          .join('');
        const read = parsePromText(text).samples.map(({ name, labels, value }) => ({ name, labels, value }));
        expect(read).toEqual(written);
      }),
      { numRuns: 500 },
    );
  });

  it("keeps HELP and UNIT text as the agent's familyHeader escapes it", () => {
    const text = fc.string({ unit: fc.constantFrom('\\', '"', '\n', 'n', 'a', ' ', '#'), maxLength: 20 });
    fc.assert(
      fc.property(text, text, (help, unit) => {
        const meta = parsePromText(familyHeader('fam', help, unit, 'gauge')).families.get('fam');
        // Leading spaces cannot be told from the separator before the text; all else comes back as written.
        expect(meta?.help).toBe(escapeHelp(help).replace(/^ +/, ''));
        expect(meta?.unit).toBe(unit === '' ? undefined : escapeHelp(unit).replace(/^ +/, ''));
        expect(meta?.type).toBe('gauge');
      }),
      { numRuns: 300 },
    );
  });

  it('never drops a line: it throws, or every non-blank line that is not a comment is one sample', () => {
    const line = fc.oneof(
      fc.string({ unit: fc.constantFrom('a', '_', '{', '}', '"', '\\', '=', ',', ' ', '1', '.', 'e', '-', '+', '#', 'n'), maxLength: 16 }),
      fc.string({ maxLength: 16 }),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), (lines) => {
        const text = lines.join('\n');
        let count: number;
        try {
          count = parsePromText(text).samples.length;
        } catch (err) {
          expect((err as Error).message).toMatch(/^exposition line \d+: /);
          return;
        }
        const expected = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length;
        expect(count).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });
});
