/**
 * Real statsd client libraries → the agent process over UDP → /metrics.
 * Each test uses its own metric names, so the one agent shared by the file
 * never lets one test's data satisfy another's assertions.
 */
import { execFile } from 'node:child_process';
import HotShots, { type ClientOptions, type StatsCb, type StatsD } from 'hot-shots';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { findOnPath, startAgent, waitFor, type AgentHandle } from '../support/agent-process.js';
import { expectBuckets, HISTOGRAM_BUCKETS, LAND_WAIT_MS, SET_WAIT_MS, TIMER_BUCKETS } from '../support/client-harness.js';
import { StatsdClientCtor, type StatsdClient } from '../support/statsd-client.js';
import {
  familyType,
  findSample,
  parsePromText,
  sampleValue,
  samplesNamed,
  sumSamples,
  type Exposition,
  type Labels,
} from '../support/prom-text.js';

let agent: AgentHandle;
const clientErrors: Error[] = [];

beforeAll(async () => {
  agent = await startAgent({
    config: {
      aggregation: { flush_interval: '1s', timer_buckets: TIMER_BUCKETS, histogram_buckets: HISTOGRAM_BUCKETS },
    },
  });
});

afterAll(async () => {
  await agent?.stop();
  // A socket error inside a client would otherwise only show up as missing samples.
  expect(clientErrors).toEqual([]);
});

async function scrape(): Promise<Exposition> {
  return parsePromText(await agent.metricsText());
}

/** Resolves when hot-shots reports the datagram sent, so sends stay in order. */
function sent(call: (cb: StatsCb) => void): Promise<void> {
  return new Promise((resolve, reject) => call((err) => (err ? reject(err) : resolve())));
}

function hotShots(opts: ClientOptions = {}): StatsD {
  return new HotShots({
    host: '127.0.0.1',
    port: agent.udpPort,
    protocol: 'udp',
    // Plain statsd: no Datadog auto-detection, no DD_* tags from the environment, no client-side aggregation.
    datadog: false,
    includeDataDogTags: false,
    aggregation: false,
    maxBufferSize: 0,
    errorHandler: (err) => clientErrors.push(err),
    ...opts,
  });
}

function closeHotShots(client: StatsD): Promise<void> {
  return new Promise((resolve) => client.close(() => resolve()));
}

