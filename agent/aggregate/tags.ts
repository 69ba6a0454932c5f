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
