/**
 * statsd_exporter's EscapeMetricName: what it applies to a mapped (or
 * unmapped) name before exposing it. Every character outside [a-zA-Z0-9_]
 * becomes "_", a leading digit gains a "_" prefix, and a run of dashes
 * collapses into a single "_".
 */
export function escapeMetricName(name: string): string {
  if (name === '') return '';
  let out = name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57 ? '_' : '';
  let previous = '';
  // Iterating code points, not UTF-16 units: an emoji is one "_", as in Go.
  for (const ch of name) {
    const c = ch.charCodeAt(0);
    const valid = (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95;
    if (valid) {
      out += ch;
    } else if (!(ch === '-' && previous === '-')) {
      out += '_';
    }
    // statsd_exporter does not advance its "previous" past a skipped dash,
    // which is what makes a whole run of dashes collapse.
    if (!(ch === '-' && previous === '-')) previous = ch;
  }
  return out;
}
