/**
 * Who may post to /v1/collect, and in what: the Host and Origin checks
 * against DNS rebinding, and the accepted content types.
 *
 * Every request runs these on headers that, from one client, are the same
 * string each time; the answers are kept in small memos so the common case
 * is one Map lookup instead of a regex and a few string copies. The memos
 * are bounded: a client that varies its headers only makes them start over.
 */
import { isIP } from 'node:net';

const MEMO_SIZE = 64;

/** Remembers up to MEMO_SIZE answers of `fn`; starts over when full. */
function memoize<T>(fn: (key: string) => T): (key: string) => T {
  const memo = new Map<string, T>();
  return (key) => {
    let v = memo.get(key);
    if (v === undefined && !memo.has(key)) {
      v = fn(key);
      if (memo.size >= MEMO_SIZE) memo.clear();
      memo.set(key, v);
    }
    return v as T;
  };
}

export type ContentType = 'json' | 'text';

/** `application/json` or `text/plain`, UTF-8 (or US-ASCII for text) if a charset is given; undefined otherwise. */
export function parseContentType(header: string | undefined): ContentType | undefined {
  return header === undefined ? undefined : contentTypeMemo(header);
}

const contentTypeMemo = memoize(readContentType);

function readContentType(header: string): ContentType | undefined {
  const [type, ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  for (const p of params) {
    const [k, v] = p.split('=', 2).map((x) => x.trim());
    if (k === 'charset' && v !== 'utf-8' && v !== 'utf8' && v !== '"utf-8"' && (type !== 'text/plain' || v !== 'us-ascii')) return undefined;
  }
  return type === 'application/json' ? 'json' : type === 'text/plain' ? 'text' : undefined;
}

export type HostCheck = (host: string | undefined, localPort: number | undefined) => boolean;

/**
 * The Host check that stops DNS rebinding: a page on evil.example that
 * resolves its name to 127.0.0.1 still sends Host: evil.example. On by
 * default only for a loopback listener; an explicit allowed_hosts list
 * turns it on for any listener.
 */
export function makeHostCheck(listenAddress: string, allowed: string[]): HostCheck | undefined {
  const anyPort = new Set<string>();
  const withPort = new Set<string>();
  if (allowed.length > 0) {
    for (const entry of allowed) {
      const hp = splitHostPort(entry.toLowerCase());
      if (hp === undefined) continue;
      if (hp.port === undefined) anyPort.add(hp.host);
      else withPort.add(`${hp.host}:${hp.port}`);
    }
  } else {
    if (!isLoopback(listenAddress)) return undefined;
    for (const h of ['localhost', '127.0.0.1', '::1', listenAddress.toLowerCase()]) withPort.add(`${h}:*`);
  }
  const check = (host: string, localPort: number | undefined): boolean => {
    const hp = splitHostPort(host.toLowerCase());
    if (hp === undefined) return false;
    const port = hp.port ?? 80;
    return anyPort.has(hp.host) || withPort.has(`${hp.host}:${port}`) || (port === localPort && withPort.has(`${hp.host}:*`));
  };
  // The answer depends on the port the request came in on too; a server has
  // one, so the memo is for that port and starts over if another appears.
  const memo = new Map<string, boolean>();
  let memoPort: number | undefined;
  return (host, localPort) => {
    if (host === undefined) return false;
    if (localPort !== memoPort) {
      memo.clear();
      memoPort = localPort;
    }
    let ok = memo.get(host);
    if (ok === undefined) {
      ok = check(host, localPort);
      if (memo.size >= MEMO_SIZE) memo.clear();
      memo.set(host, ok);
    }
    return ok;
  };
}

/** A browser's Origin, held to the same Host check. */
export function originAllowed(origin: string, check: HostCheck, localPort: number | undefined): boolean {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  return check(`${url.hostname}:${port}`, localPort);
}

/** "host", "host:port", "[v6]" or "[v6]:port", with the brackets removed. */
function splitHostPort(s: string): { host: string; port: number | undefined } | undefined {
  const m = /^(?:\[([0-9a-f:.]+)\]|([^:[\]\s]+))(?::(\d{1,5}))?$/.exec(s.trim());
  if (m === null) return undefined;
  return { host: m[1] ?? m[2]!, port: m[3] === undefined ? undefined : Number(m[3]) };
}

function isLoopback(address: string): boolean {
  const a = address.toLowerCase();
  if (a === 'localhost' || a === '::1') return true;
  return isIP(a) === 4 && a.startsWith('127.');
}
