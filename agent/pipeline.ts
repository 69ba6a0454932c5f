import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import type { Logger } from 'pino';
import { Aggregator } from './aggregate/aggregator.js';
import { warmUpHotPath } from './aggregate/warm-up.js';
import { globalTags } from './aggregate/global-tags.js';
import { aggregatorSettings } from './aggregate/aggregation-config.js';
import type { TallyConfig } from './config/schema.js';
import type { Mapper } from './mapping/mapper.js';
import { buildPushResource } from './export/built-in-sinks.js';
import { exponentialMode, needsSdkForm } from './export/sinks-config.js';
import { DurableSpool } from './durable-spool.js';
import { MAX_PENDING_EVENTS, startFlushLoop } from './flush-loop.js';
import { replayJournal } from './journal-replay.js';
import { Lifecycle } from './lifecycle.js';
import type { FileAccess } from './spool/file-access.js';
import { startHttpServer, type HttpServer } from './http-server.js';
import { streamedMetricsHandler } from './export/streamed-metrics.js';
import { collectSettings } from './ingest/collect/collect-config.js';
import { createCollectHandler } from './ingest/collect/handler.js';
import { makeHostCheck } from './ingest/collect/header-checks.js';
import { parserOptions, streamSettings, udpSettings, unixgramSettings } from './ingest/listeners-config.js';
import { registerHttpMetrics } from './telemetry/http-metrics.js';
import { startStreamListener, type StreamListener } from './ingest/stream-listener.js';
import { startUdpListener, type UdpListener } from './ingest/udp-listener.js';
import { startUnixgramListener, type UnixgramListener } from './ingest/unixgram-listener.js';
import { StatsdParser } from './parse/statsd-line.js';
import { AggregationCounters } from './telemetry/aggregation-counters.js';
import { CollectStats } from './telemetry/collect-stats.js';
import { IngestCounters } from './telemetry/ingest-counters.js';
import { registerSelfMetrics } from './telemetry/self-metrics.js';
import { registerProcessMetrics } from './telemetry/process-metrics.js';

export interface RunningAgent {
  udp: UdpListener | undefined;
  unixgram: UnixgramListener | undefined;
  streams: StreamListener[];
  http: HttpServer;
  /** Stops listening, runs a last flush and releases every resource. */
  stop(): Promise<void>;
}

export interface PipelineOptions {
  /** Folder that relative paths in the config (spool.dir, sink modules) are read from. */
  baseDir: string;
  /** How the journal and the sink queues reach the disk; the real file system by default (tests pass a simulated disk). */
  files?: FileAccess;
}

