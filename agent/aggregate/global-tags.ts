import { sanitizeLabelName } from './prometheus-names.js';

/** Where the tags every series carries come from, lowest precedence first. */
export interface GlobalTagSources {
  /** `tags:` in the config file. */
  config: Readonly<Record<string, string>>;
  /**
   * The OpenTelemetry resource the environment describes
   * (OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME), read by the caller with
   * the SDK's own detector so its parsing rules apply.
   */
  resource: Readonly<Record<string, unknown>>;
  /** TALLY_TAGS, in DogStatsD's DD_TAGS form: "version:1.4.0,env:prod" (commas or spaces). */
  tallyTags: string | undefined;
}

export interface GlobalTags {
  /** Label name (sanitized as every label) and value, sorted by name, each name once. */
  readonly pairs: ReadonlyArray<readonly [string, string]>;
  /** Entries of TALLY_TAGS that name no tag (no ':' or an empty key or value), to be reported. */
  readonly ignored: readonly string[];
}

/**
 * The resource attributes that say what a sidecar sits beside, under the
 * short names dashboards group by. `deployment.environment.name` is the
 * current semantic convention and wins over the older
 * `deployment.environment`.
 */
const FROM_RESOURCE: ReadonlyArray<readonly [string, string]> = [
  ['service.name', 'service'],
  ['service.version', 'version'],
  ['deployment.environment', 'env'],
  ['deployment.environment.name', 'env'],
];

/**
 * Merges the sources, each later one overriding a tag of the same name: the
 * config file, then the OpenTelemetry environment, then TALLY_TAGS. The
 * environment wins over the file because it is what a deployment sets per
 * instance (the version being rolled out); a tag sent on the line wins over
 * all of them, which the aggregator sees to.
 */
export function globalTags(src: GlobalTagSources): GlobalTags {
  const tags = new Map<string, string>();
  const set = (key: string, value: string) => {
    if (value !== '') tags.set(sanitizeLabelName(key), value);
  };
  for (const [k, v] of Object.entries(src.config)) set(k, v);
  for (const [attribute, tag] of FROM_RESOURCE) {
    const v = src.resource[attribute];
    if (typeof v === 'string') set(tag, v);
  }
  const ignored: string[] = [];
  for (const entry of (src.tallyTags ?? '').split(/[,\s]+/)) {
    if (entry === '') continue;
    const colon = entry.indexOf(':');
    if (colon <= 0 || colon === entry.length - 1) ignored.push(entry);
    else set(entry.slice(0, colon), entry.slice(colon + 1));
  }
  const pairs = [...tags.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { pairs, ignored };
}
