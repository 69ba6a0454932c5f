import { SeverityNumber } from '@opentelemetry/api-logs';
import { millisToHrTime, type InstrumentationScope } from '@opentelemetry/core';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import type { EventRecord } from '../sink.js';
import { encodeWithin } from './request-split.js';
import type { OtlpEncoding } from './wire-format.js';

/**
 * The attribute older receivers read an event's name from. The semantic
 * conventions have deprecated it for the LogRecord's own EventName field
 * (logs.proto `event_name`, field 12), which is set as well; a collector
 * built on protos older than 1.5 drops that field as unknown, and keeps this.
 */
export const EVENT_NAME_ATTRIBUTE = 'event.name';

/**
 * One event becomes one log record shaped as an OpenTelemetry event:
 * - EventName (and the `event.name` attribute) = the event's name;
 * - body = its value, the text a DogStatsD event or an HTTP item carried;
 * - attributes = its tags (a tag sent twice keeps its last value; a tag
 *   called `event.name` gives way to the name);
 * - timestamp = when the event happened (as sent, else when it arrived);
 *   observed timestamp = the flush that shipped it, fixed in the batch so a
 *   replay sends the same record;
 * - severity INFO (9): the semantic conventions ask events to carry a
 *   severity number, and a statsd event says nothing more specific.
 */
export function toLogRecords(events: EventRecord[], resource: Resource, scope: InstrumentationScope, observedMs: number): ReadableLogRecord[] {
  const hrTimeObserved = millisToHrTime(observedMs);
  return events.map((e) => {
    const attributes: Record<string, string> = {};
    for (const [k, v] of e.attributes) attributes[k] = v;
    attributes[EVENT_NAME_ATTRIBUTE] = e.name;
    return {
      hrTime: millisToHrTime(e.timeMs),
      hrTimeObserved,
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      body: e.value,
      eventName: e.name,
      resource,
      instrumentationScope: scope,
      attributes,
      droppedAttributesCount: 0,
    };
  });
}

/** The ExportLogsServiceRequest bodies for these records, each within maxBytes before compression. */
export function logsBodies(records: ReadableLogRecord[], encoding: OtlpEncoding, maxBytes: number): Uint8Array[] {
  const serializer = encoding === 'json' ? JsonLogsSerializer : ProtobufLogsSerializer;
  return encodeWithin(records, (part) => serializer.serializeRequest(part)!, maxBytes);
}
