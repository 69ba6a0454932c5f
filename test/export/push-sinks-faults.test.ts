/**
 * PushSinks under faults: a queue on a simulated disk that fills up (ENOSPC
 * at the append), a receiver that refuses everything, a queue that drops,
 * a dead-letter folder that would outgrow its bound. Each says what the
 * agent must report (refusing, readiness, health) and keep.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyResource } from '@opentelemetry/resources';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PushSinks, type PushSinkSpec } from '../../agent/export/push-sinks.js';
import type { EventRecord, FlushSnapshot, SendOutcome, Sink } from '../../agent/export/sink.js';
import { waitFor } from '../support/agent-process.js';
import { FaultFileAccess } from '../spool/fault-file-access.js';
import { NO_FAMILIES } from '../support/flush-snapshot.js';

const silent = pino({ level: 'silent' });
const FAST = { initialMs: 5, maxMs: 20, maxRetryAfterMs: 50 };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-push-faults-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const event = (value: string): EventRecord => ({ name: 'evt', value, attributes: [], timeMs: 1 });
const snapshot = (i: number, events: EventRecord[] = []): FlushSnapshot => ({
  batchId: `b${i}`,
  families: NO_FAMILIES,
  timeMs: i,
  metrics: { resource: emptyResource(), scopeMetrics: [] },
  events,
});

/** A sink that sends one request per batch holding its events' values (and padding), and records what it was told. */
function eventSink(answer: () => SendOutcome, padBytes = 900) {
  const sent: string[][] = [];
  const abandoned: string[] = [];
  const sink: Sink = {
    name: 'events',
    encode: (s) => [{ path: '', headers: {}, body: Buffer.from(JSON.stringify({ values: s.events.map((e) => e.value), pad: 'p'.repeat(padBytes) })) }],
    abandon: (batchId) => void abandoned.push(batchId),
    async send(r) {
      const out = answer();
      if (out.kind === 'delivered') sent.push((JSON.parse(Buffer.from(r.body).toString()) as { values: string[] }).values);
      return out;
    },
  };
  return { sink, sent, abandoned };
}

function spec(sink: Sink, over: Partial<PushSinkSpec> = {}): PushSinkSpec {
  return { sink, maxBytes: 1 << 20, whenFull: 'drop_oldest', maxInFlight: 1, backoff: FAST, stallTimeoutMs: 60_000, ...over };
}

describe('PushSinks on a full disk', () => {
  it('refuses the flush it cannot queue, takes back the sink state, carries its events, and takes data again once there is room', async () => {
    const fs = new FaultFileAccess({ capacityBytes: 16 * 1024, yieldChance: 0 });
    let up = false;
    const { sink, sent, abandoned } = eventSink(() => (up ? { kind: 'delivered', status: 200 } : { kind: 'retry', error: 'down' }));
    const push = await PushSinks.open({ dataDir: dir, segmentBytes: 1 << 20, maxRecordBytes: 1 << 16, sinks: [spec(sink)], logger: silent, files: fs });
    try {
      const results: boolean[] = [];
      for (let i = 1; i <= 30 && !results.includes(false); i++) results.push(await push.push(snapshot(i, [event(`v${i}`)])));
      const refusedAt = results.length;
      expect(results.at(-1)).toBe(false);
      expect(push.refusing()).toEqual(['events']);
      expect(push.ready()).toBe(false);
      expect(abandoned).toEqual([`b${refusedAt}`]);
      expect(push.views()[0]!.stats.refused.get('append_failed')).toBe(1);
      // Refused, not dropped: nothing makes the agent unhealthy.
      expect(push.problems()).toEqual([]);

      // Still full: the next flush is refused too, and carries both flushes' events.
      expect(await push.push(snapshot(refusedAt + 1, [event(`v${refusedAt + 1}`)]))).toBe(false);

      // The backend comes back: the queue drains, the disk has room, and the next flush is taken with all it carried.
      up = true;
      await waitFor(() => expect(push.views()[0]!.queue.records).toBe(0), 5_000);
      expect(await push.push(snapshot(refusedAt + 2, [event(`v${refusedAt + 2}`)]))).toBe(true);
      expect(push.refusing()).toEqual([]);
      expect(push.ready()).toBe(true);
      await waitFor(() => expect(sent.length).toBe(refusedAt), 5_000);
      const values = sent.flat();
      const expected = Array.from({ length: refusedAt + 2 }, (_, i) => `v${i + 1}`);
      expect(values).toEqual(expected);
    } finally {
      await push.stop();
    }
  });
});

