/** Types for dashboards/preview/macros.mjs (Grafana's macro and variable interpolation for Prometheus queries). */

/** A dashboard variable's selection as interpolation needs it. */
export interface VariableSelection {
  /** The selected values; with All selected, every option's value. */
  values: string[];
  isAll?: boolean;
  /** Inserted as written for All when set (Tally's dashboards set `.*`). */
  allValue?: string | null;
  multi?: boolean;
  includeAll?: boolean;
}

export interface InterpolationScope {
  variables?: Record<string, VariableSelection>;
  /** Built-in macro values by name without `$` (see builtinMacros). */
  macros?: Record<string, string>;
  /** Throw on an unknown name, `${var.field}` or a format on a macro, instead of leaving the text as written. */
  strict?: boolean;
}

export declare function promRegularEscape(value: string): string;
export declare function promRegexEscape(value: string): string;
/** `$__interval`, `$__rate_interval`, `$__range` and friends for one query; a queryTiming() result fits. */
export declare function builtinMacros(t: { fromMs: number; toMs: number; intervalMs: number; scrapeIntervalMs: number }): Record<string, string>;
export declare function interpolate(text: string, scope?: InterpolationScope): string;
export declare function interpolateText(text: string, scope: InterpolationScope): string;
/** Names a text refers to ($var, ${var}, [[var]]), built-in macros included. */
export declare function referencedNames(text: string): Set<string>;
export declare function renderLegend(format: string | undefined, labels: Record<string, string>, scope: InterpolationScope): string;
export declare function defaultSeriesName(labels: Record<string, string>): string;
