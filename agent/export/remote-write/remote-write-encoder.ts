import type { Attributes } from '@opentelemetry/api';
import type { Family, Series } from '../../aggregate/series.js';
import { SliceClock, SLICE_MS } from '../../shared/slice-clock.js';
import { BATCH_ID_HEADER, BATCH_PART_HEADER } from '../batch-headers.js';
import { familyDescriptor } from '../aggregate-producer.js';
import { leLabels } from '../exposition-writer.js';
import type { SnapshotFamily } from '../metrics-snapshot.js';
import type { EncodedRequest, FlushSnapshot } from '../sink.js';
import { expositionLabelName, expositionLabelValue, expositionQuantile, familyName } from '../exposition-names.js';
import { HistogramMessageWriter } from './histogram-message.js';
import { emptyNativeHistogram, toNativeHistogram } from '../native-histogram.js';
import { compressBlockAsync } from './snappy-block.js';
import { encodeLabelField, LabelBlock, WriteRequestWriter } from './write-request-writer.js';

export interface RemoteWriteEncoderOptions {
  /** The agent's version, for `User-Agent: tally-agent/<version>`. */
  version: string;
  /** Labels added to every series that lacks them; names must be valid and not start with "__". */
  externalLabels?: Record<string, string>;
  /** Series per request; a larger flush becomes several requests. Prometheus' own sender sends at most 2000 samples per request. */
  maxSeriesPerRequest?: number;
  onSkipped?: (metric: string, reason: string) => void;
  /**
   * Histogram families that keep exponential state go as native histograms:
   * one series of one Histogram sample each, instead of a series per bucket.
   * The receiver must take them (Prometheus 2.40 on, with
   * --enable-feature=native-histograms). Other histograms stay classic.
   */
  nativeHistograms?: boolean;
  /**
   * Longest stretch of encoding between two turns of the event loop (ms):
   * a flush of millions of samples must not hold up the sockets' reads.
   */
  sliceMs?: number;
}

/** Request headers the spec requires ("Protocol") and this encoder sets, which configured headers must not replace. */
export const PROTOCOL_HEADERS = ['content-encoding', 'content-type', 'user-agent', 'x-prometheus-remote-write-version'] as const;

const DEFAULT_MAX_SERIES_PER_REQUEST = 2000;
/** Requests compressing on the thread pool at once, at most (before the encoder waits for the oldest). */
const MAX_COMPRESSING = 4;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const REPEATED = 'a series of that name and labels came earlier in the batch';
const TARGET_INFO = encodeLabelField('__name__', 'target_info');

type Label = readonly [name: string, value: string];

/** How one family is written: its sample names as Label fields, and its `le` or `quantile` fields. */
interface FamilyCodec {
  /** Every `__name__` the family's series carry, for finding a repeat across families. */
  names: string[];
  /** Label fields of names[i]. */
  nameFields: Uint8Array[];
  extraName: '' | 'le' | 'quantile';
  extraFields: Uint8Array[];
  /** Counters and histograms: a series new to this sink gets a 0 at its start time. */
  counting: boolean;
  /** A histogram family sent as native histograms, under its name alone. */
  native: boolean;
}

/** What the previous batch held of a family: its series array as the snapshot had it, and how many. */
interface SentFamily {
  series: readonly Series[];
  length: number;
}

/**
 * Turns flushes into remote-write 1.0 requests: protobuf WriteRequest,
 * snappy block format, the spec's headers. Reads Tally's own families (the
 * flush's MetricsSnapshot) and writes what /metrics shows for them, sample
 * for sample: the same names, labels and values (exposition-writer.ts), each
 * label set sorted with `__name__`, no empty value, and the external labels
 * a series lacks. Every sample of a batch carries the batch's time, so a
 * request replayed from the spool rewrites the same samples.
 *
 * It remembers which series the previous batch held: one that is gone now
 * (its ttl expired) gets the spec's stale marker, as a scrape that no longer
 * finds a series writes one, so PromQL stops returning it at once instead of
 * for the 5-minute lookback. That memory starts empty after a restart.
 *
 * Values are read as the encoding reaches each series (the snapshot fixes
 * which series, and the set counts); it yields to the event loop every
 * `sliceMs`, so the lines that arrive meanwhile are read, not dropped.
 */
export class RemoteWriteEncoder {
  private readonly externalLabels: Label[];
  private readonly maxSeries: number;
  private readonly sliceMs: number;
  private readonly codecs = new WeakMap<Family, FamilyCodec | null>();
  private readonly leFields = new WeakMap<readonly number[], Uint8Array[]>();
  private readonly block = new LabelBlock();
  private readonly writer = new WriteRequestWriter();
  private readonly histograms = new HistogramMessageWriter();
  private sent = new Map<Family, SentFamily>();

