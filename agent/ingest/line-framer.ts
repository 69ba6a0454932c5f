const NL = 10;

export const DEFAULT_MAX_LINE_BYTES = 65536;

// A carry buffer that grew for one long line is dropped once that line is done,
// so thousands of idle connections do not each pin up to maxLineBytes.
const KEEP_CARRY_BYTES = 4096;
const FIRST_CARRY_BYTES = 256;

export interface LineFramerOptions {
  /** Longest accepted line, in bytes, not counting its newline. */
  maxLineBytes?: number;
  /**
   * Receives runs of complete lines, each ending in "\n", at most one buffer
   * per push(); end() may deliver one last line without a newline. The
   * buffer may be a view of the pushed chunk, so a consumer that keeps it
   * must not expect the sender's memory to be copied.
   */
  onLines: (buf: Buffer) => void;
  /**
   * A line longer than maxLineBytes was dropped. Called once per such line,
   * as soon as the breach is seen, so `bytes` is the length seen so far: the
   * whole line when it ended in the same read, otherwise a lower bound.
   */
  onOversize: (bytes: number) => void;
}

/**
 * Cuts one stream connection's bytes into newline-terminated lines. Lines
 * are handed on in runs, one buffer per read, because the parser is fast on
 * packets of many lines and slow when called once per line.
 */
export class LineFramer {
  private readonly max: number;
  private readonly onLines: (buf: Buffer) => void;
  private readonly onOversize: (bytes: number) => void;
  /** Bytes of an unterminated line from earlier reads: carry[0, carryLen). */
  private carry: Buffer | undefined;
  private carryLen = 0;
  /** Inside an oversize line: everything up to the next newline is thrown away. */
  private discarding = false;
  // Good runs of the current chunk as [start, end) pairs; reused so a push allocates nothing for them.
  private readonly runs: number[] = [];

  constructor(opts: LineFramerOptions) {
    const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxLineBytes must be a positive integer, got ${max}`);
    this.max = max;
    this.onLines = opts.onLines;
    this.onOversize = opts.onOversize;
  }

  /** Bytes held back waiting for a newline; never more than maxLineBytes. */
  get bufferedBytes(): number {
    return this.carryLen;
  }

  push(chunk: Buffer): void {
    const len = chunk.length;
    let pos = 0;
    if (this.discarding) {
      const nl = chunk.indexOf(NL);
      if (nl === -1) return;
      this.discarding = false;
      pos = nl + 1;
    }
    if (pos >= len) return;
    const first = chunk.indexOf(NL, pos);
    if (first === -1) {
      this.extendCarry(chunk, pos, len);
      return;
    }
    const last = chunk.lastIndexOf(NL);
    const max = this.max;
    const runs = this.runs;
    runs.length = 0;

    let prefix = 0;
    let bodyStart = pos;
    if (this.carryLen > 0) {
      const headLen = this.carryLen + (first - pos);
      if (headLen > max) {
        this.onOversize(headLen);
        this.carryLen = 0;
        this.releaseCarry();
      } else {
        prefix = this.carryLen;
        runs.push(pos, first + 1);
      }
      bodyStart = first + 1;
    }

    // No line between bodyStart and last can be longer than that span, so
    // the per-line scan below only runs for reads larger than maxLineBytes.
    if (last - bodyStart <= max) {
      if (bodyStart <= last) addRun(runs, bodyStart, last + 1);
    } else {
      let s = bodyStart;
      while (s <= last) {
        const e = chunk.indexOf(NL, s);
        if (e - s > max) this.onOversize(e - s);
        else addRun(runs, s, e + 1);
        s = e + 1;
      }
    }

    let out: Buffer | undefined;
    if (prefix === 0 && runs.length === 2) {
      out = chunk.subarray(runs[0], runs[1]);
    } else if (prefix > 0 || runs.length > 0) {
      let total = prefix;
      for (let i = 0; i < runs.length; i += 2) total += runs[i + 1]! - runs[i]!;
      // A fresh buffer, not the carry: the consumer may keep what it is given.
      out = Buffer.allocUnsafe(total);
      let at = 0;
      if (prefix > 0) {
        this.carry!.copy(out, 0, 0, prefix);
        at = prefix;
        this.carryLen = 0;
        this.releaseCarry();
      }
      for (let i = 0; i < runs.length; i += 2) at += chunk.copy(out, at, runs[i]!, runs[i + 1]!);
    }

    this.extendCarry(chunk, last + 1, len);
    if (out !== undefined) this.onLines(out);
  }

  /**
   * The stream ended: a last line without a newline is still a line, since
   * statsd clients often leave it off before closing.
   */
  end(): void {
    this.discarding = false;
    if (this.carryLen === 0) return;
    const out = Buffer.allocUnsafe(this.carryLen);
    this.carry!.copy(out, 0, 0, this.carryLen);
    this.carryLen = 0;
    this.releaseCarry();
    this.onLines(out);
  }

  private extendCarry(chunk: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n === 0) return;
    const need = this.carryLen + n;
    if (need > this.max) {
      this.onOversize(need);
      this.carryLen = 0;
      this.releaseCarry();
      this.discarding = true;
      return;
    }
    // Copied rather than kept as a view, so a few partial bytes never pin a whole read buffer.
    let carry = this.carry;
    if (carry === undefined || carry.length < need) {
      let size = carry === undefined ? FIRST_CARRY_BYTES : carry.length * 2;
      while (size < need) size *= 2;
      const grown = Buffer.allocUnsafe(Math.min(size, this.max));
      if (carry !== undefined) carry.copy(grown, 0, 0, this.carryLen);
      this.carry = carry = grown;
    }
    chunk.copy(carry, this.carryLen, from, to);
    this.carryLen = need;
  }

  private releaseCarry(): void {
    if (this.carry !== undefined && this.carry.length > KEEP_CARRY_BYTES) this.carry = undefined;
  }
}

function addRun(runs: number[], start: number, end: number): void {
  const n = runs.length;
  if (n > 0 && runs[n - 1] === start) runs[n - 1] = end;
  else runs.push(start, end);
}
