/**
 * The whole pipeline (HTTP collect with its journal, aggregation, an OTLP
 * delta sink and its queue) on a small simulated disk (fault-file-access.ts
 * with a capacity, so it runs anywhere): the backend goes down and the disk
 * fills; every 2xx must still reach the backend once it is back, collect
 * must answer 503 with Retry-After meanwhile, readiness must say so, and the
 * agent must come back by itself. Also: start-up on a disk with no room.
 * The same run on a real tmpfs with the built agent is disk-full-tmpfs.test.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../agent/config/load-config.js';
import { startPipeline, type RunningAgent } from '../../agent/pipeline.js';
import { figures, newSent, postFor, printFigures, untilDelivered } from '../support/disk-full-run.js';
import { waitFor } from '../support/agent-process.js';
import { logRecords, OtlpReceiver } from '../support/otlp-receiver.js';
import { FaultFileAccess } from '../spool/fault-file-access.js';

let dir: string;
let receiver: OtlpReceiver;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-disk-full-'));
  receiver = await OtlpReceiver.start();
});
afterAll(async () => {
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

function configFor(dataDir: string) {
  return parseConfigText(
    JSON.stringify({
      statsd: { udp: { enabled: true, address: '127.0.0.1', port: 0 } },
      http: { address: '127.0.0.1', port: 0 },
      aggregation: { flush_interval: '200ms' },
      spool: { dir: dataDir },
      sinks: [{ name: 'collector', type: 'otlp', endpoint: receiver.url, retry: { initial_backoff: '50ms', max_backoff: '200ms' } }],
    }),
    'disk-full.yaml',
  );
}

/** A logger whose lines the test can read. */
function captured(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, logger: pino({ level: 'info' }, { write: (s: string) => void lines.push(s) }) };
}

const status = async (url: string) => (await fetch(url)).status;