  constructor(private readonly opts: RemoteWriteEncoderOptions) {
    this.externalLabels = Object.entries(opts.externalLabels ?? {})
      .map(([name, value]): Label => {
        if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`external label name "${name}" is not a valid label name, or starts with "__"`);
        if (value === '') throw new Error(`external label "${name}" has an empty value, which remote write does not allow`);
        return [name, value];
      })
      .sort(byName);
    this.maxSeries = opts.maxSeriesPerRequest ?? DEFAULT_MAX_SERIES_PER_REQUEST;
    if (!Number.isInteger(this.maxSeries) || this.maxSeries < 1) throw new Error(`maxSeriesPerRequest must be a positive integer, not ${this.maxSeries}`);
    this.sliceMs = opts.sliceMs ?? SLICE_MS;
  }

  async encode(snapshot: FlushSnapshot): Promise<EncodedRequest[]> {
    const timeMs = Math.round(snapshot.timeMs);
    const writer = this.writer;
    writer.take();
    writer.setTimestamp(timeMs);
    const bodies: Array<Promise<Uint8Array>> = [];
    // The writer reuses its buffer: a request compressing meanwhile gets its own copy.
    const compress = () => bodies.push(compressBlockAsync(writer.take().slice()));
    const cut = () => {
      if (writer.seriesCount >= this.maxSeries) compress();
    };
    const batch = new BatchNames(this.externalLabels);
    // A timer on the default layout is 131 samples: a look at the clock every 16 series.
    const clock = new SliceClock(this.sliceMs, 16);
    const breathe = async () => {
      if (!clock.due()) return;
      // At most a few requests wait for compression: their copies are what a flush holds in memory beyond the snapshot.
      if (bodies.length > MAX_COMPRESSING) await bodies[bodies.length - MAX_COMPRESSING];
      await clock.turn();
    };

    // target_info first, as /metrics writes it; the resource describes the series pushed with it, and with none there is no target.
    const target = resourceLabels(snapshot.metrics.resource.attributes, this.externalLabels);
    batch.claim(['target_info'], { target });
    if (this.anyToShow(snapshot.families.families)) {
      this.block.begin('');
      for (const [name, value] of target) this.block.add(name, value);
      this.block.finish();
      writer.series(this.block, TARGET_INFO, undefined, 1, -1);
      cut();
    }
    let wrote = false;

    const next = new Map<Family, SentFamily>();
    for (const scraped of snapshot.families.families) {
      const family = scraped.family;
      const codec = this.codec(family);
      if (codec === undefined) continue;
      const repeats = batch.claim(codec.names, { scraped });
      const before = this.sent.get(family);
      // A family's series array only grows until expiry replaces it: the same array means the first `length` were sent before.
      const sentBefore = before === undefined ? undefined : before.series === scraped.series ? before.length : new Set(before.series.slice(0, before.length));
      for (let i = 0; i < scraped.length; i++) {
        const s = scraped.series[i]!;
        const setCount = scraped.setCounts?.[i];
        // A set has no value until its first interval completes.
        if (setCount !== undefined && setCount < 0) continue;
        if (repeats !== undefined && repeats.has(labelKey(s.attributes, this.externalLabels))) {
          this.opts.onSkipped?.(codec.names[0]!, REPEATED);
          continue;
        }
        this.fillBlock(s.attributes, codec.extraName);
        const isNew = sentBefore === undefined || (typeof sentBefore === 'number' ? i >= sentBefore : !sentBefore.has(s));
        const zeroAtMs = codec.counting && isNew && s.startTimeMs < timeMs ? Math.round(s.startTimeMs) : -1;
        this.writeSeries(family, codec, s, setCount, zeroAtMs, timeMs, cut);
        wrote = true;
        await breathe();
      }
      next.set(family, { series: scraped.series, length: scraped.length });
    }

    // Series the previous batch held and this one does not: expired, each gets a stale marker.
    for (const [family, before] of this.sent) {
      const now = next.get(family);
      if (now !== undefined && now.series === before.series) continue;
      const codec = this.codec(family);
      if (codec === undefined) continue;
      const still = now === undefined ? undefined : new Set(now.series.slice(0, now.length));
      for (let i = 0; i < before.length; i++) {
        const s = before.series[i]!;
        if (still?.has(s)) continue;
        this.fillBlock(s.attributes, codec.extraName);
        this.writeSeries(family, codec, s, undefined, -1, timeMs, cut, true);
        wrote = true;
        await breathe();
      }
    }

    if (writer.seriesCount > 0) compress();
    const compressed = wrote ? await Promise.all(bodies) : [];

    const requests = compressed.map((body, i) => ({
      path: '',
      headers: {
        'Content-Encoding': 'snappy',
        'Content-Type': 'application/x-protobuf',
        'User-Agent': `tally-agent/${this.opts.version}`,
        'X-Prometheus-Remote-Write-Version': '0.1.0',
        [BATCH_ID_HEADER]: snapshot.batchId,
        [BATCH_PART_HEADER]: `${i + 1}/${compressed.length}`,
      },
      body,
    }));
    // Only once the batch is encoded: a batch that failed to encode must not make its series look sent.
    this.sent = next;
    return requests;
  }

  /** Whether any family has a series to write (a set has none before its first interval ends). */
  private anyToShow(families: readonly SnapshotFamily[]): boolean {
    for (const f of families) {
      if (f.length === 0 || this.codec(f.family) === undefined) continue;
      if (f.setCounts === undefined || f.setCounts.some((c) => c >= 0)) return true;
    }
    return false;
  }

  /** The series' own labels and the external labels it lacks, sorted, empty values left out. */
  private fillBlock(attributes: Readonly<Record<string, string>>, extraName: FamilyCodec['extraName']): void {
    const block = this.block;
    block.begin(extraName);
    // Both lists are sorted by name (the aggregator stores attributes so): merged in one pass.
    const ext = this.externalLabels;
    let j = 0;
    for (const name in attributes) {
      const value = attributes[name]!;
      while (j < ext.length && ext[j]![0] < name) {
        block.add(ext[j]![0], ext[j]![1]);
        j++;
      }
      if (j < ext.length && ext[j]![0] === name) {
        // Prometheus reads an empty label as none: then the external label fills it.
        block.add(name, value === '' ? ext[j]![1] : value);
        j++;
        continue;
      }
      if (value !== '') block.add(name, value);
    }
    for (; j < ext.length; j++) block.add(ext[j]![0], ext[j]![1]);
    block.finish();
  }

  private writeSeries(
    family: Family,
    codec: FamilyCodec,
    s: Series,
    setCount: number | undefined,
    zeroAtMs: number,
    timeMs: number,
    cut: () => void,
    stale = false,
  ): void {
    const writer = this.writer;
    const block = this.block;
    const [first, second, third] = codec.nameFields as [Uint8Array, Uint8Array?, Uint8Array?];
    switch (family.type) {
      case 'counter':
      case 'up_down_counter':
      case 'gauge':
        writer.series(block, first, undefined, stale ? 'stale' : (setCount ?? s.value), zeroAtMs);
        cut();
        return;
      case 'histogram': {
        if (codec.native) {
          this.writeNative(codec, s, zeroAtMs, timeMs, stale);
          cut();
          return;
        }
        writer.series(block, first, undefined, stale ? 'stale' : s.count, zeroAtMs);
        cut();
        writer.series(block, second!, undefined, stale ? 'stale' : s.sum, zeroAtMs);
        cut();
        let cumulative = 0;
        const les = codec.extraFields;
        for (let j = 0; j < les.length; j++) {
          cumulative += s.bucketCounts[j]!;
          writer.series(block, third!, les[j], stale ? 'stale' : cumulative, zeroAtMs);
          cut();
        }
        return;
      }
      case 'summary': {
        const values = stale ? undefined : s.summary!.quantileValues(timeMs);
        const quantiles = codec.extraFields;
        for (let q = 0; q < quantiles.length; q++) {
          writer.series(block, first, quantiles[q], values === undefined ? 'stale' : values[q]!, -1);
          cut();
        }
        writer.series(block, second!, undefined, stale ? 'stale' : s.sum, -1);
        cut();
        writer.series(block, third!, undefined, stale ? 'stale' : s.count, -1);
        cut();
        return;
      }
    }
  }

  /** A series of a native family: its histogram, after an empty one at its start when new; a gone one gets the float stale marker, as a scrape writes it. */
  private writeNative(codec: FamilyCodec, s: Series, zeroAtMs: number, timeMs: number, stale: boolean): void {
    const name = codec.nameFields[0]!;
    if (stale) {
      this.writer.series(this.block, name, undefined, 'stale', -1);
      return;
    }
    const h = toNativeHistogram(s.expo!);
    if (h === undefined) {
      this.opts.onSkipped?.(codec.names[0]!, 'its exponential histogram is coarser than schema -4, the coarsest a native histogram has');
      return;
    }
    const messages: Uint8Array[] = [];
    // The writer's view lasts until its next message: the start's empty histogram is copied.
    if (zeroAtMs >= 0) messages.push(this.histograms.write(emptyNativeHistogram(h.schema), zeroAtMs).slice());
    messages.push(this.histograms.write(h, timeMs));
    this.writer.histogramSeries(this.block, name, messages);
  }

  /** How a family is written, made once per family; undefined (and said once) for a name nothing can carry. */
  private codec(family: Family): FamilyCodec | undefined {
    let codec = this.codecs.get(family);
    if (codec !== undefined) return codec ?? undefined;
    codec = makeCodec(family, (bounds) => this.les(bounds), this.opts.nativeHistograms === true);
    this.codecs.set(family, codec);
    if (codec === null) this.opts.onSkipped?.(familyDescriptor(family).name, 'its name has no character a Prometheus name may hold');
    return codec ?? undefined;
  }

  private les(bounds: readonly number[]): Uint8Array[] {
    let fields = this.leFields.get(bounds);
    if (fields === undefined) {
      fields = leLabels(bounds, bounds.length + 1).map((le) => encodeLabelField('le', le));
      this.leFields.set(bounds, fields);
    }
    return fields;
  }

}

