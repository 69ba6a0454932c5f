import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * Default longest stretch between two turns of the event loop (ms). A turn
 * lets the UDP receiver read for up to 5 ms (native/udp-mmsg), so this sets
 * how the core is shared while a flush encodes: with 10 ms, ingest had a
 * third of it and lost what arrived faster than that (the 100,000-series
 * rows of `npm run bench -- --only cardinality`: native held 500,000/s, its
 * 1,000,000/s rung lost 0.8-4.7 %; classic held 250,000/s). With 2 ms it has
 * about 70 %, and those rows held 1,000,000/s and 500,000/s. When nothing
 * waits on the sockets a turn costs some microseconds.
 */
export const SLICE_MS = 2;
/** Steps between two looks at the clock, by default: reading it costs about as much as a small step. */
const CLOCK_EVERY = 256;

/**
 * Says when a long loop on the thread that reads the sockets should give
 * the event loop a turn: a flush of 100,000 mixed series is seconds of
 * encoding, and a datagram that arrives meanwhile waits in the socket
 * buffer until the loop comes back (and is lost once that is full).
 *
 *   const clock = new SliceClock();
 *   for (...) { step(); if (clock.due()) await clock.turn(); }
 *
 * A turn is a setImmediate: the I/O already polled runs, then the loop
 * polls again before the next slice.
 */
export class SliceClock {
  private start = performance.now();
  private steps = 0;

  /** `every`: steps between two looks at the clock; fewer where one step is large (a series of 131 samples, a record of 26 KB). */
  constructor(
    private readonly sliceMs = SLICE_MS,
    private readonly every = CLOCK_EVERY,
  ) {}

  /** True once a slice has lasted sliceMs; looks at the clock every `every` steps. */
  due(): boolean {
    return ++this.steps % this.every === 0 && performance.now() - this.start >= this.sliceMs;
  }

  async turn(): Promise<void> {
    await nextTurn();
    this.restart();
  }

  /** A new slice begins: for a caller whose turn of the event loop is taken elsewhere (a generator yielding to its consumer). */
  restart(): void {
    this.start = performance.now();
  }
}