/** Wires ingest → parse → aggregate → export for one config. */
export async function startPipeline(
  config: TallyConfig,
  logger: Logger,
  version: string,
  mapper: Mapper | undefined,
  opts: PipelineOptions,
): Promise<RunningAgent> {
  const counters = new IngestCounters();
  const aggregation = new AggregationCounters();
  const tags = globalTags({
    config: config.tags,
    // The SDK's own reader of OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, so both sides of the agent read them alike.
    resource: detectResources({ detectors: [envDetector] }).attributes,
    tallyTags: process.env.TALLY_TAGS,
  });
  if (tags.ignored.length > 0) logger.warn({ ignored: tags.ignored }, 'TALLY_TAGS entries that are not key:value were ignored');
  if (tags.pairs.length > 0) logger.info({ tags: Object.fromEntries(tags.pairs) }, 'tags added to every series');
  const aggregator = new Aggregator({
    ...aggregatorSettings(config.aggregation, config.limits),
    globalTags: tags.pairs,
    mapper,
    counters,
    aggregation,
    logger,
    exponential: exponentialMode(config.sinks, config.http.native_histograms),
    // Events are kept as they arrived only when a sink can ship them as log records.
    maxPendingEvents: config.sinks.some((s) => (s.type === 'otlp' && s.events) || s.type === 'module') ? MAX_PENDING_EVENTS : 0,
  });

  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'tally-agent', [ATTR_SERVICE_VERSION]: version });
  const scope = { name: 'tally-agent', version };
  // The SDK reads only the agent's own metrics (tally_*, process); the
  // aggregator's families reach /metrics through Tally's streamed writer,
  // and the push sinks through toResourceMetrics() and remote write's own writer below.
  const selfReader = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const meterProvider = new MeterProvider({ resource, readers: [selfReader] });
  const self = registerSelfMetrics(meterProvider.getMeter('tally-agent', version), {
    counters,
    aggregation,
    seriesCount: () => aggregator.seriesCount,
    largestMetricSeries: () => aggregator.largestFamilySeries(),
    seriesLimits: { maxSeries: config.limits.max_series, maxSeriesPerMetric: config.limits.max_series_per_metric },
    openConnections: () => streams.map((l) => [l.kind, l.connections()]),
    kernelDrops: () => (udp === undefined ? [] : [['udp', udp.kernelDrops()]]),
  });
  const processMetrics = registerProcessMetrics(meterProvider.getMeter('tally-agent', version));

  const pushResource = buildPushResource(config.resource, version);
  const lifecycle = new Lifecycle(logger);
  lifecycle.defer('meter provider', () => meterProvider.shutdown());
  lifecycle.defer('process metrics', () => processMetrics.stop());
  let started = false;
  let udp: UdpListener | undefined;
  let unixgram: UnixgramListener | undefined;
  const streams: StreamListener[] = [];
  let http: HttpServer | undefined;
  let ready = false;
  try {
    const cc = config.http.collect;
    const spool = new DurableSpool({
      spool: config.spool,
      sinks: config.sinks,
      journal: { durable: cc.enabled && cc.durable, maxBytes: cc.journal_max_bytes, maxBodyBytes: cc.max_body_bytes },
      baseDir: opts.baseDir,
      version,
      logger,
      pushResource,
      meter: meterProvider.getMeter('tally-agent', version),
      files: opts.files,
    });
    await spool.start();
    lifecycle.defer('spool', () => spool.close());
    const flushLoop = startFlushLoop({
      aggregator,
      spool,
      intervalMs: config.aggregation.flush_interval,
      // Only OTLP and sink modules read the OpenTelemetry form and the summaries and exponential histograms beside it;
      // remote write renders the families themselves (0.2 s of a flush at 100,000 series saved where it is the only sink).
      sdkForm: needsSdkForm(config.sinks),
      pushResource,
      scope,
      self,
      aggregation,
      logger,
    });
    // Every way in is closed before the last flush (they close first, being opened later), so nothing arrives after it.
    lifecycle.defer('last flush', () => flushLoop.stop(started));
    const retryAfterSeconds = Math.max(1, Math.ceil(config.aggregation.flush_interval / 1000));

    // One parser per listener: a parser's scratch buffer must not be shared by interleaved inputs.
    const newParser = () => new StatsdParser(parserOptions(config.limits, config.aggregation.up_down_counters.length > 0));
    const s = config.statsd;
    if (s.udp.enabled || s.tcp.enabled || s.unix.enabled || s.unixgram.enabled) {
      warmUpHotPath({
        durationMs: 250,
        timerBuckets: config.aggregation.timer_buckets,
        histogramBuckets: config.aggregation.histogram_buckets,
        logger,
      });
    }
    if (s.udp.enabled) {
      const parser = newParser();
      const listener = await startUdpListener({
        ...udpSettings(s.udp),
        counters,
        logger,
        onDatagram: (buf, start, end) => parser.parseRange(buf, start, end, aggregator),
      });
      udp = listener;
      lifecycle.defer('udp listener', () => listener.close());
    }
    if (s.unixgram.enabled) {
      const parser = newParser();
      const listener = await startUnixgramListener({
        ...(await unixgramSettings(s.unixgram)),
        counters,
        logger,
        onDatagram: (buf, start, end) => parser.parseRange(buf, start, end, aggregator),
      });
      unixgram = listener;
      lifecycle.defer('unixgram listener', () => listener.close());
    }
    for (const kind of ['tcp', 'unix'] as const) {
      if (!s[kind].enabled) continue;
      const parser = newParser();
      const listener = await startStreamListener({
        ...(await streamSettings(kind, s, config.limits)),
        logger,
        onLines: (buf) => parser.parsePacket(buf, aggregator),
        counters,
      });
      streams.push(listener);
      lifecycle.defer(`${kind} listener`, () => listener.close());
    }
    const collectStats = new CollectStats();
    const collect = cc.enabled
      ? createCollectHandler({
          aggregator,
          logger,
          counters: collectStats,
          ...collectSettings(cc, config.limits, config.http.address),
          // The journal may open after start-up (a full disk): requests go to it once it is.
          journal: spool.durableCollect
            ? {
                append: (type, body, at) => spool.journal?.append(type, body, at) ?? Promise.reject(new Error('the HTTP collect journal is not open')),
                markApplied: (seq) => spool.journal?.markApplied(seq),
              }
            : undefined,
          unavailable: () => spool.collectUnavailable(retryAfterSeconds),
        })
      : undefined;
    if (collect !== undefined) {
      registerHttpMetrics(meterProvider.getMeter('tally-agent', version), collectStats);
      // Closed after the HTTP server (opened later), which stops new requests, and before the last flush.
      lifecycle.defer('http collect', () => collect.close());
    }
    if (collect !== undefined && spool.journal !== undefined) await replayJournal(spool.journal, collect, logger);
    if (collect !== undefined) spool.replayLateJournal((j) => replayJournal(j, collect, logger));
    const server = await startHttpServer({
      address: config.http.address,
      port: config.http.port,
      logger,
      metricsPath: config.http.metrics_path,
      metrics: streamedMetricsHandler({ aggregator, resource, selfMetrics: selfReader, logger }),
      ready: () => ready,
      unready: () => spool.unready(),
      unhealthy: () => spool.push?.problems() ?? [],
      collect: collect?.handle,
      hostCheck: makeHostCheck(config.http.address, config.http.collect.allowed_hosts),
      headersTimeoutMs: config.http.headers_timeout,
      requestTimeoutMs: config.http.request_timeout,
    });
    http = server;
    lifecycle.defer('http server', () => server.close());
    // Closed first: no timer flush while the ways in close, one last flush after them.
    lifecycle.defer('flush timer', () => flushLoop.pause());
  } catch (err) {
    await lifecycle.closeAll();
    throw err;
  }
  started = true;
  ready = true;
  processMetrics.listening();
  return {
    udp,
    unixgram,
    streams,
    http,
    async stop() {
      ready = false;
      await lifecycle.closeAll();
    },
  };
}