function makeCodec(family: Family, les: (bounds: readonly number[]) => Uint8Array[], nativeHistograms: boolean): FamilyCodec | null {
  const base = family.type === 'summary' ? familyName(family.name) : familyName(familyDescriptor(family).name, family.type === 'counter');
  if (base === undefined) return null;
  let names: string[];
  let extraName: FamilyCodec['extraName'] = '';
  let extraFields: Uint8Array[] = [];
  const native = nativeHistograms && family.type === 'histogram' && family.exponential !== undefined;
  switch (native ? 'native' : family.type) {
    case 'native':
      names = [base];
      break;
    case 'histogram':
      names = [`${base}_count`, `${base}_sum`, `${base}_bucket`];
      extraName = 'le';
      extraFields = les(family.bounds);
      break;
    case 'summary':
      names = [base, `${base}_sum`, `${base}_count`];
      extraName = 'quantile';
      extraFields = family.summary!.quantiles.map((q) => encodeLabelField('quantile', expositionQuantile(q)));
      break;
    default:
      names = [base];
  }
  return {
    names,
    nameFields: names.map((n) => encodeLabelField('__name__', n)),
    extraName,
    extraFields,
    counting: family.type === 'counter' || family.type === 'histogram',
    native,
  };
}

/**
 * The `__name__`s a batch has written, and who wrote them: a family whose
 * names an earlier one took (a gauge `x_count` beside a histogram `x`, a
 * gauge called target_info) may repeat a series, which a receiver would
 * refuse; the first is kept, as a scrape keeps it, and the later family's
 * series of those labels is left out whole.
 */
