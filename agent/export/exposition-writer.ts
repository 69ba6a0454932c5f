import type { Attributes } from '@opentelemetry/api';
import type { Family, Series } from '../aggregate/series.js';
import { familyDescription, familyDescriptor } from './aggregate-producer.js';
import { heldAtZero, type ZeroHold } from './zero-hold.js';
import { escapeLabelValue, familyHeader, labelPairs, sampleValue } from './exposition-text.js';
import { expositionLabelValue, familyName, sanitize } from './exposition-names.js';
import type { SnapshotFamily, MetricsSnapshot } from './metrics-snapshot.js';
import { summarySeriesText } from './summary-text.js';

/** About this much text per piece: small enough to render in well under a millisecond, large enough that a write per piece costs little. */
export const CHUNK_CHARS = 64 * 1024;

/**
 * The aggregator's families as the text exposition, in pieces of about
 * `chunkChars` characters, each rendered only when asked for, so a caller
 * can write one and yield to the event loop before the next, and never
 * holds the whole body. The text is what @opentelemetry/exporter-prometheus
 * (withoutScopeInfo) serves for the AggregateProducer's data, followed by
 * the summaries as summary-text.ts writes them: target_info first, then
 * every family but summaries in the aggregator's order, then the summaries.
 */
export function* expositionChunks(
  snapshot: MetricsSnapshot,
  resourceAttributes: Attributes,
  chunkChars = CHUNK_CHARS,
): Generator<string, void, undefined> {
  let out = targetInfo(resourceAttributes);
  // Families on the default layouts share one bounds array: their `le` texts are made once a scrape, not once a family
  // (100,000 histogram families of 129 buckets: 271 of a 1M-series scrape's 3,810 ms, --cpu-prof).
  const leTexts = new Map<readonly number[], string[]>();
  for (const scraped of snapshot.families) {
    const family = scraped.family;
    if (family.type === 'summary') continue;
    const name = familyName(familyDescriptor(family).name, family.type === 'counter');
    // The serializer leaves out a family whose name sanitizes to nothing.
    if (name === undefined) continue;
    const render = seriesRenderer(scraped, name, snapshot.hold, leTexts);
    // Written before the family's first sample, as the SDK writes no family without data points (a set before its first interval).
    let header: string | undefined = familyHeader(name, familyDescription(family) || 'description missing', family.unit, family.type === 'up_down_counter' ? 'gauge' : family.type);
    for (let i = 0; i < scraped.length; i++) {
      const text = render(scraped.series[i]!, i);
      if (text === '') continue;
      if (header !== undefined) {
        out += header;
        header = undefined;
      }
      out += text;
      if (out.length >= chunkChars) {
        yield out;
        out = '';
      }
    }
  }
  for (const { family, series, length } of snapshot.families) {
    if (family.type !== 'summary' || length === 0) continue;
    out += familyHeader(family.name, familyDescription(family), family.unit, 'summary');
    const quantiles = family.summary!.quantiles;
    for (let i = 0; i < length; i++) {
      const s = series[i]!;
      const values = s.summary!.quantileValues(snapshot.nowMs);
      const quantileValues = quantiles.map((quantile, q) => ({ quantile, value: values[q]! }));
      out += summarySeriesText(family.name, labelPairs(s.attributes), quantileValues, s.sum, s.count);
      if (out.length >= chunkChars) {
        yield out;
        out = '';
      }
    }
  }
  if (out !== '') yield out;
}

/** The serializer's target_info: the resource's attributes on one sample of value 1. */
function targetInfo(attributes: Attributes): string {
  let labels = '';
  for (const [key, value] of Object.entries(attributes)) {
    labels += `${labels === '' ? '' : ','}${sanitize(key)}="${escapeLabelValue(expositionLabelValue(value))}"`;
  }
  return `# HELP target_info Target metadata\n# TYPE target_info gauge\ntarget_info${labels === '' ? '' : `{${labels}}`} 1\n`;
}

type SeriesRenderer = (s: Series, index: number) => string;

/** The lines of one series of a family, '' for a series the SDK would show no point for. */
function seriesRenderer(scraped: SnapshotFamily, name: string, hold: ZeroHold | undefined, leTexts: Map<readonly number[], string[]>): SeriesRenderer {
  const family: Family = scraped.family;
  switch (family.type) {
    case 'counter':
      return (s) => `${name}${braces(labelPairs(s.attributes))} ${sampleValue(heldAtZero(s, hold) ? 0 : s.value)}\n`;
    case 'up_down_counter':
      // A non-monotonic sum: the SDK's serializer writes it as a gauge, with no zero hold (a level is not read with rate()).
      return (s) => `${name}${braces(labelPairs(s.attributes))} ${sampleValue(s.value)}\n`;
    case 'gauge': {
      const setCounts = scraped.setCounts;
      if (setCounts === undefined) return (s) => `${name}${braces(labelPairs(s.attributes))} ${sampleValue(s.value)}\n`;
      // A set has no value until its first interval completes: a partial count would read as a drop later.
      return (s, i) => (setCounts[i]! < 0 ? '' : `${name}${braces(labelPairs(s.attributes))} ${sampleValue(setCounts[i]!)}\n`);
    }
    case 'histogram': {
      let les = leTexts.get(family.bounds);
      if (les === undefined) leTexts.set(family.bounds, (les = leLabels(family.bounds, family.bounds.length + 1)));
      return (s) => {
        const labels = labelPairs(s.attributes);
        const b = braces(labels);
        const zero = heldAtZero(s, hold);
        let out = `${name}_count${b} ${sampleValue(zero ? 0 : s.count)}\n${name}_sum${b} ${sampleValue(zero ? 0 : s.sum)}\n`;
        const sep = labels === '' ? '' : ',';
        let cumulative = 0;
        for (let j = 0; j < les.length; j++) {
          if (!zero) cumulative += s.bucketCounts[j]!;
          out += `${name}_bucket{${labels}${sep}le="${les[j]}"} ${sampleValue(cumulative)}\n`;
        }
        return out;
      };
    }
    case 'summary':
      return () => '';
  }
}

function braces(labels: string): string {
  return labels === '' ? '' : `{${labels}}`;
}

/**
 * The serializer's `le` per bucket: the bound in JavaScript's shortest form,
 * `+Inf` for the last bucket, and nothing past an explicit Infinity bound
 * (it then stops, as the SDK's own aggregator may list Infinity or not).
 */
export function leLabels(bounds: readonly number[], buckets: number): string[] {
  const out: string[] = [];
  let infinite = false;
  for (let j = 0; j < buckets; j++) {
    const bound = bounds[j];
    if (bound === undefined && infinite) break;
    if (bound === Infinity) infinite = true;
    out.push(bound === undefined || bound === Infinity ? '+Inf' : String(bound));
  }
  return out;
}
