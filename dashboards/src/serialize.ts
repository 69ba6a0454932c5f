/**
 * The one way a dashboard object becomes file content, shared by the
 * generator and the test that compares the committed files with it: keys
 * sorted at every level (so a change in the SDK's property order does not
 * rewrite every file), two-space indent, trailing newline.
 */
export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      // Functions (the SDK's variant markers) and undefined are not JSON.
      if (v === undefined || typeof v === 'function') continue;
      out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function serializeDashboard(dashboard: unknown): string {
  return JSON.stringify(sortKeys(dashboard), null, 2) + '\n';
}
