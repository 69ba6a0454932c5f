/**
 * A small reader of the Prometheus text exposition format (0.0.4), enough for
 * tests to look samples up by name and labels. It is strict on purpose: a line
 * it cannot read throws, so a malformed exposition fails the test that reads it
 * instead of silently hiding samples.
 */

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
  help?: string;
  unit?: string;
}

export interface Exposition {
  samples: Sample[];
  /** Keyed by family name, from the `# TYPE`, `# HELP` and `# UNIT` comments. */
  families: Map<string, FamilyMeta>;
}

export function parsePromText(text: string): Exposition {
  const samples: Sample[] = [];
  const families = new Map<string, FamilyMeta>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^#\s+(TYPE|HELP|UNIT)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      // Other comments are allowed by the format and carry nothing we look up.
      if (!m) continue;
      const meta = families.get(m[2]!) ?? {};
      const rest = m[3] ?? '';
      if (m[1] === 'TYPE') meta.type = rest;
      else if (m[1] === 'HELP') meta.help = rest;
      else meta.unit = rest;
      families.set(m[2]!, meta);
      continue;
    }
    samples.push(parseSampleLine(line, n + 1));
  }
  return { samples, families };
}

function parseSampleLine(line: string, lineNo: number): Sample {
  const fail = (why: string): never => {
    throw new Error(`exposition line ${lineNo}: ${why}: ${JSON.stringify(line)}`);
  };
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) return fail('no metric name');
  const name = nameMatch[0];
  let i = name.length;
  const labels: Labels = {};
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
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return fail('unterminated label value');
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          const e = line[i + 1];
          if (e === 'n') value += '\n';
          else if (e === '\\' || e === '"') value += e;
          else return fail(`bad escape \\${e ?? ''} in label value`);
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      if (key[0] in labels) return fail(`label ${key[0]} given twice`);
      labels[key[0]] = value;
      while (line[i] === ' ') i++;
      if (line[i] === ',') i++;
      else if (line[i] !== '}') return fail(`expected , or } at column ${i + 1}`);
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') return fail('expected a value and an optional timestamp');
  const value = parseValue(rest[0]!);
  if (value === undefined) return fail(`bad value ${rest[0]}`);
  return { name, labels, value, line };
}

function parseValue(s: string): number | undefined {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return undefined;
  return Number(s);
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && a[k] === b[k]);
}

function toExposition(src: string | Exposition): Exposition {
  return typeof src === 'string' ? parsePromText(src) : src;
}

/** Every sample of that exact name (no `_bucket`/`_sum` expansion), in served order. */
export function samplesNamed(src: string | Exposition, name: string): Sample[] {
  return toExposition(src).samples.filter((s) => s.name === name);
}

/**
 * The value of the sample with exactly this name and exactly this label set
 * (a missing `labels` means "no labels"), or undefined when there is none.
 */
export function findSample(src: string | Exposition, name: string, labels: Labels = {}): number | undefined {
  const found = toExposition(src).samples.filter((s) => s.name === name && sameLabels(s.labels, labels));
  if (found.length > 1) throw new Error(`${name}${formatLabels(labels)} is served ${found.length} times`);
  return found[0]?.value;
}

/** Like findSample, but a missing sample throws with the samples of that name that were served. */
export function sampleValue(src: string | Exposition, name: string, labels: Labels = {}): number {
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
export function sumSamples(src: string | Exposition, name: string, labels: Labels = {}): number {
  return samplesNamed(src, name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((acc, s) => acc + s.value, 0);
}

/** The `# TYPE` of a family, or undefined when none is declared. */
export function familyType(src: string | Exposition, family: string): string | undefined {
  return toExposition(src).families.get(family)?.type;
}

export function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}
