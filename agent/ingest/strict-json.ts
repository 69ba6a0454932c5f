/**
 * A JSON reader for untrusted request bodies. JSON.parse keeps the last of
 * duplicate keys without a word, rounds integers past 2^53 to a different
 * number and has no depth or length limit; this reader applies the limits as
 * it goes (so a hostile body costs no more than its bytes) and marks
 * duplicates and unsafe integers for the caller to judge per item instead
 * of rejecting the whole request.
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

export class JsonSyntaxError extends Error {
  constructor(
    readonly reason: 'bad_json' | 'too_deep' | 'too_many_items',
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

export interface StrictJsonResult {
  value: JsonValue;
  /** Objects in which some key appeared twice, with the first such key. */
  duplicates: WeakMap<JsonObject, string>;
}

const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;
// Unescaped control characters are not allowed inside JSON strings.
const PLAIN_STRING = /[^"\\\u0000-\u001f]*/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

export function parseStrictJson(text: string, limits: StrictJsonLimits): StrictJsonResult {
  const duplicates = new WeakMap<JsonObject, string>();
  let pos = 0;

  const fail = (message: string, reason: JsonSyntaxError['reason'] = 'bad_json'): never => {
    throw new JsonSyntaxError(reason, `${message} at offset ${pos}`, pos);
  };
  const skipWs = () => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else return;
    }
  };
  const readString = (): string => {
    // pos is at the opening quote.
    pos++;
    PLAIN_STRING.lastIndex = pos;
    PLAIN_STRING.exec(text);
    if (text.charCodeAt(PLAIN_STRING.lastIndex) === 0x22) {
      const s = text.slice(pos, PLAIN_STRING.lastIndex);
      pos = PLAIN_STRING.lastIndex + 1;
      return s;
    }
    // A loop rather than one regex over the whole string: a backtracking
    // group repeated over a megabyte can exhaust the regex engine's stack.
    let end = PLAIN_STRING.lastIndex;
    for (;;) {
      ESCAPE.lastIndex = end;
      if (ESCAPE.exec(text) === null) break;
      PLAIN_STRING.lastIndex = ESCAPE.lastIndex;
      PLAIN_STRING.exec(text);
      end = PLAIN_STRING.lastIndex;
    }
    if (text.charCodeAt(end) !== 0x22) {
      pos = end;
      return fail(end >= text.length ? 'unterminated string' : 'bad character or escape in string');
    }
    const s = JSON.parse(text.slice(pos - 1, end + 1)) as string;
    pos = end + 1;
    return s;
  };
  const readNumber = (): number | UnsafeInteger => {
    NUMBER.lastIndex = pos;
    const m = NUMBER.exec(text);
    if (m === null) return fail('unexpected character');
    pos = NUMBER.lastIndex;
    const n = Number(m[0]);
    if (m[1] === undefined && m[2] === undefined && !Number.isSafeInteger(n)) return new UnsafeInteger(m[0]);
    return n;
  };
  const literal = (word: string, value: JsonValue): JsonValue => {
    if (!text.startsWith(word, pos)) fail('unexpected character');
    pos += word.length;
    return value;
  };

  const readValue = (depth: number): JsonValue => {
    skipWs();
    const c = text.charCodeAt(pos);
    switch (c) {
      case 0x7b /* { */: {
        if (depth + 1 > limits.maxDepth) fail(`nesting deeper than ${limits.maxDepth}`, 'too_deep');
        pos++;
        // No prototype: a "__proto__" key is data, not a way to reach Object.prototype.
        const obj = Object.create(null) as JsonObject;
        skipWs();
        if (text.charCodeAt(pos) === 0x7d) {
          pos++;
          return obj;
        }
        for (;;) {
          skipWs();
          if (text.charCodeAt(pos) !== 0x22) fail('expected a string key');
          const key = readString();
          skipWs();
          if (text.charCodeAt(pos) !== 0x3a) fail('expected ":"');
          pos++;
          const v = readValue(depth + 1);
          if (key in obj) {
            if (!duplicates.has(obj)) duplicates.set(obj, key);
          } else {
            obj[key] = v;
          }
          skipWs();
          const d = text.charCodeAt(pos++);
          if (d === 0x7d) return obj;
          if (d !== 0x2c) {
            pos--;
            fail('expected "," or "}"');
          }
        }
      }
      case 0x5b /* [ */: {
        if (depth + 1 > limits.maxDepth) fail(`nesting deeper than ${limits.maxDepth}`, 'too_deep');
        pos++;
        const arr: JsonValue[] = [];
        skipWs();
        if (text.charCodeAt(pos) === 0x5d) {
          pos++;
          return arr;
        }
        for (;;) {
          if (depth === 0 && arr.length >= limits.maxTopLevelItems) fail(`more than ${limits.maxTopLevelItems} items`, 'too_many_items');
          arr.push(readValue(depth + 1));
          skipWs();
          const d = text.charCodeAt(pos++);
          if (d === 0x5d) return arr;
          if (d !== 0x2c) {
            pos--;
            fail('expected "," or "]"');
          }
        }
      }
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
  };

  const value = readValue(0);
  skipWs();
  if (pos !== text.length) fail('unexpected data after the JSON value');
  return { value, duplicates };
}
