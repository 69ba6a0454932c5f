import { PARSE_ERROR_REASONS, type ParseErrorReason } from './parse-error-reasons.js';

export const LISTENERS = ['udp', 'tcp', 'unix', 'unixgram'] as const;
export type ListenerName = (typeof LISTENERS)[number];

/**
 * What arrived and whether it parsed: packets, bytes and connections by
 * listener, lines received, lines rejected by reason. Plain numbers bumped
 * on the hot path and read by the self-telemetry callbacks at scrape time;
 * what became of the parsed lines is in AggregationCounters. One instance
 * per agent, passed in.
 */
export class IngestCounters {
  readonly packets: Record<ListenerName, number> = { udp: 0, tcp: 0, unix: 0, unixgram: 0 };
  readonly bytes: Record<ListenerName, number> = { udp: 0, tcp: 0, unix: 0, unixgram: 0 };
  /** Stream connections (tcp, unix) by what happened to them. */
  readonly connections = new Map<string, number>();
  /** Lines that parsed. */
  metricsReceived = 0;
  readonly parseErrors = new Map<ParseErrorReason, number>(PARSE_ERROR_REASONS.map((r) => [r, 0]));

  connection(listener: ListenerName, event: string): void {
    const key = `${listener}\u0000${event}`;
    this.connections.set(key, (this.connections.get(key) ?? 0) + 1);
  }

  parseError(reason: ParseErrorReason, n = 1): void {
    this.parseErrors.set(reason, this.parseErrors.get(reason)! + n);
  }
}
