/** The HTTP collect endpoint's counts, bumped by its handler and read by the self-metrics at scrape time. */
export class CollectStats {
  /** Responses by status code. */
  readonly requests = new Map<number, number>();
  /** Requests refused as a whole, by reason. */
  readonly requestErrors = new Map<string, number>();
  /** Items (JSON objects or statsd lines) by outcome and reason ("" when accepted). */
  readonly items = new Map<string, number>();
  itemsAccepted = 0;

  bump<K>(map: Map<K, number>, key: K, n = 1): void {
    map.set(key, (map.get(key) ?? 0) + n);
  }
}
