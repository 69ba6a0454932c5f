/**
 * What every way in is to the wiring: the statsd listeners (UDP, unixgram,
 * TCP, Unix stream) and the HTTP collect endpoint, each something that takes
 * data in until closed. Each counts what it takes in the counters it is
 * given, the same way: a listener in the IngestCounters under its own
 * listener name, the collect endpoint in its CollectStats.
 */
export interface Source {
  /**
   * Stops taking data in; resolves once nothing more will reach the parser
   * or the aggregator from it, so a last flush after it holds everything
   * this source took in.
   */
  close(): Promise<void>;
}
