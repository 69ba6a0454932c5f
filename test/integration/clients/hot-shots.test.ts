/**
 * hot-shots, the DogStatsD client for Node.js, over each transport it has
 * (UDP, TCP, a Unix datagram socket, a stream the application opens) and in
 * its Telegraf mode, against one agent listening on all of them. Plain
 * statsd and tags over UDP are in ../statsd-clients.test.ts; here each
 * transport carries the whole feature set, events and service checks
 * included, so a transport that loses or garbles one kind shows up.
 */
import { connect, type Socket } from 'node:net';
import HotShots, { type ClientOptions, type StatsCb, type StatsD, type TimerContext } from 'hot-shots';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { waitFor } from '../../support/agent-process.js';
import {
  expectBuckets,
  HISTOGRAM_BUCKETS,
  LAND_WAIT_MS,
  parseErrors,
  SET_WAIT_MS,
  useClientAgent,
  TIMER_BUCKETS,
} from '../../support/client-harness.js';
import { familyType, sampleValue, samplesNamed } from '../../support/prom-text.js';
import { skipLoudlyUnlessNode20InCI, unixDgramLoadError } from '../../support/unix-dgram.js';

const fx = useClientAgent();

// hot-shots' uds protocol needs unix-dgram, a NAN addon that `npm ci` builds for the Node that ran it;
// CI's Node 24 pass reuses the Node 20 build and these machines have no Node 24 headers to rebuild it
// (as in ../../cli.test.ts). On Node 20 under CI it must load.
const unixDgramMissing = unixDgramLoadError();
skipLoudlyUnlessNode20InCI('hot-shots over uds', unixDgramMissing);

/** Plain options: no Datadog auto-detection, no DD_* tags from the environment, no client-side aggregation. */
function hotShots(opts: ClientOptions): StatsD {
  return new HotShots({
    datadog: false,
    includeDataDogTags: false,
    aggregation: false,
    maxBufferSize: 0,
    errorHandler: (err) => fx.errors.push(err),
    ...opts,
  });
}

function sent(call: (cb: StatsCb) => void): Promise<void> {
  return new Promise((resolve, reject) => call((err) => (err ? reject(err) : resolve())));
}

function closed(client: StatsD): Promise<void> {
  return new Promise((resolve) => client.close(() => resolve()));
}

const EVENT_DATE = new Date(1_700_000_000_000);

/**
 * Every kind of call hot-shots has, buffered into one write so that the set
 * members fall in one flush interval. Returns once hot-shots has handed the
 * buffer to its transport.
 */
async function sendFeatureSet(client: StatsD): Promise<void> {
  client.increment('hits');
  client.increment('hits', 4, { route: '/a' });
  client.increment(['multi.a', 'multi.b'], 2);
  // hot-shots drops a sampled call unless Math.random() < rate: pin it so the call goes out with its @rate.
  const random = vi.spyOn(Math, 'random').mockReturnValue(0);
  try {
    client.increment('sampled', 1, 0.25);
  } finally {
    random.mockRestore();
  }
  // Refused: a Prometheus counter cannot go down (docs/protocol-differences.md).
  client.decrement('hits');
  // Kept: *.inflight is declared in aggregation.up_down_counters.
  client.increment('inflight', 5);
  client.decrement('inflight', 2);
  client.gauge('temp', 20);
  client.gaugeDelta('temp', -2.5);
  client.timing('rt', 42, ['op:read']);
  client.timing('rt', 250, { op: 'read' });
  client.histogram('size', 300);
  client.distribution('dist', 5, { zone: 'eu' });
  client.set('users', 'alice');
  client.set('users', 'bob');
  client.unique('users', 'alice');
  client.event(
    'deploy',
    'v1.2.3 to prod\nsecond line',
    {
      alert_type: 'success',
      priority: 'low',
      source_type_name: 'ci',
      aggregation_key: 'rel-1',
      hostname: 'web-1',
      date_happened: EVENT_DATE,
    },
    ['team:web'],
  );
  client.check('db', client.CHECKS.WARNING, { hostname: 'web-1', message: 'slow | replica lag' }, ['db:main']);
  await sent((cb) => client.flush(cb));
}