describe('hot-shots, plain statsd (no tags)', () => {
  let client: StatsD;
  beforeAll(() => {
    client = hotShots();
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    await closeHotShots(client);
  });

  it('counters become <name>_total, divided by the sample rate', async () => {
    for (let i = 0; i < 3; i++) await sent((cb) => client.increment('hs.plain.hits', 1, cb));
    await sent((cb) => client.increment('hs.plain.hits', 4, cb));
    // hot-shots drops a sampled call unless Math.random() < rate: pin it so every call goes out with its @rate.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0);
    try {
      await sent((cb) => client.increment('hs.plain.sampled', 1, 0.25, cb));
      await sent((cb) => client.increment('hs.plain.sampled', 1, 0.25, cb));
      await sent((cb) => client.increment('hs.plain.sampled', 3, 0.5, cb));
    } finally {
      random.mockRestore();
    }

    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'hs_plain_hits_total')).toBe(7);
      expect(sampleValue(e, 'hs_plain_sampled_total')).toBeCloseTo(1 / 0.25 + 1 / 0.25 + 3 / 0.5, 9);
      return e;
    }, LAND_WAIT_MS);
    expect(familyType(exp, 'hs_plain_hits_total')).toBe('counter');
    expect(familyType(exp, 'hs_plain_sampled_total')).toBe('counter');
    expect(samplesNamed(exp, 'hs_plain_hits')).toEqual([]);
  });

  it('gauges take absolute values and apply +N/-N deltas', async () => {
    await sent((cb) => client.gauge('hs.plain.temp', 20, cb));
    await sent((cb) => client.gaugeDelta('hs.plain.temp', 5, cb));
    await sent((cb) => client.gaugeDelta('hs.plain.temp', -7.5, cb));
    // A delta with no earlier value starts from zero, as in statsd.
    await sent((cb) => client.gaugeDelta('hs.plain.fresh', 4, cb));
    await sent((cb) => client.gauge('hs.plain.reset', 100, cb));
    await sent((cb) => client.gaugeDelta('hs.plain.reset', 1, cb));
    await sent((cb) => client.gauge('hs.plain.reset', 3, cb));

    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'hs_plain_temp')).toBe(17.5);
      expect(sampleValue(e, 'hs_plain_fresh')).toBe(4);
      expect(sampleValue(e, 'hs_plain_reset')).toBe(3);
      return e;
    }, LAND_WAIT_MS);
    expect(familyType(exp, 'hs_plain_temp')).toBe('gauge');
    expect(familyType(exp, 'hs_plain_fresh')).toBe('gauge');
  });

  it('timers become <name>_seconds histograms over timer_buckets', async () => {
    const ms = [42, 7, 1500, 250];
    for (const v of ms) await sent((cb) => client.timing('hs.plain.rt', v, cb));

    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'hs_plain_rt_seconds_count')).toBe(ms.length);
      return e;
    }, LAND_WAIT_MS);
    expect(familyType(exp, 'hs_plain_rt_seconds')).toBe('histogram');
    expectBuckets(
      exp,
      'hs_plain_rt_seconds',
      {},
      TIMER_BUCKETS,
      ms.map((v) => v / 1000),
    );
    // 250 ms is exactly on a bound: Prometheus buckets are inclusive (v <= le).
    expect(sampleValue(exp, 'hs_plain_rt_seconds_bucket', { le: '0.25' })).toBe(3);
    expect(samplesNamed(exp, 'hs_plain_rt_bucket')).toEqual([]);
  });

  it('histograms (h) and distributions (d) keep the unit sent, over histogram_buckets', async () => {
    await sent((cb) => client.histogram('hs.plain.payload', 300, cb));
    await sent((cb) => client.histogram('hs.plain.payload', 5, cb));
    await sent((cb) => client.distribution('hs.plain.dist', 0.5, cb));

    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'hs_plain_payload_count')).toBe(2);
      expect(sampleValue(e, 'hs_plain_dist_count')).toBe(1);
      return e;
    }, LAND_WAIT_MS);
    expect(familyType(exp, 'hs_plain_payload')).toBe('histogram');
    expect(familyType(exp, 'hs_plain_dist')).toBe('histogram');
    expectBuckets(exp, 'hs_plain_payload', {}, HISTOGRAM_BUCKETS, [300, 5]);
    expectBuckets(exp, 'hs_plain_dist', {}, HISTOGRAM_BUCKETS, [0.5]);
    expect(samplesNamed(exp, 'hs_plain_payload_seconds_count')).toEqual([]);
  });

  it('sets report the distinct count of the last complete flush interval', async () => {
    // One buffered datagram, so all members fall in the same flush interval.
    const batch = hotShots({ maxBufferSize: 8192, bufferFlushInterval: 60_000 });
    try {
      for (const member of ['alice', 'bob', 'alice', 'carol', 42, 'bob']) batch.set('hs.plain.users', member);
      await sent((cb) => batch.flush(cb));
    } finally {
      await closeHotShots(batch);
    }

    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'hs_plain_users')).toBe(4);
      return e;
    }, SET_WAIT_MS);
    expect(familyType(exp, 'hs_plain_users')).toBe('gauge');
    // Nothing arrives in the next interval, so once it closes the set reports 0.
    await waitFor(async () => expect(sampleValue(await scrape(), 'hs_plain_users')).toBe(0), SET_WAIT_MS);
  });
});

