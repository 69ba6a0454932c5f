import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SegmentLog } from '../../agent/spool/segment-log.js';
import { type CrashMode, FaultFileAccess, seededRandom } from './fault-file-access.js';
import { payload, payloadId, readAll, within } from './helpers.js';

/**
 * Power cuts at random moments under load. Four appenders and a consumer
 * (reading, acknowledging now and then) run until the in-memory file
 * system "loses power" just before a random operation; then it restarts
 * holding only what was fsynced (the last unsynced write torn at a random
 * byte, directory changes not followed by a directory fsync partly lost),
 * and the log is opened on it. Sometimes the crash is armed to hit during
 * that recovery itself. Across several cuts per run:
 *
 * - every append whose promise resolved is there, with its sequence number,
 *   unless an acknowledgement that resolved has passed it;
 * - the durable cursor is never behind an acknowledgement that resolved;
 * - nothing else appears: every record is a payload some appender made, at
 *   most once, in sequence order;
 * - recovery reports no damage and nothing missing (a crash only tears the
 *   tail), and appends work again.
 */

const DIR = '/data/spool/q';
const OPTS = { segmentBytes: 2048, maxRecordBytes: 1500 };

interface World {
  /** seq → id of every append that resolved. */
  durable: Map<number, number>;
  /** id → size of every payload ever handed to append. */
  made: Map<number, number>;
  nextId: number;
  /** Highest acknowledgement that resolved. */
  acked: number;
}

async function verify(log: SegmentLog, w: World): Promise<void> {
  const r = log.recovery;
  expect(r.skipped).toEqual([]);
  expect(r.missing).toEqual([]);
  expect(r.damagedHeaders).toEqual([]);
  expect(['ok', 'created']).toContain(r.cursor);
  expect(r.clean).toBe(true);
  expect(log.acknowledgedSeq).toBeGreaterThanOrEqual(w.acked);

  const recs = await readAll(log, 0, 50);
  const seen = new Set<number>();
  let prev = log.acknowledgedSeq;
  const bySeq = new Map<number, number>();
  for (const rec of recs) {
    const id = payloadId(rec.payload);
    expect(id, `record ${rec.seq} is not any appender's payload`).toBeDefined();
    expect(w.made.get(id!)).toBe(rec.payload.length);
    expect(seen.has(id!), `payload ${id} appears twice`).toBe(false);
    seen.add(id!);
    expect(rec.seq).toBeGreaterThan(prev);
    prev = rec.seq;
    bySeq.set(rec.seq, id!);
  }
  for (const [seq, id] of w.durable) {
    if (seq <= log.acknowledgedSeq) continue;
    expect(bySeq.get(seq), `acknowledged append ${seq} (payload ${id}) lost`).toBe(id);
  }
}

async function load(log: SegmentLog, fs: FaultFileAccess, w: World, rnd: () => number): Promise<void> {
  const appender = async (): Promise<void> => {
    for (let i = 0; i < 400 && !fs.crashed; i++) {
      const many = rnd() < 0.2;
      const ids = Array.from({ length: many ? 1 + Math.floor(rnd() * 4) : 1 }, () => {
        const id = w.nextId++;
        const size = rnd() < 0.1 ? 500 + Math.floor(rnd() * 1000) : 8 + Math.floor(rnd() * 120);
        w.made.set(id, size);
        return id;
      });
      try {
        if (many) {
          const { first } = await log.appendMany(ids.map((id) => payload(id, w.made.get(id)!)));
          ids.forEach((id, k) => w.durable.set(first + k, id));
        } else {
          w.durable.set(await log.append(payload(ids[0]!, w.made.get(ids[0]!)!)), ids[0]!);
        }
      } catch {
        return;
      }
    }
  };
  const consumer = async (): Promise<void> => {
    let after = 0;
    for (let i = 0; i < 400 && !fs.crashed; i++) {
      try {
        const got = await log.read(after, { maxRecords: 1 + Math.floor(rnd() * 10) });
        if (got.length === 0) {
          await new Promise((r) => setImmediate(r));
          continue;
        }
        after = got[got.length - 1]!.seq;
        if (rnd() < 0.3) {
          await log.ack(after);
          w.acked = Math.max(w.acked, after);
        }
      } catch {
        return;
      }
    }
  };
  await within(10_000, 'load until the crash', () => Promise.all([appender(), appender(), appender(), appender(), consumer()]));
  fs.crash();
}

async function scenario(seed: number, mode: CrashMode): Promise<void> {
  const rnd = seededRandom(seed ^ 0x9e3779b9);
  let fs = new FaultFileAccess({ seed, mode });
  const w: World = { durable: new Map(), made: new Map(), nextId: 1, acked: 0 };
  let cuts = 0;
  for (let cycle = 0; cycle < 8; cycle++) {
    // Now and then the power fails again while recovery is still running.
    if (cycle > 0 && rnd() < 0.25) fs.crashAtOp(1 + Math.floor(rnd() * 6));
    let log: SegmentLog;
    try {
      log = await SegmentLog.open({ dir: DIR, files: fs, ...OPTS });
    } catch (err) {
      expect((err as { code?: string }).code).toBe('ESIMCRASH');
      fs = fs.restart();
      cuts++;
      continue;
    }
    await verify(log, w);
    fs.crashAtOp(1 + Math.floor(rnd() * 150));
    await load(log, fs, w, rnd);
    fs = fs.restart();
    cuts++;
  }
  const log = await SegmentLog.open({ dir: DIR, files: fs, ...OPTS });
  await verify(log, w);
  const seq = await log.append(payload(w.nextId, 20));
  expect(seq).toBeGreaterThan(Math.max(0, ...w.durable.keys()));
  await log.close();
  expect(cuts).toBe(8);
  // The run must have acknowledged appends, or it proved nothing.
  expect(w.durable.size).toBeGreaterThan(0);
}

describe('power loss', () => {
  it('drops unsynced writes and tears the last one: no acknowledged record lost, no garbage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => scenario(seed, 'drop')),
      { numRuns: 100 },
    );
  }, 25_000);

  it('keeps an in-order prefix of unsynced writes and tears the next one: the same holds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => scenario(seed, 'prefix')),
      { numRuns: 100 },
    );
  }, 25_000);
});