/** What sendFeatureSet must produce under prefix `p` (the Prometheus form of the client's prefix). */
async function expectFeatureSet(p: string, negativeBefore: number): Promise<void> {
  const exp = await waitFor(async () => {
    const e = await fx.h.scrape();
    expect(sampleValue(e, `${p}_hits_total`)).toBe(1);
    expect(sampleValue(e, `${p}_users`)).toBe(2);
    expect(parseErrors(e, 'negative_counter') - negativeBefore).toBe(1);
    return e;
  }, SET_WAIT_MS);
  expect(sampleValue(exp, `${p}_hits_total`, { route: '/a' })).toBe(4);
  expect(sampleValue(exp, `${p}_multi_a_total`)).toBe(2);
  expect(sampleValue(exp, `${p}_multi_b_total`)).toBe(2);
  expect(sampleValue(exp, `${p}_sampled_total`)).toBe(4);
  expect(familyType(exp, `${p}_inflight`)).toBe('gauge');
  expect(sampleValue(exp, `${p}_inflight`)).toBe(3);
  expect(samplesNamed(exp, `${p}_inflight_total`)).toEqual([]);
  expect(sampleValue(exp, `${p}_temp`)).toBe(17.5);
  expectBuckets(exp, `${p}_rt_seconds`, { op: 'read' }, TIMER_BUCKETS, [0.042, 0.25]);
  expectBuckets(exp, `${p}_size`, {}, HISTOGRAM_BUCKETS, [300]);
  expectBuckets(exp, `${p}_dist`, { zone: 'eu' }, HISTOGRAM_BUCKETS, [5]);
  expect(familyType(exp, `${p}_users`)).toBe('gauge');
  // An event counts per title, with its tags, alert type, priority and source; never its text.
  const event = { alert_type: 'success', priority: 'low', source: 'ci', team: 'web' };
  expect(sampleValue(exp, `${p}_deploy_total`, event)).toBe(1);
  expect(sampleValue(exp, `${p}_deploy_last_seen_timestamp_seconds`, event)).toBe(EVENT_DATE.getTime() / 1000);
  expect(sampleValue(exp, 'service_check_status', { check: `${p}.db`, db: 'main' })).toBe(1);
}

describe('hot-shots: the whole feature set over each transport', () => {
  // Buffered so that each transport gets the whole set in one write (or datagram: 8192 is hot-shots' most for UDS).
  const buffered = { maxBufferSize: 8192, bufferFlushInterval: 60_000 };
  const transports: Array<{ transport: string; prefix: string; skip?: boolean; open(): Promise<{ client: StatsD; done?: () => void }> }> = [
    {
      transport: 'UDP',
      prefix: 'hs_udp',
      open: async () => ({ client: hotShots({ protocol: 'udp', host: '127.0.0.1', port: fx.h.agent.udpPort, prefix: 'hs_udp.', ...buffered }) }),
    },
    {
      transport: 'TCP',
      prefix: 'hs_tcp',
      open: async () => ({ client: hotShots({ protocol: 'tcp', host: '127.0.0.1', port: fx.h.tcpPort, prefix: 'hs_tcp.', ...buffered }) }),
    },
    {
      transport: "UDS (hot-shots' Unix datagram transport, to statsd.unixgram)",
      prefix: 'hs_uds',
      skip: unixDgramMissing !== undefined,
      open: async () => ({ client: hotShots({ protocol: 'uds', path: fx.h.unixgramPath, prefix: 'hs_uds.', ...buffered }) }),
    },
    {
      transport: 'a stream the application opens, to the Unix stream socket (statsd.unix)',
      prefix: 'hs_stream',
      async open() {
        const stream: Socket = connect(fx.h.unixPath);
        await new Promise<void>((resolve, reject) => stream.once('connect', resolve).once('error', reject));
        return { client: hotShots({ protocol: 'stream', stream, prefix: 'hs_stream.', ...buffered }), done: () => stream.destroy() };
      },
    },
  ];

  // The uds case is left out where unix-dgram cannot load (said loudly above).
  it.each(transports.filter((t) => t.skip !== true))('$transport', async ({ prefix, open }) => {
    const before = parseErrors(await fx.h.scrape(), 'negative_counter');
    const { client, done } = await open();
    try {
      await sendFeatureSet(client);
    } finally {
      await closed(client);
      done?.();
    }
    await expectFeatureSet(prefix, before);
  });
});

