export type MappingMetricType = 'counter' | 'gauge' | 'observer';

export const METRIC_TYPES: readonly MappingMetricType[] = ['counter', 'gauge', 'observer'];

export interface GlobRule {
  /** Dot-separated components, each a literal or "*" (one whole component). */
  pattern: string;
  /** Only names of this type match; undefined matches every type. */
  metricType?: MappingMetricType | undefined;
}

export interface GlobMatch {
  /** Index of the rule in the array given to the constructor. */
  rule: number;
  /** What each "*" matched, left to right. */
  captures: string[];
}

interface Node {
  literal: Map<string, Node> | undefined;
  star: Node | undefined;
  /** The earliest rule ending here, or -1. */
  terminal: number;
  /** The earliest rule ending anywhere below (or at) this node: lets a search skip subtrees that cannot win. */
  best: number;
}

const NONE = Number.MAX_SAFE_INTEGER;

const newNode = (): Node => ({ literal: undefined, star: undefined, terminal: -1, best: NONE });

/**
 * Many glob rules matched at once: a trie over dot-separated components, one
 * per metric type and component count, so a name only meets rules of its own
 * type and length, and a lookup costs the name's depth times the branching
 * that wildcards force, not the number of rules.
 *
 * Ordered (statsd_exporter's default): of all rules matching a name, the one
 * listed first wins, whatever mix of literals and "*" it has. The search
 * tries the literal branch first and abandons any subtree whose earliest
 * rule cannot beat the best found so far, so ordinary rule sets resolve on
 * the first path.
 *
 * Unordered (`glob_disable_ordering: true`): at each component a literal
 * beats "*", and the first complete path in that preference wins; rule
 * order only breaks ties between identical patterns.
 */
export class GlobMatcher {
  private readonly roots: Map<number, Node>[];
  private readonly ordered: boolean;

  constructor(rules: readonly GlobRule[], opts: { ordered: boolean }) {
    this.ordered = opts.ordered;
    this.roots = METRIC_TYPES.map(() => new Map<number, Node>());
    rules.forEach((rule, index) => {
      const components = rule.pattern.split('.');
      for (let t = 0; t < METRIC_TYPES.length; t++) {
        if (rule.metricType !== undefined && rule.metricType !== METRIC_TYPES[t]) continue;
        let node = this.roots[t]!.get(components.length);
        if (!node) this.roots[t]!.set(components.length, (node = newNode()));
        if (node.best > index) node.best = index;
        for (const component of components) {
          let child: Node | undefined;
          if (component === '*') child = node.star ??= newNode();
          else {
            node.literal ??= new Map();
            child = node.literal.get(component);
            if (!child) node.literal.set(component, (child = newNode()));
          }
          if (child.best > index) child.best = index;
          node = child;
        }
        if (node.terminal < 0) node.terminal = index;
      }
    });
  }

  match(name: string, type: MappingMetricType): GlobMatch | undefined {
    const components = name.split('.');
    const root = this.roots[typeIndex(type)]!.get(components.length);
    if (!root) return undefined;
    const search = new Search(components, this.ordered);
    search.visit(root, 0);
    return search.found < 0 ? undefined : { rule: search.found, captures: search.foundCaptures };
  }
}

function typeIndex(type: MappingMetricType): number {
  return type === 'counter' ? 0 : type === 'gauge' ? 1 : 2;
}

class Search {
  found = -1;
  foundCaptures: string[] = [];
  private bestSoFar = NONE;
  private readonly captures: string[] = [];

  constructor(
    private readonly components: string[],
    private readonly ordered: boolean,
  ) {}

  /** Returns true when the search is over (unordered: the first hit ends it). */
  visit(node: Node, depth: number): boolean {
    if (depth === this.components.length) {
      if (node.terminal >= 0 && node.terminal < this.bestSoFar) {
        this.bestSoFar = node.terminal;
        this.found = node.terminal;
        this.foundCaptures = this.captures.slice();
        return !this.ordered;
      }
      return false;
    }
    const component = this.components[depth]!;
    const literal = node.literal?.get(component);
    if (literal && literal.best < this.bestSoFar && this.visit(literal, depth + 1)) return true;
    const star = node.star;
    if (star && star.best < this.bestSoFar) {
      this.captures.push(component);
      const done = this.visit(star, depth + 1);
      this.captures.pop();
      if (done) return true;
    }
    return false;
  }
}
