import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { type FileAccess, hasCode } from './file-access.js';
import { readU64, writeU64 } from './record-frame.js';

/**
 * The reader's persisted position: every record up to `ackedSeq` was
 * delivered. 32 bytes, little-endian:
 *
 *   0  8  magic "TALLYCUR"
 *   8  4  CRC32C of bytes 12..32
 *  12  2  format version (1)
 *  14  2  zero
 *  16  4  the log's salt (a second copy, for a segment whose header is damaged)
 *  20  8  acknowledged sequence number (0: nothing yet)
 *  28  4  zero
 *
 * Replaced atomically: written to `cursor.tmp`, fsynced, renamed over
 * `cursor`, directory fsynced. A crash leaves either the old or the new
 * cursor, and perhaps a stale temp file that recovery removes.
 */
export const CURSOR_NAME = 'cursor';
export const CURSOR_TEMP_NAME = 'cursor.tmp';
const CURSOR_BYTES = 32;
const MAGIC = Buffer.from('TALLYCUR', 'latin1');
const VERSION = 1;

export interface Cursor {
  salt: number;
  ackedSeq: number;
}

export type CursorRead =
  | { state: 'ok'; cursor: Cursor }
  | { state: 'missing' }
  | { state: 'corrupt' }
  | { state: 'unsupported'; version: number };

export function encodeCursor(c: Cursor): Buffer {
  const out = Buffer.alloc(CURSOR_BYTES);
  MAGIC.copy(out, 0);
  out.writeUInt16LE(VERSION, 12);
  out.writeUInt32LE(c.salt, 16);
  writeU64(out, 20, c.ackedSeq);
  out.writeUInt32LE(crc32c(out.subarray(12)), 8);
  return out;
}

export function decodeCursor(buf: Buffer): CursorRead {
  if (buf.length !== CURSOR_BYTES || !buf.subarray(0, 8).equals(MAGIC)) return { state: 'corrupt' };
  if (crc32c(buf.subarray(12)) !== buf.readUInt32LE(8)) return { state: 'corrupt' };
  const version = buf.readUInt16LE(12);
  if (version !== VERSION) return { state: 'unsupported', version };
  const ackedSeq = readU64(buf, 20);
  if (ackedSeq < 0) return { state: 'corrupt' };
  return { state: 'ok', cursor: { salt: buf.readUInt32LE(16), ackedSeq } };
}

export async function readCursor(files: FileAccess, dir: string): Promise<CursorRead> {
  let f;
  try {
    f = await files.open(join(dir, CURSOR_NAME), 'read');
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return { state: 'missing' };
    throw err;
  }
  try {
    // Never sized by the file: a damaged cursor of any length is read as at most one byte too many.
    const buf = Buffer.alloc(CURSOR_BYTES + 1);
    const n = await f.read(buf, 0, buf.length, 0);
    return decodeCursor(buf.subarray(0, n));
  } finally {
    await f.close();
  }
}

/**
 * Replaces the cursor file; durable when the promise resolves. On a full
 * disk the temp file cannot be made, and a cursor that cannot move keeps
 * every delivered segment on that same disk: so the existing file is then
 * overwritten in place, which needs no new block. The 32 bytes sit in one
 * sector, and a torn write fails the CRC, which recovery reads as "deliver
 * again from the oldest record on disk" (duplicates, never a loss).
 */
export async function writeCursor(files: FileAccess, dir: string, c: Cursor): Promise<void> {
  const temp = join(dir, CURSOR_TEMP_NAME);
  try {
    const f = await files.open(temp, 'replace');
    try {
      await f.write(encodeCursor(c), 0);
      await f.sync();
    } finally {
      await f.close();
    }
  } catch (err) {
    if (!isDiskFull(err)) throw err;
    await files.unlink(temp).catch(() => {});
    await overwriteCursor(files, dir, c, err);
    return;
  }
  await files.rename(temp, join(dir, CURSOR_NAME));
  await files.syncDir(dir);
}

async function overwriteCursor(files: FileAccess, dir: string, c: Cursor, cause: unknown): Promise<void> {
  let f;
  try {
    f = await files.open(join(dir, CURSOR_NAME), 'read-write');
  } catch {
    // No cursor file to reuse (a new log): the disk-full error is the one to report.
    throw cause;
  }
  try {
    await f.write(encodeCursor(c), 0);
    await f.sync();
  } finally {
    await f.close();
  }
}

/** ENOSPC, or EDQUOT (a quota is a full disk for this process). */
export function isDiskFull(err: unknown): boolean {
  return hasCode(err, 'ENOSPC') || hasCode(err, 'EDQUOT');
}
