import { crc32c } from '@node-rs/crc32';
import { readU64, writeU64 } from './record-frame.js';

/**
 * A segment file is this 32-byte header followed by frames:
 *
 *   0  8  magic "TALLYSEG"
 *   8  4  CRC32C of bytes 12..32
 *  12  2  format version (1)
 *  14  2  zero
 *  16  4  salt that seeds every frame CRC in the file
 *  20  8  sequence number of the first record
 *  28  4  zero
 *
 * The file is named by the same first sequence number, zero-padded to 20
 * digits so that names sort as numbers do. The header is written in the
 * same write as the segment's first records and made durable by the same
 * fsync, so a segment holding an acknowledged record always has one.
 */
export const SEGMENT_HEADER_BYTES = 32;
export const SEGMENT_SUFFIX = '.seg';
const MAGIC = Buffer.from('TALLYSEG', 'latin1');
const VERSION = 1;
const NAME_RE = /^(\d{20})\.seg$/;

export interface SegmentHeader {
  salt: number;
  firstSeq: number;
}

/** An intact header of a format this code does not read (written by a newer version). */
export interface ForeignHeader {
  unsupportedVersion: number;
}

export function segmentName(firstSeq: number): string {
  return String(firstSeq).padStart(20, '0') + SEGMENT_SUFFIX;
}

/** The first sequence number a segment file name stands for, or undefined if it is not one. */
export function parseSegmentName(name: string): number | undefined {
  const m = NAME_RE.exec(name);
  if (m === null) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n >= 1 ? n : undefined;
}

export function encodeSegmentHeader(out: Buffer, at: number, h: SegmentHeader): void {
  MAGIC.copy(out, at);
  out.writeUInt16LE(VERSION, at + 12);
  out.writeUInt16LE(0, at + 14);
  out.writeUInt32LE(h.salt, at + 16);
  writeU64(out, at + 20, h.firstSeq);
  out.writeUInt32LE(0, at + 28);
  out.writeUInt32LE(crc32c(out.subarray(at + 12, at + SEGMENT_HEADER_BYTES)), at + 8);
}

/** The header in `buf[0..32)`, or undefined when it is missing, torn or damaged. */
export function decodeSegmentHeader(buf: Buffer): SegmentHeader | ForeignHeader | undefined {
  if (buf.length < SEGMENT_HEADER_BYTES) return undefined;
  if (!buf.subarray(0, 8).equals(MAGIC)) return undefined;
  if (crc32c(buf.subarray(12, SEGMENT_HEADER_BYTES)) !== buf.readUInt32LE(8)) return undefined;
  const version = buf.readUInt16LE(12);
  if (version !== VERSION) return { unsupportedVersion: version };
  const firstSeq = readU64(buf, 20);
  if (firstSeq < 1) return undefined;
  return { salt: buf.readUInt32LE(16), firstSeq };
}
