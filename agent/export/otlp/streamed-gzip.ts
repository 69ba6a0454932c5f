import { once } from 'node:events';
import { createGzip, type Gzip } from 'node:zlib';

/**
 * One gzip body fed a piece at a time, compressed on libuv's thread pool as
 * the pieces come. Joined first and then compressed, a body's 8 MB of
 * pieces, its joined copy and the compressor's input were alive at once:
 * an OTLP encode of a million series grew array buffers by 70 MB, past the
 * 64 MB at which V8 starts a full marking for external memory, which now
 * and then ends in one atomic pause of half a second (bench/README.md).
 * Streamed: 49 MB, and that encode took 3.0 s instead of 4.4 s (in process,
 * one core, the second flush of 1M native series).
 */
export class StreamedGzip {
  private readonly gz: Gzip = createGzip();
  private readonly out: Buffer[] = [];
  private readonly ended: Promise<void>;

  constructor() {
    this.gz.on('data', (chunk: Buffer) => this.out.push(chunk));
    this.ended = new Promise((resolve, reject) => {
      this.gz.once('end', resolve);
      this.gz.once('error', reject);
    });
    // Awaited by end(); a body given up before it (its encoding failed) must not leave an unhandled rejection behind.
    this.ended.catch(() => {});
  }

  /** Waits while the compressor holds more than its high-water mark, so pieces do not pile up ahead of it. */
  async write(piece: Uint8Array): Promise<void> {
    if (!this.gz.write(piece)) await once(this.gz, 'drain');
  }

  async end(): Promise<Buffer> {
    this.gz.end();
    await this.ended;
    return this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
  }

  /** Gives the body up (the encoding failed before its end): the compressor is freed, and end() would reject. */
  destroy(): void {
    this.gz.destroy(new Error('gzip body given up before its end'));
  }
}
