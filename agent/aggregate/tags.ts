/** A DogStatsD tag list ("k:v,k2:v2,flag") as label pairs. */
export interface DecodedTags {
  pairs: Array<[string, string]>;
  /** Tags that give no label: flags without ":" and tags with an empty key. */
  malformed: number;
}

/** The value keeps any further ':' ("url:http://x" gives url = "http://x"). Empty entries (",,") are skipped. */
export function decodeTags(list: string): DecodedTags {
  const pairs: Array<[string, string]> = [];
  let malformed = 0;
  for (const tag of list.split(',')) {
    if (tag.length === 0) continue;
    const colon = tag.indexOf(':');
    if (colon <= 0) {
      malformed++;
      continue;
    }
    pairs.push([tag.slice(0, colon), tag.slice(colon + 1)]);
  }
  return { pairs, malformed };
}

/** A statsd name split from the tags written into it, or why it cannot be. */
export type NameTags =
  | {
      name: string;
      pairs: Array<[string, string]>;
      /** SignalFx entries that give no label (not key=value, or empty): counted as malformed_tag. */
      malformed: number;
    }
  | { error: 'bad_tag_style' };

const STYLE_CHARS = /[,#[\]]/;

/**
 * Reads the tag styles statsd_exporter accepts inside the name: InfluxDB
 * (`name,k=v,k2=v2`), Librato (`name#k=v,k2=v2`) and SignalFx
 * (`name[k=v,k2=v2]`, the bracket anywhere in the name). One style per name;
 * a mix of styles, an unclosed bracket or a tag without `=` is rejected,
 * never guessed at. Brackets are the exception, as statsd_exporter reads
 * them: their delimiters are explicit, so `name.[]rest` is just `name.rest`
 * and an entry that is not key=value is skipped (counted) while the name and
 * the other entries stand. After `,` or `#` nothing marks where a name ends,
 * so there a broken list still rejects the line.
 */
export function splitNameTags(raw: string): NameTags {
  if (!STYLE_CHARS.test(raw)) return { name: raw, pairs: [], malformed: 0 };
  const open = raw.indexOf('[');
  if (open !== -1) {
    const close = raw.indexOf(']', open);
    if (close === -1) return { error: 'bad_tag_style' };
    const name = raw.slice(0, open) + raw.slice(close + 1);
    if (STYLE_CHARS.test(name) || name.length === 0) return { error: 'bad_tag_style' };
    return bracketPairs(name, raw.slice(open + 1, close));
  }
  if (raw.includes(']')) return { error: 'bad_tag_style' };
  const comma = raw.indexOf(',');
  const hash = raw.indexOf('#');
  if (hash !== -1 && (comma === -1 || hash < comma)) {
    if (raw.indexOf('#', hash + 1) !== -1) return { error: 'bad_tag_style' };
    return withPairs(raw.slice(0, hash), raw.slice(hash + 1));
  }
  if (hash !== -1) return { error: 'bad_tag_style' };
  return withPairs(raw.slice(0, comma), raw.slice(comma + 1));
}

function withPairs(name: string, list: string): NameTags {
  if (name.length === 0) return { error: 'bad_tag_style' };
  const pairs: Array<[string, string]> = [];
  for (const tag of list.split(',')) {
    const eq = tag.indexOf('=');
    if (eq <= 0) return { error: 'bad_tag_style' };
    pairs.push([tag.slice(0, eq), tag.slice(eq + 1)]);
  }
  return { name, pairs, malformed: 0 };
}

function bracketPairs(name: string, list: string): NameTags {
  const pairs: Array<[string, string]> = [];
  let malformed = 0;
  if (list.length === 0) return { name, pairs, malformed };
  for (const tag of list.split(',')) {
    const eq = tag.indexOf('=');
    if (eq <= 0) malformed++;
    else pairs.push([tag.slice(0, eq), tag.slice(eq + 1)]);
  }
  return { name, pairs, malformed };
}
