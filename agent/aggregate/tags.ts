/**
 * Splits a DogStatsD tag list ("k:v,k2:v2,flag") into pairs. Tags without a
 * key or without ":" were already counted by the parser and give no label.
 * The value keeps any further ':' ("url:http://x" → url = "http://x").
 */
export function decodeTags(list: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const tag of list.split(',')) {
    const colon = tag.indexOf(':');
    if (colon <= 0) continue;
    out.push([tag.slice(0, colon), tag.slice(colon + 1)]);
  }
  return out;
}
