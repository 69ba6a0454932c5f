import { describe, expect, it } from 'vitest';
import { escapeMetricName } from '../../agent/mapping/escape.js';
import { parseGoDuration } from '../../agent/mapping/go-duration.js';
import { compileGoRegex, GoRegexError } from '../../agent/mapping/go-regex.js';
import { compileGlobTemplate, compileRegexTemplate, expandGlob, expandRegex } from '../../agent/mapping/template.js';

describe('escapeMetricName (statsd_exporter escape_test.go)', () => {
  const cases: Record<string, string> = {
    clean: 'clean',
    '0starts_with_digit': '_0starts_with_digit',
    with_underscore: 'with_underscore',
    'with--doubledash': 'with_doubledash',
    'with---multiple-dashes': 'with_multiple_dashes',
    'with.dot': 'with_dot',
    'with😱emoji': 'with_emoji',
    'with.*.multiple': 'with___multiple',
    'test.web-server.foo.bar': 'test_web_server_foo_bar',
    '': '',
  };
  for (const [input, want] of Object.entries(cases)) it(JSON.stringify(input), () => expect(escapeMetricName(input)).toBe(want));
});

describe('parseGoDuration', () => {
  it.each([
    ['1m2s', 62e9],
    ['10s', 10e9],
    ['1.5h', 5400e9],
    ['300ms', 300e6],
    ['1m20s', 80e9],
    ['2us', 2000],
    ['2µs', 2000],
    ['0', 0],
    ['-5s', -5e9],
  ])('%s', (text, ns) => expect(parseGoDuration(text)).toBe(ns));
  it.each(['', '5', 's', '5 s', '1d', '5sm', '.s'])('rejects %j', (text) => expect(parseGoDuration(text)).toBeUndefined());
});

describe('glob templates (statsd_exporter formatter)', () => {
  const expand = (template: string, captures: string[]) => expandGlob(compileGlobTemplate(template, captures.length), captures);
  it('expands $n and ${n}, treats out-of-range and non-numeric references as empty', () => {
    expect(expand('${1}_$2', ['a', 'b'])).toBe('a_b');
    expect(expand('$1-$2-$3', ['foo', 'bar'])).toBe('foo-bar-');
    expect(expand('$1_foo', ['a'])).toBe('');
    expect(expand('$0', ['a'])).toBe('');
    expect(expand('plain', [])).toBe('plain');
    expect(expand('${10}', Array.from({ length: 10 }, (_, i) => `c${i + 1}`))).toBe('c10');
  });
});

describe('regex templates (Go Regexp.Expand)', () => {
  const expand = (pattern: string, template: string, input: string) => {
    const re = compileGoRegex(pattern);
    return expandRegex(compileRegexTemplate(template, re.groupCount, re.groupNames), re.regex.exec(input)!);
  };
  it('follows Expand for numbers, names, $$ and malformed references', () => {
    expect(expand('(a)(b)?', '$1|$2|$0|$$|${1}x|$1x|$|${', 'a')).toBe('a||a|$|ax||$|${');
    expect(expand('(?P<w>\\w+)', '${w}!', 'hi')).toBe('hi!');
  });
});

describe('compileGoRegex', () => {
  const matches = (pattern: string, input: string) => compileGoRegex(pattern).regex.exec(input)?.[0];
  it('searches unanchored, leftmost-first', () => expect(matches('b+', 'abbbc')).toBe('bbb'));
  it('rewrites RE2-only syntax', () => {
    expect(matches('(?i)ABC', 'xabc')).toBe('abc');
    expect(matches('a\\z', 'a')).toBe('a');
    expect(matches('a\\z', 'a\n')).toBeUndefined();
    expect(matches('[[:digit:]]+', 'ab123')).toBe('123');
    expect(matches('[]a]+', 'x]a]')).toBe(']a]');
    expect(matches('\\Qa.b\\E', 'axb a.b')).toBe('a.b');
    expect(matches('a.b', 'a\rb')).toBe('a\rb');
    expect(matches('\\s', '\u00a0 ')).toBe(' ');
  });
  it.each(['(?=a)', '(?!a)', '(?<=a)b', '(a)\\1', '\\pL', 'a(?i)b', '(?U)a', '*a', '[a'])('rejects %j', (pattern) =>
    expect(() => compileGoRegex(pattern)).toThrow(GoRegexError),
  );
});
