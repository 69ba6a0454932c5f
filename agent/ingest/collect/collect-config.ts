import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { LimitsConfig } from '../../aggregate/aggregation-config.js';
import type { CollectOptions } from './handler.js';

/** The config's `http.collect:` section, beside the endpoint it configures. */

export const collectSchema = z
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

export type CollectConfig = z.output<typeof collectSchema>;

/**
 * What the endpoint takes from its section and from `limits:`; `listenAddress`
 * is the HTTP server's. Reads the token file, so a missing or empty one stops
 * start-up rather than leaving the API open.
 */
export function collectSettings(
  cc: CollectConfig,
  limits: LimitsConfig,
  listenAddress: string,
): Pick<CollectOptions, 'listenAddress' | 'maxBodyBytes' | 'maxItems' | 'maxJsonDepth' | 'bearerToken' | 'allowedHosts' | 'limits'> {
  return {
    listenAddress,
    maxBodyBytes: cc.max_body_bytes,
    maxItems: cc.max_items,
    maxJsonDepth: cc.max_json_depth,
    bearerToken: loadBearerToken(cc.bearer_token, cc.bearer_token_file),
    allowedHosts: cc.allowed_hosts,
    limits: {
      maxLineBytes: limits.max_line_bytes,
      maxNameBytes: limits.max_line_bytes,
      maxTags: limits.max_tags,
      maxTagValueBytes: limits.max_tag_value_bytes,
      maxEventTextBytes: limits.max_event_text_bytes,
    },
  };
}

/** The configured token; an empty or unreadable token file stops start-up rather than leaving the API open. */
function loadBearerToken(token: string | undefined, file: string | undefined): string | undefined {
  if (file === undefined) return token;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`http.collect.bearer_token_file: cannot read ${file}: ${(err as Error).message}`);
  }
  if (text === '') throw new Error(`http.collect.bearer_token_file: ${file} is empty`);
  return text;
}
