/**
 * Why a statsd line was rejected. Each value is a `reason` label of
 * tally_parse_errors_total, so the set is closed and documented here.
 */
export const PARSE_ERROR_REASONS = [
  'empty_name', // ":1|c"
  'missing_value', // "foo", "foo:|c"
  'missing_type', // "foo:1"
  'unknown_type', // "foo:1|x"
  'bad_value', // "foo:abc|c", NaN, Inf, 1e309
  'negative_counter', // counters only go up
  'bad_sample_rate', // "@0", "@-1", "@abc", "@2"
  'bad_field', // a "|..." section that is not a DogStatsD field ("foo:1|c|bar")
  'bad_timestamp', // "|T", "|TABCD", "|T-5": a DogStatsD timestamp that is not whole seconds
  'duplicate_field', // two "|@" or two "|#" sections
  'invalid_utf8', // name, tags or set member not valid UTF-8
  'line_too_long', // longer than limits.max_line_bytes
  'too_many_tags', // more than limits.max_tags
  'tag_value_too_long', // a tag value over limits.max_tag_value_bytes
  'bad_event', // a DogStatsD "_e{...}" line that does not follow the format
  'event_too_long', // event text over limits.max_event_text_bytes
  'bad_service_check', // a DogStatsD "_sc|..." line that does not follow the format
  'bad_tag_style', // tags in the name (InfluxDB, Librato, SignalFx) mixed or malformed
  'malformed_tag', // "#flag", "#:v" or "name.[flag]": counted, the metric is kept without that tag
  'unknown_field', // "|x:..." a field this agent does not know: counted, the metric is kept (a newer client)
  'datagram_truncated', // a unix datagram longer than the receive slot (64 KiB): cut by the kernel, so not parsed
] as const;

export type ParseErrorReason = (typeof PARSE_ERROR_REASONS)[number];

// The reasons by where a line is refused. The label vocabulary stays the one
// list above, in its order; these say which stage may give which reason.

/** Cut by the transport: a stream line past limits.max_line_bytes, a datagram past the receive slot. */
export const TRANSPORT_REASONS = ['line_too_long', 'datagram_truncated'] as const satisfies readonly ParseErrorReason[];
/** A line that reads, refused by the agent's own rules: limits, and counters that only go up. */
export const ADMISSION_REASONS = ['negative_counter', 'too_many_tags', 'tag_value_too_long', 'event_too_long'] as const satisfies readonly ParseErrorReason[];
export type TransportReason = (typeof TRANSPORT_REASONS)[number];
export type AdmissionReason = (typeof ADMISSION_REASONS)[number];
/** What the text of a line itself gets wrong. */
export type SyntaxReason = Exclude<ParseErrorReason, TransportReason | AdmissionReason>;
