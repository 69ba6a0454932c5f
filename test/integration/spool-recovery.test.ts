/**
 * A sink queue whose last segment ends in whole records out of sequence (what
 * a second writer on the same files leaves): start-up cuts them off and says
 * so, as a warning with the count and in tally_spool_recovered_bytes_total.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_HEADER_BYTES } from '../../agent/spool/record-frame.js';
import { freeTcpPort, startAgent } from '../support/agent-process.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-spool-recovery-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('start-up recovery that cuts whole records', () => {
  it('is logged as a loss with its byte count and counted in tally_spool_recovered_bytes_total', async () => {
    const data = join(dir, 'data');
    // Nothing listens there: what is flushed stays queued.
    const config = {
      aggregation: { flush_interval: '100ms' },
      http: { collect: { durable: false } },
      spool: { dir: data },
      sinks: [{ name: 'collector', type: 'otlp', endpoint: `http://127.0.0.1:${await freeTcpPort()}` }],
    };
    const first = await startAgent({ config });
    for (let i = 0; i < 5; i++) {
      await first.sendUdp(`queued.hits:${i + 1}|c`);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(await first.stop()).toBe(0);

    const queue = join(data, 'queues', 'collector');
    const last = readdirSync(queue).filter((n) => n.endsWith('.seg')).sort().at(-1)!;
    const orig = readFileSync(join(queue, last));
    const salt = orig.readUInt32LE(16);
    const foreign = Buffer.alloc(2 * (FRAME_HEADER_BYTES + 40));
    let at = 0;
    // Numbered at or below what the log already holds: never in sequence after its end.
    for (let i = 0; i < 2; i++) at = encodeFrame(foreign, at, salt, 1 + i, Date.now(), Buffer.alloc(40, 0x61 + i));
    writeFileSync(join(queue, last), Buffer.concat([orig, foreign.subarray(0, at)]));

    const second = await startAgent({ config });
    try {
      const warning = second.stdout.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.sink === 'collector' && l.recovery !== undefined);
      expect(warning).toBeDefined();
      expect(warning!.level).toBe(40);
      expect(warning!.msg).toBe('sink queue opened');
      expect(warning!.lost).toContain(`2 whole records cut off with the tail (${at} bytes truncated)`);
      expect(warning!.recovery).toMatchObject({ clean: false, truncatedBytes: at, truncatedRecords: 2 });
      const e = parsePromText(await second.metricsText());
      expect(sampleValue(e, 'tally_spool_recovered_bytes_total', { log: 'queue', sink: 'collector', reason: 'truncated' })).toBe(at);
      expect(sampleValue(e, 'tally_spool_recovered_bytes_total', { log: 'queue', sink: 'collector', reason: 'torn_tail' })).toBe(0);
    } finally {
      await second.stop();
    }
  }, 30_000);
});
