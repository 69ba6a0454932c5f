/**
 * An aggregator fed statsd text, on a clock the test moves: the one harness
 * the aggregate tests share.
 *
 *   const h = aggregatorHarness({ histogramBuckets: [10] });
 *   h.send('lat:5|ms\nhits:1|c|#route:/a');
 *   h.advance(10_000);                      // time passes, then a flush
 *   h.seriesWith('hits_total', { route: '/a' })?.value
 */
import { pino, type Logger } from 'pino';
import { Aggregator, type AggregatorOptions } from '../../agent/aggregate/aggregator.js';
import type { Family, Series } from '../../agent/aggregate/series.js';
import { StatsdParser } from '../../agent/parse/statsd-line.js';
import { AggregationCounters } from '../../agent/telemetry/aggregation-counters.js';
import { IngestCounters } from '../../agent/telemetry/ingest-counters.js';

export interface HarnessOptions extends Partial<Omit<AggregatorOptions, 'counters' | 'aggregation' | 'logger' | 'now'>> {
  /** Silent unless given. */
  logger?: Logger;
  /** The parser's own options (negative counters for up-down counters). */
  parser?: ConstructorParameters<typeof StatsdParser>[0];
}

export type AggregatorHarness = ReturnType<typeof aggregatorHarness>;

export function aggregatorHarness(opts: HarnessOptions = {}) {
  let now = 1_700_000_000_000;
  const counters = new IngestCounters();
  const aggregation = new AggregationCounters();
  const { parser: parserOptions, logger, ...rest } = opts;
  const agg = new Aggregator({
    timerBuckets: [0.1, 1],
    histogramBuckets: [10, 100],
    ...rest,
    counters,
    aggregation,
    logger: logger ?? pino({ level: 'silent' }),
    now: () => now,
  });
  const parser = new StatsdParser(parserOptions);
  const families = () => {
    const out = new Map<string, Family>();
    agg.forEachFamily((f) => out.set(f.name, f));
    return out;
  };
  return {
    agg,
    counters,
    aggregation,
    families,
    family: (name: string): Family | undefined => families().get(name),
    /** The family's i-th series, in the order they were made. */
    seriesAt: (name: string, i = 0): Series | undefined => families().get(name)?.series[i],
    /** The family's series with exactly these labels. */
    seriesWith: (name: string, labels: Record<string, string> = {}): Series | undefined =>
      families()
        .get(name)
        ?.series.find((s) => JSON.stringify({ ...s.attributes }) === JSON.stringify(labels)),
    send: (text: string) => parser.parsePacket(Buffer.from(text), agg),
    /** Time passes, then a flush closes the interval. */
    advance: (ms: number) => {
      now += ms;
      agg.flush();
    },
    /** Time passes, no flush. */
    tick: (ms: number) => {
      now += ms;
    },
    now: () => now,
  };
}