describe('hot-shots: the rest of its API (UDP)', () => {
  let client: StatsD;
  beforeAll(() => {
    client = hotShots({ protocol: 'udp', host: '127.0.0.1', port: fx.h.agent.udpPort, prefix: 'hs_api.', suffix: '.v1', globalTags: { env: 'test' } });
  });
  afterAll(async () => {
    await closed(client);
  });

  it('prefix and suffix, child clients adding prefix and tags, timer() and asyncTimer()', async () => {
    const child = client.childClient({ prefix: 'jobs.', globalTags: { queue: 'mail' } });
    await sent((cb) => child.increment('done', 2, cb));
    // The wrapped function gets a context through which it may add tags while it runs.
    const work = client.timer((ctx: TimerContext) => {
      ctx.addTags({ step: 'parse' });
      return 42;
    }, 'sync');
    expect(work()).toBe(42);
    const asyncWork = client.asyncTimer(async () => {
      await new Promise((r) => setTimeout(r, 30));
      return 2;
    }, 'async');
    expect(await asyncWork()).toBe(2);

    const exp = await waitFor(async () => {
      const e = await fx.h.scrape();
      // A child's prefix goes before its parent's.
      expect(sampleValue(e, 'jobs_hs_api_done_v1_total', { env: 'test', queue: 'mail' })).toBe(2);
      expect(sampleValue(e, 'hs_api_sync_v1_seconds_count', { env: 'test', step: 'parse' })).toBe(1);
      expect(sampleValue(e, 'hs_api_async_v1_seconds_count', { env: 'test' })).toBe(1);
      return e;
    }, LAND_WAIT_MS);
    // The async timer covers the awaited 30 ms, not just the synchronous call.
    expect(sampleValue(exp, 'hs_api_async_v1_seconds_sum', { env: 'test' })).toBeGreaterThanOrEqual(0.025);
  });

  it('gauge() with a negative value is read as a decrement, as by every statsd daemon', async () => {
    // hot-shots sends `name:-5|g`, and the protocol reads a sign as a delta: 10 then -5 leaves 5, not -5.
    await sent((cb) => client.gauge('level', 10, cb));
    await sent((cb) => client.gauge('level', -5, cb));
    await waitFor(async () => expect(sampleValue(await fx.h.scrape(), 'hs_api_level_v1', { env: 'test' })).toBe(5), LAND_WAIT_MS);
  });
});

describe('hot-shots in Telegraf mode (tags in the name, InfluxDB style)', () => {
  let client: StatsD;
  beforeAll(() => {
    client = hotShots({ protocol: 'udp', host: '127.0.0.1', port: fx.h.agent.udpPort, telegraf: true, globalTags: { env: 'test' } });
  });
  afterAll(async () => {
    await closed(client);
  });

  it('counters, gauges, timers, histograms, distributions and sets carry their tags as labels', async () => {
    await sent((cb) => client.increment('tg.req', 1, { route: '/a', code: '200' }, cb));
    await sent((cb) => client.increment('tg.req', 2, ['code:200', 'route:/a'], cb));
    await sent((cb) => client.gauge('tg.pool', 7, { db: 'orders' }, cb));
    await sent((cb) => client.gaugeDelta('tg.pool', 1, { db: 'orders' }, cb));
    await sent((cb) => client.timing('tg.rt', 20, { op: 'read' }, cb));
    await sent((cb) => client.histogram('tg.size', 50, { table: 't1' }, cb));
    await sent((cb) => client.distribution('tg.dist', 3, { zone: 'eu' }, cb));
    const batch = hotShots({
      protocol: 'udp',
      host: '127.0.0.1',
      port: fx.h.agent.udpPort,
      telegraf: true,
      globalTags: { env: 'test' },
      maxBufferSize: 8192,
      bufferFlushInterval: 60_000,
    });
    try {
      batch.set('tg.ids', 'x', { shard: '1' });
      batch.set('tg.ids', 'y', { shard: '1' });
      await sent((cb) => batch.flush(cb));
    } finally {
      await closed(batch);
    }

    const exp = await waitFor(async () => {
      const e = await fx.h.scrape();
      expect(sampleValue(e, 'tg_req_total', { code: '200', env: 'test', route: '/a' })).toBe(3);
      expect(sampleValue(e, 'tg_ids', { env: 'test', shard: '1' })).toBe(2);
      return e;
    }, SET_WAIT_MS);
    expect(samplesNamed(exp, 'tg_req_total')).toHaveLength(1);
    expect(sampleValue(exp, 'tg_pool', { db: 'orders', env: 'test' })).toBe(8);
    expectBuckets(exp, 'tg_rt_seconds', { env: 'test', op: 'read' }, TIMER_BUCKETS, [0.02]);
    expectBuckets(exp, 'tg_size', { env: 'test', table: 't1' }, HISTOGRAM_BUCKETS, [50]);
    expectBuckets(exp, 'tg_dist', { env: 'test', zone: 'eu' }, HISTOGRAM_BUCKETS, [3]);
  });

  it('events and service checks are refused by hot-shots itself in this mode, before anything is sent', async () => {
    await expect(sent((cb) => client.event('tg.deploy', 'text', {}, [], cb))).rejects.toThrow('Not supported by Telegraf');
    await expect(sent((cb) => client.check('tg.db', client.CHECKS.OK, {}, [], cb))).rejects.toThrow('Not supported by Telegraf');
  });
});
