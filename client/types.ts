/**
 * The shapes shared by the client, its transports and the one-line API.
 */

/** Tag values are sent as text; numbers and booleans are written as they print. */
export type Tags = Readonly<Record<string, string | number | boolean>>;

/** A duration given as milliseconds or seconds: `{ ms: 120 }`, `{ s: 0.12 }`. */
export type Duration = { readonly ms: number } | { readonly s: number };

/** Time units `collect()` accepts for a plain number, as in POST /v1/collect. */
export type TimeUnit = 'ns' | 'us' | 'µs' | 'ms' | 's' | 'min' | 'h';

/**
 * Wire kinds, spelled as statsd types so the UDP path writes them as they are;
 * `e` is a DogStatsD event (a feature used, counted per value).
 */
export type Kind = 'c' | 'g' | 'ms' | 'h' | 'd' | 'e';

/** Why a call did not reach the agent, as counted in `stats().dropped`. */
export type DropReason =
  /** The value cannot be sent (NaN, Infinity, a negative counter, an empty name). */
  | 'invalid'
  /**
   * Nobody received the datagram: UDP, the agent's port refused it (ICMP
   * port unreachable: nothing listens); Unix socket, the socket file is
   * missing (ENOENT) or no process reads it (ECONNREFUSED).
   */
  | 'refused'
  /** The socket or the client's bounded buffer had no room. */
  | 'buffer_full'
  /** One line longer than a datagram can carry. */
  | 'too_large'
  /** Any other send or connect error. */
  | 'send_error'
  /** The agent answered the HTTP request with a refusal that retrying cannot mend (400, 401, 413, ...). */
  | 'rejected'
  /** The call came after close(). */
  | 'closed';

export const DROP_REASONS: readonly DropReason[] = ['invalid', 'refused', 'buffer_full', 'too_large', 'send_error', 'rejected', 'closed'];

export type TransportName = 'udp' | 'unixgram' | 'http';

export interface ClientStats {
  transport: TransportName;
  /** Calls taken (sampled out ones included). */
  calls: number;
  /** Calls skipped by their sample rate (the agent scales the rest up). */
  sampledOut: number;
  /** UDP, Unix socket: lines the kernel accepted. HTTP: items the agent answered 2xx for. */
  sent: number;
  /** UDP, Unix socket: datagrams the kernel accepted. HTTP: requests answered 2xx. */
  packets: number;
  /** Calls that will not reach the agent, by reason. */
  dropped: Record<DropReason, number>;
  /** HTTP: items held (queued or in flight) and not yet acknowledged; UDP, Unix socket: lines not yet handed to the kernel. */
  pending: number;
  /** HTTP: attempts that failed and were retried. */
  retries: number;
}

export function emptyStats(transport: TransportName): ClientStats {
  const dropped = {} as Record<DropReason, number>;
  for (const r of DROP_REASONS) dropped[r] = 0;
  return { transport, calls: 0, sampledOut: 0, sent: 0, packets: 0, dropped, pending: 0, retries: 0 };
}

/** Told of every drop, so an application can log or count them its own way. */
export type DropListener = (reason: DropReason, calls: number, error?: Error) => void;

/**
 * What the client hands a transport. The transport owns the encoding so the
 * UDP path can write straight into its datagram buffer without building a
 * string or an object per call.
 */
export interface Transport {
  /**
   * One call. `outcome` is an extra tag (time() adds it without copying the
   * caller's tags); `raw` skips the prefix (runtime metrics keep fixed names).
   * Returns false when the call was dropped.
   */
  send(kind: Kind, name: string, value: number | string, tags: Tags | undefined, rate: number, outcome: string | undefined, raw: boolean): boolean;
  flush(opts?: { timeoutMs?: number }): Promise<void>;
  close(opts?: { timeoutMs?: number }): Promise<void>;
  stats(): ClientStats;
}
