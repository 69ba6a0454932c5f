import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  defaultConfig,
  loadConfigFile,
  parseConfigText,
} from '../../agent/config/load-config.js';
import { ConfigError, type ConfigIssue } from '../../agent/shared/config-error.js';
import { parseYamlWithSchema } from '../../agent/shared/yaml-issues.js';
import { DEFAULT_TIMER_BUCKETS } from '../../agent/aggregate/aggregation-config.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const fixture = (name: string) => join(fixtures, name);

function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const loadError = (name: string) => configError(() => loadConfigFile(fixture(name)));
const textError = (text: string) => configError(() => parseConfigText(text, 'inline.yaml'));

/** Issues without the file name, which every test would otherwise repeat. */
const located = (err: ConfigError) => err.issues.map(({ file: _file, ...rest }: ConfigIssue) => rest);

describe('loadConfigFile', () => {
  it('loads a valid config, converting durations to milliseconds and resolving anchors', () => {
    const config = loadConfigFile(fixture('good.yaml'));
    expect(config).toEqual({
      statsd: {
        udp: { enabled: true, address: '0.0.0.0', port: 9125, receive_buffer_bytes: 8388608, receiver: 'auto' },
        tcp: { enabled: false, address: '127.0.0.1', port: 8125, max_connections: 1024, idle_timeout: 300_000 },
        unix: { enabled: false, mode: '0660', max_connections: 1024, idle_timeout: 300_000 },
        unixgram: { enabled: false, mode: '0660', receive_buffer_bytes: 33554432 },
      },
      http: {
        address: '127.0.0.1',
        port: 0,
        metrics_path: '/metrics',
        native_histograms: false,
        headers_timeout: 10_000,
        request_timeout: 30_000,
        collect: { enabled: true, durable: true, journal_max_bytes: 67108864, max_body_bytes: 1048576, max_items: 10000, max_json_depth: 8, allowed_hosts: [] },
      },
      limits: { max_series_per_metric: 10000, max_series: 200000, max_line_bytes: 65536, max_tags: 64, max_tag_value_bytes: 1024, max_event_text_bytes: 4096 },
      aggregation: { flush_interval: 90_000, timer_buckets: [0.01, 0.1, 1, 10], histogram_buckets: [0.01, 0.1, 1, 10], series_ttl: 0, up_down_counters: [] },
      log: { level: 'debug' },
      spool: { dir: '.tally-data', segment_bytes: 67108864, max_record_bytes: 16777216 },
      sinks: [],
      resource: { attributes: {} },
      tags: {},
    });
  });

  it('treats an empty file as all defaults', () => {
    expect(loadConfigFile(fixture('empty.yaml'))).toEqual(defaultConfig());
  });

  it('treats a file of only comments as all defaults', () => {
    expect(loadConfigFile(fixture('comments-only.yaml'))).toEqual(defaultConfig());
  });

  it('reports a wrong type at the value, as file:line:column: key: message', () => {
    const file = fixture('wrong-type.yaml');
    const err = configError(() => loadConfigFile(file));
    expect(err.issues).toEqual([
      { file, line: 3, column: 11, key: 'statsd.udp.port', message: 'Invalid input: expected number, received string' },
    ]);
    expect(err.message).toBe(`${file}:3:11: statsd.udp.port: Invalid input: expected number, received string`);
  });

  it('reports an unknown key on its own line and suggests the likely intended key', () => {
    expect(located(loadError('unknown-key.yaml'))).toEqual([
      { line: 3, column: 3, key: 'http.prot', message: 'unknown key (did you mean "port"?)' },
    ]);
  });

  it('reports a bad duration at its value', () => {
    expect(located(loadError('bad-duration.yaml'))).toEqual([
      {
        line: 2,
        column: 19,
        key: 'aggregation.flush_interval',
        message: '"10 seconds" is not a duration (use e.g. 500ms, 10s, 1m, 1h)',
      },
    ]);
  });

  it('reports non-increasing buckets at the first out-of-order element', () => {
    expect(located(loadError('buckets-not-increasing.yaml'))).toEqual([
      {
        line: 5,
        column: 7,
        key: 'aggregation.timer_buckets[2]',
        message: 'bucket bounds must be strictly increasing (0.25 follows 0.5)',
      },
    ]);
  });

  it('reports a YAML syntax error with its position', () => {
    const [issue, ...rest] = loadError('syntax-error.yaml').issues;
    expect(rest).toEqual([]);
    expect(issue).toMatchObject({ file: fixture('syntax-error.yaml'), line: 4, column: 1, key: 'http.address' });
    expect(issue!.message).toMatch(/flow sequence/i);
  });

  it('reports a duplicate key at the repeated key, naming the first definition', () => {
    expect(located(loadError('duplicate-key.yaml'))).toEqual([
      { line: 5, column: 5, key: 'statsd.udp.port', message: 'duplicate key (first defined on line 3)' },
    ]);
  });

  it('reports sink mistakes at their line: bad endpoint scheme, unknown type, missing key, bad enum', () => {
    const found = located(configError(() => loadConfigFile(fixture('bad-sinks.yaml'))));
    expect(found.map((f) => [f.line, f.key])).toEqual([
      [4, 'sinks[0].endpoint'],
      [5, 'sinks[0].histograms'],
      [7, 'sinks[1].type'],
      [8, 'sinks[2].module'],
      [10, 'sinks[2].queue.when_full'],
    ]);
    expect(found[1]!.message).toBe('Invalid option: expected one of "explicit"|"exponential"');
  });

  it('reports a sink name used twice at the second use', () => {
    expect(located(configError(() => loadConfigFile(fixture('duplicate-sink.yaml'))))).toEqual([
      { line: 5, column: 11, key: 'sinks[1].name', message: 'sink name "collector" is used twice' },
    ]);
  });

  it('reports every problem in the file, in source order', () => {
    const file = fixture('many-errors.yaml');
    const err = configError(() => loadConfigFile(file));
    expect(located(err)).toEqual([
      {
        line: 3,
        column: 14,
        key: 'statsd.udp.enabled',
        message: 'Invalid input: expected boolean, received string ("yes" is only a boolean in YAML 1.1; write true or false)',
      },
      { line: 4, column: 11, key: 'statsd.udp.port', message: 'Too big: expected number to be <=65535' },
      {
        line: 5,
        column: 5,
        key: 'statsd.udp.bogus',
        message: 'unknown key (expected one of: enabled, address, port, receive_buffer_bytes, receiver)',
      },
      { line: 7, column: 9, key: 'http.port', message: 'Too small: expected number to be >=0' },
      {
        line: 9,
        column: 19,
        key: 'aggregation.flush_interval',
        message: '"soon" is not a duration (use e.g. 500ms, 10s, 1m, 1h)',
      },
      {
        line: 10,
        column: 25,
        key: 'aggregation.timer_buckets[2]',
        message: 'bucket bounds must be strictly increasing (2 follows 2)',
      },
      { line: 11, column: 3, key: 'aggregation.histogram_buckets', message: 'Too small: expected array to have >=1 items' },
      {
        line: 13,
        column: 10,
        key: 'log.level',
        message: 'Invalid option: expected one of "fatal"|"error"|"warn"|"info"|"debug"|"trace"|"silent"',
      },
      { line: 14, column: 1, key: 'metrics', message: 'unknown key (expected one of: statsd, http, tags, aggregation, limits, mapping, mappings_file, log, spool, sinks, resource)' },
    ]);
    const lines = err.message.split('\n');
    expect(lines).toHaveLength(9);
    expect(lines[0]).toBe(`${file}:3:14: statsd.udp.enabled: ${err.issues[0]!.message}`);
    expect(lines[8]).toBe(`${file}:14:1: metrics: unknown key (expected one of: statsd, http, tags, aggregation, limits, mapping, mappings_file, log, spool, sinks, resource)`);
  });

  it('reports an alias to an undefined anchor', () => {
    expect(located(loadError('unresolved-alias.yaml'))).toEqual([
      {
        line: 2,
        column: 18,
        key: 'aggregation.timer_buckets',
        message: 'unknown alias *buckets (an anchor must be defined before it is used)',
      },
    ]);
  });

  it('reports a document that is not a mapping against the root', () => {
    expect(located(loadError('not-a-mapping.yaml'))).toEqual([
      { line: 1, column: 1, key: '(root)', message: 'Invalid input: expected object, received array' },
    ]);
  });

  it('names a missing file in the error', () => {
    const file = fixture('does-not-exist.yaml');
    const err = configError(() => loadConfigFile(file));
    expect(err.message).toBe(`${file}:1:1: (root): cannot read config file: no such file`);
  });

  it('names a directory passed as the config file', () => {
    const err = configError(() => loadConfigFile(fixtures));
    expect(err.message).toBe(`${fixtures}:1:1: (root): cannot read config file: is a directory`);
  });

  it.skipIf(process.getuid?.() === 0 || process.platform === 'win32')('names an unreadable file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tally-config-'));
    try {
      const file = join(dir, 'tally.yaml');
      writeFileSync(file, 'log:\n  level: info\n');
      chmodSync(file, 0o000);
      expect(configError(() => loadConfigFile(file)).message).toBe(
        `${file}:1:1: (root): cannot read config file: permission denied`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('inline mapping rules', () => {
  it('are checked in the same pass as the rest of the config, every issue at the config file\'s line and column', () => {
    expect(located(loadError('inline-mapping-and-config-errors.yaml'))).toEqual([
      { line: 2, column: 9, key: 'http.port', message: 'Invalid input: expected number, received string' },
      { line: 8, column: 13, key: 'mapping.mappings[0].name', message: expect.stringContaining('invalid metric name "shop hits"') },
      { line: 9, column: 7, key: 'mapping.mappings[0].labelz', message: expect.stringMatching(/^unknown key/) },
    ]);
  });

  it('load resolved, with their warnings read off the same document', () => {
    const config = loadConfigFile(fixture('inline-mapping.yaml'));
    expect(config.mapping?.defaults.observerType).toBe('summary');
    expect(config.mapping?.mappings.map((m) => [m.match, m.name, m.labels])).toEqual([['shop.*.hits', 'shop_hits', [['page', '$1']]]]);
    expect(config.mapping?.warnings.map((w) => `${w.file}:${w.line}:${w.column}: ${w.key}`)).toEqual([
      `${fixture('inline-mapping.yaml')}:4:5: mapping.defaults.timer_type`,
    ]);
  });

  it('are refused beside mappings_file, at the key', () => {
    expect(located(loadError('mapping-and-mappings-file.yaml'))).toEqual([
      { line: 5, column: 16, key: 'mappings_file', message: 'set mapping or mappings_file, not both' },
    ]);
  });
});

describe('parseConfigText', () => {
  it('puts the given file name in every issue', () => {
    const err = textError('http:\n  port: x\n  addres: y\n');
    expect(err.issues.map((i) => i.file)).toEqual(['inline.yaml', 'inline.yaml']);
    expect(err.message).toBe(
      [
        'inline.yaml:2:9: http.port: Invalid input: expected number, received string',
        'inline.yaml:3:3: http.addres: unknown key (did you mean "address"?)',
      ].join('\n'),
    );
  });

  it('accepts durations as bare seconds', () => {
    expect(parseConfigText('aggregation:\n  flush_interval: 2.5\n', 'x').aggregation.flush_interval).toBe(2500);
  });

  it('spells out the accepted types when a duration has the wrong type', () => {
    expect(located(textError('aggregation:\n  flush_interval: true\n'))).toEqual([
      {
        line: 2,
        column: 19,
        key: 'aggregation.flush_interval',
        message: 'Invalid input: expected string or number, received boolean',
      },
    ]);
  });

  it('points at the key when a value is left empty', () => {
    expect(located(textError('statsd:\n  udp:\n    port:\n'))).toEqual([
      { line: 3, column: 5, key: 'statsd.udp.port', message: 'Invalid input: expected number, received null' },
    ]);
  });

  it('points at the key when a block collection has the wrong shape', () => {
    expect(located(textError('http:\n  - port\n'))).toEqual([
      { line: 1, column: 1, key: 'http', message: 'Invalid input: expected object, received array' },
    ]);
  });

  it('reports a wrongly typed bucket by its index', () => {
    expect(located(textError('aggregation:\n  histogram_buckets: [1, two, 3]\n'))).toEqual([
      { line: 2, column: 26, key: 'aggregation.histogram_buckets[1]', message: 'Invalid input: expected number, received string' },
    ]);
  });

  it('expands { min, max, per_octave } into a geometric list of bounds', () => {
    const b = parseConfigText('aggregation:\n  histogram_buckets: { min: 1, max: 1000, per_octave: 2 }\n', 'x').aggregation.histogram_buckets;
    expect(b[0]).toBe(1);
    expect(b.at(-1)).toBeGreaterThanOrEqual(1000);
    expect(b).toHaveLength(21);
    expect(b[1]).toBe(1.414);
  });

  it('reports a bad field of a geometric layout at its key', () => {
    expect(located(textError('aggregation:\n  timer_buckets: { min: 0, max: 1, per_octave: 8 }\n'))).toEqual([
      { line: 2, column: 25, key: 'aggregation.timer_buckets.min', message: 'Too small: expected number to be >0' },
    ]);
  });

  it('follows an alias to the anchored value it refers to', () => {
    const err = textError('aggregation:\n  timer_buckets: &b [1, 0]\n  histogram_buckets: *b\n');
    expect(located(err)).toEqual([
      { line: 2, column: 25, key: 'aggregation.timer_buckets[1]', message: 'bucket bounds must be strictly increasing (0 follows 1)' },
      { line: 2, column: 25, key: 'aggregation.histogram_buckets[1]', message: 'bucket bounds must be strictly increasing (0 follows 1)' },
    ]);
  });

  it('counts columns and lines correctly with CRLF line endings', () => {
    expect(located(textError('http:\r\n  port: "abc"\r\n'))).toEqual([
      { line: 2, column: 9, key: 'http.port', message: 'Invalid input: expected number, received string' },
    ]);
  });

  it('rejects a file holding several YAML documents', () => {
    const [issue] = textError('log:\n  level: info\n---\nlog:\n  level: debug\n').issues;
    expect(issue).toMatchObject({ line: 3, column: 1 });
    expect(issue!.message).toMatch(/multiple documents/i);
  });

  it('refuses a document whose aliases expand without bound', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 8; i++) {
      const prev = String.fromCharCode(96 + i);
      const name = String.fromCharCode(97 + i);
      lines.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const err = textError(lines.join('\n') + '\n');
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ line: 1, column: 1, key: '(root)' });
    expect(err.issues[0]!.message).toMatch(/alias/i);
  });

  it('keeps each issue on one line', () => {
    const err = textError('a: "unterminated\n');
    for (const issue of err.issues) expect(issue.message).not.toContain('\n');
    expect(err.message.split('\n')).toHaveLength(err.issues.length);
  });
});

