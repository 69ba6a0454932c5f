/**
 * The other statsd clients on npm, each sending all it can to a real agent:
 * statsd-client over TCP (its UDP path is in ../statsd-clients.test.ts; its
 * HTTP path does not reach the agent),
 * lynx 0.2.0 and node-statsd 0.1.1 over UDP (the only transport they have).
 */
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
import { LynxCtor, NodeStatsdCtor, withLynxDraw, type NodeStatsd, type NodeStatsdCallback } from '../../support/npm-clients.js';
import { familyType, sampleValue, samplesNamed } from '../../support/prom-text.js';
import { StatsdClientCtor } from '../../support/statsd-client.js';

const fx = useClientAgent();

describe('statsd-client over TCP', () => {
  it('counters, decrements, gauges, timers (ms and Date), histograms, distributions, sets and child clients', async () => {
    const before = parseErrors(await fx.h.scrape(), 'negative_counter');
    // One TCP connection, its lines buffered and flushed together; socketTimeout only bounds how long they wait.
    const client = new StatsdClientCtor({ host: '127.0.0.1', port: fx.h.tcpPort, tcp: true, prefix: 'sct', socketTimeout: 100 });
    const child = client.getChildClient('worker');
    const started = new Date(Date.now() - 1_500);
    // Its buffer usually goes out in one write, but a flush interval just begun leaves no doubt the set members share one.
    await fx.h.justFlushed();
    client.increment('jobs');
    client.increment('jobs', 4, { queue: 'mail' });
    client.decrement('jobs');
    client.increment('inflight', 5);
    client.decrement('inflight', 2);
    client.gauge('pool', 10);
    client.gaugeDelta('pool', -3);
    client.timing('rt', 250);
    client.timing('since', started);
    client.histogram('size', 300, { table: 't1' });
    client.distribution('dist', 5);
    client.set('users', 'alice');
    client.set('users', 'bob');
    client.set('users', 'alice');
    child.increment('done', 2);
    client.close();

    const exp = await waitFor(async () => {
      const e = await fx.h.scrape();
      expect(sampleValue(e, 'sct_jobs_total')).toBe(1);
      expect(sampleValue(e, 'sct_users')).toBe(2);
      expect(parseErrors(e, 'negative_counter') - before).toBe(1);
      return e;
    }, SET_WAIT_MS);
    expect(sampleValue(exp, 'sct_jobs_total', { queue: 'mail' })).toBe(4);
    expect(familyType(exp, 'sct_inflight')).toBe('gauge');
    expect(sampleValue(exp, 'sct_inflight')).toBe(3);
    expect(sampleValue(exp, 'sct_pool')).toBe(7);
    expectBuckets(exp, 'sct_rt_seconds', {}, TIMER_BUCKETS, [0.25]);
    // timing(Date) sends the time elapsed since then: at least the 1.5 s set back above.
    expect(sampleValue(exp, 'sct_since_seconds_count')).toBe(1);
    expect(sampleValue(exp, 'sct_since_seconds_sum')).toBeGreaterThanOrEqual(1.5);
    expectBuckets(exp, 'sct_size', { table: 't1' }, HISTOGRAM_BUCKETS, [300]);
    expectBuckets(exp, 'sct_dist', {}, HISTOGRAM_BUCKETS, [5]);
    expect(sampleValue(exp, 'sct_worker_done_total')).toBe(2);
  });
});

describe('statsd-client over HTTP', () => {
  it('lands: its HttpSocket PUTs statsd lines with no Content-Type to /v1/collect, read as text', async () => {
    const client = new StatsdClientCtor({ host: `http://127.0.0.1:${fx.h.agent.httpPort}/v1/collect`, prefix: 'sch', socketTimeout: 50 });
    client.increment('jobs');
    client.increment('jobs', 4, { queue: 'mail' });
    client.gauge('pool', 10);
    client.timing('rt', 250);
    client.close();
    await waitFor(async () => {
      const e = await fx.h.scrape();
      expect(sampleValue(e, 'sch_jobs_total')).toBe(1);
      expect(sampleValue(e, 'sch_jobs_total', { queue: 'mail' })).toBe(4);
      expect(sampleValue(e, 'sch_pool')).toBe(10);
      expect(sampleValue(e, 'sch_rt_seconds_count')).toBe(1);
    }, 10_000);
  });

  it('still refuses other methods, and a POST without a Content-Type', async () => {
    const url = `http://127.0.0.1:${fx.h.agent.httpPort}/v1/collect`;
    const del = await fetch(url, { method: 'DELETE' });
    await del.text();
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('POST, PUT');
    const post = await fetch(url, { method: 'POST', body: new Uint8Array(Buffer.from('sch.x:1|c')) });
    await post.text();
    expect(post.status).toBe(415);
  });
});

