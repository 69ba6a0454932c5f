// The one reader of the Prometheus text exposition format (0.0.4) for the
// tests, the benches and the demo. It is plain ESM so that bench/*.mjs and
// demo/run.mjs, which node runs without a TypeScript loader, share it with the
// tests (test/support/prom-text.ts re-exports it; scripts/prom-text.d.mts
// gives its types).
//
// It is strict on purpose: a line it cannot read throws, so a malformed
// exposition fails the test or bench that reads it instead of silently hiding
// samples. Comments other than TYPE, HELP and UNIT are allowed by the format
// and skipped; every other non-blank line must be one sample.

/** Parses a whole exposition into its samples, in served order, and its families' metadata. */
export function parsePromText(text) {
  const samples = [];
  const families = new Map();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(TYPE|HELP|UNIT)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (!m) continue;
      const meta = families.get(m[2]) ?? {};
      const rest = m[3] ?? '';
      if (m[1] === 'TYPE') {
        if (rest.trim() === '') throw lineError(n + 1, line, 'TYPE without a type');
        meta.type = rest.trim();
      } else {
        // Kept as served, escapes and all, since tests check the agent's escaping of help text
        // (escapeHelp); an escape the format does not have still fails the read.
        if (unescapeText(rest, false) === undefined) throw lineError(n + 1, line, `bad escape in ${m[1]} text`);
        if (m[1] === 'HELP') meta.help = rest;
        else meta.unit = rest;
      }
      families.set(m[2], meta);
      continue;
    }
    samples.push(parseSampleLine(line, n + 1));
  }
  return { samples, families };
}

function lineError(lineNo, line, why) {
  return new Error(`exposition line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
}

/** `\\`, `\n` and, in label values, `\"`; undefined on any other escape or a trailing backslash. */
function unescapeText(s, quotes) {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[++i];
    if (e === 'n') out += '\n';
    else if (e === '\\' || (quotes && e === '"')) out += e;
    else return undefined;
  }
  return out;
}

function parseSampleLine(line, lineNo) {
  const fail = (why) => {
    throw lineError(lineNo, line, why);
  };
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) return fail('no metric name');
  const name = nameMatch[0];
  let i = name.length;
  const labels = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!key) return fail(`bad label name at column ${i + 1}`);
      i += key[0].length;
      if (line[i] !== '=' || line[i + 1] !== '"') return fail(`expected =" at column ${i + 1}`);
      i += 2;
      // The value ends at the first quote that no backslash escapes.
      const start = i;
      while (line[i] !== '"') {
        if (line[i] === undefined) return fail('unterminated label value');
        i += line[i] === '\\' ? 2 : 1;
      }
      const labelValue = unescapeText(line.slice(start, i), true);
      if (labelValue === undefined) return fail(`bad escape in label value at column ${start + 1}`);
      i++;
      // An own-property check: a label named like an Object.prototype member ("constructor") is not a repeat.
      if (Object.prototype.hasOwnProperty.call(labels, key[0])) return fail(`label ${key[0]} given twice`);
      // defineProperty, not assignment: a label named __proto__ is a label here, not the object's prototype.
      Object.defineProperty(labels, key[0], { value: labelValue, enumerable: true, writable: true, configurable: true });
      while (line[i] === ' ') i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') return fail(`expected , or } at column ${i + 1}`);
    }
  }
  if (i < line.length && line[i] !== ' ' && line[i] !== '\t') return fail(`expected a space after the name and labels at column ${i + 1}`);
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length > 2 || rest[0] === '') return fail('expected a value and an optional timestamp');
  const value = parseValue(rest[0]);
  if (value === undefined) return fail(`bad value ${rest[0]}`);
  if (rest[1] !== undefined && !/^-?\d+$/.test(rest[1])) return fail(`bad timestamp ${rest[1]}`);
  return { name, labels, value, line };
}

function parseValue(s) {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

function sameLabels(a, b) {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}

function toExposition(src) {
  return typeof src === 'string' ? parsePromText(src) : src;
}

/** Every sample of that exact name (no `_bucket`/`_sum` expansion), in served order. */
export function samplesNamed(src, name) {
  return toExposition(src).samples.filter((s) => s.name === name);
}

/**
 * The value of the sample with exactly this name and exactly this label set
 * (a missing `labels` means "no labels"), or undefined when there is none.
 */
export function findSample(src, name, labels = {}) {
  const found = toExposition(src).samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  if (found.length > 1) throw new Error(`${name}${formatLabels(labels)} is served ${found.length} times`);
  return found[0]?.value;
}

/** Like findSample, but a missing sample throws with the samples of that name that were served. */
export function sampleValue(src, name, labels = {}) {
  const exp = toExposition(src);
  const v = findSample(exp, name, labels);
  if (v === undefined) {
    const near = samplesNamed(exp, name).map((s) => s.line);
    throw new Error(
      `no sample ${name}${formatLabels(labels)}; served under that name: ${near.length ? near.join(' | ') : '(none)'}`,
    );
  }
  return v;
}

/** The sum of every sample of that name whose labels include `labels` (e.g. all reasons of an error counter). */
export function sumSamples(src, name, labels = {}) {
  return samplesNamed(src, name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((acc, s) => acc + s.value, 0);
}

/** The `# TYPE` of a family, or undefined when none is declared. */
export function familyType(src, family) {
  return toExposition(src).families.get(family)?.type;
}

export function formatLabels(labels) {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}
