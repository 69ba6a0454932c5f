import { constants, promises as fsp } from 'node:fs';

/**
 * The only way the spool touches the disk. It is small on purpose: the
 * power-loss test swaps in an implementation that remembers which bytes and
 * directory entries were made durable and throws away the rest on a
 * simulated crash, so every call here is one the log's durability argument
 * depends on.
 *
 * Errors carry Node's `code` (ENOENT, EEXIST, ENOSPC, ...), as fs does.
 */
export interface FileAccess {
  /**
   * `read`: an existing file, read-only. `read-write`: an existing file.
   * `create`: a new file, failing with EEXIST if the name is taken (so a
   * writer never clobbers a file it did not expect). `replace`: created or
   * truncated to zero.
   */
  open(path: string, mode: OpenMode): Promise<SpoolFile>;
  /** Atomic within one directory; replaces `to` if it exists. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Entry names, in no particular order. */
  readdir(dir: string): Promise<string[]>;
  /** Creates the directory and its parents if missing. */
  mkdir(dir: string): Promise<void>;
  /**
   * Makes the directory's entries durable: files created, renamed or
   * unlinked in it before this call survive a power loss after it.
   */
  syncDir(dir: string): Promise<void>;
  /** Bytes an unprivileged writer may still add on the file system holding `dir` (Infinity when unknown or unbounded). */
  freeBytes(dir: string): Promise<number>;
}

export type OpenMode = 'read' | 'read-write' | 'create' | 'replace';

export interface SpoolFile {
  /** Reads up to `length` bytes at `position` into `buf[offset..]`; fewer only at end of file. */
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  /** Writes all of `buf` at `position` (positional: no shared file offset). */
  write(buf: Uint8Array, position: number): Promise<void>;
  /** Makes the data written so far, and the file's size, durable (fdatasync). */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

const FLAGS: Record<OpenMode, number> = {
  read: constants.O_RDONLY,
  'read-write': constants.O_RDWR,
  create: constants.O_RDWR | constants.O_CREAT | constants.O_EXCL,
  replace: constants.O_RDWR | constants.O_CREAT | constants.O_TRUNC,
};

class NodeSpoolFile implements SpoolFile {
  constructor(private readonly fh: fsp.FileHandle) {}

  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    let done = 0;
    // A regular file returns short reads only at its end, but the contract is "fewer only at end", so loop.
    while (done < length) {
      const { bytesRead } = await this.fh.read(buf, offset + done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  }

  async write(buf: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, done, buf.length - done, position + done);
      done += bytesWritten;
    }
  }

  sync(): Promise<void> {
    return this.fh.datasync();
  }

  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }

  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

/** FileAccess on the real file system. */
export const nodeFileAccess: FileAccess = {
  // Owner only: queues and the journal hold what applications sent, which may be private.
  async open(path, mode) {
    return new NodeSpoolFile(await fsp.open(path, FLAGS[mode], 0o600));
  },
  rename: (from, to) => fsp.rename(from, to),
  unlink: (path) => fsp.unlink(path),
  readdir: (dir) => fsp.readdir(dir),
  async mkdir(dir) {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  },
  async syncDir(dir) {
    const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async freeBytes(dir) {
    const st = await fsp.statfs(dir);
    return st.bavail * st.bsize;
  },
};

/** True when `err` is a Node-style error with this code. */
export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
