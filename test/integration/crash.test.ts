/**
 * kill -9 the agent at random moments while a client process POSTs events
 * and records every 2xx it gets; restart it each time on the same data
 * directory. At the end every acknowledged event is in the backend (an OTLP
 * receiver decoding with the OpenTelemetry protos), at least once.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { logRecords, OtlpReceiver } from '../support/otlp-receiver.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

const CRASHES = 4;
const CLIENT = join(ROOT, 'test', 'integration', 'fixtures', 'collect-client.mjs');

let dir: string;
let receiver: OtlpReceiver;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-crash-'));
  receiver = await OtlpReceiver.start();
});
afterAll(async () => {
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('kill -9 under HTTP load', () => {
  it(`loses no acknowledged event across ${CRASHES} crashes and restarts`, async () => {
    const portFile = join(dir, 'port');
    const config = {
      aggregation: { flush_interval: '300ms' },
      spool: { dir: join(dir, 'data') },
      sinks: [{ name: 'collector', type: 'otlp', endpoint: receiver.url, retry: { initial_backoff: '100ms', max_backoff: '300ms' } }],
    };
    const client = spawn(process.execPath, [CLIENT, portFile, '4'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked: string[] = [];
    createInterface({ input: client.stdout! }).on('line', (l) => acked.push(l));
    let agent: AgentHandle | undefined;
    try {
      for (let i = 0; i <= CRASHES; i++) {
        agent = await startAgent({ config });
        await writeFile(portFile, String(agent.httpPort));
        const before = acked.length;
        // Somewhere in the first flushes: mid-journal, mid-flush, mid-push.
        await new Promise((r) => setTimeout(r, 400 + Math.floor(Math.random() * 900)));
        if (i < CRASHES) {
          await agent.crash();
          expect(acked.length, `requests were acknowledged while agent ${i} ran`).toBeGreaterThan(before);
        }
      }
      client.kill('SIGTERM');
      await new Promise((r) => client.once('exit', r));
      const last = agent!;
      // Everything queued goes out; the last requests' flush too.
      await waitFor(async () => {
        const e = parsePromText(await last.metricsText());
        expect(sampleValue(e, 'tally_queue_records', { sink: 'collector' })).toBe(0);
        const got = new Set(received());
        expect(acked.filter((id) => !got.has(id))).toEqual([]);
      }, 20_000);
      const all = received();
      const duplicates = all.length - new Set(all).size;
      console.log(`crash test: ${acked.length} events acknowledged over ${CRASHES} kill -9s, ${all.length} delivered, ${duplicates} duplicates`);
      expect(acked.length).toBeGreaterThan(100);
    } finally {
      client.kill('SIGKILL');
      await agent?.stop();
    }

    function received(): string[] {
      return receiver
        .accepted('logs')
        .flatMap((r) => logRecords(r.message))
        .filter((l) => l.eventName === 'crash_evt')
        .map((l) => String(l.body));
    }
  }, 90_000);
});
