/** Types for dashboards/preview/variables.mjs (values for a dashboard's template variables). */
import type { VariableSelection } from './macros.mjs';

export interface ResolvedVariable extends VariableSelection {
  name: string;
  /** Where the value came from, or why there is none ("no ..."). */
  note: string;
}

/** A custom variable's option values: its saved options, else its query in Grafana's syntax ("a,b" or "Label : value" entries). */
export declare function customOptions(variable: { options?: Array<{ value: unknown }>; query?: unknown; definition?: unknown }): string[];

/** Resolves every variable of `templating.list` (overrides, saved value, or the variable's query against Prometheus). */
export declare function resolveVariables(
  dashboard: { templating?: { list?: Array<Record<string, any>> } },
  options: {
    prom: unknown;
    range: { fromMs: number; toMs: number };
    overrides?: Record<string, string[]>;
    macros?: Record<string, string>;
  },
): Promise<{ variables: Record<string, ResolvedVariable>; problems: string[] }>;