describe('hot-shots with DogStatsD tags', () => {
  let client: StatsD;
  beforeAll(() => {
    client = hotShots({ globalTags: { env: 'test' } });
  });
  afterAll(async () => {
    await closeHotShots(client);
  });

  it('tags become labels, and tag order does not split a series', async () => {
    await sent((cb) => client.increment('hs.tag.req', 1, { route: '/a', code: '200' }, cb));
    await sent((cb) => client.increment('hs.tag.req', 2, ['code:200', 'route:/a'], cb));
    await sent((cb) => client.increment('hs.tag.req', 1, { route: '/b', code: '500' }, cb));

    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'hs_tag_req_total', { code: '200', env: 'test', route: '/a' })).toBe(3);
      expect(sampleValue(e, 'hs_tag_req_total', { code: '500', env: 'test', route: '/b' })).toBe(1);
      return e;
    }, LAND_WAIT_MS);
    expect(samplesNamed(exp, 'hs_tag_req_total')).toHaveLength(2);
    expect(familyType(exp, 'hs_tag_req_total')).toBe('counter');
  });

  it('tag keys are sanitized into label names; values are kept', async () => {
    await sent((cb) => client.gauge('hs.tag.conn', 9, { 'db.name': 'orders', 'k-8s': 'a/b c' }, cb));
    await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'hs_tag_conn', { db_name: 'orders', env: 'test', k_8s: 'a/b c' })).toBe(9);
    }, LAND_WAIT_MS);
  });

  it('timers, histograms and sets carry their tags too', async () => {
    await sent((cb) => client.timing('hs.tag.lat', 20, { op: 'read' }, cb));
    await sent((cb) => client.timing('hs.tag.lat', 80, ['op:read'], cb));
    await sent((cb) => client.histogram('hs.tag.rows', 50, { table: 't1' }, cb));
    const batch = hotShots({ globalTags: { env: 'test' }, maxBufferSize: 8192, bufferFlushInterval: 60_000 });
    try {
      batch.set('hs.tag.ids', 'x', { shard: '1' });
      batch.set('hs.tag.ids', 'y', { shard: '1' });
      batch.set('hs.tag.ids', 'x', { shard: '2' });
      await sent((cb) => batch.flush(cb));
    } finally {
      await closeHotShots(batch);
    }

    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'hs_tag_lat_seconds_count', { env: 'test', op: 'read' })).toBe(2);
      expect(sampleValue(e, 'hs_tag_rows_count', { env: 'test', table: 't1' })).toBe(1);
      expect(sampleValue(e, 'hs_tag_ids', { env: 'test', shard: '1' })).toBe(2);
      expect(sampleValue(e, 'hs_tag_ids', { env: 'test', shard: '2' })).toBe(1);
      return e;
    }, SET_WAIT_MS);
    expectBuckets(exp, 'hs_tag_lat_seconds', { env: 'test', op: 'read' }, TIMER_BUCKETS, [0.02, 0.08]);
    expectBuckets(exp, 'hs_tag_rows', { env: 'test', table: 't1' }, HISTOGRAM_BUCKETS, [50]);
  });
});

describe('statsd-client over UDP', () => {
  let client: StatsdClient;
  beforeAll(() => {
    // Its default buffering packs several lines into one datagram; a short timeout flushes that buffer quickly.
    client = new StatsdClientCtor({ host: '127.0.0.1', port: agent.udpPort, socketTimeout: 100 });
  });
  afterAll(async () => {
    client.close();
    // close() kills the socket on a 10 ms timer of its own.
    await new Promise((r) => setTimeout(r, 50));
  });

  it('counters, gauge deltas, timers, histograms, distributions and sets, with tags in any order', async () => {
    client.increment('sc.jobs');
    client.increment('sc.jobs', 4);
    client.counter('sc.jobs', 2);
    client.gauge('sc.pool', 10);
    client.gaugeDelta('sc.pool', -3);
    client.gaugeDelta('sc.pool', 5);
    client.timing('sc.rt', 250);
    client.histogram('sc.hist', 50, { b: '2', a: '1' });
    client.histogram('sc.hist', 150, { a: '1', b: '2' });
    client.distribution('sc.dist', 7, { zone: 'eu' });
    client.set('sc.visitors', 'x', { b: '2', a: '1' });
    client.set('sc.visitors', 'y', { a: '1', b: '2' });
    client.set('sc.visitors', 'x', { a: '1', b: '2' });

    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'sc_jobs_total')).toBe(7);
      expect(sampleValue(e, 'sc_pool')).toBe(12);
      expect(sampleValue(e, 'sc_rt_seconds_count')).toBe(1);
      expect(sampleValue(e, 'sc_hist_count', { a: '1', b: '2' })).toBe(2);
      expect(sampleValue(e, 'sc_dist_count', { zone: 'eu' })).toBe(1);
      expect(sampleValue(e, 'sc_visitors', { a: '1', b: '2' })).toBe(2);
      return e;
    }, SET_WAIT_MS);

    expect(familyType(exp, 'sc_jobs_total')).toBe('counter');
    expect(familyType(exp, 'sc_pool')).toBe('gauge');
    expect(familyType(exp, 'sc_rt_seconds')).toBe('histogram');
    expect(familyType(exp, 'sc_hist')).toBe('histogram');
    expect(familyType(exp, 'sc_dist')).toBe('histogram');
    expect(familyType(exp, 'sc_visitors')).toBe('gauge');
    expectBuckets(exp, 'sc_rt_seconds', {}, TIMER_BUCKETS, [0.25]);
    expectBuckets(exp, 'sc_hist', { a: '1', b: '2' }, HISTOGRAM_BUCKETS, [50, 150]);
    expect(samplesNamed(exp, 'sc_hist_count')).toHaveLength(1);
    expect(samplesNamed(exp, 'sc_visitors')).toHaveLength(1);
  });
});

