/**
 * The queue and shipper of one sink over a real segment log in a temp dir,
 * with a scripted sink standing in for the receiver: each test says what the
 * receiver answers and checks what was sent, acknowledged, kept and counted.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DeadLetterFolder } from '../../agent/export/dead-letter.js';
import { PushSinks } from '../../agent/export/push-sinks.js';
import { Shipper } from '../../agent/export/shipper.js';
import { emptyResource } from '@opentelemetry/resources';
import { SinkQueue } from '../../agent/export/sink-queue.js';
import type { EncodedRequest, SendOutcome, Sink } from '../../agent/export/sink.js';
import { decodeStoredRequest, type StoredRequest } from '../../agent/export/stored-request.js';
import { SegmentLog } from '../../agent/spool/segment-log.js';
import { SinkStats } from '../../agent/telemetry/sink-stats.js';
import { waitFor } from '../support/agent-process.js';
import { NO_FAMILIES } from '../support/flush-snapshot.js';

const silent = pino({ level: 'silent' });
const FAST = { initialMs: 5, maxMs: 20, maxRetryAfterMs: 50 };

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-ship-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A sink whose answer to each attempt comes from `answer`; it records every attempt's body. */
function scriptedSink(answer: (body: string, attempt: number) => SendOutcome | Promise<SendOutcome>) {
  const attempts: string[] = [];
  const sink: Sink = {
    name: 'scripted',
    encode: () => [],
    async send(req: EncodedRequest) {
      const body = Buffer.from(req.body).toString();
      attempts.push(body);
      return answer(body, attempts.filter((b) => b === body).length);
    },
  };
  return { sink, attempts };
}

function req(body: string, i = 0): StoredRequest {
  return { batchId: `b-${i}-${body.slice(0, 8)}`, batchTimeMs: 1_700_000_000_000 + i, path: '/v1/metrics', headers: { 'content-type': 'text/plain' }, body: Buffer.from(body) };
}

async function setup(sink: Sink, opts: { maxInFlight?: number; maxBytes?: number; whenFull?: 'drop_oldest' | 'refuse_new' } = {}) {
  const log = await SegmentLog.open({ dir: join(dir, 'queue') });
  const stats = new SinkStats(sink.name);
  const queue = new SinkQueue({
    sink: sink.name,
    log,
    maxBytes: opts.maxBytes ?? 1 << 20,
    whenFull: opts.whenFull ?? 'drop_oldest',
    maxRecordBytes: 1 << 16,
    stats,
    logger: silent,
  });
  const deadLetter = new DeadLetterFolder(join(dir, 'dead-letter'));
  const shipper = new Shipper({ sink, log, deadLetter, maxInFlight: opts.maxInFlight ?? 1, backoff: FAST, stats, logger: silent });
  return { log, stats, queue, shipper, deadLetter };
}

