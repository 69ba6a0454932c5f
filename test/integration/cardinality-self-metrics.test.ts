/**
 * The self-metrics the cardinality benchmark reads (bench/cardinality.mjs),
 * from a running agent with an OTLP and a remote-write sink: the encode time
 * of each sink, the flush time and the longest event-loop block.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { OtlpReceiver } from '../support/otlp-receiver.js';
import { findSample, parsePromText } from '../support/prom-text.js';

let dir: string;
let otlp: OtlpReceiver;
let rw: Server;
let agent: AgentHandle | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-card-self-'));
  otlp = await OtlpReceiver.start();
  // Remote write needs only a 2xx here; what it carries is tested elsewhere.
  rw = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((r) => rw.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  await agent?.stop();
  await otlp?.close();
  await new Promise((r) => rw?.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('self-metrics for the cardinality benchmark', () => {
  it('has encode time per sink, flush time and the longest event-loop block on /metrics', async () => {
    const rwPort = (rw.address() as AddressInfo).port;
    agent = await startAgent({
      config: {
        aggregation: { flush_interval: '200ms' },
        spool: { dir: join(dir, 'data') },
        sinks: [
          { name: 'collector', type: 'otlp', endpoint: otlp.url },
          { name: 'prom', type: 'prometheus_remote_write', endpoint: `http://127.0.0.1:${rwPort}/api/v1/write` },
        ],
      },
    });
    await agent.sendUdp('card.hits:1|c|#route:/a\ncard.lat:12|ms|#route:/a');
    const a = agent;
    const text = await waitFor(async () => {
      const t = await a.metricsText();
      const e = parsePromText(t);
      const n = (sink: string) => findSample(e, 'tally_sink_encode_duration_seconds_count', { sink }) ?? 0;
      if (n('collector') < 2 || n('prom') < 2) throw new Error(`encodes so far: collector ${n('collector')}, prom ${n('prom')}`);
      return t;
    }, 10_000);
    const e = parsePromText(text);
    for (const sink of ['collector', 'prom']) {
      const sum = findSample(e, 'tally_sink_encode_duration_seconds_sum', { sink })!;
      expect(sum).toBeGreaterThan(0);
      expect(sum).toBeLessThan(5);
    }
    expect(findSample(e, 'tally_flush_duration_seconds_count')).toBeGreaterThanOrEqual(2);
    const block = findSample(e, 'tally_event_loop_block_max_seconds');
    expect(block).toBeGreaterThanOrEqual(0);
    expect(block).toBeLessThan(5);
  });
});
