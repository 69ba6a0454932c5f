/**
 * The Python statsd clients Debian packages, run by Debian's own
 * interpreter against a real agent: python3-statsd over each of its
 * transports (UDP, TCP, a Unix stream socket) and python3-aiodogstatsd
 * (DogStatsD over UDP). Each script sends everything its client can.
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../support/agent-process.js';
import {
  debianClient,
  DEBIAN_PYTHON,
  expectBuckets,
  HISTOGRAM_BUCKETS,
  LAND_WAIT_MS,
  parseErrors,
  probe,
  run,
  SET_WAIT_MS,
  TIMER_BUCKETS,
  useClientAgent,
} from '../../support/client-harness.js';
import { familyType, sampleValue, samplesNamed } from '../../support/prom-text.js';

const fx = useClientAgent();

const hasStatsd = await probe(DEBIAN_PYTHON, ['-c', 'import statsd']);
const hasAiodogstatsd = await probe(DEBIAN_PYTHON, ['-c', 'import aiodogstatsd']);

// argv: UDP port, TCP port, Unix stream socket path. One prefix per transport.
const STATSD_SCRIPT = `
import random, sys
from datetime import timedelta
import statsd

# A sampled call goes out (with its @rate) only when random.random() <= rate: make it always.
random.random = lambda: 0.0

def features(c):
    c.incr('hits')
    c.incr('hits', 4)
    c.incr('sampled', rate=0.25)
    c.decr('hits')
    c.incr('inflight', 5)
    c.decr('inflight', 2)
    c.gauge('temp', 20)
    c.gauge('temp', -2.5, delta=True)
    # A negative absolute value: the client sends 0 and then -5 in one packet, as the protocol needs.
    c.gauge('below', -5)
    c.timing('rt', 42)
    c.timing('rt', timedelta(milliseconds=250))
    with c.timer('block'):
        pass
    @c.timer('decorated')
    def work():
        return 1
    work()
    t = c.timer('manual').start()
    t.stop()
    # One packet (or one write), so the set members fall in one flush interval.
    with c.pipeline() as p:
        p.set('users', 'alice')
        p.set('users', 'bob')
        p.set('users', 'alice')
        p.incr('piped')
    c.close()

features(statsd.StatsClient('127.0.0.1', int(sys.argv[1]), prefix='py_udp'))
features(statsd.TCPStatsClient('127.0.0.1', int(sys.argv[2]), prefix='py_tcp', timeout=5))
features(statsd.UnixSocketStatsClient(sys.argv[3], prefix='py_unix', timeout=5))
`;

// argv: UDP port.
const AIODOGSTATSD_SCRIPT = `
import asyncio, sys
import aiodogstatsd.client
from aiodogstatsd import Client

# As above: sampled calls always go out, with their @rate.
aiodogstatsd.client.random = lambda: 0.0

async def main(port):
    async with Client(host='127.0.0.1', port=port, namespace='aio', constant_tags={'env': 'test'}) as c:
        c.increment('hits')
        c.increment('hits', value=4, tags={'route': '/a'})
        c.increment('sampled', sample_rate=0.25)
        c.decrement('hits')
        c.increment('inflight', value=5)
        c.decrement('inflight', value=2)
        c.gauge('temp', value=17.5, tags={'unit': 'c'})
        c.histogram('size', value=300)
        c.distribution('dist', value=5, tags={'zone': 'eu'})
        c.timing('rt', value=42)
        with c.timeit('block'):
            await asyncio.sleep(0.02)
        await c.timeit_task(asyncio.sleep(0.01), 'task')

asyncio.run(main(int(sys.argv[1])))
`;

describe('python3-statsd (Debian)', () => {
  const available = debianClient(hasStatsd, 'python3-statsd', 'python3-statsd');

  it.runIf(available)('counters, decrements, gauges (deltas, negative values), timers, sets and pipelines over UDP, TCP and a Unix socket', async () => {
    const before = parseErrors(await fx.h.scrape(), 'negative_counter');
    await run(DEBIAN_PYTHON, ['-c', STATSD_SCRIPT, String(fx.h.agent.udpPort), String(fx.h.tcpPort), fx.h.unixPath]);

    const exp = await waitFor(async () => {
      const e = await fx.h.scrape();
      for (const p of ['py_udp', 'py_tcp', 'py_unix']) expect(sampleValue(e, `${p}_users`), p).toBe(2);
      expect(parseErrors(e, 'negative_counter') - before).toBe(3);
      return e;
    }, SET_WAIT_MS);
    for (const p of ['py_udp', 'py_tcp', 'py_unix']) {
      expect(sampleValue(exp, `${p}_hits_total`), p).toBe(5);
      expect(sampleValue(exp, `${p}_sampled_total`), p).toBe(4);
      expect(familyType(exp, `${p}_inflight`), p).toBe('gauge');
      expect(sampleValue(exp, `${p}_inflight`), p).toBe(3);
      expect(sampleValue(exp, `${p}_temp`), p).toBe(17.5);
      expect(sampleValue(exp, `${p}_below`), p).toBe(-5);
      expectBuckets(exp, `${p}_rt_seconds`, {}, TIMER_BUCKETS, [0.042, 0.25]);
      for (const timer of ['block', 'decorated', 'manual']) expect(sampleValue(exp, `${p}_${timer}_seconds_count`), `${p} ${timer}`).toBe(1);
      expect(sampleValue(exp, `${p}_piped_total`), p).toBe(1);
    }
  });
});

describe('python3-aiodogstatsd (Debian)', () => {
  const available = debianClient(hasAiodogstatsd, 'python3-aiodogstatsd', 'python3-aiodogstatsd');

  it.runIf(available)('counters, decrements, gauges, histograms, distributions and timers, with constant and per-call tags', async () => {
    const before = parseErrors(await fx.h.scrape(), 'negative_counter');
    await run(DEBIAN_PYTHON, ['-c', AIODOGSTATSD_SCRIPT, String(fx.h.agent.udpPort)]);

    const env = { env: 'test' };
    const exp = await waitFor(async () => {
      const e = await fx.h.scrape();
      expect(sampleValue(e, 'aio_task_seconds_count', env)).toBe(1);
      expect(parseErrors(e, 'negative_counter') - before).toBe(1);
      return e;
    }, LAND_WAIT_MS);
    expect(sampleValue(exp, 'aio_hits_total', env)).toBe(1);
    expect(sampleValue(exp, 'aio_hits_total', { ...env, route: '/a' })).toBe(4);
    expect(sampleValue(exp, 'aio_sampled_total', env)).toBe(4);
    expect(familyType(exp, 'aio_inflight')).toBe('gauge');
    expect(sampleValue(exp, 'aio_inflight', env)).toBe(3);
    expect(samplesNamed(exp, 'aio_inflight_total')).toEqual([]);
    expect(sampleValue(exp, 'aio_temp', { ...env, unit: 'c' })).toBe(17.5);
    expectBuckets(exp, 'aio_size', env, HISTOGRAM_BUCKETS, [300]);
    expectBuckets(exp, 'aio_dist', { ...env, zone: 'eu' }, HISTOGRAM_BUCKETS, [5]);
    expectBuckets(exp, 'aio_rt_seconds', env, TIMER_BUCKETS, [0.042]);
    expect(sampleValue(exp, 'aio_block_seconds_count', env)).toBe(1);
    // timeit() wraps the awaited 20 ms.
    expect(sampleValue(exp, 'aio_block_seconds_sum', env)).toBeGreaterThanOrEqual(0.015);
  });
});