describe('raw datagrams', () => {
  it('parses several lines per packet; sanitizes names; tag order and sample rates', async () => {
    await agent.sendUdp(
      [
        'checkout.latency:12|ms|#region:eu,tier:web',
        'checkout.latency:30|ms|#tier:web,region:eu',
        'raw.rate:2|c|@0.1',
        'raw.rate:1|c',
        'raw-level.x:5|g|#a:1,b:2',
        'raw-level.x:+2|g|#b:2,a:1',
      ].join('\n'),
    );
    const exp = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'checkout_latency_seconds_count', { region: 'eu', tier: 'web' })).toBe(2);
      expect(sampleValue(e, 'raw_rate_total')).toBeCloseTo(21, 9);
      expect(sampleValue(e, 'raw_level_x', { a: '1', b: '2' })).toBe(7);
      return e;
    }, LAND_WAIT_MS);
    expect(familyType(exp, 'checkout_latency_seconds')).toBe('histogram');
    expectBuckets(exp, 'checkout_latency_seconds', { region: 'eu', tier: 'web' }, TIMER_BUCKETS, [0.012, 0.03]);
    expect(samplesNamed(exp, 'checkout_latency_seconds_count')).toHaveLength(1);
    expect(samplesNamed(exp, 'raw_level_x')).toHaveLength(1);
  });

  it('self metrics count packets, bytes, lines and series', async () => {
    const before = await scrape();
    const p1 = 'self.a:1|c\nself.level:1|g';
    const p2 = 'self.a:1|c|#x:1';
    await agent.sendUdp(p1);
    await agent.sendUdp(p2);
    const udp = { listener: 'udp' };
    const after = await waitFor(async () => {
      const e = await scrape();
      expect(sampleValue(e, 'self_a_total', { x: '1' })).toBe(1);
      expect(sampleValue(e, 'tally_packets_received_total', udp) - sampleValue(before, 'tally_packets_received_total', udp)).toBe(2);
      return e;
    }, LAND_WAIT_MS);
    const delta = (name: string, labels: Labels = {}) => sampleValue(after, name, labels) - sampleValue(before, name, labels);
    expect(delta('tally_bytes_received_total', udp)).toBe(Buffer.byteLength(p1) + Buffer.byteLength(p2));
    expect(delta('tally_metrics_received_total')).toBe(3);
    expect(delta('tally_series')).toBe(3);
    expect(sumSamples(after, 'tally_parse_errors_total') - sumSamples(before, 'tally_parse_errors_total')).toBe(0);

    expect(familyType(after, 'tally_packets_received_total')).toBe('counter');
    expect(familyType(after, 'tally_bytes_received_total')).toBe('counter');
    expect(familyType(after, 'tally_metrics_received_total')).toBe('counter');
    expect(familyType(after, 'tally_parse_errors_total')).toBe('counter');
    expect(familyType(after, 'tally_series')).toBe('gauge');
    expect(familyType(after, 'tally_flush_duration_seconds')).toBe('histogram');
    // The agent has been up for over a second with a 1 s flush interval.
    const flushes = sampleValue(after, 'tally_flush_duration_seconds_count');
    expect(flushes).toBeGreaterThan(0);
    expect(sampleValue(after, 'tally_flush_duration_seconds_bucket', { le: '+Inf' })).toBe(flushes);
  });

  it('serves /metrics as Prometheus text, and /healthz and /readyz with 200', async () => {
    const res = await agent.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type') ?? '').toMatch(/^text\/plain/);
    await res.text();
    for (const path of ['/healthz', '/readyz']) {
      const r = await agent.get(path);
      await r.text();
      expect(r.status, path).toBe(200);
    }
  });
});

describe('the whole exposition', () => {
  const promtool = findOnPath('promtool');
  const inCI = process.env.CI === 'true';
  if (!promtool && !inCI) {
    console.warn('\n*** promtool is not on PATH: skipping `promtool check metrics` (apt-get install prometheus) ***\n');
  }

  it.runIf(!promtool && inCI)('has promtool on PATH in CI', () => {
    throw new Error('promtool is not on PATH, and CI=true requires it: .ci/run installs the prometheus package');
  });

  it.runIf(promtool !== undefined)('passes `promtool check metrics`', async () => {
    // Runs after the other tests, so every family above (and the self metrics) is in the text.
    const text = await agent.metricsText();
    expect(findSample(text, 'hs_plain_hits_total')).toBeDefined();
    const result = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = execFile(promtool!, ['check', 'metrics'], { timeout: 10_000 }, (err, stdout, stderr) => {
        const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
        if (err && typeof (err as { code?: unknown }).code !== 'number') reject(err);
        else resolve({ code, out: `${stdout}${stderr}` });
      });
      child.stdin!.end(text);
    });
    expect(result.out, 'promtool findings').toBe('');
    expect(result.code).toBe(0);
  });
});
