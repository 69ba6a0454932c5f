/** Types for scripts/prom-text.mjs (the one Prometheus text exposition reader of the tests, benches and demo). */

export type Labels = Record<string, string>;

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
  /** The line as served, for error messages. */
  line: string;
}

export interface FamilyMeta {
  type?: string;
  /** As served: `\\` and `\n` still escaped. */
  help?: string;
  /** As served, like help. */
  unit?: string;
}

export interface Exposition {
  samples: Sample[];
  /** Keyed by family name, from the `# TYPE`, `# HELP` and `# UNIT` comments. */
  families: Map<string, FamilyMeta>;
}

/** Throws on any non-blank line that is neither a comment nor a well-formed sample, naming the line. */
export declare function parsePromText(text: string): Exposition;
/** Every sample of that exact name (no `_bucket`/`_sum` expansion), in served order. */
export declare function samplesNamed(src: string | Exposition, name: string): Sample[];
/**
 * The value of the sample with exactly this name and exactly this label set
 * (a missing `labels` means "no labels"), or undefined when there is none;
 * throws when that series is served more than once.
 */
export declare function findSample(src: string | Exposition, name: string, labels?: Labels): number | undefined;
/** Like findSample, but a missing sample throws with the samples of that name that were served. */
export declare function sampleValue(src: string | Exposition, name: string, labels?: Labels): number;
/** The sum of every sample of that name whose labels include `labels` (e.g. all reasons of an error counter). */
export declare function sumSamples(src: string | Exposition, name: string, labels?: Labels): number;
/** The `# TYPE` of a family, or undefined when none is declared. */
export declare function familyType(src: string | Exposition, family: string): string | undefined;
/** `{k="v",...}` for messages; empty for no labels. */
export declare function formatLabels(labels: Labels): string;
