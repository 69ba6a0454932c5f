import { z } from 'zod';
import { bucketLayout, exponentialBounds } from '../shared/bucket-bounds.js';
import { duration, DURATION_PATTERN } from '../shared/duration-schema.js';
import { resourceSchema, sinksSchema, spoolSchema } from '../export/sinks-config.js';
import { inlineMappingSchema } from '../mapping/mapping-config.js';

export { DURATION_PATTERN };

// Prometheus client libraries' default buckets, for h and d metrics, whose
// unit the agent cannot know.
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Timers are seconds, so their default can be fine: 8 bounds per doubling
 * from 1 ms to 60 s (128 bounds) keep any p50 or p99 in that range within
 * 9.2 % once Prometheus interpolates it. With the client libraries' 11
 * bounds a p99 of 0.283 s read 0.361 s and one of 0.423 s read 0.381 s
 * (both in the (0.25, 0.5] bucket), so "is B slower than A" came out wrong.
 */
export const DEFAULT_TIMER_LAYOUT = { min: 0.001, max: 60, per_octave: 8 } as const;
export const DEFAULT_TIMER_BUCKETS = exponentialBounds(DEFAULT_TIMER_LAYOUT.min, DEFAULT_TIMER_LAYOUT.max, DEFAULT_TIMER_LAYOUT.per_octave);

const port = z.number().int().min(0).max(65535);


const receiveBufferBytes = z
  .number()
  .int()
  .min(0)
  .default(33554432)
  .describe('Requested SO_RCVBUF; the kernel caps it at net.core.rmem_max and the size obtained is logged.');

const socketMode = z
  .string()
  .regex(/^0?[0-7]{3}$/, 'an octal file mode such as "0660"')
  .default('0660')
  .describe('Permissions of the socket file, octal.');

const udpSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Listen for statsd datagrams over UDP.'),
    address: z.string().min(1).default('127.0.0.1').describe('Address to bind; use 0.0.0.0 to accept from other hosts.'),
    port: port.default(8125).describe('UDP port; 0 picks a free one.'),
    receive_buffer_bytes: receiveBufferBytes,
    receiver: z
      .enum(['auto', 'recvmmsg', 'dgram'])
      .default('auto')
      .describe('How datagrams are read: recvmmsg (batched, native addon), dgram (node:dgram), auto (recvmmsg where built).'),
  })
  .strict();

const unixgramSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Listen for DogStatsD datagrams on a Unix datagram socket (needs the native addon).'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe('Socket file; a stale one with no reader is replaced. Default: dsd.sock in $XDG_RUNTIME_DIR/tally-agent, else in /tmp/tally-agent-<uid> (a folder of this user\'s that no one else can write to).'),
    mode: socketMode,
    receive_buffer_bytes: receiveBufferBytes,
  })
  .strict();

const streamCommon = {
  max_connections: z
    .number()
    .int()
    .min(0)
    .default(1024)
    .describe('Connections held at once; more are closed on accept and counted. 0 means no limit.'),
  idle_timeout: duration.prefault('5m').describe('A connection silent this long is closed; 0 never closes one.'),
};

const tcpSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Accept newline-delimited statsd over TCP.'),
    address: z.string().min(1).default('127.0.0.1').describe('Address to bind; use 0.0.0.0 to accept from other hosts.'),
    port: port.default(8125).describe('TCP port; 0 picks a free one.'),
    ...streamCommon,
  })
  .strict();

const unixSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Accept newline-delimited statsd over a Unix stream socket.'),
    path: z
      .string()
      .min(1)
      .optional()
      .describe('Socket file; a stale one left by a dead agent is replaced. Default: statsd.sock in the folder of unixgram.path\'s default.'),
    mode: socketMode,
    ...streamCommon,
  })
  .strict();

const collectSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Accept metrics and events on POST /v1/collect (JSON or statsd lines).'),
    durable: z
      .boolean()
      .default(true)
      .describe('Journal each request to disk (group-commit fsync) before answering 2xx, and replay it after a crash.'),
    journal_max_bytes: z
      .number()
      .int()
      .positive()
      .default(67108864)
      .describe('Bytes the journal may hold for requests not yet in every sink queue (64 MiB); past it collect answers 503 with Retry-After.'),
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .default(1048576)
      .describe('Largest request body, in bytes after gzip decoding; larger is answered 413.'),
    max_items: z.number().int().positive().default(10000).describe('Most JSON items in one request; more is answered 413.'),
    max_json_depth: z
      .number()
      .int()
      .min(2)
      .default(8)
      .describe('Deepest nesting of JSON arrays and objects; deeper is answered 400.'),
    bearer_token: z
      .string()
      .min(1)
      .optional()
      .describe('When set, requests need "Authorization: Bearer <token>"; others are answered 401.'),
    bearer_token_file: z
      .string()
      .min(1)
      .optional()
      .describe('A file holding the bearer token (surrounding whitespace ignored), read at start-up; relative to the working directory.'),
    allowed_hosts: z
      .array(z.string().min(1))
      .default([])
      .describe(
        'Host headers accepted on /v1/collect and /metrics ("name" for any port, "name:port"). Empty: on a loopback listener, localhost, 127.0.0.1, [::1] and the listen address on its port; on other listeners, any.',
      ),
  })
  .strict()
  .refine((c) => c.bearer_token === undefined || c.bearer_token_file === undefined, {
    message: 'set bearer_token or bearer_token_file, not both',
  });