describe('lynx 0.2.0 over UDP', () => {
  it('counts (single, batched, sampled), decrements, timers, gauges, sets, mixed batches and piped statsd text', async () => {
    const start = await fx.h.scrape();
    const before = parseErrors(start, 'negative_counter');
    const unknownTypeBefore = parseErrors(start, 'unknown_type');
    const lynx = new LynxCtor('127.0.0.1', fx.h.agent.udpPort, { scope: 'lx', on_error: (err) => fx.errors.push(err) });
    try {
      await fx.h.justFlushed();
      lynx.increment('hits');
      lynx.count('hits', 4);
      lynx.increment(['multi.a', 'multi.b']);
      // 0.25 goes out as `|@0.25` only when lynx's own generator draws below it: pin the draw.
      withLynxDraw(0, () => lynx.increment('sampled', 0.25));
      lynx.decrement('hits');
      lynx.count('inflight', 5);
      lynx.decrement('inflight');
      lynx.timing('rt', 42);
      lynx.createTimer('timed').stop();
      lynx.gauge('temp', 20);
      // lynx has no delta call; a signed value is the protocol's delta.
      lynx.gauge('temp', -2.5);
      lynx.set('users', 'alice');
      lynx.set('users', 'bob');
      lynx.set('users', 'alice');
      // Several types in one datagram.
      lynx.send({ 'mixed.c': '2|c', 'mixed.g': '15|g', 'mixed.ms': '500|ms' });
      // lynx is a stream: statsd text written to it is parsed and re-sent.
      lynx.write('piped.hits:3|c\n');
      // A lynx bug: a sampled line piped in is re-sent as \`piped.sampled:1|c@0.5|@0.5\` (no '|' before its own
      // rate, and a second one added), which no statsd daemon reads; Tally refuses it as an unknown type.
      withLynxDraw(0, () => lynx.write('piped.sampled:1|c|@0.5\n'));

      const exp = await waitFor(async () => {
        const e = await fx.h.scrape();
        expect(sampleValue(e, 'lx_hits_total')).toBe(5);
        expect(sampleValue(e, 'lx_users')).toBe(2);
        expect(sampleValue(e, 'lx_piped_hits_total')).toBe(3);
        expect(parseErrors(e, 'negative_counter') - before).toBe(1);
        expect(parseErrors(e, 'unknown_type') - unknownTypeBefore).toBe(1);
        return e;
      }, SET_WAIT_MS);
      expect(samplesNamed(exp, 'lx_piped_sampled_total')).toEqual([]);
      expect(sampleValue(exp, 'lx_multi_a_total')).toBe(1);
      expect(sampleValue(exp, 'lx_multi_b_total')).toBe(1);
      expect(sampleValue(exp, 'lx_sampled_total')).toBe(4);
      expect(familyType(exp, 'lx_inflight')).toBe('gauge');
      expect(sampleValue(exp, 'lx_inflight')).toBe(4);
      expectBuckets(exp, 'lx_rt_seconds', {}, TIMER_BUCKETS, [0.042]);
      expect(sampleValue(exp, 'lx_timed_seconds_count')).toBe(1);
      expect(sampleValue(exp, 'lx_temp')).toBe(17.5);
      expect(sampleValue(exp, 'lx_mixed_c_total')).toBe(2);
      expect(sampleValue(exp, 'lx_mixed_g')).toBe(15);
      expectBuckets(exp, 'lx_mixed_ms_seconds', {}, TIMER_BUCKETS, [0.5]);
    } finally {
      lynx.close();
    }
  });
});

