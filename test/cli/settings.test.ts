import { describe, expect, it } from 'vitest';
import { applySettings, envSettings, flagSettings, UsageError, type Settings } from '../../agent/cli/settings.js';
import { takeExporterFlags } from '../../agent/cli/statsd-exporter-flags.js';
import { defaultConfig, parseConfigText } from '../../agent/config/load-config.js';

const given = (entries: Array<[string, string, string]>): Settings =>
  new Map(entries.map(([k, value, source]) => [k as never, { value, source }]));

describe('settings from flags, TALLY_* variables and the config file', () => {
  it('layer as flag, then environment, then file, then default', () => {
    const file = parseConfigText('statsd:\n  udp: {address: 10.0.0.1, port: 7000}\nhttp: {port: 9200}\nlog: {level: warn}\n', 'tally.yaml');
    const env = envSettings({ TALLY_UDP: '10.0.0.2:7001', TALLY_LOG_LEVEL: 'debug', TALLY_MAPPING: 'env.yml', UNRELATED: 'x' });
    const flags = flagSettings({ udp: '10.0.0.3:7002', mapping: 'flag.yml' }, new Map());
    const extras = {};
    applySettings(file, env, extras);
    applySettings(file, flags, extras);
    expect(file.statsd.udp).toMatchObject({ enabled: true, address: '10.0.0.3', port: 7002 }); // flag over env over file
    expect(file.log.level).toBe('debug'); // env over file
    expect(file.http).toMatchObject({ address: '127.0.0.1', port: 9200 }); // file over default
    expect(extras).toEqual({ mapping: { value: 'flag.yml', source: '--mapping' } });
  });

  it('reads listen addresses as statsd_exporter writes them, and "" or off as a listener turned off', () => {
    const c = defaultConfig();
    applySettings(
      c,
      given([
        ['udp', ':9125', '--udp'],
        ['tcp', '[::1]:9126', '--tcp'],
        ['http', '0.0.0.0:0', '--http'],
        ['unixgram', '/run/dsd.sock', '--unixgram'],
        ['unix', 'off', '--unix'],
      ]),
    );
    expect(c.statsd.udp).toMatchObject({ enabled: true, address: '0.0.0.0', port: 9125 });
    expect(c.statsd.tcp).toMatchObject({ enabled: true, address: '::1', port: 9126 });
    expect(c.http).toMatchObject({ address: '0.0.0.0', port: 0 });
    expect(c.statsd.unixgram).toMatchObject({ enabled: true, path: '/run/dsd.sock' });
    expect(c.statsd.unix.enabled).toBe(false);
    applySettings(c, given([['udp', '', 'TALLY_UDP']]));
    expect(c.statsd.udp.enabled).toBe(false);
  });

  it('refuses a bad value naming where it came from', () => {
    const bad: Array<[string, string, string, RegExp]> = [
      ['udp', '9125', 'TALLY_UDP', /^TALLY_UDP="9125": host:port/],
      ['http', '', '--web.listen-address', /^--web.listen-address="": host:port/],
      ['tcp', 'h:70000', '--tcp', /up to 65535/],
      ['logLevel', 'verbose', '--log.level', /one of fatal, error, warn, info, debug/],
      ['metricsPath', 'metrics', '--web.telemetry-path', /starting with "\/"/],
      ['metricsPath', '/healthz', '--web.telemetry-path', /not one of/],
      ['readBuffer', '1k', '--statsd.read-buffer', /a number of bytes/],
      ['unixgramMode', 'rw', '--statsd.unixsocket-mode', /octal/],
    ];
    for (const [k, value, source, message] of bad) {
      expect(() => applySettings(defaultConfig(), given([[k, value, source]]))).toThrow(message);
    }
  });

  it('refuses one setting given by a Tally flag and a statsd_exporter flag', () => {
    const exporter = takeExporterFlags(['--statsd.listen-udp=:9125']).settings;
    expect(() => flagSettings({ udp: ':8125' }, exporter)).toThrow(UsageError);
    expect(() => flagSettings({ udp: ':8125' }, exporter)).toThrow('--udp and --statsd.listen-udp both set the same thing');
  });
});
