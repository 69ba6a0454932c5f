/**
 * UDP's own way of losing data: the kernel drops datagrams when the socket's
 * receive buffer is full. The agent is stopped (SIGSTOP) with a tiny buffer
 * while datagrams arrive, so the kernel must drop most of them; once it runs
 * again, every datagram sent is either received or counted as dropped, with
 * either receive path.
 */
import { describe, expect, it } from 'vitest';
import { startAgent, waitFor } from '../support/agent-process.js';
import { findSample, parsePromText, sampleValue } from '../support/prom-text.js';
import { loadMmsgAddon } from '../../agent/ingest/batch-receiver.js';

const SENT = 2000;
const addonMissing = loadMmsgAddon() instanceof Error;

describe.runIf(process.platform === 'linux')('kernel receive-buffer drops', () => {
  for (const receiver of ['recvmmsg', 'dgram'] as const) {
    it.skipIf(receiver === 'recvmmsg' && addonMissing && process.env.CI !== 'true')(
      `are counted in tally_packets_dropped_total with the ${receiver} receiver`,
      async () => {
        const agent = await startAgent({ config: { statsd: { udp: { receiver, receive_buffer_bytes: 4096 } } } });
        try {
          process.kill(agent.pid, 'SIGSTOP');
          try {
            for (let i = 0; i < SENT; i++) await agent.sendUdp(`flooded:1|c|#i:${i % 10}`);
          } finally {
            process.kill(agent.pid, 'SIGCONT');
          }
          // More after the flood, until one is read (the first may meet a buffer still full): the addon's
          // count arrives with the next datagram read, and everything sent before it has been read or dropped.
          let sent = SENT;
          await waitFor(async () => {
            await agent.sendUdp('after:1|c');
            sent++;
            expect(findSample(await agent.metricsText(), 'after_total')).toBeGreaterThan(0);
          }, 10_000, 100);
          const [received, dropped] = await waitFor(async () => {
            const e = parsePromText(await agent.metricsText());
            const r = sampleValue(e, 'tally_packets_received_total', { listener: 'udp' });
            const d = sampleValue(e, 'tally_packets_dropped_total', { listener: 'udp', reason: 'kernel_buffer' });
            expect(r + d).toBe(sent);
            return [r, d];
          }, 5000);
          console.log(`kernel drops (${receiver}): ${sent} sent, ${received} received, ${dropped} dropped by the kernel`);
          expect(dropped).toBeGreaterThan(SENT / 2);
        } finally {
          await agent.stop();
        }
      },
      30_000,
    );
  }
});