describe('Shipper', () => {
  it('delivers in order and acknowledges, so the queue empties', async () => {
    const { sink, attempts } = scriptedSink(() => ({ kind: 'delivered', status: 200 }));
    const { log, stats, queue, shipper } = await setup(sink);
    await queue.append([req('a'), req('b')]);
    await queue.append([req('c')]);
    shipper.start();
    await waitFor(() => expect(log.stats().records).toBe(0), 5000);
    await shipper.stop();
    expect(attempts).toEqual(['a', 'b', 'c']);
    expect(stats.sent).toBe(3);
    expect(stats.enqueued).toBe(3);
    expect(log.stats().ackedSeq).toBe(3);
    await log.close();
  });

  it('retries a retryable answer with backoff, keeping later batches behind it, and never gives up on its own', async () => {
    let down = true;
    const { sink, attempts } = scriptedSink((body) =>
      down && body === 'first' ? { kind: 'retry', status: 503, error: 'HTTP 503', retryAfterMs: 1 } : { kind: 'delivered', status: 200 },
    );
    const { log, stats, queue, shipper } = await setup(sink);
    await queue.append([req('first'), req('second')]);
    shipper.start();
    await waitFor(() => expect(attempts.length).toBeGreaterThanOrEqual(20), 5000);
    expect(attempts.every((b) => b === 'first')).toBe(true);
    expect(log.stats().records).toBe(2);
    expect(stats.lastError?.status).toBe(503);
    down = false;
    await waitFor(() => expect(log.stats().records).toBe(0), 5000);
    await shipper.stop();
    expect(attempts.slice(-2)).toEqual(['first', 'second']);
    expect(stats.retries).toBe(attempts.length - 2);
    await log.close();
  });

  it('moves a permanently refused batch to the dead-letter folder with the response, and goes on', async () => {
    const { sink, attempts } = scriptedSink((body) =>
      body === 'bad' ? { kind: 'permanent', status: 400, error: 'HTTP 400', responseBody: 'out of order sample' } : { kind: 'delivered', status: 204 },
    );
    const { log, stats, queue, shipper, deadLetter } = await setup(sink);
    await queue.append([req('ok1'), req('bad'), req('ok2')]);
    shipper.start();
    await waitFor(() => expect(log.stats().records).toBe(0), 5000);
    await shipper.stop();
    expect(attempts).toEqual(['ok1', 'bad', 'ok2']);
    expect(stats.deadLettered).toBe(1);
    const files = (await readdir(deadLetter.dir)).sort();
    expect(files).toEqual(['000000000002-b-0-bad.body', '000000000002-b-0-bad.json']);
    expect(await readFile(join(deadLetter.dir, files[0]!), 'utf8')).toBe('bad');
    const meta = JSON.parse(await readFile(join(deadLetter.dir, files[1]!), 'utf8'));
    expect(meta).toMatchObject({ sink: 'scripted', seq: 2, status: 400, response_body: 'out of order sample', batch_id: 'b-0-bad', path: '/v1/metrics' });
    await log.close();
  });

  it('dead-letters a record that is not a stored request rather than stall on it', async () => {
    const { sink, attempts } = scriptedSink(() => ({ kind: 'delivered', status: 200 }));
    const { log, stats, queue, shipper, deadLetter } = await setup(sink);
    await log.append(Buffer.from([0, 0, 0, 99, 1, 2]));
    await queue.append([req('fine')]);
    shipper.start();
    await waitFor(() => expect(log.stats().records).toBe(0), 5000);
    await shipper.stop();
    expect(attempts).toEqual(['fine']);
    expect(stats.deadLettered).toBe(1);
    expect((await readdir(deadLetter.dir)).sort()).toEqual(['000000000001-unreadable.body', '000000000001-unreadable.json']);
    await log.close();
  });

  it('on stop during an outage, keeps every batch queued across a reopen of the log', async () => {
    const { sink } = scriptedSink(() => ({ kind: 'retry', error: 'connect ECONNREFUSED' }));
    const { log, queue, shipper } = await setup(sink);
    await queue.append([req('x'), req('y')]);
    shipper.start();
    await new Promise((r) => setTimeout(r, 100));
    await shipper.stop();
    await log.close();
    const reopened = await SegmentLog.open({ dir: join(dir, 'queue') });
    const left = await reopened.read(0);
    expect(left.map((r) => Buffer.from((decodeStoredRequest(r.payload) as StoredRequest).body).toString())).toEqual(['x', 'y']);
    await reopened.close();
  });

  it('with several in flight, acknowledges only the finished prefix', async () => {
    const release: Record<string, () => void> = {};
    const { sink } = scriptedSink(
      (body) => new Promise<SendOutcome>((resolve) => (release[body] = () => resolve({ kind: 'delivered', status: 200 }))),
    );
    const { log, queue, shipper } = await setup(sink, { maxInFlight: 3 });
    await queue.append([req('1'), req('2'), req('3')]);
    shipper.start();
    await waitFor(() => expect(Object.keys(release).sort()).toEqual(['1', '2', '3']), 5000);
    release['2']!();
    release['3']!();
    await new Promise((r) => setTimeout(r, 50));
    expect(log.stats().ackedSeq).toBe(0);
    release['1']!();
    await waitFor(() => expect(log.stats().ackedSeq).toBe(3), 5000);
    await shipper.stop();
    await log.close();
  });
});

