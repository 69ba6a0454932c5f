/**
 * The disk-full run of issue 10, shared by the simulated-disk test and the
 * tmpfs one: a client POSTs counter increments and uniquely numbered events
 * while the backend is down and the spool's disk fills up, then the backend
 * comes back. It records what the agent acknowledged (2xx) and, at the end,
 * what reached the backend, and reports acknowledged / delivered / lost /
 * duplicated as the issue gives them.
 */
import { randomBytes } from 'node:crypto';
import { logRecords, metricPoints, type OtlpReceiver } from './otlp-receiver.js';

export const EVENT = 'df_event';
export const COUNTER = 'df_hits';

/** Each event's value carries this much random padding (sinks compress; a tag value, which events also become, takes 1 KiB at most), so a small disk fills within seconds. */
const PADDING_BYTES = 600;

export interface Sent {
  /** Event ids answered 2xx. */
  ackedEvents: string[];
  /** Counter increments answered 2xx (one per acknowledged request). */
  ackedIncrements: number;
  /** Requests by status. */
  statuses: Map<number, number>;
  /** Retry-After values seen on 503s. */
  retryAfter: Set<string>;
}

export function newSent(): Sent {
  return { ackedEvents: [], ackedIncrements: 0, statuses: new Map(), retryAfter: new Set() };
}

/**
 * Posts requests one after another for `ms` (or until `until` holds),
 * each one event and one increment.
 */
export async function postFor(collectUrl: string, sent: Sent, ms: number, until?: () => boolean, padBytes = PADDING_BYTES): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end && !(until?.() ?? false)) {
    const id = `e${sent.ackedEvents.length}-${Math.random().toString(36).slice(2, 10)}`;
    const res = await fetch(collectUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([
        { name: EVENT, value: `${id}:${randomBytes(padBytes).toString('base64')}` },
        { name: COUNTER, value: 1, type: 'counter' },
      ]),
    }).catch(() => undefined);
    if (res === undefined) continue;
    await res.text();
    sent.statuses.set(res.status, (sent.statuses.get(res.status) ?? 0) + 1);
    if (res.status === 202) {
      sent.ackedEvents.push(id);
      sent.ackedIncrements++;
    } else if (res.status === 503) {
      sent.retryAfter.add(res.headers.get('retry-after') ?? '');
      // As a client honouring Retry-After would, but briefly: the run is bounded.
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Waits (at most `ms`) until every acknowledged event has reached the receiver; the figures tell what did not. */
export async function untilDelivered(sent: Sent, receiver: OtlpReceiver, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const got = new Set<string>();
    for (const r of receiver.accepted('logs')) for (const l of logRecords(r.message)) got.add(String(l.body).split(':')[0] ?? '');
    if (sent.ackedEvents.every((id) => got.has(id))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Figures {
  acknowledged: { events: number; increments: number };
  delivered: { events: number; increments: number };
  lost: { events: number; increments: number };
  duplicated: { events: number; increments: number; requests: number };
  statuses: Record<string, number>;
}

/** What reached the receiver, against what was acknowledged. Requests re-sent with the same batch id and part count once. */
export function figures(sent: Sent, receiver: OtlpReceiver): Figures {
  const seenParts = new Set<string>();
  let duplicateRequests = 0;
  let increments = 0;
  const events = new Map<string, number>();
  for (const r of receiver.accepted()) {
    const key = `${r.signal} ${String(r.headers['x-tally-batch-id'])} ${String(r.headers['x-tally-batch-part'])}`;
    if (seenParts.has(key)) {
      duplicateRequests++;
      continue;
    }
    seenParts.add(key);
    if (r.signal === 'metrics') {
      for (const p of metricPoints(r.message)) if (p.metric.startsWith(COUNTER) && p.kind === 'sum') increments += p.value as number;
    } else {
      for (const l of logRecords(r.message)) {
        if (l.eventName !== EVENT) continue;
        const id = String(l.body).split(':')[0]!;
        events.set(id, (events.get(id) ?? 0) + 1);
      }
    }
  }
  const lostEvents = sent.ackedEvents.filter((id) => !events.has(id)).length;
  let duplicatedEvents = 0;
  for (const n of events.values()) duplicatedEvents += n - 1;
  return {
    acknowledged: { events: sent.ackedEvents.length, increments: sent.ackedIncrements },
    delivered: { events: events.size, increments },
    lost: { events: lostEvents, increments: Math.max(0, sent.ackedIncrements - increments) },
    duplicated: { events: duplicatedEvents, increments: Math.max(0, increments - sent.ackedIncrements), requests: duplicateRequests },
    statuses: Object.fromEntries([...sent.statuses].map(([k, v]) => [String(k), v])),
  };
}

export function printFigures(title: string, f: Figures): void {
  console.log(
    `\n${title}\n` +
      `  acknowledged: ${f.acknowledged.events} events, ${f.acknowledged.increments} increments\n` +
      `  delivered:    ${f.delivered.events} events, ${f.delivered.increments} increments\n` +
      `  lost:         ${f.lost.events} events, ${f.lost.increments} increments\n` +
      `  duplicated:   ${f.duplicated.events} events, ${f.duplicated.increments} increments (${f.duplicated.requests} requests re-sent)\n` +
      `  answers:      ${JSON.stringify(f.statuses)}\n`,
  );
}
