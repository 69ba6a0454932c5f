/**
 * Real sockets on 127.0.0.1 and in a temp dir against startStreamListener;
 * what arrives through onLines is run through the real statsd parser.
 */
import { once } from 'node:events';
import { existsSync, linkSync } from 'node:fs';
import { lstat, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startStreamListener,
  type StreamListener,
  type StreamListenerOptions,
} from '../../agent/ingest/stream-listener.js';
import { KIND_NAMES } from '../../agent/parse/metric-kind.js';
import { StatsdParser, type LineSink, type ParsedLine } from '../../agent/parse/statsd-line.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';
import { waitFor } from '../support/agent-process.js';
import { StatsdClientCtor } from '../support/statsd-client.js';


const WAIT_MS = 5_000;
const silent = pino({ level: 'silent' });

interface Metric {
  name: string;
  kind: string;
  value: number;
  tags: string | null;
  raw: string;
}

interface Harness {
  listener: StreamListener;
  events: Readonly<Record<StreamEvent, number>>;
  /** Every onLines buffer, copied. */
  chunks: Buffer[];
  metrics(): Metric[];
  errors(): Array<{ reason: string; text: string }>;
  text(): string;
}

const cleanups: Array<() => Promise<unknown> | void> = [];

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type StreamEvent = 'connection' | 'connection_refused' | 'connection_error' | 'line_too_long' | 'bytes';

