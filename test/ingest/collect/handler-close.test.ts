/**
 * The collect endpoint as a Source: it counts in the CollectStats it is
 * given, and close() resolves only once a request it took, still waiting on
 * the journal, has reached the aggregator; a request after it is turned away.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Aggregator } from '../../../agent/aggregate/aggregator.js';
import { createCollectHandler, type CollectHandler } from '../../../agent/ingest/collect/handler.js';
import { CollectStats } from '../../../agent/telemetry/collect-stats.js';

/** What the handler hands the aggregator, by call. */
function fakeAggregator(calls: string[]): Aggregator {
  return {
    recordSample: (_kind: string, name: string) => calls.push(`sample ${name}`),
    recordEvent: (name: string) => calls.push(`event ${name}`),
    line: () => calls.push('line'),
    event: () => calls.push('event'),
    serviceCheck: () => calls.push('service check'),
    error: () => {},
  } as unknown as Aggregator;
}

/** A journal whose appends wait until the test lets them through. */
function heldJournal() {
  const held: Array<() => void> = [];
  let seq = 0;
  const applied: number[] = [];
  return {
    held,
    applied,
    append: () => new Promise<number>((resolve) => held.push(() => resolve(++seq))),
    markApplied: (s: number) => applied.push(s),
  };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
  server = undefined;
});

async function serve(handler: CollectHandler): Promise<number> {
  server = createServer((req, res) => handler.handle(req, res));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return (server.address() as AddressInfo).port;
}

function post(port: number, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/v1/collect', method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

function handler(calls: string[], counters: CollectStats, journal?: ReturnType<typeof heldJournal>): CollectHandler {
  return createCollectHandler({
    aggregator: fakeAggregator(calls),
    logger: pino({ level: 'silent' }),
    counters,
    listenAddress: '0.0.0.0',
    allowedHosts: [],
    maxBodyBytes: 1 << 20,
    maxItems: 100,
    maxJsonDepth: 8,
    limits: { maxLineBytes: 1024, maxNameBytes: 200, maxTags: 10, maxTagValueBytes: 100, maxEventTextBytes: 1000 },
    journal,
  });
}

describe('the collect endpoint as a source', () => {
  it('counts in the CollectStats it is given', async () => {
    const counters = new CollectStats();
    const calls: string[] = [];
    const port = await serve(handler(calls, counters));
    expect(await post(port, '[{"name":"a","value":1},{"name":"b"}]')).toMatchObject({ status: 400 });
    expect(await post(port, 'not json')).toMatchObject({ status: 400 });
    expect(await post(port, '{"name":"c","value":2}')).toEqual({ status: 202, text: '{"accepted":1}\n' });
    expect(calls).toEqual(['sample a', 'sample c']);
    expect(counters.itemsAccepted).toBe(2);
    expect([...counters.items]).toEqual([['missing_value', 1]]);
    expect([...counters.requests]).toEqual([
      [400, 2],
      [202, 1],
    ]);
    expect([...counters.requestErrors]).toEqual([['bad_json', 1]]);
  });

  it('closes only once a request waiting on the journal has been applied, and turns later ones away', async () => {
    const counters = new CollectStats();
    const calls: string[] = [];
    const journal = heldJournal();
    const collect = handler(calls, counters, journal);
    const port = await serve(collect);

    const answered = post(port, '{"name":"a","value":1}');
    await until(() => journal.held.length === 1);
    let closed = false;
    const closing = collect.close().then(() => (closed = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(closed).toBe(false);
    expect(calls).toEqual([]);

    journal.held[0]!();
    await closing;
    expect(calls).toEqual(['sample a']);
    expect(journal.applied).toEqual([1]);
    expect(await answered).toEqual({ status: 202, text: '{"accepted":1}\n' });

    // Closed: the connection is dropped unanswered, nothing is taken or counted.
    await expect(post(port, '{"name":"b","value":1}')).rejects.toThrow();
    expect(calls).toEqual(['sample a']);
    expect(journal.held).toHaveLength(1);
    expect([...counters.requests]).toEqual([[202, 1]]);
    await collect.close();
  });

  it('closes at once when no request is in flight', async () => {
    const collect = handler([], new CollectStats());
    await expect(collect.close()).resolves.toBeUndefined();
  });
});
