import { setImmediate as nextTurn } from 'node:timers/promises';

/** Default longest stretch between two turns of the event loop (ms). */
export const SLICE_MS = 10;
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
