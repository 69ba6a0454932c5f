/**
 * startUnixgramListener over real Unix datagram sockets in a temp dir. The
 * peer is Python (test/ingest/fixtures/unixgram-peer.py): Node itself has no
 * AF_UNIX SOCK_DGRAM sockets.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadMmsgAddon } from '../../agent/ingest/batch-receiver.js';
import { startUnixgramListener, type UnixgramListener } from '../../agent/ingest/unixgram-listener.js';
import { Aggregator } from '../../agent/aggregate/aggregator.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';
import { ROOT, findOnPath, waitFor } from '../support/agent-process.js';

const silent = pino({ level: 'silent' });
const PEER = join(ROOT, 'test', 'ingest', 'fixtures', 'unixgram-peer.py');
const canRun = !(loadMmsgAddon() instanceof Error) && findOnPath('python3') !== undefined;
if (!canRun && process.env.CI === 'true') throw new Error('unixgram tests need the native addon and python3 in CI');

// Asynchronous: a unix datagram sender blocks once the reader's queue is full, so the reader (this process) must keep running.
function peer(mode: string, path: string, extra: string[] = [], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile('python3', [PEER, mode, path, ...extra], { timeout: 10_000 }, (err) => (err ? reject(err) : resolve()));
    child.stdin!.end(input ?? '');
  });
}

let dir: string;
const open: UnixgramListener[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-unixgram-'));
});
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  await rm(dir, { recursive: true, force: true });
});

async function listen(path: string) {
  const counters = new IngestCounters();
  const got: string[] = [];
  const listener = await startUnixgramListener({
    path,
    socketMode: 0o620,
    receiveBufferBytes: 1 << 20,
    counters,
    logger: silent,
    onDatagram: (buf, start, end) => got.push(buf.toString('utf8', start, end)),
  });
  open.push(listener);
  return { listener, counters, got };
}

describe.runIf(canRun)('startUnixgramListener', () => {
  it('receives datagrams in order, sets the socket mode, and removes the file on close', async () => {
    const path = join(dir, 'dsd.sock');
    const { listener, counters, got } = await listen(path);
    expect((await lstat(path)).isSocket()).toBe(true);
    expect((await lstat(path)).mode & 0o777).toBe(0o620);
    const sent = Array.from({ length: 300 }, (_, i) => `dsd.${i}:1|c|#i:${i}`);
    await peer('send', path, [], JSON.stringify(sent));
    await waitFor(() => expect(got).toHaveLength(sent.length), 5000);
    expect(got).toEqual(sent);
    expect(counters.packets.unixgram).toBe(300);
    await listener.close();
    open.splice(0);
    expect(existsSync(path)).toBe(false);
  });

  it('counts a datagram longer than a receive slot as datagram_truncated and does not parse it', async () => {
    const path = join(dir, 'dsd.sock');
    const { counters, got } = await listen(path);
    await peer('send-big', path, ['70000']);
    await peer('send', path, [], JSON.stringify(['after:1|c']));
    await waitFor(() => expect(got).toEqual(['after:1|c']), 5000);
    expect(counters.parseErrors.get('datagram_truncated')).toBe(1);
    expect(counters.packets.unixgram).toBe(2);
  });

  it('survives random datagrams through the real parser and aggregator, and counts every good one sent among them', async () => {
    const path = join(dir, 'fuzz.sock');
    const counters = new IngestCounters();
    const aggregator = new Aggregator({ timerBuckets: [1], histogramBuckets: [1], counters, logger: silent });
    const parser = new StatsdParser();
    const listener = await startUnixgramListener({
      path,
      socketMode: 0o600,
      receiveBufferBytes: 4 << 20,
      counters,
      logger: silent,
      onDatagram: (buf, start, end) => parser.parseRange(buf, start, end, aggregator),
    });
    open.push(listener);
    const junk = fc.sample(fc.uint8Array({ minLength: 0, maxLength: 3000 }), { numRuns: 1000, seed: 20261124 });
    const good = 'fuzz.good:1|c';
    const datagrams: string[] = [];
    junk.forEach((bytes, i) => {
      datagrams.push(Buffer.from(bytes).toString('base64'));
      if (i % 10 === 0) datagrams.push(Buffer.from(good).toString('base64'));
    });
    await peer('send-b64', path, [], JSON.stringify(datagrams));
    await waitFor(() => expect(counters.packets.unixgram).toBe(datagrams.length), 10_000);
    let goodTotal = 0;
    aggregator.forEachFamily((f) => {
      if (f.name === 'fuzz_good_total') for (const s of f.series) goodTotal += s.value;
    });
    // Every good datagram counted, whatever came between them (the seed is fixed, so the junk is too).
    expect(goodTotal).toBe(100);
    expect([...counters.parseErrors.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('replaces a stale socket file that no process reads', async () => {
    const path = join(dir, 'dsd.sock');
    await peer('stale', path);
    expect((await lstat(path)).isSocket()).toBe(true);
    const { got } = await listen(path);
    await peer('send', path, [], JSON.stringify(['fresh:1|c']));
    await waitFor(() => expect(got).toEqual(['fresh:1|c']), 5000);
  });

  it('refuses a socket a live listener reads, and a path that is not a socket, leaving both alone', async () => {
    const path = join(dir, 'dsd.sock');
    const { got } = await listen(path);
    await expect(listen(path)).rejects.toThrow(`statsd unixgram socket ${path} is in use by another process`);
    await peer('send', path, [], JSON.stringify(['still:1|c']));
    await waitFor(() => expect(got).toEqual(['still:1|c']), 5000);

    const file = join(dir, 'not-a-socket');
    await writeFile(file, 'keep me');
    await expect(listen(file)).rejects.toThrow(`statsd unixgram socket ${file} is in use by another process (or is not a socket)`);
    expect(await readFile(file, 'utf8')).toBe('keep me');
  });
});
