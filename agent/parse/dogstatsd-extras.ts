import type { ParseErrorReason, SyntaxReason } from '../telemetry/parse-error-reasons.js';

/** A DogStatsD event: `_e{title_len,text_len}:title|text|d:ts|h:host|p:prio|t:alert|s:src|k:key|#tags`. */
export interface ParsedEvent {
  title: string;
  text: string;
  /** Seconds since the epoch, when the sender gave `d:`. */
  timestamp?: number;
  tags: string;
  fields: Record<string, string>;
  /** Metadata fields left out while the event is kept: a bad `d:` (bad_timestamp), or a field this agent does not know. */
  ignored: SyntaxReason[];
}

/** A DogStatsD service check: `_sc|name|status|d:ts|h:host|#tags|m:message`. */
export interface ParsedServiceCheck {
  name: string;
  /** 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
  status: number;
  timestamp?: number;
  tags: string;
  message?: string;
  /** As for events: fields left out while the check is kept. */
  ignored: SyntaxReason[];
}

const EVENT_FIELDS: Record<string, string> = { h: 'hostname', p: 'priority', t: 'alert_type', s: 'source_type_name', k: 'aggregation_key' };

/**
 * Parses an event line. Title and text lengths are UTF-8 byte counts, as
 * the Datadog agent reads them, because either may contain '|'.
 */
export function parseEvent(line: Buffer, maxTextBytes: number): ParsedEvent | ParseErrorReason {
  const header = /^_e\{(\d{1,9}),(\d{1,9})\}:/.exec(line.toString('latin1', 0, Math.min(line.length, 24)));
  if (header === null) return 'bad_event';
  const titleLen = Number(header[1]);
  const textLen = Number(header[2]);
  if (titleLen === 0) return 'bad_event';
  if (textLen > maxTextBytes) return 'event_too_long';
  const titleStart = header[0].length;
  const textStart = titleStart + titleLen + 1;
  const textEnd = textStart + textLen;
  if (textEnd > line.length || line[textStart - 1] !== 0x7c || (textEnd < line.length && line[textEnd] !== 0x7c)) {
    return 'bad_event';
  }
  const decoded = decodeUtf8(line, titleStart, titleStart + titleLen, textStart, textEnd);
  if (decoded === undefined) return 'invalid_utf8';
  const event: ParsedEvent = { title: decoded[0], text: decoded[1].replace(/\\n/g, '\n'), tags: '', fields: {}, ignored: [] };
  if (textEnd < line.length) {
    // The Datadog agent keeps an event whose metadata it cannot read: the title and text are the event.
    for (const section of line.toString('utf8', textEnd + 1).split('|')) {
      if (section.startsWith('#')) event.tags = section.slice(1);
      else if (section.startsWith('d:')) {
        const ts = timestampField(section);
        if (ts === undefined) event.ignored.push('bad_timestamp');
        else event.timestamp = ts;
      } else if (section[1] === ':' && EVENT_FIELDS[section[0]!] !== undefined) event.fields[EVENT_FIELDS[section[0]!]!] = section.slice(2);
      else if (section.length > 0) event.ignored.push('unknown_field');
    }
  }
  return event;
}

export function parseServiceCheck(line: Buffer): ParsedServiceCheck | ParseErrorReason {
  const text = line.toString('utf8');
  if (text.includes('\ufffd')) return 'invalid_utf8';
  const parts = text.split('|');
  const name = parts[1] ?? '';
  const status = Number(parts[2]);
  if (name.length === 0 || parts[2]?.length !== 1 || !(status >= 0 && status <= 3)) return 'bad_service_check';
  const check: ParsedServiceCheck = { name, status, tags: '', ignored: [] };
  for (let i = 3; i < parts.length; i++) {
    const section = parts[i]!;
    if (section.startsWith('m:')) {
      // The message is last and may itself contain '|'.
      check.message = parts.slice(i).join('|').slice(2);
      break;
    }
    if (section.startsWith('#')) check.tags = section.slice(1);
    else if (section.startsWith('d:')) {
      const ts = timestampField(section);
      if (ts === undefined) check.ignored.push('bad_timestamp');
      else check.timestamp = ts;
    } else if (!section.startsWith('h:') && section.length > 0) check.ignored.push('unknown_field');
  }
  return check;
}

/** The seconds of a `d:<ts>` field, or undefined when they are not a whole non-negative number. */
function timestampField(section: string): number | undefined {
  const digits = section.slice(2);
  if (!/^\d{1,15}$/.test(digits)) return undefined;
  return Number(digits);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(buf: Buffer, aStart: number, aEnd: number, bStart: number, bEnd: number): [string, string] | undefined {
  try {
    return [strictUtf8.decode(buf.subarray(aStart, aEnd)), strictUtf8.decode(buf.subarray(bStart, bEnd))];
  } catch {
    return undefined;
  }
}
