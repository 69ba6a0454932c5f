import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { constants, createGzip } from 'node:zlib';

/**
 * Whether the client takes a gzip body: `gzip` (or the old `x-gzip`) listed
 * in Accept-Encoding without `q=0`.
 */
export function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const entry of value.split(',')) {
    const [coding, ...params] = entry.split(';').map((p) => p.trim().toLowerCase());
    if (coding !== 'gzip' && coding !== 'x-gzip') continue;
    const q = params.find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

/**
 * Answers 200 with the text or bytes `chunks` yields, written piece by piece as it is
 * made, gzip-compressed when the request asks for it. Between pieces it waits
 * for the socket (or the compressor) to take what it has, and then for one
 * turn of the event loop, so a long body never holds the loop for longer
 * than making one piece takes and never sits in memory whole: datagrams and
 * flushes go on while a large scrape is served, however slow its reader.
 * Resolves once the body is written, or early when the client leaves (the
 * rest is then not made); rejects, with the response destroyed so the
 * client sees a failed transfer rather than a short body, when `chunks`
 * throws.
 */
export async function sendChunks(
  req: IncomingMessage,
  res: ServerResponse,
  chunks: AsyncIterable<string | Uint8Array>,
  contentType = 'text/plain',
): Promise<void> {
  const gzip = acceptsGzip(req.headers['accept-encoding']);
  res.statusCode = 200;
  res.setHeader('content-type', contentType);
  res.setHeader('vary', 'accept, accept-encoding');
  if (gzip) res.setHeader('content-encoding', 'gzip');
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  // The fastest level: exposition text still shrinks about tenfold, and a
  // million-series body compresses within the scrape's time budget (zlib
  // runs on libuv's thread pool, off the event loop).
  const compressor = gzip ? createGzip({ level: constants.Z_BEST_SPEED }) : undefined;
  const out: Writable = compressor ?? res;
  // A client that leaves ends the pipeline with an error nobody needs to hear about: it stops the loop below through `res.destroyed`.
  const piped = compressor === undefined ? undefined : pipeline(compressor, res).catch(() => undefined);
  try {
    for await (const chunk of chunks) {
      if (res.destroyed) return;
      if (!out.write(chunk)) await drained(out);
      await nextTurn();
    }
    out.end();
    await piped;
  } catch (err) {
    out.destroy();
    res.destroy();
    throw err;
  }
}

/** Resolves when `stream` can take more, or has closed (a client that left), whichever comes first. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
