/**
 * statsd_exporter's command line (v0.30), so that its users can swap the
 * binary and keep their flags. Each flag either sets one of Tally's own
 * settings, or is accepted with a warning saying why it changes nothing.
 */

/** The Tally setting a statsd_exporter flag stands for. */
export type SettingName =
  | 'udp'
  | 'tcp'
  | 'unix'
  | 'unixgram'
  | 'unixgramMode'
  | 'mapping'
  | 'mappingCacheSize'
  | 'http'
  | 'metricsPath'
  | 'readBuffer'
  | 'logLevel';

type FlagMeaning =
  | { kind: 'setting'; setting: SettingName }
  | { kind: 'ignored'; why: string }
  | { kind: 'logFormat' }
  | { kind: 'cacheType' }
  | { kind: 'checkConfig' };

interface FlagSpec {
  /** Boolean flags are given bare (`--check-config`) or negated (`--no-check-config`), as kingpin reads them. */
  bool: boolean;
  meaning: FlagMeaning;
}

const setting = (s: SettingName): FlagMeaning => ({ kind: 'setting', setting: s });
const ignored = (why: string): FlagMeaning => ({ kind: 'ignored', why });

const FLAGS: Record<string, FlagSpec> = {
  'statsd.listen-udp': { bool: false, meaning: setting('udp') },
  'statsd.listen-tcp': { bool: false, meaning: setting('tcp') },
  'statsd.listen-unixgram': { bool: false, meaning: setting('unixgram') },
  'statsd.unixsocket-mode': { bool: false, meaning: setting('unixgramMode') },
  'statsd.mapping-config': { bool: false, meaning: setting('mapping') },
  'statsd.read-buffer': { bool: false, meaning: setting('readBuffer') },
  'web.listen-address': { bool: false, meaning: setting('http') },
  'web.telemetry-path': { bool: false, meaning: setting('metricsPath') },
  'log.level': { bool: false, meaning: setting('logLevel') },
  'log.format': { bool: false, meaning: { kind: 'logFormat' } },
  'check-config': { bool: true, meaning: { kind: 'checkConfig' } },
  'statsd.cache-size': { bool: false, meaning: setting('mappingCacheSize') },
  'statsd.cache-type': { bool: false, meaning: { kind: 'cacheType' } },
  'statsd.event-queue-size': { bool: false, meaning: ignored('Tally applies each line as it is read, with no event queue') },
  'statsd.event-flush-threshold': { bool: false, meaning: ignored('Tally applies each line as it is read, with no event queue') },
  'statsd.event-flush-interval': { bool: false, meaning: ignored('Tally applies each line as it is read, with no event queue') },
  'statsd.udp-packet-queue-size': { bool: false, meaning: ignored('Tally parses each UDP batch as it is received, with no packet queue') },
  'statsd.parse-dogstatsd-tags': { bool: true, meaning: ignored('Tally always reads DogStatsD tags') },
  'statsd.parse-influxdb-tags': { bool: true, meaning: ignored('Tally always reads InfluxDB tags in names') },
  'statsd.parse-librato-tags': { bool: true, meaning: ignored('Tally always reads Librato tags in names') },
  'statsd.parse-signalfx-tags': { bool: true, meaning: ignored('Tally always reads SignalFx tags in names') },
  'statsd.relay.address': { bool: false, meaning: ignored('Tally does not relay lines to another statsd: nothing is forwarded there') },
  'statsd.relay.packet-length': { bool: false, meaning: ignored('Tally does not relay lines to another statsd') },
  'web.enable-lifecycle': { bool: true, meaning: ignored('Tally has no /-/reload or /-/quit: restart the process to reload') },
  'debug.dump-fsm': { bool: false, meaning: ignored('Tally matches mapping globs without an FSM to dump') },
};

export interface ExporterCommandLine {
  /** Arguments that are not statsd_exporter's, for Tally's own parser. */
  rest: string[];
  /** Settings given through statsd_exporter flags, with the flag that gave each (for messages). */
  settings: Map<SettingName, { value: string; flag: string }>;
  /** Whether any statsd_exporter flag was given: then its defaults stand in for Tally's (see applyExporterDefaults). */
  used: boolean;
  checkConfig: boolean;
  warnings: string[];
  errors: string[];
}

/**
 * Takes statsd_exporter's flags out of argv: `--flag=value` and `--flag
 * value`, and for boolean flags `--flag`, `--no-flag` and `--flag=true|false`.
 */
export function takeExporterFlags(argv: readonly string[]): ExporterCommandLine {
  const out: ExporterCommandLine = { rest: [], settings: new Map(), used: false, checkConfig: false, warnings: [], errors: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.rest.push(...argv.slice(i));
      break;
    }
    const m = /^--(no-)?([a-z][a-z0-9.-]*)(?:=([\s\S]*))?$/.exec(arg);
    const spec = m === null ? undefined : FLAGS[m[2]!];
    if (m === null || spec === undefined || (m[1] !== undefined && !spec.bool)) {
      out.rest.push(arg);
      continue;
    }
    const name = m[2]!;
    out.used = true;
    let value: string;
    if (spec.bool) {
      if (m[1] !== undefined && m[3] !== undefined) {
        out.errors.push(`--no-${name} takes no value`);
        continue;
      }
      value = m[1] !== undefined ? 'false' : (m[3] ?? 'true');
      if (value !== 'true' && value !== 'false') {
        out.errors.push(`--${name} is true or false, not ${JSON.stringify(value)}`);
        continue;
      }
    } else if (m[3] !== undefined) {
      value = m[3];
    } else if (i + 1 < argv.length) {
      value = argv[++i]!;
    } else {
      out.errors.push(`--${name} needs a value`);
      continue;
    }
    const meaning = spec.meaning;
    switch (meaning.kind) {
      case 'setting':
        out.settings.set(meaning.setting, { value, flag: `--${name}` });
        break;
      case 'checkConfig':
        out.checkConfig = value === 'true';
        break;
      case 'cacheType':
        if (value !== 'lru') out.warnings.push(`--statsd.cache-type=${value} ignored: Tally's mapping cache is always LRU`);
        break;
      case 'logFormat':
        if (value !== 'json') out.warnings.push(`--log.format=${value} ignored: Tally always logs JSON lines`);
        break;
      case 'ignored':
        out.warnings.push(`--${name} ignored: ${meaning.why}`);
        break;
    }
  }
  return out;
}

/** statsd_exporter's listeners when none is given: UDP and TCP on :9125, HTTP on :9102, all interfaces. */
export const EXPORTER_DEFAULTS: ReadonlyMap<SettingName, string> = new Map<SettingName, string>([
  ['udp', ':9125'],
  ['tcp', ':9125'],
  ['http', ':9102'],
  ['unixgramMode', '755'],
]);
