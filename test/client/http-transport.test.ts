/**
 * The HTTP transport's retry rules against a small server that answers what
 * the agent answers when it is busy or its disk is full: 503 and 429 with
 * Retry-After are retried after the time asked, 5xx and dropped connections
 * with backoff, a refusal (401) is not retried and is counted.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type Client } from 'tally-agent/client';
import { retryAfter } from '../../dist/client/http-transport.js';

interface Seen {
  at: number;
  items: Array<{ name: string; value: unknown; type: string; tags?: Record<string, unknown> }>;
}

let server: Server | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close({ timeoutMs: 1000 }).catch(() => undefined);
  client = undefined;
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
});

/** A server whose n-th request gets answers[n] (the last one repeats). */
async function serve(answers: Array<(req: IncomingMessage, res: ServerResponse) => void>): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push({ at: Date.now(), items: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Seen['items'] });
      answers[Math.min(seen.length - 1, answers.length - 1)]!(req, res);
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, seen };
}

const accept = (_: IncomingMessage, res: ServerResponse) => res.writeHead(202, { 'content-type': 'application/json' }).end('{"accepted":1}');

describe('HTTP transport retries', () => {
  it('waits as long as Retry-After asks after a 503, then delivers once', async () => {
    const { url, seen } = await serve([
      (_, res) => res.writeHead(503, { 'retry-after': '1' }).end('{"error":"journal_unavailable"}'),
      accept,
    ]);
    client = createClient({ transport: 'http', url, globalTags: false, http: { initialBackoffMs: 10 } });
    client.count('retried', 1, { k: 'v' });
    await client.flush({ timeoutMs: 10_000 });
    expect(seen).toHaveLength(2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(950);
    expect(seen[1]!.items).toEqual([{ name: 'retried', value: 1, type: 'counter', tags: { k: 'v' } }]);
    expect(client.stats()).toMatchObject({ sent: 1, retries: 1, pending: 0 });
  });

  it('retries 429, 500 and a dropped connection with backoff, keeping the order of calls', async () => {
    const { url, seen } = await serve([
      (_, res) => res.writeHead(429).end(),
      (_, res) => res.writeHead(500).end(),
      (req) => req.socket.destroy(),
      accept,
    ]);
    client = createClient({ transport: 'http', url, globalTags: false, http: { initialBackoffMs: 10, maxBackoffMs: 40 } });
    client.count('a', 1);
    client.gauge('b', 2);
    client.timer('c', { s: 0.5 });
    client.event('d', 'x');
    await client.flush({ timeoutMs: 10_000 });
    expect(seen).toHaveLength(4);
    for (const s of seen) {
      expect(s.items).toEqual([
        { name: 'a', value: 1, type: 'counter' },
        { name: 'b', value: 2, type: 'gauge' },
        { name: 'c', value: 500, type: 'timer', unit: 'ms' },
        { name: 'd', value: 'x', type: 'event' },
      ]);
    }
    expect(client.stats()).toMatchObject({ sent: 4, retries: 3, pending: 0 });
  });

  it('does not retry a refusal: the batch is counted as rejected and flush() resolves', async () => {
    const { url, seen } = await serve([(_, res) => res.writeHead(401).end('{"error":"unauthorized"}'), accept]);
    const errors: string[] = [];
    client = createClient({ transport: 'http', url, globalTags: false, onDrop: (_r, _n, err) => errors.push(String(err?.message)) });
    client.count('x', 1);
    client.count('y', 1);
    await client.flush({ timeoutMs: 5000 });
    expect(seen).toHaveLength(1);
    expect(client.stats()).toMatchObject({ sent: 0, retries: 0, pending: 0 });
    expect(client.stats().dropped.rejected).toBe(2);
    expect(errors[0]).toMatch(/HTTP 401/);
  });

  it('reads Retry-After in seconds and as an HTTP date', () => {
    expect(retryAfter('3')).toBe(3000);
    expect(retryAfter(undefined)).toBeUndefined();
    expect(retryAfter('soon')).toBeUndefined();
    const inTwo = new Date(Date.now() + 2000).toUTCString();
    expect(retryAfter(inTwo)).toBeGreaterThan(500);
    expect(retryAfter(inTwo)).toBeLessThanOrEqual(2000);
    expect(retryAfter('999999')).toBe(300_000);
  });
});
