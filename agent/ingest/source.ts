/**
 * What every statsd listener (UDP, unixgram, TCP, Unix stream) is to the
 * wiring: something that reads until closed. Each counts what it reads in
 * the IngestCounters it is given, under its own listener name, the same way.
 */
export interface Source {
  /**
   * Stops reading; resolves once nothing more will reach the parser from
   * it, so a last flush after it holds everything this source took in.
   */
  close(): Promise<void>;
}
