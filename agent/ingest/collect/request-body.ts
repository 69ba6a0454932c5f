/**
 * Reads an HTTP request body up to a byte limit, inflating gzip as it
 * streams in, for POST /v1/collect.
 */
import type { IncomingMessage } from 'node:http';
import { createGunzip } from 'node:zlib';

/** The body; why it was refused; or undefined when the client went away first. */
export type BodyOutcome = Buffer | 'too_large' | 'bad_gzip' | undefined;

/**
 * Reads the body up to `limit` bytes after decoding; calls back once. A gzip
 * body is inflated as it streams in, so a small bomb is cut off at the limit
 * rather than inflated whole.
 */
export function readBody(req: IncomingMessage, gzip: boolean, limit: number, done: (r: BodyOutcome) => void): void {
  if (gzip) readGzipBody(req, limit, done);
  else readPlainBody(req, limit, done);
}

/**
 * The common case, kept lean because it runs for every request: three
 * listeners, and a body that arrives in one chunk (nearly all small ones)
 * is handed on as it is rather than copied by Buffer.concat.
 */
function readPlainBody(req: IncomingMessage, limit: number, done: (r: BodyOutcome) => void): void {
  let first: Buffer | undefined;
  let more: Buffer[] | undefined;
  let size = 0;
  let settled = false;
  req.on('data', (c: Buffer) => {
    if (settled) return;
    size += c.length;
    if (size > limit) {
      settled = true;
      req.pause();
      done('too_large');
      return;
    }
    if (first === undefined) first = c;
    else (more ??= [first]).push(c);
  });
  req.on('end', () => {
    if (settled) return;
    settled = true;
    done(more !== undefined ? Buffer.concat(more, size) : (first ?? EMPTY));
  });
  // 'close' also follows a normal 'end', when `settled` is already set. No
  // 'error' listener: an IncomingMessage emits 'error' only to listeners, and
  // an aborted request reaches 'close' without 'end'.
  req.on('close', () => {
    if (settled) return;
    settled = true;
    done(undefined);
  });
}

const EMPTY = Buffer.alloc(0);

function readGzipBody(req: IncomingMessage, limit: number, done: (r: BodyOutcome) => void): void {
  let settled = false;
  const settle = (r: BodyOutcome) => {
    if (settled) return;
    settled = true;
    done(r);
  };
  const gunzip = createGunzip();
  const chunks: Buffer[] = [];
  let size = 0;
  let raw = 0;
  const tooLarge = () => {
    req.pause();
    req.removeAllListeners('data');
    gunzip.destroy();
    settle('too_large');
  };
  req.on('data', (c: Buffer) => {
    raw += c.length;
    // Compressed input larger than the limit cannot be worth inflating.
    if (raw > limit) {
      tooLarge();
      return;
    }
    if (!gunzip.write(c)) req.pause();
  });
  gunzip.on('drain', () => req.resume());
  req.on('end', () => gunzip.end());
  gunzip.on('error', () => settle('bad_gzip'));
  gunzip.on('data', (c: Buffer) => {
    size += c.length;
    if (size > limit) {
      tooLarge();
      return;
    }
    chunks.push(c);
  });
  gunzip.on('end', () => settle(Buffer.concat(chunks, size)));
  req.on('close', () => {
    if (!req.complete) settle(undefined);
  });
}
