#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ConfigError, defaultConfig, loadConfigFile } from './config/load-config.js';
import type { TallyConfig } from './config/schema.js';
import { createMapper, loadMapper } from './mapping/load-mapper.js';
import { checkConfig } from './cli/check-config.js';
import { resolveMapping } from './cli/mapping-source.js';
import type { StreamListener } from './ingest/stream-listener.js';
import { startPipeline } from './pipeline.js';

const USAGE = `Usage:
  tally-agent [--config FILE] [--mapping FILE]
                                     run the agent (embedded defaults when no file is given);
                                     the mapping file is statsd_exporter's format, read unchanged
                                     (--statsd-exporter-mapping is the same flag)
  tally-agent check-config [FILE] [--mapping FILE]
                                     validate a config file, a statsd_exporter mapping file
                                     (recognised by its keys), or both; exits 1 with
                                     file:line:column messages on error, warnings on stderr
  tally-agent --help | --version

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
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        'statsd-exporter-mapping': { type: 'string' },
        mapping: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
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

  if (positionals[0] === 'check-config') {
    const file = positionals[1] ?? values.config;
    const mappingFlag = values.mapping ?? values['statsd-exporter-mapping'];
    if ((file === undefined && mappingFlag === undefined) || positionals.length > 2) {
      process.stderr.write(`tally-agent: check-config takes one FILE, or --mapping FILE\n\n${USAGE}\n`);
      return 2;
    }
    const checked = checkConfig(file, mappingFlag);
    for (const line of checked.err) process.stderr.write(`${line}\n`);
    for (const line of checked.out) process.stdout.write(`${line}\n`);
    return checked.code;
  }
  if (positionals.length > 0) {
    process.stderr.write(`tally-agent: unknown command "${positionals[0]}"\n\n${USAGE}\n`);
    return 2;
  }

  let config: TallyConfig;
  try {
    config = values.config === undefined ? defaultConfig() : loadConfigFile(values.config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`tally-agent: invalid config\n${err.message}\n`);
      return 1;
    }
    throw err;
  }

  const logger = pino({ level: config.log.level, base: { service: 'tally-agent' } });
  const version = packageVersion();
  let mapper;
  try {
    const mapping = resolveMapping(values.mapping ?? values['statsd-exporter-mapping'], config, values.config);
    if (mapping.kind === 'file') mapper = loadMapper(mapping.path, logger);
    else if (mapping.kind === 'inline') mapper = createMapper(mapping.config, `${values.config} (mapping:)`, logger);
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
      baseDir: values.config === undefined ? process.cwd() : dirname(resolve(values.config)),
    });
  } catch (err) {
    logger.fatal({ err }, (err as Error).message);
    process.stderr.write(`tally-agent: ${(err as Error).message}\n`);
    return 1;
  }
  logger.info(
    {
      version,
      config: values.config ?? '(embedded defaults)',
      udp: agent.udp ? hostPort(agent.udp.address, agent.udp.port) : 'off',
      udp_receive_buffer_bytes: agent.udp?.receiveBufferBytes,
      udp_receiver: agent.udp?.receiver,
      unixgram: agent.unixgram?.path ?? 'off',
      unixgram_receive_buffer_bytes: agent.unixgram?.receiveBufferBytes,
      tcp: describeStream(agent.streams.find((l) => l.kind === 'tcp')),
      unix: describeStream(agent.streams.find((l) => l.kind === 'unix')),
      http: hostPort(agent.http.address, agent.http.port),
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
