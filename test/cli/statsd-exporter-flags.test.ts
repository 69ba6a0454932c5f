import { describe, expect, it } from 'vitest';
import { applySettings } from '../../agent/cli/settings.js';
import { EXPORTER_DEFAULTS, takeExporterFlags } from '../../agent/cli/statsd-exporter-flags.js';
import { defaultConfig } from '../../agent/config/load-config.js';

describe("statsd_exporter's command line", () => {
  it('takes its flags out of argv in every form kingpin accepts, leaving the rest', () => {
    const r = takeExporterFlags([
      '--statsd.listen-udp=:9125',
      '--statsd.listen-tcp',
      '',
      '--statsd.mapping-config',
      'mapping.yml',
      '--web.listen-address=:9102',
      '--web.telemetry-path=/metrics',
      '--statsd.read-buffer=8388608',
      '--statsd.cache-size=2000',
      '--log.level=debug',
      '--log.format=json',
      '--config',
      'tally.yaml',
      '--check-config',
    ]);
    expect(Object.fromEntries([...r.settings].map(([k, v]) => [k, v.value]))).toEqual({
      udp: ':9125',
      tcp: '',
      mapping: 'mapping.yml',
      http: ':9102',
      metricsPath: '/metrics',
      readBuffer: '8388608',
      mappingCacheSize: '2000',
      logLevel: 'debug',
    });
    expect(r.rest).toEqual(['--config', 'tally.yaml']);
    expect(r).toMatchObject({ used: true, checkConfig: true, warnings: [], errors: [] });
  });

  it('accepts the flags that mean nothing to Tally with a warning naming each', () => {
    const r = takeExporterFlags([
      '--statsd.event-queue-size=10000',
      '--statsd.event-flush-threshold=1000',
      '--statsd.event-flush-interval=200ms',
      '--statsd.udp-packet-queue-size=10000',
      '--no-statsd.parse-dogstatsd-tags',
      '--statsd.parse-signalfx-tags=true',
      '--statsd.relay.address=statsd:8125',
      '--statsd.relay.packet-length=1400',
      '--web.enable-lifecycle',
      '--debug.dump-fsm=/tmp/fsm.dot',
      '--statsd.cache-type=random',
      '--log.format=logfmt',
    ]);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toHaveLength(12);
    for (const [i, flag] of ['event-queue-size', 'event-flush-threshold', 'event-flush-interval', 'udp-packet-queue-size', 'parse-dogstatsd-tags', 'parse-signalfx-tags', 'relay.address', 'relay.packet-length'].entries()) {
      expect(r.warnings[i]).toMatch(new RegExp(`^--statsd\\.${flag.replace('.', '\\.')}`));
    }
    expect(r.warnings[8]).toMatch(/^--web\.enable-lifecycle ignored: .*restart/);
    expect(r.warnings[10]).toMatch(/^--statsd\.cache-type=random ignored: .*LRU/);
    expect(r.warnings[11]).toMatch(/^--log\.format=logfmt ignored: Tally always logs JSON/);
    expect(r.rest).toEqual([]);
  });

  it('reports a flag without its value or a bool with a bad one, and leaves unknown flags to the caller', () => {
    expect(takeExporterFlags(['--statsd.listen-udp']).errors).toEqual(['--statsd.listen-udp needs a value']);
    expect(takeExporterFlags(['--check-config=yes']).errors).toEqual(['--check-config is true or false, not "yes"']);
    expect(takeExporterFlags(['--no-statsd.listen-udp']).rest).toEqual(['--no-statsd.listen-udp']);
    expect(takeExporterFlags(['--statsd.made-up=1', 'x']).rest).toEqual(['--statsd.made-up=1', 'x']);
    expect(takeExporterFlags(['--udp=:1']).used).toBe(false);
  });

  it("has statsd_exporter's listeners as its defaults", () => {
    const c = defaultConfig();
    applySettings(c, new Map([...EXPORTER_DEFAULTS].map(([k, value]) => [k, { value, source: 'default' }])));
    expect(c.statsd.udp).toMatchObject({ enabled: true, address: '0.0.0.0', port: 9125 });
    expect(c.statsd.tcp).toMatchObject({ enabled: true, address: '0.0.0.0', port: 9125 });
    expect(c.http).toMatchObject({ address: '0.0.0.0', port: 9102 });
  });
});