describe('parseYamlWithSchema', () => {
  const schema = z.object({ server: z.object({ host: z.string(), port: z.number() }).strict() }).strict();

  it('points a missing required key at its enclosing mapping', () => {
    const err = configError(() => parseYamlWithSchema(schema, '# server\nserver:\n  host: example\n', 'svc.yaml'));
    expect(err.issues).toEqual([
      { file: 'svc.yaml', line: 2, column: 1, key: 'server.port', message: 'missing required key (expected number)' },
    ]);
  });

  it('points a missing top-level key at the start of the document', () => {
    const err = configError(() => parseYamlWithSchema(schema, '', 'svc.yaml'));
    expect(err.issues).toEqual([
      { file: 'svc.yaml', line: 1, column: 1, key: 'server', message: 'missing required key (expected object)' },
    ]);
  });
});

describe('defaultConfig', () => {
  it('is the schema defaults with durations in milliseconds', () => {
    expect(defaultConfig()).toEqual({
      statsd: {
        udp: { enabled: true, address: '127.0.0.1', port: 8125, receive_buffer_bytes: 33554432, receiver: 'auto' },
        tcp: { enabled: false, address: '127.0.0.1', port: 8125, max_connections: 1024, idle_timeout: 300_000 },
        unix: { enabled: false, mode: '0660', max_connections: 1024, idle_timeout: 300_000 },
        unixgram: { enabled: false, mode: '0660', receive_buffer_bytes: 33554432 },
      },
      http: {
        address: '127.0.0.1',
        port: 9102,
        metrics_path: '/metrics',
        native_histograms: false,
        headers_timeout: 10_000,
        request_timeout: 30_000,
        collect: { enabled: true, durable: true, journal_max_bytes: 67108864, max_body_bytes: 1048576, max_items: 10000, max_json_depth: 8, allowed_hosts: [] },
      },
      limits: { max_series_per_metric: 10000, max_series: 200000, max_line_bytes: 65536, max_tags: 64, max_tag_value_bytes: 1024, max_event_text_bytes: 4096 },
      aggregation: {
        flush_interval: 10_000,
        timer_buckets: DEFAULT_TIMER_BUCKETS,
        histogram_buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        series_ttl: 0,
        up_down_counters: [],
      },
      log: { level: 'info' },
      spool: { dir: '.tally-data', segment_bytes: 67108864, max_record_bytes: 16777216 },
      sinks: [],
      resource: { attributes: {} },
      tags: {},
    });
  });

  it('returns a fresh object each time, so a caller mutating it cannot change the defaults', () => {
    const first = defaultConfig();
    first.aggregation.timer_buckets.push(100);
    first.statsd.udp.port = 1;
    expect(defaultConfig().aggregation.timer_buckets).not.toContain(100);
    expect(defaultConfig().statsd.udp.port).toBe(8125);
  });
});
