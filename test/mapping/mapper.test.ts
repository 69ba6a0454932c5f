import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, type ConfigIssue } from '../../agent/shared/config-error.js';
import { Mapper, type MappingMetricType } from '../../agent/mapping/mapper.js';
import { loadMappingFile, parseMappingText } from '../../agent/mapping/mapping-config.js';
import { scaleForBucketFactor } from '../../agent/mapping/resolve-rules.js';
import { parseConfigText } from '../../agent/config/load-config.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');

interface Case {
  in: string;
  type?: MappingMetricType;
  /** null: no rule matches. A null field: the result must not have it. */
  out: Record<string, unknown> | null;
}

const validDir = join(fixtures, 'valid');
const validFixtures = readdirSync(validDir).filter((f) => f.endsWith('.yaml'));

describe('statsd_exporter compatibility fixtures', () => {
  it('has an expectation file for every mapping fixture', () => {
    expect(validFixtures.length).toBeGreaterThan(10);
    for (const f of validFixtures) expect(readdirSync(validDir)).toContain(f.replace(/\.yaml$/, '.expected.json'));
  });

  for (const file of validFixtures) {
    const cases = JSON.parse(readFileSync(join(validDir, file.replace(/\.yaml$/, '.expected.json')), 'utf8')) as Case[];
    // Each fixture runs cold, through a warm cache, and with no cache at all.
    for (const cacheSize of [1000, 0]) {
      it(`${file} (cache ${cacheSize})`, () => {
        const mapper = new Mapper(loadMappingFile(join(validDir, file)), { cacheSize });
        for (let pass = 0; pass < 2; pass++) {
          for (const c of cases) {
            const got = mapper.map(c.in, c.type ?? 'counter');
            const where = `${c.in} (${c.type ?? 'counter'}), pass ${pass}`;
            if (c.out === null) {
              expect(got, where).toBeUndefined();
              continue;
            }
            expect(got, where).toBeDefined();
            for (const [key, want] of Object.entries(c.out)) {
              if (want === null) expect(got![key as keyof typeof got], `${where}: ${key}`).toBeUndefined();
              else expect(got![key as keyof typeof got], `${where}: ${key}`).toEqual(want);
            }
          }
        }
      });
    }
  }
});

