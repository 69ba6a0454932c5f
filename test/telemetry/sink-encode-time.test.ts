import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyResource } from '@opentelemetry/resources';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PushSinks } from '../../agent/export/push-sinks.js';
import type { Sink } from '../../agent/export/sink.js';
import { NO_FAMILIES } from '../support/flush-snapshot.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-encode-time-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A sink whose encode takes about `ms` of CPU, or throws. */
function slowSink(name: string, ms: number, fail = false): Sink {
  return {
    name,
    encode: () => {
      const end = performance.now() + ms;
      while (performance.now() < end) {
        // Stands in for the encoder's work.
      }
      if (fail) throw new Error('cannot encode');
      return [{ path: '', headers: {}, body: Buffer.from('x') }];
    },
    // Never delivers, but gives up when stop() aborts it, as a real sink does; ignoring the signal would hang stop() whenever the shipper got to send first.
    send: (_request, signal) => new Promise((resolve) => signal.addEventListener('abort', () => resolve({ kind: 'retry', error: 'stopped' }), { once: true })),
  };
}

describe('PushSinks encode time', () => {
  it('reports how long each sink took to encode a flush, and nothing for one that failed', async () => {
    const times: Array<[string, number]> = [];
    const spec = (sink: Sink) => ({ sink, maxBytes: 1 << 20, whenFull: 'drop_oldest' as const, maxInFlight: 1, backoff: { initialMs: 5, maxMs: 5, maxRetryAfterMs: 5 }, stallTimeoutMs: 60_000 });
    const push = await PushSinks.open({
      dataDir: dir,
      segmentBytes: 1 << 20,
      maxRecordBytes: 1 << 16,
      sinks: [spec(slowSink('fast', 0)), spec(slowSink('slow', 30)), spec(slowSink('broken', 1, true))],
      logger: pino({ level: 'silent' }),
      onEncode: (sink, seconds) => void times.push([sink, seconds]),
    });
    try {
      await push.push({ batchId: 'b1', timeMs: 1, metrics: { resource: emptyResource(), scopeMetrics: [] }, families: NO_FAMILIES, events: [] });
      expect(times.map(([s]) => s).sort()).toEqual(['fast', 'slow']);
      const slow = times.find(([s]) => s === 'slow')![1];
      expect(slow).toBeGreaterThanOrEqual(0.029);
      expect(slow).toBeLessThan(5);
      expect(times.find(([s]) => s === 'fast')![1]).toBeLessThan(slow);
    } finally {
      await push.stop();
    }
  });
});