describe('a full disk under the spool (simulated)', () => {
  it('loses no acknowledged request: collect answers 503 while the queue cannot take data, and the agent comes back by itself', async () => {
    const fs = new FaultFileAccess({ capacityBytes: 384 * 1024, yieldChance: 0 });
    const dataDir = join(dir, 'run');
    const { logger } = captured();
    await receiver.down();
    let agent: RunningAgent | undefined = await startPipeline(configFor(dataDir), logger, 'test', undefined, { baseDir: dir, files: fs });
    try {
      const base = () => `http://127.0.0.1:${agent!.http.port}`;
      const sent = newSent();
      // Backend down: the queue fills the disk, then collect must refuse rather than acknowledge what it cannot keep.
      await postFor(`${base()}/v1/collect`, sent, 8_000, () => (sent.statuses.get(503) ?? 0) > 150);
      const notReady = (await status(`${base()}/readyz`)) === 503;
      expect(sent.statuses.get(503) ?? 0, JSON.stringify([...sent.statuses])).toBeGreaterThan(0);
      expect(sent.retryAfter.size).toBeGreaterThan(0);
      expect([...sent.retryAfter].every((v) => Number(v) >= 1)).toBe(true);
      expect(notReady, '/readyz must answer 503 while the disk is full').toBe(true);
      // Nothing was dropped, so nothing makes the agent unhealthy.
      expect(await status(`${base()}/healthz`)).toBe(200);
      const fullAt = fs.usedBytes();

      // Backend back: deliveries free the disk, and collect takes requests again without a restart.
      await receiver.up();
      await waitFor(async () => (await status(`${base()}/readyz`)) === 200, 20_000);
      const before = sent.ackedEvents.length;
      await postFor(`${base()}/v1/collect`, sent, 1_000);
      expect(sent.ackedEvents.length).toBeGreaterThan(before);
      expect(fs.usedBytes()).toBeLessThan(fullAt);

      // A stop and a start on the same disk: whatever the journal still holds is replayed.
      await agent.stop();
      agent = await startPipeline(configFor(dataDir), logger, 'test', undefined, { baseDir: dir, files: fs });
      await postFor(`${base()}/v1/collect`, sent, 500);
      await untilDelivered(sent, receiver, 20_000);
      await agent.stop();
      agent = undefined;
      const f = figures(sent, receiver);
      printFigures('disk full, simulated disk of 384 KiB (npx vitest run test/integration/disk-full.test.ts)', f);
      expect(f.acknowledged.events).toBeGreaterThan(100);
      expect(f.lost).toEqual({ events: 0, increments: 0 });
    } finally {
      await agent?.stop();
    }
  }, 90_000);

  it('starts on a disk with no room: UDP and /metrics served, collect 503, the path and the reason logged; opens the spool once there is room', async () => {
    const fs = new FaultFileAccess({ capacityBytes: 0, yieldChance: 0 });
    const dataDir = join(dir, 'start-full');
    const { logger, lines } = captured();
    await receiver.up();
    const agent = await startPipeline(configFor(dataDir), logger, 'test', undefined, { baseDir: dir, files: fs });
    try {
      const base = `http://127.0.0.1:${agent.http.port}`;
      const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => String(l.msg).includes('disk is full'));
      expect(logged, lines.join('')).toMatchObject({ data_dir: dataDir });
      expect(JSON.stringify(logged)).toContain('ENOSPC');
      expect(await status(`${base}/readyz`)).toBe(503);
      const refused = await fetch(`${base}/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"early","value":1}' });
      expect(refused.status).toBe(503);
      expect(refused.headers.get('retry-after')).toMatch(/^[1-9]\d*$/);
      expect(await refused.json()).toMatchObject({ error: 'not_durable' });

      const { createSocket } = await import('node:dgram');
      const udp = createSocket('udp4');
      await new Promise<void>((r) => udp.send('df_udp:3|c', agent.udp!.port, '127.0.0.1', () => r()));
      udp.close();
      await waitFor(async () => /df_udp\S* 3/.test(await (await fetch(`${base}/metrics`)).text()), 5_000);

      // Room again: the spool opens by itself, collect is durable, and the UDP counter is pushed too.
      fs.capacityBytes = 4 * 1024 * 1024;
      await waitFor(async () => (await status(`${base}/readyz`)) === 200, 10_000);
      const ok = await fetch(`${base}/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"late_event","value":"after-space"}' });
      expect(ok.status).toBe(202);
      await waitFor(() => receiver.accepted('logs').some((r) => logRecords(r.message).some((l) => l.eventName === 'late_event')), 10_000);
    } finally {
      await agent.stop();
    }
  }, 60_000);

  it('bounds the journal: past http.collect.journal_max_bytes collect answers 503 with Retry-After until a flush releases it', async () => {
    const config = parseConfigText(
      JSON.stringify({
        http: { address: '127.0.0.1', port: 0, collect: { journal_max_bytes: 8192 } },
        statsd: { udp: { enabled: false } },
        aggregation: { flush_interval: '1s' },
        spool: { dir: join(dir, 'journal-bound') },
      }),
      'journal-bound.yaml',
    );
    const agent = await startPipeline(config, pino({ level: 'silent' }), 'test', undefined, { baseDir: dir });
    try {
      const sent = newSent();
      const url = `http://127.0.0.1:${agent.http.port}/v1/collect`;
      await postFor(url, sent, 900, () => (sent.statuses.get(503) ?? 0) > 0, 1000);
      expect(sent.statuses.get(503)).toBe(1);
      expect(sent.retryAfter).toEqual(new Set(['1']));
      // A few requests fit; their bytes, not more than one request past the bound, were journaled.
      expect(sent.ackedEvents.length).toBeGreaterThan(2);
      expect(sent.ackedEvents.length).toBeLessThan(12);
      // The flush releases the journal, and collect takes requests again.
      await waitFor(async () => {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"again","value":1}' });
        return r.status === 202;
      }, 5_000);
    } finally {
      await agent.stop();
    }
  });
});
