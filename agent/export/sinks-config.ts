import { z } from 'zod';
import type { ExponentialMode } from '../aggregate/series-store.js';
import { duration } from '../shared/duration-schema.js';

const byteCount = z.number().int().positive();

const matchSchema = z
  .object({
    names: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Metric name globs (`*` any run of characters): a metric goes to this sink when its name matches one.'),
    tags: z
      .record(z.string(), z.string())
      .optional()
      .describe('Tag conditions, all of which must hold: a value is matched exactly, or as a glob when it holds `*`.'),
  })
  .strict()
  .describe('Which metrics and events this sink gets; absent, it gets everything.');

const queueSchema = z
  .object({
    max_bytes: byteCount.default(268435456).describe('Undelivered bytes the sink\'s spool queue may hold (256 MiB).'),
    when_full: z
      .enum(['drop_oldest', 'refuse_new'])
      .default('drop_oldest')
      .describe(
        'When the queue is full: drop the oldest batches (counted in tally_queue_dropped_total), or refuse the new flush (counted in tally_queue_refused_total; its data waits in the agent for the next flush, and HTTP collect answers 503 meanwhile).',
      ),
    max_in_flight: z
      .number()
      .int()
      .min(1)
      .max(64)
      .optional()
      .describe('Requests out at once (default 1). More is faster on a slow link, but batches may then arrive out of order.'),
  })
  .strict();

const deadLetterSchema = z
  .object({
    max_bytes: byteCount
      .default(67108864)
      .describe('Bytes the sink\'s dead-letter folder may hold (64 MiB); the oldest entries are removed first, counted in tally_dead_letter_removed_total.'),
  })
  .strict();

const retrySchema = z
  .object({
    initial_backoff: duration.prefault('1s').describe('Wait before the first retry; it doubles per attempt, with jitter.'),
    max_backoff: duration.prefault('30s').describe('Longest wait between retries.'),
    max_retry_after: duration.prefault('5m').describe('Longest Retry-After from a receiver that is honoured.'),
  })
  .strict();

const common = {
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "_", "." and "-", starting with a letter or digit')
    .describe('Unique name: it labels the sink\'s telemetry and names its spool queue folder.'),
  match: matchSchema.optional(),
  headers: z.record(z.string(), z.string()).default({}).describe('Extra HTTP headers on every request (e.g. authorization).'),
  timeout: duration.prefault('10s').describe('Time allowed for one request.'),
  queue: queueSchema.prefault({}),
  retry: retrySchema.prefault({}),
  stall_timeout: duration
    .prefault('5m')
    .describe('/healthz turns false when this sink has delivered nothing for this long while its queue is not empty.'),
  refusal_timeout: duration
    .prefault('1m')
    .describe('/healthz turns false when this sink has refused for good (dead-lettered) every request it finished for this long.'),
  drop_window: duration.prefault('1m').describe('/healthz stays false for this long after this sink dropped data (tally_queue_dropped_total rose).'),
  dead_letter: deadLetterSchema.prefault({}),
};

const url = z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL' });

const otlpSink = z
  .object({
    type: z.literal('otlp'),
    ...common,
    endpoint: url.describe('The collector\'s base URL, e.g. http://127.0.0.1:4318; /v1/metrics and /v1/logs are appended.'),
    encoding: z.enum(['protobuf', 'json']).default('protobuf').describe('OTLP/HTTP body encoding.'),
    compression: z.enum(['gzip', 'none']).default('gzip').describe('Request body compression.'),
    temporality: z.enum(['delta', 'cumulative']).default('delta').describe('Aggregation temporality of sums and histograms.'),
    histograms: z
      .enum(['explicit', 'exponential'])
      .default('explicit')
      .describe(
        'Timers, histograms and distributions as explicit-bucket histograms, or as base-2 exponential histograms (160 buckets, scale up to 20, unless a mapping rule sets their resolution). Rules with native_histogram_* options are exponential for every OTLP sink.',
      ),
    events: z.boolean().default(true).describe('Send events as OpenTelemetry log records to /v1/logs.'),
  })
  .strict();