describe('SinkQueue limits', () => {
  const never = scriptedSink(() => ({ kind: 'retry', error: 'down' })).sink;

  it('drop_oldest makes room by dropping the oldest batches, counted', async () => {
    const { log, stats, queue } = await setup(never, { maxBytes: 2500, whenFull: 'drop_oldest' });
    for (let i = 0; i < 5; i++) await queue.append([req('x'.repeat(900), i)]);
    expect(log.stats().bytes).toBeLessThanOrEqual(2500);
    const kept = (await log.read(0)).map((r) => (decodeStoredRequest(r.payload) as StoredRequest).batchId);
    expect(kept).toEqual(['b-3-xxxxxxxx', 'b-4-xxxxxxxx']);
    expect(stats.dropped.get('drop_oldest')).toBe(3);
    expect(stats.enqueued).toBe(5);
    await log.close();
  });

  it('refuse_new keeps what is queued and counts each refused batch as refused, not dropped', async () => {
    const { log, stats, queue } = await setup(never, { maxBytes: 2500, whenFull: 'refuse_new' });
    const outcomes = [];
    for (let i = 0; i < 5; i++) outcomes.push(await queue.append([req('x'.repeat(900), i)]));
    expect(outcomes).toEqual(['queued', 'queued', 'refused', 'refused', 'refused']);
    const kept = (await log.read(0)).map((r) => (decodeStoredRequest(r.payload) as StoredRequest).batchTimeMs - 1_700_000_000_000);
    expect(kept).toEqual([0, 1]);
    expect(stats.refused.get('refuse_new')).toBe(3);
    expect([...stats.dropped.values()].every((n) => n === 0)).toBe(true);
    await log.close();
  });

  it('drops a batch larger than the record limit, counted as too_large', async () => {
    const { log, stats, queue } = await setup(never);
    await queue.append([req('y'.repeat(70_000)), req('small')]);
    expect(stats.dropped.get('too_large')).toBe(1);
    expect(log.stats().records).toBe(1);
    expect(existsSync(join(dir, 'queue'))).toBe(true);
    await log.close();
  });
});

describe('PushSinks readiness', () => {
  it('is not ready while a queue is over 90 % full or refuses a flush, and ready again once it drains and takes one', async () => {
    let up = false;
    const body = Buffer.alloc(900, 'x');
    const sink: Sink = {
      name: 'steady',
      encode: () => [{ path: '', headers: {}, body }],
      send: async () => (up ? { kind: 'delivered', status: 200 } : { kind: 'retry', error: 'down' }),
    };
    const push = await PushSinks.open({
      dataDir: dir,
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 16,
      sinks: [{ sink, maxBytes: 4000, whenFull: 'refuse_new', maxInFlight: 1, backoff: FAST, stallTimeoutMs: 60_000 }],
      logger: silent,
    });
    try {
      const snapshot = (i: number) => ({ batchId: `b${i}`, timeMs: i, metrics: { resource: emptyResource(), scopeMetrics: [] }, families: NO_FAMILIES, events: [] });
      expect(await push.push(snapshot(1))).toBe(true);
      expect(push.ready()).toBe(true);
      const taken = [];
      for (let i = 2; i <= 5; i++) taken.push(await push.push(snapshot(i)));
      expect(taken).toEqual([true, true, true, false]);
      const [view] = push.views();
      expect(view!.fill).toBeGreaterThan(0.9);
      expect(push.ready()).toBe(false);
      expect(push.refusing()).toEqual(['steady']);
      expect(view!.stats.refused.get('refuse_new')).toBe(1);
      up = true;
      await waitFor(() => expect(push.views()[0]!.queue.records).toBe(0), 5000);
      // Still refusing until a flush is taken: the refused one's data rides on the next.
      expect(push.ready()).toBe(false);
      expect(await push.push(snapshot(6))).toBe(true);
      expect(push.ready()).toBe(true);
    } finally {
      await push.stop();
    }
  });
});
