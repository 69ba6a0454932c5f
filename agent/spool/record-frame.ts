import { crc32c } from '@node-rs/crc32';

/**
 * One record on disk, little-endian:
 *
 *   0  4  magic F7 54 4C 59 ("\xF7TLY"; 0xF7 never occurs in UTF-8 text)
 *   4  4  CRC32C of bytes 8 .. end of payload, seeded with the segment's salt
 *   8  4  payload length
 *  12  8  sequence number
 *  20  8  append time, ms since the epoch
 *  28  …  payload
 *
 * The magic lets recovery find the next frame after a damaged one by
 * scanning; the CRC decides whether a candidate is real. Seeding the CRC
 * with a random per-log salt means a payload that happens to contain a
 * well-formed frame (the HTTP journal stores bytes clients sent) can never
 * pass for one, since the sender cannot know the salt.
 *
 * Sequence numbers and times are JavaScript numbers kept within
 * Number.MAX_SAFE_INTEGER (2^53 − 1, about 285 years at a million records a
 * second), so callers never handle bigints; on disk they take 64 bits, and a
 * value past the safe range is read as corruption.
 */
export const FRAME_MAGIC = 0x594c54f7; // bytes F7 54 4C 59 when written little-endian
export const FRAME_MAGIC_BYTES = Buffer.from([0xf7, 0x54, 0x4c, 0x59]);
export const FRAME_HEADER_BYTES = 28;
const CRC_FROM = 8;

const TWO_32 = 2 ** 32;

export interface FrameHeader {
  length: number;
  seq: number;
  appendedAtMs: number;
  crc: number;
}

/**
 * Why bytes at a position are not a frame: no magic; a length over the
 * record limit; a frame running past the end of the file (a torn write, or
 * a damaged length); a checksum mismatch; a sequence number out of order.
 */
export type FrameFault = 'bad-magic' | 'bad-length' | 'incomplete' | 'bad-checksum' | 'bad-sequence';

export function frameBytes(length: number): number {
  return FRAME_HEADER_BYTES + length;
}

/**
 * A record's payload: its bytes, or the parts they are made of, in order.
 * Given in parts, a payload is copied once, into its frame, rather than
 * first joined into a buffer of its own: a sink queue's records are a small
 * envelope before a request body, and joining them cost a buffer the size
 * of every request of every flush.
 */
export type Payload = Uint8Array | readonly Uint8Array[];

export function payloadLength(p: Payload): number {
  if (p instanceof Uint8Array) return p.length;
  let n = 0;
  for (const part of p) n += part.length;
  return n;
}

/** Writes the frame for `payload` into `out` at `at`; returns the offset after it. */
export function encodeFrame(out: Buffer, at: number, salt: number, seq: number, appendedAtMs: number, payload: Payload): number {
  const length = payloadLength(payload);
  out.writeUInt32LE(FRAME_MAGIC, at);
  out.writeUInt32LE(length, at + 8);
  writeU64(out, at + 12, seq);
  writeU64(out, at + 20, appendedAtMs);
  if (payload instanceof Uint8Array) out.set(payload, at + FRAME_HEADER_BYTES);
  else {
    let to = at + FRAME_HEADER_BYTES;
    for (const part of payload) {
      out.set(part, to);
      to += part.length;
    }
  }
  const end = at + FRAME_HEADER_BYTES + length;
  out.writeUInt32LE(crc32c(out.subarray(at + CRC_FROM, end), salt), at + 4);
  return end;
}

/**
 * Reads the header at `at`, which the caller guarantees has
 * FRAME_HEADER_BYTES available. Returns a fault when the magic is wrong or
 * a 64-bit field leaves the safe range; the length is checked by the
 * caller, which knows the limits.
 */
export function readFrameHeader(buf: Buffer, at: number): FrameHeader | FrameFault {
  if (buf.readUInt32LE(at) !== FRAME_MAGIC) return 'bad-magic';
  const seq = readU64(buf, at + 12);
  const appendedAtMs = readU64(buf, at + 20);
  if (seq < 0 || appendedAtMs < 0) return 'bad-sequence';
  return { crc: buf.readUInt32LE(at + 4), length: buf.readUInt32LE(at + 8), seq, appendedAtMs };
}

/** Whether the frame at `at`, whose header is `h` and whose bytes are all in `buf`, has an intact checksum. */
export function frameChecksumOk(buf: Buffer, at: number, h: FrameHeader, salt: number): boolean {
  return crc32c(buf.subarray(at + CRC_FROM, at + FRAME_HEADER_BYTES + h.length), salt) === h.crc;
}

/** Writes a safe non-negative integer as 64 bits. */
export function writeU64(buf: Buffer, at: number, v: number): void {
  buf.writeUInt32LE(v % TWO_32, at);
  buf.writeUInt32LE(Math.floor(v / TWO_32), at + 4);
}

/** Reads 64 bits; -1 when the value is past Number.MAX_SAFE_INTEGER. */
export function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32LE(at + 4);
  if (hi > 0x1fffff) return -1;
  return hi * TWO_32 + buf.readUInt32LE(at);
}
