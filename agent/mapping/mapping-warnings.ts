import { isMap, isScalar, isSeq } from 'yaml';
import type { Document, LineCounter, Node } from 'yaml';
import type { ConfigIssue } from '../shared/config-error.js';

// Accepted so statsd_exporter files load, but Tally's summaries have no such knob.
const UNIMPLEMENTED: Record<string, string> = {
  buf_cap: "Tally's summaries add each value to their sketch at once; there is no stream buffer to size",
};

// Read with their old meaning, as statsd_exporter v0.30.0 does; its later
// versions reject them, so the file should move on.
const DEPRECATED: Record<string, string> = {
  timer_type: 'deprecated: timer_type is the old name of observer_type; please use observer_type',
  buckets: 'deprecated: using the top level buckets is deprecated; please use buckets in the histogram_options hierarchy',
  quantiles: 'deprecated: using the top level quantiles is deprecated; please use quantiles in the summary_options hierarchy',
};

/**
 * Keys that load but deserve a word: deprecated spellings and options Tally
 * does not act on. Runs only on text the schema accepted, so the shape is
 * known; `under` is the path of the rules inside the document (`['mapping']`
 * in a Tally config).
 */
export function mappingWarnings(doc: Document.Parsed, lineCounter: LineCounter, file: string, under: readonly string[]): ConfigIssue[] {
  const warnings: ConfigIssue[] = [];
  const warnKeys = (map: unknown, path: string, messages: Record<string, string>, prefix: string) => {
    if (!isMap(map)) return;
    for (const pair of map.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const message = Object.hasOwn(messages, key) ? messages[key] : undefined;
      if (message === undefined || (isScalar(pair.value) && pair.value.value === null)) continue;
      const { line, col } = lineCounter.linePos((pair.key as Node).range?.[0] ?? 0);
      warnings.push({ file, line, column: col, key: `${path}.${key}`, message: `${prefix}${message}` });
    }
  };
  const inRule = (rule: unknown, path: string) => {
    if (!isMap(rule)) return;
    warnKeys(rule, path, DEPRECATED, '');
    warnKeys(rule.get('summary_options', true), `${path}.summary_options`, UNIMPLEMENTED, 'ignored: ');
    warnKeys(rule.get('histogram_options', true), `${path}.histogram_options`, UNIMPLEMENTED, 'ignored: ');
  };
  const root = under.length === 0 ? doc.contents : doc.getIn(under, true);
  if (!isMap(root)) return warnings;
  const prefix = under.length === 0 ? '' : `${under.join('.')}.`;
  inRule(root.get('defaults', true), `${prefix}defaults`);
  const mappings = root.get('mappings', true);
  if (isSeq(mappings)) mappings.items.forEach((rule, i) => inRule(rule, `${prefix}mappings[${i}]`));
  return warnings;
}
