/**
 * One event as it arrived (DogStatsD `_e`, or an HTTP item with a string
 * value), kept for sinks that ship events as OpenTelemetry log records.
 */
export interface EventRecord {
  name: string;
  value: string;
  /** Tag pairs as sent (after tag decoding), in arrival order. */
  attributes: Array<[string, string]>;
  timeMs: number;
}