const remoteWriteSink = z
  .object({
    type: z.literal('prometheus_remote_write'),
    ...common,
    endpoint: url.describe('The receiver\'s write URL, e.g. http://127.0.0.1:9090/api/v1/write.'),
    external_labels: z
      .record(z.string(), z.string())
      .default({})
      .describe('Labels added to every series pushed (e.g. instance), so two agents writing to one receiver stay apart.'),
    job: z
      .string()
      .optional()
      .describe(
        'The job label of every series pushed (a series\' own job tag wins). Default: the resource\'s service.namespace/service.name, as the OpenTelemetry Collector\'s remote-write exporter derives it; "" leaves it out.',
      ),
    instance: z
      .string()
      .optional()
      .describe('The instance label of every series pushed. Default: the resource\'s service.instance.id, else host.name; "" leaves it out.'),
    max_series_per_request: z.number().int().min(1).default(2000).describe('A flush larger than this is sent as several requests.'),
    histograms: z
      .enum(['classic', 'native'])
      .default('classic')
      .describe(
        'Timers, histograms and distributions as classic histograms (a series per bucket, plus _count and _sum), or as native histograms: one series each, base-2 exponential buckets (schema up to 8, 160 buckets, unless a mapping rule sets their resolution). Native needs a receiver that takes them: Prometheus 2.40 or later started with --enable-feature=native-histograms.',
      ),
  })
  .strict();

const moduleSink = z
  .object({
    type: z.literal('module'),
    ...common,
    module: z.string().min(1).describe('A JavaScript module (relative to this config file) whose default export creates a Sink.'),
    options: z.record(z.string(), z.unknown()).default({}).describe('Handed to the module as they are.'),
  })
  .strict();

export const sinkSchema = z.discriminatedUnion('type', [otlpSink, remoteWriteSink, moduleSink]);

export const sinksSchema = z
  .array(sinkSchema)
  .default([])
  .superRefine((sinks, ctx) => {
    const seen = new Set<string>();
    sinks.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `sink name "${s.name}" is used twice` });
      seen.add(s.name);
    });
  })
  .describe('Push sinks: every flush goes to each, through its own spool queue.');

export const spoolSchema = z
  .object({
    dir: z
      .string()
      .min(1)
      .default('.tally-data')
      .describe('Data directory for sink queues, the HTTP journal and dead letters; relative to this config file (or the working directory without one). One agent per directory.'),
    segment_bytes: z.number().int().min(4096).default(67108864).describe('Size at which a spool segment file is closed and a new one begun.'),
    max_record_bytes: z.number().int().positive().default(16777216).describe('Largest batch one spool record may hold.'),
  })
  .strict();

export const resourceSchema = z
  .object({
    attributes: z
      .record(z.string(), z.string())
      .default({})
      .describe('OpenTelemetry resource attributes of what the agent pushes (service.name, host.name, ...); they win over OTEL_RESOURCE_ATTRIBUTES.'),
  })
  .strict();

export type SinkConfig = z.output<typeof sinkSchema>;
export type SpoolConfig = z.output<typeof spoolSchema>;
export type ResourceConfig = z.output<typeof resourceSchema>;

/**
 * Whether a flush must make the OpenTelemetry SDK's form of its batch (and
 * the summaries and exponential histograms beside it): only for a sink
 * module, which reads that form. Remote write renders the families itself,
 * and an OTLP sink makes the form a run of series at a time as it encodes
 * (otlp/family-units.ts).
 */
export function needsSdkForm(sinks: readonly SinkConfig[]): boolean {
  return sinks.some((s) => s.type === 'module');
}

/**
 * Which histogram families keep exponential state beside their buckets:
 * all of them when every histogram goes out that way somewhere (an OTLP
 * sink's `histograms: exponential`, a remote-write sink's `histograms:
 * native`, or native histograms on /metrics, `nativeScrape`); those a
 * mapping rule asks for while something could send them (an OTLP sink, or
 * a module, which may read them); none when nothing could.
 */
export function exponentialMode(sinks: readonly SinkConfig[], nativeScrape: boolean): ExponentialMode {
  const everyHistogram = sinks.some((s) => (s.type === 'otlp' && s.histograms === 'exponential') || (s.type === 'prometheus_remote_write' && s.histograms === 'native'));
  if (everyHistogram || nativeScrape) return 'all';
  return sinks.some((s) => s.type !== 'prometheus_remote_write') ? 'rules' : 'off';
}
