/**
 * A JSON reader for untrusted request bodies. JSON.parse keeps the last of
 * duplicate keys without a word, rounds integers past 2^53 to a different
 * number and has no depth or length limit; this reader applies the limits as
 * it goes (so a hostile body costs no more than its bytes) and marks
 * duplicates and unsafe integers for the caller to judge per item instead
 * of rejecting the whole request. A body that is not JSON is a result, not
 * an exception: the caller branches on `ok`.
 */

/** An integer literal that no double holds exactly; the text is kept so the caller can name it. */
export class UnsafeInteger {
  constructor(readonly text: string) {}
}

export type JsonValue = null | boolean | number | string | UnsafeInteger | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export interface StrictJsonLimits {
  /** Deepest nesting of arrays and objects; the top level counts as 1. */
  maxDepth: number;
  /** Most elements in the top-level array. */
  maxTopLevelItems: number;
}

/** Why a body is not JSON the collect API takes; returned, never thrown. */
export class JsonSyntaxError {
  constructor(
    readonly reason: 'bad_json' | 'too_deep' | 'too_many_items',
    readonly message: string,
    readonly offset: number,
  ) {}
}

export interface StrictJsonResult {
  value: JsonValue;
  /** Objects in which some key appeared twice, with the first such key. */
  duplicates: DuplicateKeys;
}

export type StrictJsonOutcome = ({ ok: true } & StrictJsonResult) | { ok: false; error: JsonSyntaxError };

/** Read-only view of the duplicate-key marks. */
export interface DuplicateKeys {
  get(obj: JsonObject): string | undefined;
}

/**
 * The marks of every parse share one WeakMap: an object is marked once, by
 * the parse that made it, and the mark goes with the object. A request
 * without duplicates (nearly all) then allocates no map of its own.
 */
const DUPLICATES = new WeakMap<JsonObject, string>();

// Unescaped control characters are not allowed inside JSON strings.
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;

// The reader's state lives at module level rather than in closures made per
// call: a collect request is usually one small object, and allocating six
// closures for it cost more than reading it. A parse runs to completion
// without calling out, so the state is never shared by two parses at once.
let text = '';
let pos = 0;
let maxDepth = 0;
let maxTopLevelItems = 0;
/**
 * The first failure of this parse. A reader that fails records it and
 * returns null; every reader that calls another returns at once when it is
 * set, so the parse unwinds without a throw.
 */
let failure: JsonSyntaxError | undefined;

export function parseStrictJson(input: string, limits: StrictJsonLimits): StrictJsonOutcome {
  text = input;
  pos = 0;
  maxDepth = limits.maxDepth;
  maxTopLevelItems = limits.maxTopLevelItems;
  failure = undefined;
  try {
    const value = readValue(0);
    if (failure === undefined) {
      skipWs();
      if (pos !== text.length) fail('unexpected data after the JSON value');
    }
    const error = failure;
    return error === undefined ? { ok: true, value, duplicates: DUPLICATES } : { ok: false, error };
  } finally {
    // Not to keep a megabyte body alive until the next request.
    text = '';
    failure = undefined;
  }
}

/** Records why the parse failed; returns the null a failed reader returns. */
function fail(message: string, reason: JsonSyntaxError['reason'] = 'bad_json'): null {
  failure = new JsonSyntaxError(reason, `${message} at offset ${pos}`, pos);
  return null;
}

function skipWs(): void {
  for (;;) {
    const c = text.charCodeAt(pos);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
    else return;
  }
}

