import { createRequire } from 'node:module';
import { compress as compressInJs } from 'snappyjs';

/**
 * Snappy's block format (what remote write requires), from the `snappy`
 * package's prebuilt native binding where this platform has one, else from
 * the pure-JavaScript snappyjs. Both write the same bytes; the native one is
 * about 30 times faster (8 MiB: 1.1 ms against 32 ms), and at 100,000 mixed
 * series snappyjs alone took 15 % of the agent's CPU, with the garbage its
 * buffers made on top.
 */
const native = loadNative();

export const compressBlock: (input: Uint8Array) => Uint8Array = native?.compressSync ?? compressInJs;

/**
 * The same, off the event loop where the native binding is there: it
 * compresses on libuv's thread pool. A flush of 100,000 mixed series is
 * some 360 MB before compression, which took about a second of the thread
 * that reads the sockets at this binding's 360 MB/s. The input must not
 * change until the promise settles.
 */
export const compressBlockAsync: (input: Uint8Array) => Promise<Uint8Array> =
  native === undefined ? (input) => Promise.resolve(compressInJs(input)) : (input) => native.compress(input).then(rightSized);

/**
 * A copy of exactly its length. The native binding's output keeps the
 * allocation it compressed into, sized for the worst case (a little more
 * than the input): 1,416 requests of 350 KB compressed and kept took 680 MB
 * of RSS for 154 MB of output, and 315 MB with this copy (a scratch script
 * on one core). A flush's requests wait in the sink queues until delivered,
 * so that was most of the agent's memory after a flush of 100,000 classic
 * series.
 */
function rightSized(out: Uint8Array): Uint8Array {
  return new Uint8Array(out);
}

interface NativeSnappy {
  compressSync(input: Uint8Array): Buffer;
  compress(input: Uint8Array): Promise<Buffer>;
}

function loadNative(): NativeSnappy | undefined {
  // The binding allocates with its own mimalloc, which by default keeps freed pages for later: the output buffers of one
  // flush of 100,000 classic series (1,416 requests of 254 KB) left RSS 130 to 160 MB above what the requests kept. Told
  // to give pages back at once, it left 40 to 50 MB, for about 70 ms more compression a flush (scratch script, one core).
  // Read by mimalloc when the binding first allocates, so it is set before loading it; an operator's own setting wins.
  process.env.MIMALLOC_PURGE_DELAY ??= '0';
  try {
    const { compressSync, compress } = createRequire(import.meta.url)('snappy') as NativeSnappy;
    return { compressSync: (input) => compressSync(input), compress: (input) => compress(input) };
  } catch {
    // No prebuilt binding for this platform: the JavaScript one works everywhere.
    return undefined;
  }
}
