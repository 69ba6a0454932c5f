/**
 * A name or label-value template compiled once per rule: literal text with
 * capture references in between. `parts` alternates literal strings and
 * capture selectors; expansion is a single pass with no parsing.
 */
export type TemplatePart = string | number | { group: string };
export type Template = readonly TemplatePart[];

// statsd_exporter's glob formatter recognises `$` + optional `{` + a run of
// [a-zA-Z0-9_$] + optional `}`, with the braces independent of each other.
// A run that is not a number from 1 to the rule's `*` count expands to
// nothing, so "$1_foo" (the run "1_foo") is empty, not "<capture>_foo".
const GLOB_REFERENCE = /\$\{?([a-zA-Z0-9_$]+)\}?/g;

/** Compiles a glob rule's template; numbers in the result are 0-based capture indexes. */
export function compileGlobTemplate(template: string, captureCount: number): Template {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of template.matchAll(GLOB_REFERENCE)) {
    if (m.index > last) parts.push(template.slice(last, m.index));
    const ref = m[1]!;
    const index = /^\d+$/.test(ref) ? Number(ref) : NaN;
    if (index >= 1 && index <= captureCount) parts.push(index - 1);
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  return mergeLiterals(parts);
}

// Go's Regexp.Expand caps numeric references here; a longer run of digits
// is looked up as a group name, which never exists.
const GO_MAX_GROUP_NUMBER = 1e8;

/**
 * Compiles a regex rule's template with Go's Regexp.Expand rules: `$$` is a
 * literal dollar, `$name`/`${name}` take the longest run of letters, digits
 * and `_` ("$1x" names the group "1x", which does not exist, so expands to
 * nothing), `$0` is the whole match, and a `$` that starts no valid
 * reference stays literal.
 */
export function compileRegexTemplate(template: string, groupCount: number, groupNames: ReadonlySet<string>): Template {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < template.length) {
    const dollar = template.indexOf('$', i);
    if (dollar < 0) {
      literal += template.slice(i);
      break;
    }
    literal += template.slice(i, dollar);
    i = dollar + 1;
    if (template[i] === '$') {
      literal += '$';
      i++;
      continue;
    }
    const braced = template[i] === '{';
    const nameStart = braced ? i + 1 : i;
    let nameEnd = nameStart;
    while (nameEnd < template.length && /[\p{L}\p{Nd}_]/u.test(template[nameEnd]!)) nameEnd++;
    if (nameEnd === nameStart || (braced && template[nameEnd] !== '}')) {
      literal += '$';
      continue;
    }
    const name = template.slice(nameStart, nameEnd);
    i = braced ? nameEnd + 1 : nameEnd;
    if (literal !== '') parts.push(literal);
    literal = '';
    const number = /^\d+$/.test(name) ? Number(name) : NaN;
    if (number < GO_MAX_GROUP_NUMBER) {
      if (number <= groupCount) parts.push(number);
    } else if (groupNames.has(name)) {
      parts.push({ group: name });
    }
  }
  if (literal !== '') parts.push(literal);
  return mergeLiterals(parts);
}

/** Expands a glob template against the `*` captures. */
export function expandGlob(template: Template, captures: readonly string[]): string {
  if (template.length === 1 && typeof template[0] === 'string') return template[0];
  let out = '';
  for (const part of template) out += typeof part === 'string' ? part : typeof part === 'number' ? captures[part]! : '';
  return out;
}

/** Expands a regex template against a RegExp match; groups that did not take part expand to nothing. */
export function expandRegex(template: Template, match: RegExpExecArray): string {
  if (template.length === 1 && typeof template[0] === 'string') return template[0];
  let out = '';
  for (const part of template) {
    if (typeof part === 'string') out += part;
    else if (typeof part === 'number') out += match[part] ?? '';
    else out += match.groups?.[part.group] ?? '';
  }
  return out;
}

function mergeLiterals(parts: TemplatePart[]): Template {
  const merged: TemplatePart[] = [];
  for (const part of parts) {
    const prev = merged[merged.length - 1];
    if (typeof part === 'string' && typeof prev === 'string') merged[merged.length - 1] = prev + part;
    else merged.push(part);
  }
  return merged.length === 0 ? [''] : merged;
}