async function start(overrides: Partial<StreamListenerOptions> = {}): Promise<Harness> {
  const counters = new IngestCounters();
  const kind = overrides.kind ?? 'tcp';
  // What the listener counted, read as the events these tests were written in.
  const events = {
    get connection() {
      return counters.connections.get(`${kind}\u0000accepted`) ?? 0;
    },
    get connection_refused() {
      return counters.connections.get(`${kind}\u0000refused`) ?? 0;
    },
    get connection_error() {
      return counters.connections.get(`${kind}\u0000error`) ?? 0;
    },
    get line_too_long() {
      return counters.parseErrors.get('line_too_long') ?? 0;
    },
    get bytes() {
      return counters.bytes[kind];
    },
  };
  const chunks: Buffer[] = [];
  const listener = await startStreamListener({
    kind: 'tcp',
    address: '127.0.0.1',
    port: 0,
    maxConnections: 1000,
    idleTimeoutMs: 0,
    maxLineBytes: 65536,
    logger: silent,
    onLines: (buf) => chunks.push(Buffer.from(buf)),
    counters,
    ...overrides,
  });
  cleanups.push(() => listener.close());
  const parse = () => {
    const metrics: Metric[] = [];
    const errors: Array<{ reason: string; text: string }> = [];
    const dec = (b: Uint8Array, s: number, e: number) => Buffer.from(b.subarray(s, e)).toString('utf8');
    const sink: LineSink = {
      event: () => errors.push({ reason: 'unexpected_event', text: '' }),
      serviceCheck: () => errors.push({ reason: 'unexpected_service_check', text: '' }),
      line(p: ParsedLine) {
        metrics.push({
          name: dec(p.buf, p.nameStart, p.nameEnd),
          kind: KIND_NAMES[p.kind],
          value: p.value,
          tags: p.tagsStart === -1 ? null : dec(p.buf, p.tagsStart, p.tagsEnd),
          raw: dec(p.buf, p.valueStart, p.valueEnd),
        });
      },
      error(reason, buf, s, e) {
        errors.push({ reason, text: dec(buf, s, e) });
      },
    };
    const parser = new StatsdParser();
    for (const c of chunks) parser.parsePacket(c, sink);
    return { metrics, errors };
  };
  return {
    listener,
    events,
    chunks,
    metrics: () => parse().metrics,
    errors: () => parse().errors,
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

function track(socket: Socket): Socket {
  // Client-side resets are expected in several tests; what matters is the listener's side.
  socket.on('error', () => {});
  cleanups.push(() => {
    socket.destroy();
  });
  return socket;
}

async function tcpClient(h: Harness, opts: { allowHalfOpen?: boolean } = {}): Promise<Socket> {
  const s = track(connect({ host: '127.0.0.1', port: h.listener.port!, allowHalfOpen: opts.allowHalfOpen ?? false }));
  await once(s, 'connect');
  return s;
}

/** Unlike events.once, does not reject when the socket reports an error before closing. */
function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())));
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'tally-stream-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('TCP stream listener', () => {
  it('receives every metric type from statsd-client over TCP', async () => {
    const h = await start();
    const client = new StatsdClientCtor({ host: '127.0.0.1', port: h.listener.port, tcp: true, socketTimeout: 50 });
    client
      .increment('shop.checkout', 3, { route: '/cart' })
      .gauge('shop.queue', 17)
      .timing('shop.latency', 120, { route: '/cart' })
      .histogram('shop.size', 512)
      .set('shop.users', 'alice');
    client.close();
    await waitFor(() => expect(h.metrics()).toHaveLength(5), WAIT_MS);
    expect(h.metrics()).toEqual([
      { name: 'shop.checkout', kind: 'counter', value: 3, tags: 'route:/cart', raw: '3' },
      { name: 'shop.queue', kind: 'gauge', value: 17, tags: null, raw: '17' },
      { name: 'shop.latency', kind: 'timer', value: 120, tags: 'route:/cart', raw: '120' },
      { name: 'shop.size', kind: 'histogram', value: 512, tags: null, raw: '512' },
      expect.objectContaining({ name: 'shop.users', kind: 'set', raw: 'alice' }),
    ]);
    expect(h.errors()).toEqual([]);
    expect(h.events.connection).toBe(1);
    await waitFor(() => expect(h.listener.connections()).toBe(0), WAIT_MS);
  });

  it('delivers 20,000 lines of one connection in order, batched into far fewer onLines calls', async () => {
    const h = await start();
    const s = await tcpClient(h);
    const N = 20_000;
    let payload = '';
    for (let i = 0; i < N; i++) payload += `seq:${i}|g\n`;
    s.end(payload);
    await waitFor(() => expect(h.metrics()).toHaveLength(N), WAIT_MS);
    expect(h.metrics().map((m) => m.value)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(h.events.bytes).toBe(Buffer.byteLength(payload));
    expect(h.chunks.length).toBeLessThan(N / 50);
  });

  it('reassembles lines written in pieces split mid-line and inside a UTF-8 character', async () => {
    const h = await start();
    const s = await tcpClient(h);
    s.setNoDelay(true);
    const payload = Buffer.from('temp:21.5|g|#city:zürich\nreq:1|c|#route:/a\n');
    const u = payload.indexOf(0xc3); // first byte of ü
    const cuts = [3, u + 1, payload.indexOf('\n') + 1, payload.length - 4, payload.length];
    let prev = 0;
    for (const c of cuts) {
      s.write(payload.subarray(prev, c));
      // Wait until the listener has read the piece, so each one is a read of its own.
      await waitFor(() => h.events.bytes === c, WAIT_MS, 5);
      prev = c;
    }
    await waitFor(() => expect(h.metrics()).toHaveLength(2), WAIT_MS);
    expect(h.metrics()).toEqual([
      { name: 'temp', kind: 'gauge', value: 21.5, tags: 'city:zürich', raw: '21.5' },
      { name: 'req', kind: 'counter', value: 1, tags: 'route:/a', raw: '1' },
    ]);
    expect(h.errors()).toEqual([]);
  });

  it('parses the last line of a client that closes without a final newline', async () => {
    const h = await start();
    const s = await tcpClient(h);
    s.end('first:1|c\nlast:7|c');
    await waitFor(() => expect(h.metrics().map((m) => `${m.name}=${m.value}`)).toEqual(['first=1', 'last=7']), WAIT_MS);
  });

  it('keeps serving a steady client while 2,000 other connections are opened and dropped', async () => {
    const h = await start({ maxConnections: 5000 });
    const good = await tcpClient(h);
    let sent = 0;
    const sender = setInterval(() => good.write(`good.seq:${sent++}|g\n`), 2);
    cleanups.push(() => clearInterval(sender));

    const churn = (i: number) =>
      new Promise<void>((resolve) => {
        const s = track(connect({ host: '127.0.0.1', port: h.listener.port! }));
        s.once('close', () => resolve());
        s.once('connect', () => {
          switch (i % 4) {
            case 0:
              s.destroy();
              break;
            case 1:
              s.resetAndDestroy();
              break;
            case 2:
              s.write('junk:1|', () => setImmediate(() => s.resetAndDestroy()));
              break;
            default:
              s.end('churn:1|c\n');
          }
        });
      });
    const TOTAL = 2000;
    const BATCH = 100;
    const t0 = Date.now();
    for (let b = 0; b < TOTAL; b += BATCH) await Promise.all(Array.from({ length: BATCH }, (_, j) => churn(b + j)));
    const churnMs = Date.now() - t0;
    clearInterval(sender);
    good.end();

    await waitFor(() => expect(h.listener.connections()).toBe(0), WAIT_MS);
    expect(h.events.connection).toBe(TOTAL + 1);
    const metrics = h.metrics();
    const goodValues = metrics.filter((m) => m.name === 'good.seq').map((m) => m.value);
    expect(sent).toBeGreaterThan(10);
    expect(goodValues).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(metrics.filter((m) => m.name === 'churn')).toHaveLength(TOTAL / 4);
    // What becomes of the half-written "junk" lines is left open: a reset this close behind the data can reach
    // the listener as a clean end (Linux, seen when it races accept()), and a clean end flushes the partial line.
    expect(h.events.connection_error).toBeGreaterThan(0);
    expect(churnMs).toBeLessThan(20_000);

    // Still accepting afterwards.
    const after = await tcpClient(h);
    after.end('after:1|c\n');
    await waitFor(() => expect(h.metrics().some((m) => m.name === 'after')).toBe(true), WAIT_MS);
  });

  it('refuses and counts connections beyond maxConnections, and accepts again once one closes', async () => {
    const h = await start({ maxConnections: 2 });
    const a = await tcpClient(h);
    await tcpClient(h);
    await waitFor(() => expect(h.listener.connections()).toBe(2), WAIT_MS);
    const c = await tcpClient(h);
    c.write('refused:1|c\n');
    await closed(c);
    await waitFor(() => expect(h.events.connection_refused).toBe(1), WAIT_MS);
    expect(h.events.connection).toBe(2);

    a.end();
    await waitFor(() => expect(h.listener.connections()).toBe(1), WAIT_MS);
    const d = await tcpClient(h);
    d.end('accepted:1|c\n');
    await waitFor(() => expect(h.metrics().map((m) => m.name)).toEqual(['accepted']), WAIT_MS);
    expect(h.events.connection_refused).toBe(1);
  });

  it('closes a connection that stays silent for idleTimeoutMs, but not one that keeps sending', async () => {
    const h = await start({ idleTimeoutMs: 300 });
    const busy = await tcpClient(h);
    const ticker = setInterval(() => busy.write('busy:1|c\n'), 50);
    cleanups.push(() => clearInterval(ticker));
    const quiet = await tcpClient(h);
    const t0 = Date.now();
    quiet.write('quiet:1|c');
    await closed(quiet);
    const idleMs = Date.now() - t0;
    expect(idleMs).toBeGreaterThanOrEqual(250);
    expect(idleMs).toBeLessThan(3000);
    // The timeout is a clean close: the unterminated line sent before it counts.
    await waitFor(() => expect(h.metrics().filter((m) => m.name === 'quiet')).toHaveLength(1), WAIT_MS);

    await delay(500);
    expect(busy.destroyed).toBe(false);
    expect(h.listener.connections()).toBe(1);
    clearInterval(ticker);
  });

  it('drops and counts a line longer than maxLineBytes, and parses the lines around it', async () => {
    const h = await start({ maxLineBytes: 64 });
    const s = await tcpClient(h);
    s.setNoDelay(true);
    s.write('before:1|c\nbig:');
    for (let i = 0; i < 5; i++) {
      s.write('x'.repeat(1000));
      await delay(5);
    }
    s.end('|c\nafter:2|c\n');
    await waitFor(() => expect(h.metrics().map((m) => `${m.name}=${m.value}`)).toEqual(['before=1', 'after=2']), WAIT_MS);
    expect(h.events.line_too_long).toBe(1);
    expect(h.errors()).toEqual([]);
  });

  it('counts a connection reset, drops its partial line and keeps running', async () => {
    const h = await start();
    const s = await tcpClient(h);
    s.write('cut:1|');
    await waitFor(() => h.events.bytes === 6, WAIT_MS, 5);
    s.resetAndDestroy();
    await waitFor(() => expect(h.events.connection_error).toBe(1), WAIT_MS);
    await waitFor(() => expect(h.listener.connections()).toBe(0), WAIT_MS);
    expect(h.chunks).toEqual([]);

    const t = await tcpClient(h);
    t.end('ok:1|c\n');
    await waitFor(() => expect(h.metrics().map((m) => m.name)).toEqual(['ok']), WAIT_MS);
  });

  it('fails with a clear message when the port is taken', async () => {
    const h = await start();
    await expect(start({ port: h.listener.port })).rejects.toThrow(
      `statsd TCP address 127.0.0.1:${h.listener.port} is already in use by another process`,
    );
  });

  it('close() delivers what open connections sent and returns promptly when clients end too', async () => {
    const h = await start({ closeTimeoutMs: 10_000 });
    const s = await tcpClient(h);
    s.write('pending:5|c');
    await waitFor(() => h.events.bytes === 11, WAIT_MS, 5);
    const t0 = Date.now();
    await h.listener.close();
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(h.text()).toBe('pending:5|c');
    expect(h.listener.connections()).toBe(0);
    const refused = track(connect({ host: '127.0.0.1', port: h.listener.port! }));
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
  });

  it('close() destroys a client that never ends its side after closeTimeoutMs, still flushing its line', async () => {
    const h = await start({ closeTimeoutMs: 300 });
    const s = await tcpClient(h, { allowHalfOpen: true });
    s.write('stubborn:1|c');
    await waitFor(() => h.events.bytes === 12, WAIT_MS, 5);
    const t0 = Date.now();
    await h.listener.close();
    const ms = Date.now() - t0;
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(3000);
    expect(h.text()).toBe('stubborn:1|c');
    const chunksAtClose = h.chunks.length;
    s.write('late:1|c\n');
    await delay(50);
    expect(h.chunks).toHaveLength(chunksAtClose);
  });
});

