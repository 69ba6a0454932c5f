import type { TallyConfig } from '../config/schema.js';
import { configSchema } from '../config/schema.js';
import type { SettingName } from './statsd-exporter-flags.js';

/** A setting's value and what gave it, for messages: `--udp`, `TALLY_UDP`, `--statsd.listen-udp`. */
export interface Given {
  value: string;
  source: string;
}

export type Settings = Map<SettingName, Given>;

/** Tally's own flags for the settings a container or unit most often changes, and their TALLY_* variables. */
export const SETTING_SOURCES: ReadonlyArray<{ setting: SettingName; flag: string; env: string }> = [
  { setting: 'udp', flag: 'udp', env: 'TALLY_UDP' },
  { setting: 'tcp', flag: 'tcp', env: 'TALLY_TCP' },
  { setting: 'unix', flag: 'unix', env: 'TALLY_UNIX' },
  { setting: 'unixgram', flag: 'unixgram', env: 'TALLY_UNIXGRAM' },
  { setting: 'http', flag: 'http', env: 'TALLY_HTTP' },
  { setting: 'mapping', flag: 'mapping', env: 'TALLY_MAPPING' },
  { setting: 'logLevel', flag: 'log-level', env: 'TALLY_LOG_LEVEL' },
];

export class UsageError extends Error {}

export function envSettings(env: NodeJS.ProcessEnv): Settings {
  const out: Settings = new Map();
  for (const { setting, env: name } of SETTING_SOURCES) {
    const value = env[name];
    if (value !== undefined) out.set(setting, { value, source: name });
  }
  return out;
}

/** Tally's flags and statsd_exporter's together; one setting given by both is refused rather than guessed at. */
export function flagSettings(values: Record<string, unknown>, exporter: ReadonlyMap<SettingName, { value: string; flag: string }>): Settings {
  const out: Settings = new Map();
  for (const { setting, flag } of SETTING_SOURCES) {
    const value = values[flag];
    if (typeof value === 'string') out.set(setting, { value, source: `--${flag}` });
  }
  for (const [setting, { value, flag }] of exporter) {
    const mine = out.get(setting);
    if (mine !== undefined) throw new UsageError(`${mine.source} and ${flag} both set the same thing; give one`);
    out.set(setting, { value, source: flag });
  }
  return out;
}

/** What the settings give that is not a config key. */
export interface Extras {
  mapping?: Given;
  mappingCacheSize?: number;
}

/**
 * Writes settings over a loaded config. Called once per layer, lowest first
 * (statsd_exporter's defaults, then TALLY_* variables, then flags), so a
 * later layer wins: flag, then environment, then file, then default.
 */
export function applySettings(config: TallyConfig, settings: Settings, extras: Extras = {}): Extras {
  const statsd = config.statsd;
  for (const [setting, given] of settings) {
    const { value, source } = given;
    const fail = (message: string): never => {
      throw new UsageError(`${source}=${JSON.stringify(value)}: ${message}`);
    };
    switch (setting) {
      case 'udp': {
        const at = listenAddress(value, true, fail);
        statsd.udp.enabled = at !== undefined;
        if (at !== undefined) Object.assign(statsd.udp, at);
        break;
      }
      case 'tcp': {
        const at = listenAddress(value, true, fail);
        statsd.tcp.enabled = at !== undefined;
        if (at !== undefined) Object.assign(statsd.tcp, at);
        break;
      }
      case 'http': {
        const at = listenAddress(value, false, fail)!;
        config.http.address = at.address;
        config.http.port = at.port;
        break;
      }
      case 'unix':
        statsd.unix.enabled = !isOff(value);
        if (!isOff(value)) statsd.unix.path = value;
        break;
      case 'unixgram':
        statsd.unixgram.enabled = !isOff(value);
        if (!isOff(value)) statsd.unixgram.path = value;
        break;
      case 'unixgramMode':
        if (!/^0?[0-7]{3}$/.test(value)) fail('an octal file mode such as 0660');
        statsd.unixgram.mode = value;
        break;
      case 'readBuffer': {
        const n = wholeNumber(value) ?? fail('a number of bytes');
        statsd.udp.receive_buffer_bytes = n;
        statsd.unixgram.receive_buffer_bytes = n;
        break;
      }
      case 'metricsPath': {
        const checked = configSchema.shape.http.safeParse({ metrics_path: value });
        if (!checked.success) fail(checked.error.issues[0]?.message ?? 'not a path');
        config.http.metrics_path = value;
        break;
      }
      case 'logLevel': {
        const level = configSchema.shape.log.safeParse({ level: value });
        if (!level.success) fail('one of fatal, error, warn, info, debug, trace, silent');
        else config.log.level = level.data.level;
        break;
      }
      case 'mapping':
        if (value.length === 0) fail('a mapping file');
        extras.mapping = given;
        break;
      case 'mappingCacheSize':
        extras.mappingCacheSize = wholeNumber(value) ?? fail('a number of names (0 turns the cache off)');
        break;
    }
  }
  return extras;
}

function isOff(value: string): boolean {
  return value === '' || value === 'off';
}

function wholeNumber(value: string): number | undefined {
  return /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/**
 * "host:port", ":port" (every IPv4 interface, as statsd_exporter reads it) or
 * "[v6]:port"; "" or "off" turns a statsd listener off.
 */
function listenAddress(value: string, mayBeOff: boolean, fail: (m: string) => never): { address: string; port: number } | undefined {
  if (mayBeOff && isOff(value)) return undefined;
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value);
  if (m === null) return fail(`host:port, :port or [ipv6]:port${mayBeOff ? ', or "" to turn it off' : ''}`);
  const port = Number(m[3]);
  if (port > 65535) return fail('a port up to 65535');
  const host = m[1] ?? m[2]!;
  return { address: host === '' ? '0.0.0.0' : host, port };
}
