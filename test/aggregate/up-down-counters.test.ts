import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { aggregatorHarness } from '../support/aggregator-harness.js';
import { compileNamePatterns } from '../../agent/aggregate/name-patterns.js';
import { Mapper } from '../../agent/mapping/mapper.js';
import { parseMappingText } from '../../agent/mapping/mapping-config.js';

interface LogRecord {
  level: number;
  msg: string;
  metric?: string;
  statsd_name?: string;
}

function setup(patterns: string[], mapping?: string) {
  const logs: LogRecord[] = [];
  const h = aggregatorHarness({
    // Logging at the agent's default level: the warning must show there.
    logger: pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as LogRecord) }),
    upDownCounters: compileNamePatterns(patterns),
    mapper: mapping === undefined ? undefined : new Mapper(parseMappingText(mapping, 'm.yaml')),
    parser: { negativeCounters: patterns.length > 0 },
  });
  const warnings = () => logs.filter((l) => l.level === 40 && l.msg.startsWith('negative count'));
  return { counters: h.counters, family: h.family, warnings, send: h.send, advance: h.tick };
}

describe('compileNamePatterns', () => {
  it('reads "*" as any part of one dot-separated component, and everything else literally', () => {
    const match = compileNamePatterns(['queue.*.depth', 'conn*', 'a+b'])!;
    expect(match('queue.orders.depth')).toBe(true);
    expect(match('queue.a.b.depth')).toBe(false);
    expect(match('connections')).toBe(true);
    expect(match('conn.open')).toBe(false);
    expect(match('a+b')).toBe(true);
    expect(match('aab')).toBe(false);
    expect(compileNamePatterns([])).toBeUndefined();
  });
});

describe('negative counts', () => {
  it('are refused for an ordinary counter, counted, and warned about once a minute per metric at the default level', () => {
    for (const patterns of [[], ['other.*']]) {
      const { send, counters, warnings, advance, family } = setup(patterns);
      send('jobs.running:1|c\njobs.running:-1|c\njobs.running:-1|c\njobs.running:1:-1|c');
      expect(counters.parseErrors.get('negative_counter'), String(patterns)).toBe(3);
      expect(family('jobs_running_total')!.series[0]!.value).toBe(1);
      expect(warnings()).toHaveLength(1);
      expect(warnings()[0]!.msg).toContain('aggregation.up_down_counters');
      expect(warnings()[0]!.statsd_name ?? warnings()[0]!.metric).toMatch(/^jobs[._]running/);
      // All metrics together warn at most once a second, so a client decrementing many names cannot flood the log.
      send('other_metric:-2|c');
      expect(warnings()).toHaveLength(1);
      advance(1_001);
      send('other_metric:-2|c');
      expect(warnings()).toHaveLength(2);
      advance(61_000);
      send('jobs.running:-1|c');
      expect(warnings()).toHaveLength(3);
    }
  });

  it('are added for a name under up_down_counters, which becomes a non-monotonic family without _total', () => {
    const { send, counters, family, warnings } = setup(['jobs.*']);
    send('jobs.running:1|c\njobs.running:1|c|#q:a\njobs.running:-1|c\njobs.running:3:-1:-1|c\njobs.running:-2|c|@0.5');
    expect(counters.parseErrors.get('negative_counter')).toBe(0);
    const f = family('jobs_running')!;
    expect(f.type).toBe('up_down_counter');
    expect(family('jobs_running_total')).toBeUndefined();
    const plain = f.series.find((s) => Object.keys(s.attributes).length === 0)!;
    expect(plain.value).toBe(1 - 1 + 3 - 1 - 1 - 4);
    expect(warnings()).toEqual([]);
  });

  it('are kept for a mapped name when the name sent matches, with the rule name as written', () => {
    const { send, family } = setup(['pool.*.in_use'], 'mappings:\n- match: pool.*.in_use\n  name: pool_connections_in_use\n  labels: {pool: $1}\n');
    send('pool.main.in_use:5|c\npool.main.in_use:-2|c');
    const f = family('pool_connections_in_use')!;
    expect(f.type).toBe('up_down_counter');
    expect(f.series[0]!.attributes).toEqual({ pool: 'main' });
    expect(f.series[0]!.value).toBe(3);
  });
});
