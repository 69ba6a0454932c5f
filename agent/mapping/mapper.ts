import { GlobMatcher, type MappingMetricType } from './glob-matcher.js';
import { compileGoRegex } from './go-regex.js';
import type { ExponentialOptions, MappingConfig, MappingDefaults, MappingRule, ObserverType, Quantile } from './mapping-rules.js';
import { compileGlobTemplate, compileRegexTemplate, expandGlob, expandRegex, type Template } from './template.js';

export type { MappingMetricType } from './glob-matcher.js';

export interface MappingResult {
  action: 'map' | 'drop';
  /**
   * The expanded name, not yet escaped: statsd_exporter passes it through
   * escapeMetricName, and drops the sample when it expands to "".
   */
  name: string;
  /** Expanded rule labels, in rule order. */
  labels: Array<[string, string]>;
  /**
   * undefined when neither the rule nor the defaults set one: statsd_exporter
   * then makes a summary, Tally keeps its own default, a histogram.
   */
  observerType?: ObserverType;
  buckets?: number[];
  quantiles?: Array<{ quantile: number; error: number }>;
  /** The sliding window of a summary (`summary_options.max_age`, `age_buckets`). */
  maxAgeMs: number;
  ageBuckets: number;
  /** 0 = never expire. */
  ttlMs?: number;
  ruleIndex: number;
  /** `help:` text for the metric. */
  help?: string;
  /** `honor_labels: true`: a tag of the same name on the sample beats the rule's label. */
  honorLabels: boolean;
  /** `scale:` multiplies every sample value (sets' members excepted). */
  scale?: number;
  /** The rule's (or the defaults') native histogram options: observers also keep an exponential histogram. */
  exponential?: ExponentialOptions;
}

// statsd_exporter's --statsd.cache-size default.
export const DEFAULT_MAPPING_CACHE_SIZE = 1000;

interface CompiledRule {
  index: number;
  rule: MappingRule;
  nameTemplate: Template;
  labelTemplates: Template[];
  regex: RegExp | undefined;
  /** The parts of a result that do not depend on the name, shared by every result of this rule. */
  base: Omit<MappingResult, 'name' | 'labels'>;
}

// One cache entry per statsd name, with a slot per metric type: keying by
// name alone avoids building a "type.name" string for every lookup. A slot
// holds null for a cached miss and undefined when not yet looked up.
type Slots = [MappingResult | null | undefined, MappingResult | null | undefined, MappingResult | null | undefined];

/**
 * statsd_exporter's mapper: glob rules first (all of them, wherever they
 * appear in the file), then regex rules in file order; the first rule that
 * matches decides. Results, misses included, are kept in an LRU cache of
 * `cacheSize` names (0 turns it off). A result is shared between lookups and
 * must not be modified.
 */
export class Mapper {
  readonly defaults: MappingDefaults;
  private readonly rules: CompiledRule[];
  private readonly glob: GlobMatcher | undefined;
  private readonly globRules: CompiledRule[];
  private readonly regexRules: CompiledRule[];
  private readonly cacheSize: number;
  private readonly cache = new Map<string, Slots>();

  constructor(config: MappingConfig, opts: { cacheSize?: number } = {}) {
    this.defaults = config.defaults;
    this.cacheSize = Math.max(0, Math.floor(opts.cacheSize ?? DEFAULT_MAPPING_CACHE_SIZE));
    this.rules = config.mappings.map((rule, index) => compileRule(rule, index));
    this.globRules = this.rules.filter((r) => r.regex === undefined);
    this.regexRules = this.rules.filter((r) => r.regex !== undefined);
    this.glob =
      this.globRules.length === 0
        ? undefined
        : new GlobMatcher(
            this.globRules.map((r) => ({ pattern: r.rule.match, metricType: r.rule.matchMetricType })),
            { ordered: !config.defaults.globDisableOrdering },
          );
  }

  /** undefined when no rule matches (the metric then keeps its own name). */
  map(statsdName: string, type: MappingMetricType): MappingResult | undefined {
    if (this.cacheSize === 0) return this.lookup(statsdName, type) ?? undefined;
    const slot = type === 'counter' ? 0 : type === 'gauge' ? 1 : 2;
    let slots = this.cache.get(statsdName);
    if (slots !== undefined) {
      const cached = slots[slot];
      // Re-inserting moves the name to the young end of the Map's order.
      this.cache.delete(statsdName);
      this.cache.set(statsdName, slots);
      if (cached !== undefined) return cached ?? undefined;
    } else {
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
      slots = [undefined, undefined, undefined];
      this.cache.set(statsdName, slots);
    }
    const result = this.lookup(statsdName, type);
    slots[slot] = result;
    return result ?? undefined;
  }

  /** Names currently cached (each may hold results for several metric types). */
  get cacheLength(): number {
    return this.cache.size;
  }

  private lookup(name: string, type: MappingMetricType): MappingResult | null {
    if (this.glob) {
      const hit = this.glob.match(name, type);
      if (hit) {
        const r = this.globRules[hit.rule]!;
        return finish(
          r,
          expandGlob(r.nameTemplate, hit.captures),
          r.labelTemplates.map((t, i) => [r.rule.labels[i]![0], expandGlob(t, hit.captures)]),
        );
      }
    }
    for (const r of this.regexRules) {
      if (r.rule.matchMetricType !== undefined && r.rule.matchMetricType !== type) continue;
      const m = r.regex!.exec(name);
      if (!m) continue;
      return finish(
        r,
        expandRegex(r.nameTemplate, m),
        r.labelTemplates.map((t, i) => [r.rule.labels[i]![0], expandRegex(t, m)]),
      );
    }
    return null;
  }
}

function finish(r: CompiledRule, name: string, labels: Array<[string, string]>): MappingResult {
  return Object.freeze({ ...r.base, name, labels: Object.freeze(labels) as Array<[string, string]> });
}

function compileRule(rule: MappingRule, index: number): CompiledRule {
  let nameTemplate: Template;
  let labelTemplates: Template[];
  let regex: RegExp | undefined;
  if (rule.matchType === 'glob') {
    const stars = rule.match.split('.').filter((c) => c === '*').length;
    nameTemplate = compileGlobTemplate(rule.name, stars);
    labelTemplates = rule.labels.map(([, value]) => compileGlobTemplate(value, stars));
  } else {
    const compiled = compileGoRegex(rule.match);
    regex = compiled.regex;
    nameTemplate = compileRegexTemplate(rule.name, compiled.groupCount, compiled.groupNames);
    labelTemplates = rule.labels.map(([, value]) => compileRegexTemplate(value, compiled.groupCount, compiled.groupNames));
  }
  const base: CompiledRule['base'] = {
    action: rule.action,
    ttlMs: rule.ttlMs,
    ruleIndex: index,
    honorLabels: rule.honorLabels,
    buckets: Object.freeze([...rule.buckets]) as number[],
    maxAgeMs: rule.maxAgeMs,
    ageBuckets: rule.ageBuckets,
    quantiles: Object.freeze(rule.quantiles.map((q: Quantile) => Object.freeze({ ...q }))) as Quantile[],
  };
  if (rule.observerType !== undefined) base.observerType = rule.observerType;
  if (rule.help !== undefined) base.help = rule.help;
  if (rule.scale !== undefined) base.scale = rule.scale;
  if (rule.exponential !== undefined) base.exponential = Object.freeze({ ...rule.exponential });
  return { index, rule, nameTemplate, labelTemplates, regex, base };
}
