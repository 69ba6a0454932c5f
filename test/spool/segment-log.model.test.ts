import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeFileAccess, type FileAccess } from '../../agent/spool/file-access.js';
import { FRAME_HEADER_BYTES } from '../../agent/spool/record-frame.js';
import { SegmentLog } from '../../agent/spool/segment-log.js';
import { FaultFileAccess } from './fault-file-access.js';
import { payload, payloadId, readAll, tempDir } from './helpers.js';

/**
 * The log against a model that is just an array: random appends (single,
 * concurrent, appendMany; sizes across segment boundaries), reads from
 * random positions with random limits, acknowledgements, drops, and
 * restarts (close and reopen, on the in-memory file system also a power cut
 * after the close). After every step everything readable, and the stats,
 * must be what the model says.
 */

const SEGMENT_BYTES = 4096;
const MAX_RECORD = 3000;

interface ModelRecord {
  seq: number;
  id: number;
  size: number;
  at: number;
}

interface Model {
  records: ModelRecord[];
  acked: number;
  nextSeq: number;
  nextId: number;
  clock: number;
}

interface Real {
  files: FileAccess;
  fault: FaultFileAccess | undefined;
  dir: string;
  log: SegmentLog;
  clock: { t: number };
}

const open = (r: Real): Promise<SegmentLog> =>
  SegmentLog.open({ dir: r.dir, files: r.files, segmentBytes: SEGMENT_BYTES, maxRecordBytes: MAX_RECORD, now: () => ++r.clock.t });

const undelivered = (m: Model): ModelRecord[] => m.records.filter((x) => x.seq > m.acked);

async function checkAll(m: Model, r: Real): Promise<void> {
  const got = await readAll(r.log, 0, 17);
  const want = undelivered(m);
  expect(got.map((g) => [g.seq, payloadId(g.payload), g.payload.length, g.appendedAtMs])).toEqual(want.map((w) => [w.seq, w.id, w.size, w.at]));
  const s = r.log.stats();
  expect(s.records).toBe(want.length);
  expect(s.bytes).toBe(want.reduce((a, w) => a + w.size + FRAME_HEADER_BYTES, 0));
  expect(s.oldestAppendedAtMs).toBe(want[0]?.at);
  expect(s.ackedSeq).toBe(m.acked);
  expect(s.lastSeq).toBe(m.nextSeq - 1);
}

/** A payload cut into up to three parts at places that move with `k`. */
function inParts(b: Buffer, k: number): Buffer[] {
  const one = k % b.length;
  const two = Math.max(one, (k * 7) % b.length);
  return [b.subarray(0, one), b.subarray(one, two), b.subarray(two)];
}

class Append implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly sizes: number[],
    readonly how: 'one-by-one' | 'concurrent' | 'many',
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const made = this.sizes.map((size) => ({ id: m.nextId++, size: Math.max(8, size) }));
    let seqs: number[];
    if (this.how === 'many') {
      // Every other record in parts, as a sink queue hands them (an envelope, then the body): the log must join them.
      const { first, last } = await r.log.appendMany(made.map((p, i) => (i % 2 === 0 ? payload(p.id, p.size) : inParts(payload(p.id, p.size), i))));
      seqs = Array.from({ length: last - first + 1 }, (_, i) => first + i);
      const at = ++m.clock;
      made.forEach((p, i) => m.records.push({ seq: m.nextSeq + i, id: p.id, size: p.size, at }));
    } else {
      const calls = made.map((p) => () => r.log.append(payload(p.id, p.size)));
      if (this.how === 'concurrent') {
        seqs = await Promise.all(calls.map((c) => c()));
      } else {
        seqs = [];
        for (const c of calls) seqs.push(await c());
      }
      made.forEach((p, i) => m.records.push({ seq: m.nextSeq + i, id: p.id, size: p.size, at: ++m.clock }));
    }
    expect(seqs).toEqual(made.map((_, i) => m.nextSeq + i));
    m.nextSeq += made.length;
    await checkAll(m, r);
  }
  toString(): string {
    return `append(${this.how}, [${this.sizes.join(',')}])`;
  }
}

class Read implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly where: number,
    readonly maxRecords: number,
    readonly maxBytes: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const after = Math.floor(this.where * m.nextSeq);
    const got = await r.log.read(after, { maxRecords: this.maxRecords, maxBytes: this.maxBytes });
    const want: ModelRecord[] = [];
    let bytes = 0;
    for (const x of m.records) {
      if (x.seq <= Math.max(after, m.acked)) continue;
      if (want.length > 0 && bytes + x.size > this.maxBytes) break;
      want.push(x);
      bytes += x.size;
      if (want.length >= this.maxRecords || bytes >= this.maxBytes) break;
    }
    expect(got.map((g) => [g.seq, payloadId(g.payload)])).toEqual(want.map((w) => [w.seq, w.id]));
  }
  toString(): string {
    return `read(${this.where.toFixed(2)}, ${this.maxRecords}, ${this.maxBytes})`;
  }
}