/** The string at pos; null (failure set) when it is not one. */
function readString(): string | null {
  // pos is at the opening quote. Most strings have no escape: scan them by hand, which beats a regex on short ones.
  const start = ++pos;
  const n = text.length;
  let i = start;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      pos = i + 1;
      return text.slice(start, i);
    }
    if (c === 0x5c || c < 0x20) break;
  }
  // A loop rather than one regex over the whole string: a backtracking
  // group repeated over a megabyte can exhaust the regex engine's stack.
  let end = i;
  for (;;) {
    ESCAPE.lastIndex = end;
    if (ESCAPE.exec(text) === null) break;
    PLAIN_STRING.lastIndex = ESCAPE.lastIndex;
    PLAIN_STRING.exec(text);
    end = PLAIN_STRING.lastIndex;
  }
  if (text.charCodeAt(end) !== 0x22) {
    pos = end;
    return fail(end >= n ? 'unterminated string' : 'bad character or escape in string');
  }
  const s = JSON.parse(text.slice(start - 1, end + 1)) as string;
  pos = end + 1;
  return s;
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? */
function readNumber(): number | UnsafeInteger | null {
  const start = pos;
  let c = text.charCodeAt(pos);
  if (c === 0x2d) c = text.charCodeAt(++pos);
  if (c === 0x30) c = text.charCodeAt(++pos);
  else if (c >= 0x31 && c <= 0x39) {
    do c = text.charCodeAt(++pos);
    while (isDigit(c));
  } else {
    return fail('unexpected character');
  }
  let integer = true;
  if (c === 0x2e) {
    integer = false;
    if (!isDigit(text.charCodeAt(pos + 1))) {
      pos++;
      return fail('expected a digit');
    }
    pos++;
    do c = text.charCodeAt(++pos);
    while (isDigit(c));
  }
  if (c === 0x65 || c === 0x45) {
    integer = false;
    c = text.charCodeAt(++pos);
    if (c === 0x2b || c === 0x2d) c = text.charCodeAt(++pos);
    if (!isDigit(c)) return fail('expected a digit');
    do c = text.charCodeAt(++pos);
    while (isDigit(c));
  }
  const literal = text.slice(start, pos);
  const n = Number(literal);
  if (integer && !Number.isSafeInteger(n)) return new UnsafeInteger(literal);
  return n;
}

function literal(word: string, value: JsonValue): JsonValue {
  if (!text.startsWith(word, pos)) return fail('unexpected character');
  pos += word.length;
  return value;
}

/** A value; on failure null, which is also a value: callers read `failure` to tell. */
function readValue(depth: number): JsonValue {
  skipWs();
  const c = text.charCodeAt(pos);
  switch (c) {
    case 0x7b /* { */:
      return readObject(depth);
    case 0x5b /* [ */:
      return readArray(depth);
    case 0x22:
      return readString();
    case 0x74:
      return literal('true', true);
    case 0x66:
      return literal('false', false);
    case 0x6e:
      return literal('null', null);
    default:
      if (Number.isNaN(c)) return fail('unexpected end of input');
      return readNumber();
  }
}

/**
 * What a JSON object is read into. Its prototype is an empty object with no
 * prototype of its own, so a "__proto__" key is data rather than a way to
 * reach Object.prototype, and no key is inherited ("constructor" in obj is
 * false). Unlike Object.create(null), which V8 keeps in slow dictionary
 * mode, these are ordinary fast objects: reading one is 2-3 times cheaper.
 */
const JsonRecord = function JsonRecord() {} as unknown as new () => JsonObject;
JsonRecord.prototype = Object.create(null) as JsonObject;

function readObject(depth: number): JsonObject | null {
  if (depth + 1 > maxDepth) return fail(`nesting deeper than ${maxDepth}`, 'too_deep');
  pos++;
  const obj = new JsonRecord();
  skipWs();
  if (text.charCodeAt(pos) === 0x7d) {
    pos++;
    return obj;
  }
  for (;;) {
    skipWs();
    if (text.charCodeAt(pos) !== 0x22) return fail('expected a string key');
    const key = readString();
    if (key === null) return null;
    skipWs();
    if (text.charCodeAt(pos) !== 0x3a) return fail('expected ":"');
    pos++;
    const v = readValue(depth + 1);
    if (failure !== undefined) return null;
    if (key in obj) {
      if (!DUPLICATES.has(obj)) DUPLICATES.set(obj, key);
    } else {
      obj[key] = v;
    }
    skipWs();
    const d = text.charCodeAt(pos++);
    if (d === 0x7d) return obj;
    if (d !== 0x2c) {
      pos--;
      return fail('expected "," or "}"');
    }
  }
}

function readArray(depth: number): JsonValue[] | null {
  if (depth + 1 > maxDepth) return fail(`nesting deeper than ${maxDepth}`, 'too_deep');
  pos++;
  const arr: JsonValue[] = [];
  skipWs();
  if (text.charCodeAt(pos) === 0x5d) {
    pos++;
    return arr;
  }
  for (;;) {
    if (depth === 0 && arr.length >= maxTopLevelItems) return fail(`more than ${maxTopLevelItems} items`, 'too_many_items');
    const v = readValue(depth + 1);
    if (failure !== undefined) return null;
    arr.push(v);
    skipWs();
    const d = text.charCodeAt(pos++);
    if (d === 0x5d) return arr;
    if (d !== 0x2c) {
      pos--;
      return fail('expected "," or "]"');
    }
  }
}
