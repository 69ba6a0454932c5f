import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FileAccess, OpenMode, SpoolFile } from '../../agent/spool/file-access.js';
import type { LogRecord, SegmentLog } from '../../agent/spool/segment-log.js';

/** A fresh directory under the system temp dir; removed by the returned cleanup. */
export function tempDir(prefix = 'tally-spool-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A payload that says who it is: 4 bytes of id, 4 bytes of length, then
 * bytes derived from the id. Any record whose payload is not exactly
 * payload(id, size) for its own id and size is garbage.
 */
export function payload(id: number, size: number): Buffer {
  const n = Math.max(8, size);
  const b = Buffer.allocUnsafe(n);
  b.writeUInt32LE(id, 0);
  b.writeUInt32LE(n, 4);
  let x = (id * 2654435761) >>> 0;
  for (let i = 8; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/** The id of a payload made by payload(), or undefined if it is not exactly one. */
export function payloadId(b: Buffer): number | undefined {
  if (b.length < 8 || b.readUInt32LE(4) !== b.length) return undefined;
  const id = b.readUInt32LE(0);
  return payload(id, b.length).equals(b) ? id : undefined;
}

/** Every undelivered record, in pages of `page`. */
export async function readAll(log: SegmentLog, afterSeq = 0, page = 1000): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  let after = afterSeq;
  for (;;) {
    const got = await log.read(after, { maxRecords: page });
    if (got.length === 0) return out;
    out.push(...got);
    after = got[got.length - 1]!.seq;
  }
}

/** Runs `fn` and fails the test if it takes longer than `ms` (so a hung promise is a failure, not a timeout). */
export async function within<T>(ms: number, what: string, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      fn(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface FileHooks {
  /** Called with a short description of every operation that changes or syncs something, before it runs. */
  onOp?: (op: string) => void;
  /** Awaited before each file fsync runs. */
  beforeSync?: (path: string) => Promise<void>;
}

/** A FileAccess that reports (and can hold up) what another one does. */
export function watchFiles(inner: FileAccess, hooks: FileHooks): FileAccess {
  const note = (op: string): void => hooks.onOp?.(op);
  return {
    async open(path: string, mode: OpenMode): Promise<SpoolFile> {
      if (mode === 'create' || mode === 'replace') note(`${mode} ${path}`);
      const f = await inner.open(path, mode);
      return {
        read: (buf, offset, length, position) => f.read(buf, offset, length, position),
        write: (buf, position) => {
          note(`write ${path}`);
          return f.write(buf, position);
        },
        async sync() {
          await hooks.beforeSync?.(path);
          note(`sync ${path}`);
          return f.sync();
        },
        truncate: (length) => {
          note(`truncate ${path} ${length}`);
          return f.truncate(length);
        },
        size: () => f.size(),
        close: () => f.close(),
      };
    },
    rename: (from, to) => {
      note(`rename ${from} ${to}`);
      return inner.rename(from, to);
    },
    unlink: (path) => {
      note(`unlink ${path}`);
      return inner.unlink(path);
    },
    readdir: (dir) => inner.readdir(dir),
    mkdir: (dir) => inner.mkdir(dir),
    syncDir: (dir) => {
      note(`syncDir ${dir}`);
      return inner.syncDir(dir);
    },
    freeBytes: (dir) => inner.freeBytes(dir),
  };
}
