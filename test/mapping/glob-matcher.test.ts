import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GlobMatcher, METRIC_TYPES, type GlobRule, type MappingMetricType } from '../../agent/mapping/glob-matcher.js';

/** The obvious implementation: every rule as an anchored regex, tried in order. */
function naiveOrdered(rules: GlobRule[], name: string, type: MappingMetricType) {
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i]!;
    if (rule.metricType !== undefined && rule.metricType !== type) continue;
    const source = rule.pattern.split('.').map((c) => (c === '*' ? '([^.]*)' : c)).join('\\.');
    const m = new RegExp(`^${source}$`).exec(name);
    if (m) return { rule: i, captures: m.slice(1) };
  }
  return undefined;
}

/** glob_disable_ordering: literal beats "*" component by component; identical patterns go by order. */
function naiveUnordered(rules: GlobRule[], name: string, type: MappingMetricType) {
  const matching = rules
    .map((rule, i) => ({ rule, i, hit: naiveOrdered([rule], name, type) }))
    .filter((r) => r.hit !== undefined);
  const rank = (p: string) => p.split('.').map((c) => (c === '*' ? '1' : '0')).join('');
  matching.sort((a, b) => rank(a.rule.pattern).localeCompare(rank(b.rule.pattern)) || a.i - b.i);
  const best = matching[0];
  return best ? { rule: best.i, captures: best.hit!.captures } : undefined;
}

const component = fc.constantFrom('a', 'b', 'c');
const rule = fc.record({
  pattern: fc.array(fc.oneof(component, fc.constant('*')), { minLength: 1, maxLength: 4 }).map((c) => c.join('.')),
  metricType: fc.option(fc.constantFrom(...METRIC_TYPES), { nil: undefined }),
});
const name = fc.array(fc.constantFrom('a', 'b', 'c', 'd', ''), { minLength: 1, maxLength: 4 }).map((c) => c.join('.'));
const type = fc.constantFrom(...METRIC_TYPES);

describe('GlobMatcher', () => {
  it('agrees with in-order anchored regexes (statsd_exporter ordering)', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 25 }), fc.array(fc.tuple(name, type), { minLength: 1, maxLength: 20 }), (rules, probes) => {
        const matcher = new GlobMatcher(rules, { ordered: true });
        for (const [n, t] of probes) expect(matcher.match(n, t)).toEqual(naiveOrdered(rules, n, t));
      }),
      { numRuns: 300 },
    );
  });

  it('agrees with most-specific-first when ordering is disabled', () => {
    fc.assert(
      fc.property(fc.array(rule, { maxLength: 25 }), fc.array(fc.tuple(name, type), { minLength: 1, maxLength: 20 }), (rules, probes) => {
        const matcher = new GlobMatcher(rules, { ordered: false });
        for (const [n, t] of probes) expect(matcher.match(n, t)).toEqual(naiveUnordered(rules, n, t));
      }),
      { numRuns: 300 },
    );
  });

  it('treats a "*" in the name as an ordinary character', () => {
    const matcher = new GlobMatcher([{ pattern: 'a.b' }, { pattern: 'a.*' }], { ordered: true });
    expect(matcher.match('a.*', 'gauge')).toEqual({ rule: 1, captures: ['*'] });
  });

  it('differs between ordered and unordered exactly where order matters', () => {
    const rules = [{ pattern: 'x.*' }, { pattern: 'x.y' }];
    expect(new GlobMatcher(rules, { ordered: true }).match('x.y', 'counter')?.rule).toBe(0);
    expect(new GlobMatcher(rules, { ordered: false }).match('x.y', 'counter')?.rule).toBe(1);
  });
});