describe('node-statsd 0.1.1 over UDP', () => {
  let client: NodeStatsd;
  beforeAll(() => {
    client = new NodeStatsdCtor({ host: '127.0.0.1', port: fx.h.agent.udpPort, prefix: 'ns.', suffix: '.v1', global_tags: ['env:test'] });
  });
  afterAll(() => {
    client.close();
  });

  /** Resolves when node-statsd reports the datagram(s) sent. */
  function sent(call: (cb: NodeStatsdCallback) => void): Promise<void> {
    return new Promise((resolve, reject) => call((err) => (err ? reject(err) : resolve())));
  }

  it('counters (single, several names, sampled), decrements, gauges, timers, histograms and sets, with DogStatsD tags', async () => {
    const before = parseErrors(await fx.h.scrape(), 'negative_counter');
    await sent((cb) => client.increment('hits', 1, 1, [], cb));
    await sent((cb) => client.increment('hits', 4, 1, ['route:/a'], cb));
    await sent((cb) => client.increment(['multi.a', 'multi.b'], 2, 1, [], cb));
    // node-statsd sends a sampled call only when Math.random() < rate: pin it.
    const random = vi.spyOn(Math, 'random').mockReturnValue(0);
    try {
      await sent((cb) => client.increment('sampled', 1, 0.25, [], cb));
    } finally {
      random.mockRestore();
    }
    await sent((cb) => client.decrement('hits', 1, 1, [], cb));
    await sent((cb) => client.increment('inflight', 5, 1, [], cb));
    await sent((cb) => client.decrement('inflight', 2, 1, [], cb));
    await sent((cb) => client.gauge('temp', 20, 1, [], cb));
    await sent((cb) => client.timing('rt', 42, 1, ['op:read'], cb));
    await sent((cb) => client.histogram('size', 300, 1, [], cb));
    await fx.h.justFlushed();
    await sent((cb) => client.set('users', 'alice', 1, [], cb));
    await sent((cb) => client.unique('users', 'bob', 1, [], cb));
    await sent((cb) => client.set('users', 'alice', 1, [], cb));

    const exp = await waitFor(async () => {
      const e = await fx.h.scrape();
      expect(sampleValue(e, 'ns_hits_v1_total', { env: 'test' })).toBe(1);
      expect(sampleValue(e, 'ns_users_v1', { env: 'test' })).toBe(2);
      // hits and inflight: see below for why inflight is refused too.
      expect(parseErrors(e, 'negative_counter') - before).toBe(2);
      return e;
    }, SET_WAIT_MS);
    expect(sampleValue(exp, 'ns_hits_v1_total', { env: 'test', route: '/a' })).toBe(4);
    expect(sampleValue(exp, 'ns_multi_a_v1_total', { env: 'test' })).toBe(2);
    expect(sampleValue(exp, 'ns_multi_b_v1_total', { env: 'test' })).toBe(2);
    expect(sampleValue(exp, 'ns_sampled_v1_total', { env: 'test' })).toBe(4);
    // The suffix is part of the name, so the up-down pattern *.inflight does not match ns.inflight.v1: refused.
    expect(samplesNamed(exp, 'ns_inflight_v1')).toEqual([]);
    expect(sampleValue(exp, 'ns_inflight_v1_total', { env: 'test' })).toBe(5);
    expect(sampleValue(exp, 'ns_temp_v1', { env: 'test' })).toBe(20);
    expectBuckets(exp, 'ns_rt_v1_seconds', { env: 'test', op: 'read' }, TIMER_BUCKETS, [0.042]);
    expectBuckets(exp, 'ns_size_v1', { env: 'test' }, HISTOGRAM_BUCKETS, [300]);
  });
});

describe('node-statsd without a suffix', () => {
  it('decrement() on a name declared in aggregation.up_down_counters is kept', async () => {
    const client = new NodeStatsdCtor({ host: '127.0.0.1', port: fx.h.agent.udpPort });
    try {
      await new Promise<void>((resolve, reject) => client.increment('ns.inflight', 5, 1, [], (err) => (err ? reject(err) : resolve())));
      await new Promise<void>((resolve, reject) => client.decrement('ns.inflight', 2, 1, [], (err) => (err ? reject(err) : resolve())));
    } finally {
      client.close();
    }
    const exp = await waitFor(async () => {
      const e = await fx.h.scrape();
      expect(sampleValue(e, 'ns_inflight')).toBe(3);
      return e;
    }, LAND_WAIT_MS);
    expect(familyType(exp, 'ns_inflight')).toBe('gauge');
  });
});
