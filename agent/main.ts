#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { defaultConfig, loadConfigFile } from './config/load-config.js';
import { ConfigError } from './shared/config-error.js';
import type { TallyConfig } from './config/schema.js';
import { createMapper, loadMapper } from './mapping/load-mapper.js';
import { checkConfig } from './cli/check-config.js';
import { resolveMapping } from './cli/mapping-source.js';
import { applySettings, envSettings, flagSettings, UsageError, type Extras, type Settings } from './cli/settings.js';
import { EXPORTER_DEFAULTS, takeExporterFlags } from './cli/statsd-exporter-flags.js';
import type { StreamListener } from './ingest/stream-listener.js';
import { startPipeline } from './pipeline.js';

const USAGE = `Usage:
  tally-agent [--config FILE] [--mapping FILE] [--udp ADDR] [--tcp ADDR] [--unix PATH]
              [--unixgram PATH] [--http ADDR] [--log-level LEVEL]
                                     run the agent (embedded defaults when no file is given);
                                     the mapping file is statsd_exporter's format, read unchanged
                                     (--statsd-exporter-mapping is the same flag)
  tally-agent check-config [FILE] [--mapping FILE]
                                     validate a config file, a statsd_exporter mapping file
                                     (recognised by its keys), or both; exits 1 with
                                     file:line:column messages on error, warnings on stderr
  tally-agent --help | --version

ADDR is host:port, :port (all IPv4 interfaces) or [ipv6]:port; "" or "off" turns a statsd
listener off. Each flag has a TALLY_* variable (TALLY_CONFIG, TALLY_MAPPING, TALLY_UDP,
TALLY_TCP, TALLY_UNIX, TALLY_UNIXGRAM, TALLY_HTTP, TALLY_LOG_LEVEL); a flag wins over the
variable, the variable over the config file, the file over the default.

statsd_exporter's flags are accepted too (--statsd.listen-udp, --statsd.listen-tcp,
--statsd.listen-unixgram, --statsd.unixsocket-mode, --statsd.mapping-config,
--statsd.read-buffer, --statsd.cache-size, --web.listen-address, --web.telemetry-path,
--log.level, --log.format, --check-config; others with a warning). With them and no config
file, listeners not given take statsd_exporter's defaults: UDP and TCP :9125, HTTP :9102.

Defaults: statsd on UDP 127.0.0.1:8125; HTTP on 127.0.0.1:9102 serving /metrics, /healthz, /readyz.
The default config, every key commented: config/tally.yaml in the package.`;

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function describeStream(l: StreamListener | undefined): string {
  if (l === undefined) return 'off';
  return l.port === undefined ? l.address : hostPort(l.address, l.port);
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

async function main(argv: string[]): Promise<number> {
  const exporter = takeExporterFlags(argv);
  let parsed;
  try {
    parsed = parseArgs({
      args: exporter.rest,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'statsd-exporter-mapping': { type: 'string' },
        mapping: { type: 'string' },
        udp: { type: 'string' },
        tcp: { type: 'string' },
        unix: { type: 'string' },
        unixgram: { type: 'string' },
        http: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
    if (exporter.errors.length > 0) throw new UsageError(exporter.errors.join('; '));
  } catch (err) {
    process.stderr.write(`tally-agent: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }

  let flags: Settings;
  try {
    if (values.mapping !== undefined && values['statsd-exporter-mapping'] !== undefined) {
      throw new UsageError('--mapping and --statsd-exporter-mapping both set the mapping file; give one');
    }
    flags = flagSettings({ ...values, mapping: values.mapping ?? values['statsd-exporter-mapping'] }, exporter.settings);
  } catch (err) {
    process.stderr.write(`tally-agent: ${(err as Error).message}\n`);
    return 2;
  }
  const env = envSettings(process.env);
  const configFile = values.config ?? (process.env.TALLY_CONFIG || undefined);
  const mappingGiven = (flags.get('mapping') ?? env.get('mapping'))?.value;

  if (positionals[0] === 'check-config' || exporter.checkConfig) {
    const file = positionals[0] === 'check-config' ? (positionals[1] ?? values.config) : values.config;
    if ((file === undefined && mappingGiven === undefined) || positionals.length > 2 || (exporter.checkConfig && positionals.length > 0)) {
      process.stderr.write(`tally-agent: check-config takes one FILE, or --mapping FILE\n\n${USAGE}\n`);
      return 2;
    }
    const checked = checkConfig(file, mappingGiven);
    for (const line of exporter.warnings) process.stderr.write(`warning: ${line}\n`);
    for (const line of checked.err) process.stderr.write(`${line}\n`);
    for (const line of checked.out) process.stdout.write(`${line}\n`);
    return checked.code;
  }
  if (positionals.length > 0) {
    process.stderr.write(`tally-agent: unknown command "${positionals[0]}"\n\n${USAGE}\n`);
    return 2;
  }

  let config: TallyConfig;
  let extras: Extras;
  // statsd_exporter's listeners stand in for Tally's defaults only where no file speaks, so a swapped binary listens where the old one did.
  const exporterDefaults = exporter.used && configFile === undefined;
  try {
    config = configFile === undefined ? defaultConfig() : loadConfigFile(configFile);
    extras = {};
    if (exporterDefaults) {
      const defaults: Settings = new Map([...EXPORTER_DEFAULTS].map(([k, value]) => [k, { value, source: 'statsd_exporter default' }]));
      applySettings(config, defaults, extras);
    }
    applySettings(config, env, extras);
    applySettings(config, flags, extras);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tally-agent: invalid config\n${err.message}\n`);
      return 1;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`tally-agent: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  const logger = pino({ level: config.log.level, base: { service: 'tally-agent' } });
  for (const w of exporter.warnings) logger.warn(w);
  if (exporterDefaults) {
    logger.info('statsd_exporter flags and no config file: listeners not given take statsd_exporter\'s defaults (UDP and TCP :9125, HTTP :9102, all interfaces)');
  }
  const version = packageVersion();
  let mapper;
  try {
    const mapping = resolveMapping(extras.mapping?.value, config, configFile);
    const cache = { cacheSize: extras.mappingCacheSize };
    if (mapping.kind === 'file') mapper = loadMapper(mapping.path, logger, cache);
    else if (mapping.kind === 'inline') mapper = createMapper(mapping.config, `${configFile} (mapping:)`, logger, cache);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tally-agent: invalid mapping file\n${err.message}\n`);
      return 1;
    }
    throw err;
  }
  let agent;
  try {
    agent = await startPipeline(config, logger, version, mapper, {
      baseDir: configFile === undefined ? process.cwd() : dirname(resolve(configFile)),
    });
  } catch (err) {
    logger.fatal({ err }, (err as Error).message);
    process.stderr.write(`tally-agent: ${(err as Error).message}\n`);
    return 1;
  }
  logger.info(
    {
      version,
      config: configFile ?? '(embedded defaults)',
      udp: agent.udp ? hostPort(agent.udp.address, agent.udp.port) : 'off',
      udp_receive_buffer_bytes: agent.udp?.receiveBufferBytes,
      udp_receiver: agent.udp?.receiver,
      unixgram: agent.unixgram?.path ?? 'off',
      unixgram_receive_buffer_bytes: agent.unixgram?.receiveBufferBytes,
      tcp: describeStream(agent.streams.find((l) => l.kind === 'tcp')),
      unix: describeStream(agent.streams.find((l) => l.kind === 'unix')),
      http: hostPort(agent.http.address, agent.http.port),
      metrics_path: config.http.metrics_path,
      flush_interval_ms: config.aggregation.flush_interval,
    },
    'tally-agent listening',
  );

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      agent
        .stop()
        .then(() => {
          logger.info('stopped');
          resolve(0);
        })
        .catch((err: unknown) => {
          logger.error({ err }, 'error while stopping');
          resolve(1);
        });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`tally-agent: unexpected error: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 70;
  },
);
