import { z } from 'zod';
import { duration, DURATION_PATTERN } from '../shared/duration-schema.js';
import { resourceSchema, sinksSchema, spoolSchema } from '../export/sinks-config.js';
import { inlineMappingSchema } from '../mapping/resolve-rules.js';
import { aggregationSchema, limitsSchema } from '../aggregate/aggregation-config.js';
import { portSchema, statsdSchema } from '../ingest/listeners-config.js';
import { collectSchema } from '../ingest/collect/collect-config.js';

export { DURATION_PATTERN };

// Paths the HTTP server answers itself, which the exposition cannot take over.
const RESERVED_PATHS = ['/healthz', '/readyz', '/-/healthy', '/-/ready', '/v1/collect'];

const httpSchema = z
  .object({
    address: z.string().min(1).default('127.0.0.1').describe('Address of the HTTP server (/metrics, /healthz, /readyz, /v1/collect).'),
    port: portSchema.default(9102).describe('HTTP port; 0 picks a free one.'),
    metrics_path: z
      .string()
      .regex(/^\/[^\s?#]*$/, 'a path starting with "/"')
      .refine((p) => !RESERVED_PATHS.includes(p), { message: `not one of ${RESERVED_PATHS.join(', ')}` })
      .default('/metrics')
      .describe('Path of the Prometheus exposition (statsd_exporter\'s --web.telemetry-path).'),
    native_histograms: z
      .boolean()
      .default(false)
      .describe(
        'Keep every timer, histogram and distribution as a base-2 exponential histogram too (160 buckets, schema up to 8), and serve them as native histograms, one series each instead of a series per bucket, to a scraper that asks for the protobuf exposition: Prometheus 2.40 or later started with --enable-feature=native-histograms. Text scrapers still get the classic buckets.',
      ),
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
    statsd: statsdSchema.prefault({}),
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
