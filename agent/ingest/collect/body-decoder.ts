/**
 * From a collect body to aggregator calls: a JSON body is decoded (UTF-8,
 * strict JSON) into a result the caller branches on, then applied item by
 * item; a text body is statsd lines, each bad one named by its line number.
 */
import type { Aggregator } from '../../aggregate/aggregator.js';
import type { ParsedEvent, ParsedServiceCheck } from '../../parse/dogstatsd-extras.js';
import { StatsdParser, type LineSink, type ParsedLine } from '../../parse/statsd-line.js';
import type { ParseErrorReason } from '../../telemetry/parse-error-reasons.js';
import { refusal, type Applied, type BadItem, type Refusal } from './answers.js';
import { validateItem, type ItemLimits } from './json-items.js';
import { parseStrictJson, type StrictJsonResult } from './strict-json.js';

export interface BodyDecoderOptions {
  aggregator: Aggregator;
  maxItems: number;
  maxJsonDepth: number;
  limits: ItemLimits & { maxLineBytes: number };
}

/** A JSON body read, its items not yet checked; or why the whole body is refused. */
export type DecodedJson = ({ ok: true } & StrictJsonResult) | Refusal;

const INVALID_UTF8 = refusal(400, 'invalid_utf8', 'body is not valid UTF-8');

export class BodyDecoder {
  // One parser per decoder: its scratch buffer is reused, and a body is parsed in one synchronous call.
  private readonly parser: StatsdParser;
  private readonly jsonLimits: { maxDepth: number; maxTopLevelItems: number };

  constructor(private readonly opts: BodyDecoderOptions) {
    this.parser = new StatsdParser({ maxLineBytes: opts.limits.maxLineBytes, maxEventTextBytes: opts.limits.maxEventTextBytes });
    this.jsonLimits = { maxDepth: opts.maxJsonDepth, maxTopLevelItems: opts.maxItems };
  }

  decodeJson(body: Buffer): DecodedJson {
    let text: string;
    try {
      text = UTF8.decode(body);
    } catch {
      // The fatal decoder's only way to say "not UTF-8"; nothing else in it throws.
      return INVALID_UTF8;
    }
    const parsed = parseStrictJson(text, this.jsonLimits);
    if (parsed.ok) return parsed;
    const e = parsed.error;
    if (e.reason === 'too_many_items') return refusal(413, 'too_many_items', `more than ${this.opts.maxItems} items in one request`);
    return refusal(400, e.reason, e.message);
  }

  /** Records the items that pass validation; `receivedAtMs` is the time of events that carry none. */
  applyJson(parsed: StrictJsonResult, receivedAtMs: number): Applied {
    const { value, duplicates } = parsed;
    const items = Array.isArray(value) ? value : [value];
    const bad: BadItem[] = [];
    let accepted = 0;
    const agg = this.opts.aggregator;
    for (let i = 0; i < items.length; i++) {
      const item = validateItem(items[i]!, duplicates, this.opts.limits);
      if ('reason' in item) {
        bad.push({ index: i, reason: item.reason, message: item.message });
        continue;
      }
      if (item.kind === 'event') agg.recordEvent(item.name, item.value, item.tags, item.timestampMs ?? receivedAtMs);
      else agg.recordSample(item.kind, item.name, item.value, item.tags);
      accepted++;
    }
    return { accepted, bad };
  }

  applyText(body: Buffer): Applied {
    const sink = new CountingSink(this.opts.aggregator, body);
    this.parser.parsePacket(body, sink);
    return { accepted: sink.accepted, bad: sink.bad };
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Passes lines on to the aggregator and keeps, for the response, how many
 * parsed and which (by 0-based line number) did not.
 */
class CountingSink implements LineSink {
  accepted = 0;
  readonly bad: BadItem[] = [];
  private scanned = 0;
  private line_ = 0;

  constructor(
    private readonly next: LineSink,
    private readonly body: Buffer,
  ) {}

  line(p: ParsedLine): void {
    this.accepted++;
    this.next.line(p);
  }
  event(e: ParsedEvent): void {
    this.accepted++;
    this.next.event(e);
  }
  serviceCheck(c: ParsedServiceCheck): void {
    this.accepted++;
    this.next.serviceCheck(c);
  }
  error(reason: ParseErrorReason, buf: Uint8Array, start: number, end: number): void {
    // The parser works on a copy of the body at the same offsets, and reports in order.
    const body = this.body;
    for (let nl = body.indexOf(10, this.scanned); nl !== -1 && nl < start; nl = body.indexOf(10, nl + 1)) {
      this.line_++;
      this.scanned = nl + 1;
    }
    this.bad.push({ index: this.line_, reason });
    this.next.error(reason, buf, start, end);
  }
}