class BatchNames {
  private readonly owners = new Map<string, Array<{ target?: Label[]; scraped?: SnapshotFamily }>>();

  constructor(private readonly externals: readonly Label[]) {}

  /** Records the names; returns the label keys already written under any of them, or undefined when none was taken. */
  claim(names: readonly string[], owner: { target?: Label[]; scraped?: SnapshotFamily }): Set<string> | undefined {
    let taken: Set<string> | undefined;
    for (const name of names) {
      const earlier = this.owners.get(name);
      if (earlier === undefined) {
        this.owners.set(name, [owner]);
        continue;
      }
      taken ??= new Set();
      for (const o of earlier) {
        if (o.target !== undefined) taken.add(JSON.stringify(o.target));
        if (o.scraped !== undefined) for (let i = 0; i < o.scraped.length; i++) taken.add(labelKey(o.scraped.series[i]!.attributes, this.externals));
      }
      earlier.push(owner);
    }
    return taken;
  }
}

/** The labels of a series as written (external labels merged, empties dropped), as one string. */
function labelKey(attributes: Readonly<Record<string, string>>, externals: readonly Label[]): string {
  const labels: Label[] = [];
  for (const name in attributes) if (attributes[name] !== '') labels.push([name, attributes[name]!]);
  for (const l of externals) if (!labels.some(([n]) => n === l[0])) labels.push(l);
  return JSON.stringify(labels.sort(byName));
}

/**
 * target_info's labels: the resource's attributes as /metrics names them
 * (sanitized; of two that sanitize alike the first is kept, as the
 * exposition would otherwise repeat a label), empty values left out, then
 * the external labels the resource lacks; sorted.
 */
function resourceLabels(attributes: Attributes, externals: readonly Label[]): Label[] {
  const labels: Label[] = [];
  const has = (name: string) => labels.some(([n]) => n === name);
  for (const key of Object.keys(attributes)) {
    const name = expositionLabelName(key);
    const value = expositionLabelValue(attributes[key]);
    if (name === undefined || value === '' || has(name)) continue;
    labels.push([name, value]);
  }
  for (const l of externals) if (!has(l[0])) labels.push(l);
  return labels.sort(byName);
}

function byName(a: Label, b: Label): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}