describe('PushSinks health', () => {
  it('is unhealthy once a sink has refused (dead-lettered) everything for refusal_timeout, and healthy again after a delivery', async () => {
    let clock = 1_000_000;
    let refuse = true;
    const { sink } = eventSink(() => (refuse ? { kind: 'permanent', status: 400, error: 'bad request' } : { kind: 'delivered', status: 200 }), 10);
    const push = await PushSinks.open({
      dataDir: dir,
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 16,
      sinks: [spec(sink, { refusalTimeoutMs: 40_000 })],
      logger: silent,
      now: () => clock,
    });
    try {
      await push.push(snapshot(1));
      await waitFor(() => expect(push.views()[0]!.stats.deadLettered).toBe(1), 5_000);
      expect(push.problems()).toEqual([]);
      clock += 39_000;
      await push.push(snapshot(2));
      await waitFor(() => expect(push.views()[0]!.stats.deadLettered).toBe(2), 5_000);
      expect(push.problems()).toEqual([]);
      clock += 2_000;
      expect(push.problems()).toEqual(['sink events refused everything (dead-lettered) for refusal_timeout']);
      refuse = false;
      await push.push(snapshot(3));
      await waitFor(() => expect(push.problems()).toEqual([]), 5_000);
    } finally {
      await push.stop();
    }
  });

  it('is unhealthy for drop_window after a sink dropped data', async () => {
    let clock = 1_000_000;
    const { sink } = eventSink(() => ({ kind: 'retry', error: 'down' }), 900);
    const push = await PushSinks.open({
      dataDir: dir,
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 16,
      sinks: [spec(sink, { maxBytes: 2500, whenFull: 'drop_oldest', dropWindowMs: 30_000 })],
      logger: silent,
      now: () => clock,
    });
    try {
      for (let i = 1; i <= 2; i++) await push.push(snapshot(i));
      expect(push.problems()).toEqual([]);
      await push.push(snapshot(3));
      expect(push.views()[0]!.stats.dropped.get('drop_oldest')).toBeGreaterThan(0);
      expect(push.problems()).toEqual(['sink events dropped data within drop_window']);
      clock += 31_000;
      expect(push.problems()).toEqual([]);
    } finally {
      await push.stop();
    }
  });
});

describe('the dead-letter folder', () => {
  it('stays within dead_letter.max_bytes, removing the oldest entries first and counting them', async () => {
    const { sink } = eventSink(() => ({ kind: 'permanent', status: 400, error: 'bad request' }), 1000);
    const push = await PushSinks.open({
      dataDir: dir,
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 16,
      sinks: [spec(sink, { deadLetterMaxBytes: 5000 })],
      logger: silent,
    });
    const folder = join(dir, 'dead-letter', 'events');
    try {
      for (let i = 1; i <= 8; i++) await push.push(snapshot(i));
      await waitFor(() => expect(push.views()[0]!.stats.deadLettered).toBe(8), 5_000);
      const names = (await readdir(folder)).sort();
      let bytes = 0;
      for (const n of names) bytes += (await stat(join(folder, n))).size;
      expect(bytes).toBeLessThanOrEqual(5000);
      // The newest are the ones kept.
      expect(names.at(-1)).toMatch(/^000000000008-b8\.json$/);
      expect(names.some((n) => n.includes('-b1.'))).toBe(false);
      expect(push.views()[0]!.stats.deadLettersRemoved).toBe(8 - names.length / 2);
    } finally {
      await push.stop();
    }
  });

  it('counts what an earlier run left toward the bound, and keeps the record of an entry too large to keep whole', async () => {
    const first = eventSink(() => ({ kind: 'permanent', status: 400, error: 'bad request' }), 1000);
    let push = await PushSinks.open({ dataDir: dir, segmentBytes: 1 << 20, maxRecordBytes: 1 << 16, sinks: [spec(first.sink)], logger: silent });
    for (let i = 1; i <= 3; i++) await push.push(snapshot(i));
    await waitFor(() => expect(push.views()[0]!.stats.deadLettered).toBe(3), 5_000);
    await push.stop();

    const second = eventSink(() => ({ kind: 'permanent', status: 400, error: 'bad request' }), 6000);
    push = await PushSinks.open({ dataDir: dir, segmentBytes: 1 << 20, maxRecordBytes: 1 << 16, sinks: [spec(second.sink, { deadLetterMaxBytes: 3000 })], logger: silent });
    const folder = join(dir, 'dead-letter', 'events');
    try {
      await push.push(snapshot(4));
      await waitFor(() => expect(push.views()[0]!.stats.deadLettered).toBe(1), 5_000);
      const names = (await readdir(folder)).sort();
      let bytes = 0;
      for (const n of names) bytes += (await stat(join(folder, n))).size;
      expect(bytes).toBeLessThanOrEqual(3000);
      expect(names.slice(-2)).toEqual(['000000000004-b4.body', '000000000004-b4.json']);
      expect(names.some((n) => n.includes('-b1.'))).toBe(false);
      expect((await stat(join(folder, '000000000004-b4.body'))).size).toBe(0);
      expect(JSON.parse(await readFile(join(folder, '000000000004-b4.json'), 'utf8'))).toMatchObject({ body_omitted: expect.stringContaining('dead_letter.max_bytes') });
      expect(push.views()[0]!.stats.deadLettersRemoved).toBe(3 - (names.length - 2) / 2);
    } finally {
      await push.stop();
    }
  });
});
