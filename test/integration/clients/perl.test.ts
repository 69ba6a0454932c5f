/**
 * Perl's Net::Statsd (Debian's libnet-statsd-perl) against a real agent,
 * every function it has, over UDP (its only transport).
 */
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../support/agent-process.js';
import { debianClient, expectBuckets, parseErrors, probe, run, SET_WAIT_MS, TIMER_BUCKETS, useClientAgent } from '../../support/client-harness.js';
import { familyType, sampleValue, samplesNamed } from '../../support/prom-text.js';

// Debian's perl: the package installs into its @INC.
const PERL = '/usr/bin/perl';

const fx = useClientAgent();

const hasNetStatsd = await probe(PERL, ['-MNet::Statsd', '-e', '1']);

// argv: UDP port.
const SCRIPT = `
use strict;
use warnings;
# Net::Statsd sends a sampled call only when rand() <= rate: make it always (this must precede loading it).
BEGIN { *CORE::GLOBAL::rand = sub { 0 }; }
use Net::Statsd;

$Net::Statsd::HOST = '127.0.0.1';
$Net::Statsd::PORT = shift @ARGV;

Net::Statsd::increment('pl.hits');
Net::Statsd::inc('pl.hits');
Net::Statsd::update_stats('pl.hits', 3);
Net::Statsd::increment(['pl.multi.a', 'pl.multi.b']);
Net::Statsd::increment('pl.sampled', 0.25);
Net::Statsd::decrement('pl.hits');
Net::Statsd::update_stats('pl.inflight', 5);
Net::Statsd::dec('pl.inflight');
# Sent as %d: the fraction is dropped by the client.
Net::Statsd::timing('pl.rt', 42.9);
Net::Statsd::timing('pl.rt', 250);
# Several gauges in one packet; a negative value is a delta to statsd, as the module's documentation warns.
Net::Statsd::gauge('pl.temp' => 20, 'pl.freezer' => -18);
Net::Statsd::gauge('pl.temp' => 17.5);
# No set function: send() takes raw values, an array of them becoming one multi-line packet.
Net::Statsd::send({ 'pl.users' => ['alice|s', 'bob|s', 'alice|s'] });
Net::Statsd::send({ 'pl.raw' => '2|c' }, 0.5);
`;

describe('Net::Statsd (Debian libnet-statsd-perl)', () => {
  const available = debianClient(hasNetStatsd, "Perl's Net::Statsd", 'libnet-statsd-perl');

  it.runIf(available)('counters (several names, sampled), decrements, timers, gauges, sets and raw sends', async () => {
    const before = parseErrors(await fx.h.scrape(), 'negative_counter');
    await run(PERL, ['-e', SCRIPT, String(fx.h.agent.udpPort)]);

    const exp = await waitFor(async () => {
      const e = await fx.h.scrape();
      expect(sampleValue(e, 'pl_users')).toBe(2);
      expect(sampleValue(e, 'pl_raw_total')).toBe(4);
      expect(parseErrors(e, 'negative_counter') - before).toBe(1);
      return e;
    }, SET_WAIT_MS);
    expect(sampleValue(exp, 'pl_hits_total')).toBe(5);
    expect(sampleValue(exp, 'pl_multi_a_total')).toBe(1);
    expect(sampleValue(exp, 'pl_multi_b_total')).toBe(1);
    expect(sampleValue(exp, 'pl_sampled_total')).toBe(4);
    expect(familyType(exp, 'pl_inflight')).toBe('gauge');
    expect(sampleValue(exp, 'pl_inflight')).toBe(4);
    expect(samplesNamed(exp, 'pl_inflight_total')).toEqual([]);
    expectBuckets(exp, 'pl_rt_seconds', {}, TIMER_BUCKETS, [0.042, 0.25]);
    expect(sampleValue(exp, 'pl_temp')).toBe(17.5);
    expect(sampleValue(exp, 'pl_freezer')).toBe(-18);
  });
});
