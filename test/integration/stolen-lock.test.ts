/**
 * The lock file of a running agent is deleted (a temp-file cleaner, an
 * operator), and a second agent is started on the same data directory. The
 * kernel-held lock refuses it, naming the first agent, and every event the
 * first acknowledged before and after reaches the backend.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { logRecords, OtlpReceiver } from '../support/otlp-receiver.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

let dir: string;
let receiver: OtlpReceiver;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-stolen-lock-'));
  receiver = await OtlpReceiver.start();
});
afterAll(async () => {
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
});

async function postEvents(agent: AgentHandle, from: number, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `ev-${from + i}`);
  const res = await fetch(`http://127.0.0.1:${agent.httpPort}/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ids.map((value) => ({ name: 'lock_evt', value }))),
  });
  await res.text();
  return res.status === 202 ? ids : [];
}

describe('a deleted lock file under a running agent', () => {
  it('does not let a second agent start on the same data directory; nothing the first acknowledged is lost', async () => {
    const data = join(dir, 'data');
    const config = {
      aggregation: { flush_interval: '200ms' },
      spool: { dir: data },
      sinks: [{ name: 'collector', type: 'otlp', endpoint: receiver.url, retry: { initial_backoff: '100ms', max_backoff: '300ms' } }],
    };
    const first = await startAgent({ config });
    let second: AgentHandle | undefined;
    try {
      const acked: string[] = [];
      for (let i = 0; i < 10; i++) acked.push(...(await postEvents(first, i * 100, 100)));
      rmSync(join(data, 'tally.lock'));
      expect(existsSync(join(data, 'tally.lock'))).toBe(false);

      const refused = await startAgent({ config }).then(
        (a) => {
          second = a;
          return undefined;
        },
        (err: unknown) => (err as Error).message,
      );
      expect(refused, 'the second agent started on a directory a live agent holds').toBeDefined();
      expect(refused).toMatch(/exited with code [1-9]/);
      expect(refused).toMatch(/locked by process \d+ \(.*dist\/agent\/main\.js/);

      for (let i = 10; i < 20; i++) acked.push(...(await postEvents(first, i * 100, 100)));
      await waitFor(async () => {
        const e = parsePromText(await first.metricsText());
        expect(sampleValue(e, 'tally_queue_records', { sink: 'collector' })).toBe(0);
        const got = new Set(received());
        expect(acked.filter((id) => !got.has(id))).toEqual([]);
      }, 20_000);
      const all = received();
      const got = new Set(all);
      console.log(
        `stolen-lock run: second agent refused; ${acked.length} events acknowledged, ${got.size} delivered, ` +
          `${acked.filter((id) => !got.has(id)).length} lost, ${all.length - got.size} duplicated`,
      );
      expect(acked).toHaveLength(2000);
    } finally {
      await second?.stop();
      await first.stop();
    }

    function received(): string[] {
      return receiver
        .accepted('logs')
        .flatMap((r) => logRecords(r.message))
        .filter((l) => l.eventName === 'lock_evt')
        .map((l) => String(l.body));
    }
  }, 60_000);
});
