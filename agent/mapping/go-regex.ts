/**
 * statsd_exporter compiles `match_type: regex` rules with Go's regexp (RE2
 * syntax) and searches, unanchored, for the leftmost-first match. JavaScript
 * RegExp shares that search order, so a rule runs as a JS RegExp after the
 * syntax that differs is rewritten. Anything RE2 rejects (look-around,
 * backreferences) is rejected here too, so a file both tools accept means
 * the same thing in both; RE2 syntax with no faithful rewrite (Unicode
 * classes, inline flags after the start) is an error rather than a
 * near-miss.
 */
export interface GoRegex {
  regex: RegExp;
  /** Number of capturing groups, named ones included (Go numbers them all). */
  groupCount: number;
  groupNames: Set<string>;
}

export class GoRegexError extends Error {}

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

// RE2's Perl classes are ASCII-only; JS's \s also takes Unicode spaces.
const GO_SPACE = '\\t\\n\\f\\r ';

export function compileGoRegex(source: string): GoRegex {
  let flags = '';
  let i = 0;
  const leading = /^\(\?([imsU]+)\)/.exec(source);
  if (leading) {
    for (const f of leading[1]!) {
      if (f === 'U') throw new GoRegexError('the (?U) flag (ungreedy) has no JavaScript equivalent');
      if (!flags.includes(f)) flags += f;
    }
    i = leading[0].length;
  }

  let out = '';
  let inClass = false;
  let classStart = false;
  let groupCount = 0;
  const groupNames = new Set<string>();
  while (i < source.length) {
    const ch = source[i]!;
    if (ch === '\\') {
      const next = source[i + 1];
      if (next === undefined) throw new GoRegexError('trailing backslash at end of expression');
      if (next === 'Q') {
        const end = source.indexOf('\\E', i + 2);
        const quoted = source.slice(i + 2, end < 0 ? source.length : end);
        out += quoted.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
        i = end < 0 ? source.length : end + 2;
        classStart = false;
        continue;
      }
      if (/[1-9]/.test(next)) throw new GoRegexError(`invalid escape sequence: \\${next} (Go regexp has no backreferences)`);
      if (next === 'p' || next === 'P') throw new GoRegexError(`Unicode classes (\\${next}) are not supported`);
      if (next === 'C') throw new GoRegexError('\\C is not supported');
      if (next === 'k') throw new GoRegexError('invalid escape sequence: \\k');
      if (next === 'z' && !inClass) out += '(?![\\s\\S])';
      else if (next === 'A' && !inClass) out += '(?<![\\s\\S])';
      else if (next === 's') out += inClass ? GO_SPACE : `[${GO_SPACE}]`;
      else if (next === 'S') {
        if (inClass) throw new GoRegexError('\\S inside a character class is not supported');
        out += `[^${GO_SPACE}]`;
      } else if (next === 'x' && source[i + 2] === '{') {
        const close = source.indexOf('}', i + 3);
        const hex = close < 0 ? '' : source.slice(i + 3, close);
        if (!/^[0-9A-Fa-f]{1,6}$/.test(hex)) throw new GoRegexError('invalid escape sequence: \\x{');
        const code = parseInt(hex, 16);
        if (code > 0xffff) throw new GoRegexError(`\\x{${hex}} beyond U+FFFF is not supported`);
        out += `\\u${code.toString(16).padStart(4, '0')}`;
        i = close + 1;
        classStart = false;
        continue;
      } else out += ch + next;
      i += 2;
      classStart = false;
      continue;
    }
    if (inClass) {
      if (source.startsWith('[:', i)) {
        const m = /^\[:(\^?)([a-z]+):\]/.exec(source.slice(i));
        const cls = m ? POSIX_CLASSES[m[2]!] : undefined;
        if (m && cls !== undefined) {
          if (m[1] === '^') throw new GoRegexError(`negated POSIX class [:^${m[2]}:] is not supported`);
          out += cls;
          i += m[0].length;
          classStart = false;
          continue;
        }
      }
      // RE2 takes "]" right after "[" or "[^" as a literal; JS would end an empty class.
      if (ch === ']' && classStart) out += '\\]';
      else {
        if (ch === ']') inClass = false;
        out += ch === '[' ? '\\[' : ch;
      }
      classStart = false;
      i++;
      continue;
    }
    if (ch === '[') {
      inClass = true;
      if (source[i + 1] === '^') {
        out += '[^';
        i += 2;
      } else {
        out += '[';
        i++;
      }
      classStart = true;
      continue;
    }
    if (ch === '(') {
      if (source[i + 1] === '?') {
        const rest = source.slice(i + 2);
        const named = /^P?<([A-Za-z0-9_]+)>/.exec(rest);
        if (named) {
          const name = named[1]!;
          if (groupNames.has(name)) throw new GoRegexError(`duplicate capture group name: ${name}`);
          groupNames.add(name);
          groupCount++;
          out += `(?<${name}>`;
          i += 2 + named[0].length;
          continue;
        }
        if (rest.startsWith(':')) {
          out += '(?:';
          i += 3;
          continue;
        }
        if (/^(=|!|<=|<!)/.test(rest)) throw new GoRegexError('look-around assertions are not supported by Go regexp');
        throw new GoRegexError(`inline flags other than a leading (?i), (?m) or (?s) are not supported: (?${rest.slice(0, 8)}`);
      }
      groupCount++;
      out += '(';
      i++;
      continue;
    }
    // Go's "." takes any character but "\n"; JS's also refuses \r, U+2028 and U+2029.
    if (ch === '.') out += flags.includes('s') ? '[\\s\\S]' : '[^\\n]';
    else out += ch;
    i++;
  }
  if (inClass) throw new GoRegexError('missing closing ]');

  let regex: RegExp;
  try {
    regex = new RegExp(out, flags.replace('s', ''));
  } catch (err) {
    throw new GoRegexError((err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /, ''));
  }
  return { regex, groupCount, groupNames };
}
