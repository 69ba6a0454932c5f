import { BATCH_ID_HEADER, BATCH_PART_HEADER } from '../batch-headers.js';
import { compressBlock } from './snappy-block.js';
import type { EncodedRequest, FlushSnapshot } from '../sink.js';
import { seriesGroups, type SeriesGroup } from './series-groups.js';
import { encodeLabel, WriteRequestBuilder, type Label } from './write-request-proto.js';

/**
 * A flush as the remote-write sink may receive it. Summaries are not
 * OpenTelemetry MetricData (the JS SDK has no summary point), so they
 * travel beside the metrics when the flush carries them.
 */

export interface RemoteWriteEncoderOptions {
  /** The agent's version, for `User-Agent: tally-agent/<version>`. */
  version: string;
  /** Labels added to every series that lacks them; names must be valid and not start with "__". */
  externalLabels?: Record<string, string>;
  /** Series per request; a larger flush becomes several requests. Prometheus' own sender sends at most 2000 samples per request. */
  maxSeriesPerRequest?: number;
  onSkipped?: (metric: string, reason: string) => void;
}

/** Request headers the spec requires ("Protocol") and this encoder sets, which configured headers must not replace. */
export const PROTOCOL_HEADERS = ['content-encoding', 'content-type', 'user-agent', 'x-prometheus-remote-write-version'] as const;

const DEFAULT_MAX_SERIES_PER_REQUEST = 2000;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Turns flushes into remote-write 1.0 requests: protobuf WriteRequest,
 * snappy block format, the spec's headers. Every sample of a batch carries
 * the batch's time, so a request replayed from the spool rewrites the same
 * samples.
 *
 * It remembers which series the previous batch held: one that is gone now
 * (its ttl expired) gets the spec's stale marker, as a scrape that no longer
 * finds a series writes one, so PromQL stops returning it at once instead of
 * for the 5-minute lookback. That memory starts empty after a restart.
 */
export class RemoteWriteEncoder {
  private readonly externalLabels: Label[];
  private readonly maxSeries: number;
  /** The previous batch's groups by key: what to mark stale when the next one lacks them. */
  private previous = new Map<string, SeriesGroup>();

  constructor(private readonly opts: RemoteWriteEncoderOptions) {
    this.externalLabels = Object.entries(opts.externalLabels ?? {}).map(([name, value]) => {
      if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`external label name "${name}" is not a valid label name, or starts with "__"`);
      if (value === '') throw new Error(`external label "${name}" has an empty value, which remote write does not allow`);
      return { name, value };
    });
    this.maxSeries = opts.maxSeriesPerRequest ?? DEFAULT_MAX_SERIES_PER_REQUEST;
    if (!Number.isInteger(this.maxSeries) || this.maxSeries < 1) throw new Error(`maxSeriesPerRequest must be a positive integer, not ${this.maxSeries}`);
  }

  encode(snapshot: FlushSnapshot): EncodedRequest[] {
    const timeMs = Math.round(snapshot.timeMs);
    const groups = seriesGroups(snapshot.metrics, snapshot.summaries ?? [], { externalLabels: this.externalLabels, onSkipped: this.opts.onSkipped });
    const current = new Map<string, SeriesGroup>();
    for (const g of groups) current.set(g.key, g);
    const stale: SeriesGroup[] = [];
    for (const [key, g] of this.previous) if (!current.has(key)) stale.push(g);

    const bodies: Uint8Array[] = [];
    const builder = new WriteRequestBuilder();
    const labels = new LabelCache();
    const write = (g: SeriesGroup, asStale: boolean) => {
      const own = g.labels.map((l) => labels.bytes(l));
      const name = { name: NAME, bytes: labels.metricName(g.name) };
      // A counter or histogram this sink has not sent before starts with a 0 at its start time:
      // rate() and increase() take nothing from a series' first sample, so a feature used once would count no use.
      const zeroAtMs = !asStale && g.startMs !== undefined && g.startMs < timeMs && !this.previous.has(g.key) ? Math.round(g.startMs) : undefined;
      for (const s of g.samples) {
        const adds = s.extra === undefined ? [name] : sortedPair(name, { name: s.extra.name, bytes: labels.bytes(s.extra) });
        builder.add(mergeSorted(g.labels, own, adds), asStale ? 'stale' : s.value, timeMs, zeroAtMs);
        if (builder.seriesCount === this.maxSeries) bodies.push(builder.finish());
      }
    };
    for (const g of groups) write(g, false);
    for (const g of stale) write(g, true);
    if (builder.seriesCount > 0) bodies.push(builder.finish());

    const requests = bodies.map((proto, i) => ({
      path: '',
      headers: {
        'Content-Encoding': 'snappy',
        'Content-Type': 'application/x-protobuf',
        'User-Agent': `tally-agent/${this.opts.version}`,
        'X-Prometheus-Remote-Write-Version': '0.1.0',
        [BATCH_ID_HEADER]: snapshot.batchId,
        [BATCH_PART_HEADER]: `${i + 1}/${bodies.length}`,
      },
      body: compressBlock(proto),
    }));
    // Only once the batch is encoded: a batch that failed to encode must not make its series look sent.
    this.previous = current;
    return requests;
  }
}

const NAME = '__name__';

/**
 * Each distinct label of a batch encoded once: names, `le` values and shared
 * tags repeat across thousands of series. Label objects the batch shares
 * (every `le`, external labels, a point's labels across its series) are
 * found by identity, the rest by content.
 */
class LabelCache {
  private readonly byObject = new Map<Label, Uint8Array>();
  private readonly byContent = new Map<string, Uint8Array>();

  bytes(l: Label): Uint8Array {
    let b = this.byObject.get(l);
    if (b !== undefined) return b;
    const key = `${l.name}\u0000${l.value}`;
    b = this.byContent.get(key);
    if (b === undefined) {
      b = encodeLabel(l);
      this.byContent.set(key, b);
    }
    this.byObject.set(l, b);
    return b;
  }

  /** The `__name__` label of that value. */
  metricName(value: string): Uint8Array {
    const key = `${NAME}\u0000${value}`;
    let b = this.byContent.get(key);
    if (b === undefined) {
      b = encodeLabel({ name: NAME, value });
      this.byContent.set(key, b);
    }
    return b;
  }
}

interface EncodedLabel {
  name: string;
  bytes: Uint8Array;
}

function sortedPair(a: EncodedLabel, b: EncodedLabel): EncodedLabel[] {
  return a.name < b.name ? [a, b] : [b, a];
}

/**
 * A series' labels in name order: the point's own (sorted, with their
 * encodings in `own`) merged with `adds` (sorted: `__name__`, `le`,
 * `quantile`). An added label replaces a point label of the same name, so a
 * bucket's `le` is always the exposition's.
 */
function mergeSorted(labels: readonly Label[], own: readonly Uint8Array[], adds: readonly EncodedLabel[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let j = 0;
  for (let i = 0; i < labels.length; i++) {
    const n = labels[i]!.name;
    while (j < adds.length && adds[j]!.name < n) out.push(adds[j++]!.bytes);
    if (j < adds.length && adds[j]!.name === n) continue;
    out.push(own[i]!);
  }
  while (j < adds.length) out.push(adds[j++]!.bytes);
  return out;
}