describe('unix stream listener', () => {
  it('receives lines on a 0660 socket file and removes the file on close', async () => {
    const dir = await tempDir();
    const path = join(dir, 'statsd.sock');
    const h = await start({ kind: 'unix', address: path });
    expect(h.listener.address).toBe(path);
    expect(h.listener.port).toBeUndefined();
    const st = await lstat(path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);

    const s = track(connect({ path }));
    await once(s, 'connect');
    s.end('unix.hits:2|c|#via:uds\nunix.last:1|g');
    await waitFor(
      () => expect(h.metrics().map((m) => `${m.name}=${m.value} ${m.tags}`)).toEqual(['unix.hits=2 via:uds', 'unix.last=1 null']),
      WAIT_MS,
    );
    await h.listener.close();
    expect(existsSync(path)).toBe(false);
  });

  it('applies socketMode', async () => {
    const dir = await tempDir();
    const path = join(dir, 'statsd.sock');
    await start({ kind: 'unix', address: path, socketMode: 0o600 });
    expect((await lstat(path)).mode & 0o777).toBe(0o600);
  });

  it('takes over a stale socket file left by a process that died', async () => {
    const dir = await tempDir();
    const path = join(dir, 'statsd.sock');
    // A second name for a bound socket outlives the server's close: a socket file nobody listens on, as after a crash.
    const old = createServer();
    await new Promise<void>((r) => old.listen(join(dir, 'old.sock'), () => r()));
    linkSync(join(dir, 'old.sock'), path);
    // A third name keeps the stale inode alive, so the new socket cannot reuse its number.
    linkSync(path, join(dir, 'witness.sock'));
    await new Promise<void>((r) => old.close(() => r()));
    const staleIno = (await lstat(join(dir, 'witness.sock'))).ino;
    expect((await lstat(path)).ino).toBe(staleIno);
    const probe = track(connect({ path }));
    const [probeErr] = (await once(probe, 'error')) as [NodeJS.ErrnoException];
    expect(probeErr.code).toBe('ECONNREFUSED');

    const h = await start({ kind: 'unix', address: path });
    expect((await lstat(path)).ino).not.toBe(staleIno);
    const s = track(connect({ path }));
    await once(s, 'connect');
    s.end('revived:1|c\n');
    await waitFor(() => expect(h.metrics().map((m) => m.name)).toEqual(['revived']), WAIT_MS);
  });

  it('refuses a path another listener is serving and leaves that listener working', async () => {
    const dir = await tempDir();
    const path = join(dir, 'statsd.sock');
    const first = await start({ kind: 'unix', address: path });
    await expect(start({ kind: 'unix', address: path })).rejects.toThrow(
      `statsd unix socket ${path} is in use by another process that is listening on it`,
    );
    expect((await lstat(path)).isSocket()).toBe(true);
    const s = track(connect({ path }));
    await once(s, 'connect');
    s.end('still:1|c\n');
    await waitFor(() => expect(first.metrics().map((m) => m.name)).toEqual(['still']), WAIT_MS);
  });

  it('refuses to replace a path that is not a socket', async () => {
    const dir = await tempDir();
    const path = join(dir, 'statsd.sock');
    await writeFile(path, 'precious');
    await expect(start({ kind: 'unix', address: path })).rejects.toThrow(`statsd unix socket ${path} exists and is not a socket`);
    expect(await readFile(path, 'utf8')).toBe('precious');
  });

  it('says which directory is missing', async () => {
    const dir = await tempDir();
    const path = join(dir, 'missing', 'statsd.sock');
    await expect(start({ kind: 'unix', address: path })).rejects.toThrow(`statsd unix socket ${path}: its directory does not exist`);
  });
});
