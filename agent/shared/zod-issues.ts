import type { Document } from 'yaml';
import type { z } from 'zod';
import type { ConfigIssue } from './config-error.js';
import { formatPath, positionOf, walk, type At, type Segment } from './yaml-positions.js';

/**
 * A zod issue as the user should read it: at its place in the document, an
 * unknown key with the nearest known one, a union's accepted types spelled out.
 */

export function zodIssueToConfigIssues(
  doc: Document.Parsed,
  schema: z.ZodType,
  issue: z.core.$ZodIssue,
  at: At,
): ConfigIssue[] {
  const path = issue.path;

  if (issue.code === 'unrecognized_keys') {
    const known = objectKeysAt(schema, path);
    return issue.keys.map((key) => {
      const full = [...path, key];
      const found = walk(doc, full);
      const offset = found.complete && found.keyNode?.range ? found.keyNode.range[0] : positionOf(found);
      return at(offset, formatPath(full), unknownKeyMessage(key, known));
    });
  }

  const found = walk(doc, path);
  let message = issue.message;
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    message = `missing required key (expected ${describeExpected(issue)})`;
  } else if (issue.code === 'invalid_union') {
    message = unionMessage(issue) ?? message;
  } else if (issue.code === 'invalid_type' && issue.expected === 'boolean' && isYaml11Boolean(issue.input)) {
    message += ` ("${String(issue.input)}" is only a boolean in YAML 1.1; write true or false)`;
  }
  return [at(positionOf(found), formatPath(path), message)];
}

function unknownKeyMessage(key: string, known: string[] | undefined): string {
  if (!known || known.length === 0) return 'unknown key';
  const suggestion = closest(key, known);
  if (suggestion !== undefined) return `unknown key (did you mean "${suggestion}"?)`;
  return `unknown key (expected one of: ${known.join(', ')})`;
}

function closest(word: string, candidates: string[]): string | undefined {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ("prot" → "port"). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[rows - 1]![cols - 1]!;
}

interface LooseDef {
  type: string;
  shape?: Record<string, z.core.$ZodType>;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  element?: z.core.$ZodType;
}

/** The keys the schema allows in the object at `path`, looking through wrappers such as defaults. */
function objectKeysAt(schema: z.core.$ZodType, path: readonly Segment[]): string[] | undefined {
  let current: z.core.$ZodType | undefined = schema;
  let i = 0;
  while (current) {
    const def = current._zod.def as unknown as LooseDef;
    if (def.innerType) current = def.innerType;
    else if (def.type === 'pipe') current = def.in;
    else if (def.type === 'object' && def.shape) {
      if (i === path.length) return Object.keys(def.shape);
      current = def.shape[String(path[i++])];
    } else if (def.type === 'array' && i < path.length) {
      i++;
      current = def.element;
    } else return undefined;
  }
  return undefined;
}

function describeExpected(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type') return issue.expected;
  if (issue.code === 'invalid_union') return unionExpected(issue)?.join(' or ') ?? 'a value';
  return 'a value';
}

function unionExpected(issue: z.core.$ZodIssueInvalidUnion): string[] | undefined {
  const expected: string[] = [];
  for (const branch of issue.errors) {
    const only = branch.length === 1 ? branch[0] : undefined;
    if (only?.code !== 'invalid_type' || only.path.length > 0) return undefined;
    expected.push(only.expected);
  }
  return expected.length > 0 ? expected : undefined;
}

// zod says only "Invalid input" when every branch of a union rejects the
// value's type; spelling out the accepted types is what the user needs.
function unionMessage(issue: z.core.$ZodIssueInvalidUnion): string | undefined {
  const expected = unionExpected(issue);
  if (!expected) return undefined;
  return `Invalid input: expected ${expected.join(' or ')}, received ${typeName(issue.input)}`;
}

function isYaml11Boolean(value: unknown): boolean {
  return typeof value === 'string' && /^(y|yes|n|no|on|off)$/i.test(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