class Ack implements fc.AsyncCommand<Model, Real> {
  constructor(readonly share: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const last = m.nextSeq - 1;
    const target = m.acked + Math.floor(this.share * (last - m.acked));
    await r.log.ack(target);
    m.acked = Math.max(m.acked, target);
    await checkAll(m, r);
  }
  toString(): string {
    return `ack(${this.share.toFixed(2)})`;
  }
}

class Drop implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly records: number,
    readonly bytes: number,
  ) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    const res = await r.log.dropOldest({ records: this.records, bytes: this.bytes });
    const left = undelivered(m);
    let n = 0;
    let b = 0;
    while (n < left.length && (n < this.records || b < this.bytes)) b += left[n++]!.size + FRAME_HEADER_BYTES;
    expect(res.records).toBe(n);
    expect(res.bytes).toBe(b);
    if (n > 0) {
      expect([res.fromSeq, res.toSeq]).toEqual([left[0]!.seq, left[n - 1]!.seq]);
      m.acked = left[n - 1]!.seq;
    }
    await checkAll(m, r);
  }
  toString(): string {
    return `drop(${this.records}, ${this.bytes})`;
  }
}

class Restart implements fc.AsyncCommand<Model, Real> {
  constructor(readonly powerCut: boolean) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, r: Real): Promise<void> {
    await r.log.close();
    if (this.powerCut && r.fault !== undefined) {
      // Everything the log promised is fsynced by now; a power cut may only bring back deleted, delivered segments.
      r.fault = r.fault.restart();
      r.files = r.fault;
    }
    r.log = await open(r);
    const rep = r.log.recovery;
    expect(rep.clean).toBe(true);
    expect(rep.truncated).toEqual([]);
    expect(rep.removedSegments.every((s) => s.reason === 'delivered')).toBe(true);
    expect(rep.ackedSeq).toBe(m.acked);
    expect(rep.lastSeq).toBe(m.nextSeq - 1);
    expect(rep.records).toBe(undelivered(m).length);
    await checkAll(m, r);
  }
  toString(): string {
    return this.powerCut ? 'restart(power cut after close)' : 'restart';
  }
}

const size = fc.oneof(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 200, max: MAX_RECORD }));
const commands = [
  fc.tuple(fc.array(size, { minLength: 1, maxLength: 12 }), fc.constantFrom('one-by-one' as const, 'concurrent' as const, 'many' as const)).map(([s, how]) => new Append(s, how)),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 20_000 })).map(([w, n, b]) => new Read(w, n, b)),
  fc.double({ min: 0, max: 1, noNaN: true }).map((s) => new Ack(s)),
  fc.tuple(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 12_000 })).map(([n, b]) => new Drop(n, b)),
  fc.boolean().map((p) => new Restart(p)),
];

async function runModel(real: () => Promise<Real>, cmds: Iterable<fc.AsyncCommand<Model, Real>>): Promise<void> {
  const r = await real();
  const m: Model = { records: [], acked: 0, nextSeq: 1, nextId: 1, clock: 0 };
  try {
    await fc.asyncModelRun(() => ({ model: m, real: r }), cmds);
  } finally {
    await r.log.close();
  }
}

describe('SegmentLog against a model', () => {
  it('in memory: random appends, reads, acks, drops, restarts and power cuts after close', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 2 ** 30 }), fc.commands(commands, { maxCommands: 60, size: 'max' }), (seed, cmds) =>
        runModel(async () => {
          const fault = new FaultFileAccess({ seed, yieldChance: 0.3 });
          const r: Real = { files: fault, fault, dir: '/spool/q', clock: { t: 0 }, log: undefined as unknown as SegmentLog };
          r.log = await open(r);
          return r;
        }, cmds),
      ),
      { numRuns: 150 },
    );
  }, 25_000);

  it('on the real file system', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 40, size: 'max' }), async (cmds) => {
        const t = tempDir();
        try {
          await runModel(async () => {
            const r: Real = { files: nodeFileAccess, fault: undefined, dir: t.dir, clock: { t: 0 }, log: undefined as unknown as SegmentLog };
            r.log = await open(r);
            return r;
          }, cmds);
        } finally {
          t.cleanup();
        }
      }),
      { numRuns: 25 },
    );
  }, 25_000);
});