describe('invalid mapping files', () => {
  const invalidDir = join(fixtures, 'invalid');
  const expected = JSON.parse(readFileSync(join(invalidDir, 'expected-errors.json'), 'utf8')) as Record<
    string,
    Array<Omit<ConfigIssue, 'file'>>
  >;
  const files = readdirSync(invalidDir).filter((f) => f.endsWith('.yaml'));

  it('has expected errors for every invalid fixture, and only for those', () => {
    expect(Object.keys(expected).sort()).toEqual(files.sort());
  });

  for (const file of files) {
    it(file, () => {
      const path = join(invalidDir, file);
      let error: unknown;
      try {
        loadMappingFile(path);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const issues = (error as ConfigError).issues;
      expect(issues.map(({ file: _file, ...rest }) => rest)).toEqual(expected[file]);
      for (const issue of issues) expect(issue.file).toBe(path);
    });
  }

  it('reports an unreadable file as a ConfigError', () => {
    expect(() => loadMappingFile(join(fixtures, 'does-not-exist.yaml'))).toThrow(/cannot read mapping file: no such file/);
  });
});

describe('mapping-config', () => {
  it('resolves defaults as statsd_exporter does', () => {
    const config = parseMappingText('mappings: []\n', 'inline.yaml');
    expect(config.defaults).toEqual({
      observerType: undefined,
      matchType: 'glob',
      globDisableOrdering: false,
      ttlMs: 0,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      quantiles: [
        { quantile: 0.5, error: 0.05 },
        { quantile: 0.9, error: 0.01 },
        { quantile: 0.99, error: 0.001 },
      ],
      maxAgeMs: 600_000,
      ageBuckets: 5,
      exponential: undefined,
    });
    expect(config.defaults).toHaveProperty('exponential', undefined);
    expect(config.mappings).toEqual([]);
    expect(config.warnings).toEqual([]);
  });

  it('applies defaults.match_type to rules without their own', () => {
    const config = parseMappingText(
      'defaults:\n  match_type: regex\nmappings:\n- match: "^a\\\\.(b+)$"\n  name: x_$1\n- match: a.*\n  match_type: glob\n  name: y\n',
      'inline.yaml',
    );
    expect(config.mappings.map((m) => m.matchType)).toEqual(['regex', 'glob']);
    const mapper = new Mapper(config);
    expect(mapper.map('a.bb', 'gauge')?.name).toBe('y');
    expect(mapper.map('a.bb.c', 'gauge')).toBeUndefined();
  });

  it('warns, naming the key and its position, about accepted options Tally does not implement', () => {
    const text = [
      'defaults:',
      '  summary_options:',
      '    max_age: 5m',
      '    age_buckets: 2',
      'mappings:',
      '- match: a.*',
      '  name: a',
      '  observer_type: histogram',
      '  histogram_options:',
      '    buckets: [1, 2]',
      '    native_histogram_bucket_factor: 1.1',
      '    native_histogram_max_buckets: 256',
      '- match: b.*',
      '  name: b',
      '  summary_options:',
      '    buf_cap: 1000',
      '',
    ].join('\n');
    const { warnings, mappings } = parseMappingText(text, 'm.yaml');
    // max_age, age_buckets and the native histogram options are implemented, so only this remains.
    expect(warnings.map((w) => `${w.file}:${w.line}:${w.column}: ${w.key}`)).toEqual(['m.yaml:16:5: mappings[1].summary_options.buf_cap']);
    for (const w of warnings) expect(w.message).toMatch(/^ignored: /);
    expect(mappings[0]!.buckets).toEqual([1, 2]);
    expect(mappings[0]!.exponential).toEqual({ maxScale: 3, maxSize: 256 });
    expect(mappings[1]).toMatchObject({ maxAgeMs: 300_000, ageBuckets: 2 });
  });

  it('reads the deprecated timer_type, buckets and quantiles with a warning at each, in a file and inline', () => {
    const file = loadMappingFile(join(validDir, 'deprecated-keys.yaml'));
    expect(file.warnings.map((w) => `${w.line}:${w.column}: ${w.key}`)).toEqual([
      '6:3: defaults.timer_type',
      '7:3: defaults.buckets',
      '21:3: mappings[1].timer_type',
      '22:3: mappings[1].buckets',
      '28:3: mappings[2].timer_type',
      '29:3: mappings[2].quantiles',
      '37:3: mappings[3].timer_type',
    ]);
    for (const w of file.warnings) expect(w.message).toMatch(/^deprecated: .*please use (observer_type|buckets in the histogram_options|quantiles in the summary_options)/);
    expect(file.defaults).toMatchObject({ observerType: 'histogram', buckets: [0.005, 0.05, 0.5, 5] });

    const inline = parseConfigText('statsd: {}\nmapping:\n  defaults:\n    timer_type: summary\n', 'tally.yaml').mapping!;
    expect(inline.defaults.observerType).toBe('summary');
    expect(inline.warnings.map((w) => `${w.file}:${w.line}:${w.column}: ${w.key}`)).toEqual(['tally.yaml:4:5: mapping.defaults.timer_type']);
  });

  it('drops the defaults\' other histogram options when top-level buckets stand in for them, as statsd_exporter v0.30.0 does', () => {
    const text = 'defaults:\n  buckets: [1, 2]\n  histogram_options:\n    native_histogram_bucket_factor: 1.5\n';
    expect(parseMappingText(text, 'm.yaml').defaults).toMatchObject({ buckets: [1, 2], exponential: undefined });
    const modern = 'defaults:\n  buckets: [1, 2]\n  histogram_options:\n    buckets: [3]\n    native_histogram_bucket_factor: 1.5\n';
    expect(parseMappingText(modern, 'm.yaml').defaults).toMatchObject({ buckets: [3], exponential: { maxScale: 1 } });
  });

  it("picks the exponential scale from native_histogram_bucket_factor as client_golang's pickSchema does", () => {
    // The coarsest scale whose bucket ratio 2^(2^-scale) is at most the factor.
    const cases: Array<[number, number]> = [
      [1.1, 3], // config.example.yml's factor; ratio 2^(1/8) ≈ 1.0905
      [1.005, 8], // its tight example
      [2 ** (2 ** -3), 3], // a factor that is exactly a ratio gets that scale
      [2, 0],
      [4, -1],
      [1.5, 1],
      [1.001, 10], // finer than Prometheus' schema 8: OpenTelemetry goes to 20
      [1 + 1e-9, 20],
      [Number.MAX_VALUE, -10], // log2 log2 = 10: base 2^1024 spans every double
    ];
    for (const [factor, scale] of cases) {
      expect(scaleForBucketFactor(factor), String(factor)).toBe(scale);
      // Within the scale's own definition: its ratio is at most the factor, the next coarser one's is not (unless clamped).
      if (scale < 20 && scale > -10) {
        expect(2 ** (2 ** -scale)).toBeLessThanOrEqual(factor);
        expect(2 ** (2 ** -(scale - 1))).toBeGreaterThan(factor);
      }
    }
  });

  it('applies the defaults\' native histogram options to rules and to unmapped names, inline too', () => {
    const text = [
      'mapping:',
      '  defaults:',
      '    histogram_options:',
      '      native_histogram_bucket_factor: 1.5',
      '  mappings:',
      '  - match: a.*',
      '    name: a',
      '  - match: b.*',
      '    name: b',
      '    histogram_options:',
      '      native_histogram_max_buckets: 40',
      '',
    ].join('\n');
    const config = parseConfigText(text, 'tally.yaml').mapping!;
    expect(config.defaults.exponential).toEqual({ maxScale: 1, maxSize: 256 });
    expect(config.mappings.map((m) => m.exponential)).toEqual([
      { maxScale: 1, maxSize: 256 },
      { maxScale: 1, maxSize: 40 },
    ]);
    expect(new Mapper(config).map('b.x', 'observer')?.exponential).toEqual({ maxScale: 1, maxSize: 40 });
  });

  it('treats null values as absent, as go-yaml does', () => {
    const config = parseMappingText('defaults:\nmappings:\n- match: a.*\n  name: a\n  labels:\n  ttl:\n', 'inline.yaml');
    expect(config.mappings[0]).toMatchObject({ labels: [], ttlMs: 0, action: 'map', matchType: 'glob' });
  });
});

describe('Mapper', () => {
  const config = parseMappingText(
    [
      'mappings:',
      '- match: aa.bb.*.*',
      '  name: "aa_bb_${1}_total"',
      '  labels:',
      '    app: "$2"',
      '- match: "(.*)"',
      '  match_type: regex',
      '  name: other',
      '',
    ].join('\n'),
    'inline.yaml',
  );

  // statsd_exporter issue 273: cached results of one rule must not bleed into each other.
  it('keeps per-name results apart through the cache', () => {
    const mapper = new Mapper(config, { cacheSize: 1000 });
    const names = { 'aa.bb.aa.myapp': 'aa_bb_aa_total', 'aa.bb.bb.myapp': 'aa_bb_bb_total', 'aa.bb.cc.myapp': 'aa_bb_cc_total' };
    for (let i = 0; i < 3; i++) {
      for (const [name, want] of Object.entries(names)) expect(mapper.map(name, 'counter')?.name).toBe(want);
    }
  });

  it('caches each metric type of a name separately', () => {
    const typed = parseMappingText('mappings:\n- match: x.*\n  name: c\n  match_metric_type: counter\n', 'inline.yaml');
    const mapper = new Mapper(typed, { cacheSize: 10 });
    expect(mapper.map('x.y', 'counter')?.name).toBe('c');
    expect(mapper.map('x.y', 'gauge')).toBeUndefined();
    expect(mapper.map('x.y', 'counter')?.name).toBe('c');
    expect(mapper.map('x.y', 'gauge')).toBeUndefined();
    expect(mapper.cacheLength).toBe(1);
  });

  it('evicts the least recently used name when full', () => {
    const mapper = new Mapper(config, { cacheSize: 2 });
    const first = mapper.map('aa.bb.x.a', 'counter');
    mapper.map('aa.bb.x.b', 'counter');
    expect(mapper.map('aa.bb.x.a', 'counter')).toBe(first); // a is now the most recent
    mapper.map('aa.bb.x.c', 'counter'); // evicts b
    expect(mapper.cacheLength).toBe(2);
    expect(mapper.map('aa.bb.x.a', 'counter')).toBe(first);
    const b1 = mapper.map('aa.bb.x.b', 'counter');
    const b2 = mapper.map('aa.bb.x.b', 'counter');
    expect(b1).toEqual(b2);
    expect(b1).toBe(b2);
  });

  it('returns results that cannot be modified by a caller', () => {
    const result = new Mapper(config).map('aa.bb.x.a', 'counter')!;
    expect(Object.isFrozen(result)).toBe(true);
    expect(Object.isFrozen(result.labels)).toBe(true);
    expect(Object.isFrozen(result.buckets)).toBe(true);
  });

  it('falls through to regex rules when no glob matches, and reports the rule index', () => {
    const mapper = new Mapper(config);
    expect(mapper.map('aa.bb.x', 'counter')).toMatchObject({ name: 'other', ruleIndex: 1, action: 'map', ttlMs: 0 });
  });

  it('matches a glob rule that is a strict prefix of an earlier one', () => {
    // statsd_exporter's FSM never marks the shared "*" state as final here,
    // so it misses "a.x"; Tally follows the documented first-match rule.
    const mapper = new Mapper(parseMappingText('mappings:\n- match: a.*.c\n  name: long\n- match: a.*\n  name: short\n', 'i.yaml'));
    expect(mapper.map('a.x', 'counter')?.name).toBe('short');
    expect(mapper.map('a.x.c', 'counter')?.name).toBe('long');
  });

  it('lets "*" match an empty component, as in statsd_exporter', () => {
    const mapper = new Mapper(parseMappingText('mappings:\n- match: a.*.c\n  name: x_$1\n  labels:\n    mid: $1\n', 'i.yaml'));
    expect(mapper.map('a..c', 'counter')).toMatchObject({ name: 'x_', labels: [['mid', '']] });
    expect(mapper.map('a.c', 'counter')).toBeUndefined();
  });
});