// Paths the HTTP server answers itself, which the exposition cannot take over.
const RESERVED_PATHS = ['/healthz', '/readyz', '/-/healthy', '/-/ready', '/v1/collect'];

const httpSchema = z
  .object({
    address: z.string().min(1).default('127.0.0.1').describe('Address of the HTTP server (/metrics, /healthz, /readyz, /v1/collect).'),
    port: port.default(9102).describe('HTTP port; 0 picks a free one.'),
    metrics_path: z
      .string()
      .regex(/^\/[^\s?#]*$/, 'a path starting with "/"')
      .refine((p) => !RESERVED_PATHS.includes(p), { message: `not one of ${RESERVED_PATHS.join(', ')}` })
      .default('/metrics')
      .describe('Path of the Prometheus exposition (statsd_exporter\'s --web.telemetry-path).'),
    headers_timeout: duration
      .refine((ms) => ms >= 100, { message: 'headers_timeout must be at least 100ms' })
      .prefault('10s')
      .describe('A client that has not sent all its request headers by then is answered 408 and disconnected.'),
    request_timeout: duration
      .refine((ms) => ms >= 100, { message: 'request_timeout must be at least 100ms' })
      .prefault('30s')
      .describe('A client that has not sent its whole request (headers and body) by then is answered 408 and disconnected.'),
    collect: collectSchema.prefault({}),
  })
  .strict()
  .refine((h) => h.headers_timeout <= h.request_timeout, {
    message: 'headers_timeout must not be longer than request_timeout',
    path: ['headers_timeout'],
  });

const aggregationSchema = z
  .object({
    // prefault, not default: a zod default is returned as-is without running
    // the transform, which would leave the string "10s" where milliseconds
    // are expected.
    flush_interval: duration
      .refine((ms) => ms >= 100, { message: 'flush_interval must be at least 100ms' })
      .prefault('10s')
      .describe(
        'How often sets roll over and batches are cut. A duration such as "500ms", "10s", "1m" or "1h"; a bare number is seconds.',
      ),
    timer_buckets: bucketLayout
      .prefault({ ...DEFAULT_TIMER_LAYOUT })
      .describe('Histogram bucket bounds for timers (ms), in seconds: a list, or { min, max, per_octave } for a geometric layout.'),
    histogram_buckets: bucketLayout
      .prefault([...DEFAULT_BUCKETS])
      .describe('Bucket bounds for h and d metrics, in the unit sent: a list, or { min, max, per_octave }.'),
    series_ttl: duration
      .prefault(0)
      .describe('A series idle this long is dropped at a flush (a departed pod); 0 keeps series for as long as the agent runs.'),
    up_down_counters: z
      .array(z.string().regex(/^[^\s|:@#]+$/, 'a statsd name pattern: no spaces, "|", ":", "@" or "#"'))
      .default([])
      .describe(
        'statsd counters (by the name sent; "*" stands for any part of one dot-separated component) kept as up-down counters: negative counts (decrement()) are added, and the metric is an OpenTelemetry non-monotonic sum, a gauge without "_total" in Prometheus. Other counters refuse negative counts as negative_counter, with a warning.',
      ),
  })
  .strict();

const limitsSchema = z
  .object({
    max_series_per_metric: z
      .number()
      .int()
      .positive()
      .default(10000)
      .describe('Series one metric name may hold; lines that would create more are dropped and counted.'),
    max_series: z
      .number()
      .int()
      .positive()
      .default(200000)
      .describe('Series the agent holds in all; lines that would create more are dropped and counted.'),
    max_line_bytes: z
      .number()
      .int()
      .positive()
      .default(65536)
      .describe('Longest statsd line accepted, in bytes.'),
    max_tags: z.number().int().positive().default(64).describe('Most tags one line may carry.'),
    max_tag_value_bytes: z
      .number()
      .int()
      .positive()
      .default(1024)
      .describe('Longest tag value accepted, in bytes (UTF-8).'),
    max_event_text_bytes: z
      .number()
      .int()
      .positive()
      .default(4096)
      .describe('Longest DogStatsD event text accepted, in bytes (UTF-8).'),
  })
  .strict();

const logSchema = z
  .object({
    level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('Minimum level of the agent\'s own logs; "silent" turns them off.'),
  })
  .strict();

export const configSchema = z
  .object({
    statsd: z
      .object({
        udp: udpSchema.prefault({}),
        tcp: tcpSchema.prefault({}),
        unix: unixSchema.prefault({}),
        unixgram: unixgramSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    http: httpSchema.prefault({}),
    tags: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/, 'a tag key: letters, digits, "_", "." and "-", not starting with a digit'), z.string().min(1))
      .default({})
      .describe(
        'Tags added to every series (service, version, env, ...). TALLY_TAGS and OTEL_RESOURCE_ATTRIBUTES add to and override them; a tag sent on the line wins over all.',
      ),
    aggregation: aggregationSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    mapping: inlineMappingSchema
      .optional()
      .describe(
        "statsd_exporter mapping rules written here instead of in a file: `defaults:` and `mappings:` exactly as in statsd_exporter's format. Not together with mappings_file.",
      ),
    mappings_file: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A statsd_exporter mapping file, read unchanged; relative to this config file's folder. --statsd-exporter-mapping overrides it.",
      ),
    log: logSchema.prefault({}),
    spool: spoolSchema.prefault({}),
    sinks: sinksSchema,
    resource: resourceSchema.prefault({}),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.mapping !== undefined && config.mappings_file !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['mappings_file'], message: 'set mapping or mappings_file, not both' });
    }
  });

export type TallyConfig = z.output<typeof configSchema>;
