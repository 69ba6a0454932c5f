import { basename, dirname } from 'node:path';
import type { FileAccess, OpenMode, SpoolFile } from '../../agent/spool/file-access.js';

/**
 * An in-memory FileAccess that keeps two states of everything: what a
 * program sees (the page cache) and what would survive a power loss (what
 * was fsynced). crash() makes the second the only one, as a power cut
 * would, with these rules:
 *
 * - File data: writes and truncations not followed by an fsync of that file
 *   are lost. In `drop` mode (the default) all of them are, except the last
 *   one, which survives torn at a random byte (a truncation survives or
 *   not). In `prefix` mode a random number of them survive in order and the
 *   next one is torn (a disk that writes back in order).
 * - Directory entries: creations, renames and unlinks not followed by an
 *   fsync of the directory are lost, except a random prefix of them in
 *   order (a journaling file system commits metadata in order).
 *
 * Directories themselves are made durably by mkdir. A crash can also be
 * armed to happen just before the N-th operation that changes or syncs
 * anything (crashAtOp), so tests hit every point of an operation; from
 * then on every call fails. restart() gives a fresh instance holding what
 * survived, as the machine would after rebooting.
 */

export type CrashMode = 'drop' | 'prefix';

export class SimulatedCrash extends Error {
  readonly code = 'ESIMCRASH';
  constructor() {
    super('simulated power loss');
    this.name = 'SimulatedCrash';
  }
}

type DataOp = { kind: 'write'; pos: number; bytes: Buffer } | { kind: 'truncate'; length: number };
type DirOp = { kind: 'link'; name: string; inode: Inode } | { kind: 'unlink'; name: string } | { kind: 'rename'; from: string; to: string };

class Inode {
  data: Buffer;
  size: number;
  durable: Buffer;
  pending: DataOp[] = [];
  constructor(content: Buffer = Buffer.alloc(0)) {
    this.data = Buffer.from(content);
    this.size = content.length;
    this.durable = Buffer.from(content);
  }

  apply(op: DataOp): void {
    if (op.kind === 'truncate') {
      if (op.length > this.data.length) this.grow(op.length);
      if (op.length > this.size) this.data.fill(0, this.size, op.length);
      this.size = op.length;
      return;
    }
    const end = op.pos + op.bytes.length;
    if (end > this.data.length) this.grow(end);
    if (op.pos > this.size) this.data.fill(0, this.size, op.pos);
    op.bytes.copy(this.data, op.pos);
    this.size = Math.max(this.size, end);
  }

  private grow(n: number): void {
    const next = Buffer.alloc(Math.max(n, this.data.length * 2, 256));
    this.data.copy(next, 0, 0, this.size);
    this.data = next;
  }

  current(): Buffer {
    return this.data.subarray(0, this.size);
  }
}

class Dir {
  entries = new Map<string, Inode>();
  durable = new Map<string, Inode>();
  pending: DirOp[] = [];
}

/** Deterministic random numbers from a seed (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultOptions {
  seed?: number;
  mode?: CrashMode;
  /** Chance that an operation yields to the event loop before completing, so concurrent callers interleave. Default 0.3. */
  yieldChance?: number;
  /** Size of the disk: files take whole 4 KiB blocks, and a write that needs more blocks than are free writes what fits and fails with ENOSPC. Default: unbounded. */
  capacityBytes?: number;
}

/** The allocation unit of the simulated disk. */
export const BLOCK_BYTES = 4096;
const blocks = (size: number): number => Math.ceil(size / BLOCK_BYTES);

export class FaultFileAccess implements FileAccess {
  readonly random: () => number;
  mode: CrashMode;
  private readonly yieldChance: number;
  private dirs = new Map<string, Dir>();
  private crashedFlag = false;
  private ops = 0;
  private crashAt = Infinity;
  private failures: Array<{ op: string; code: string }> = [];
  readonly counts = { writes: 0, fileSyncs: 0, dirSyncs: 0, opens: 0 };
  /** The disk's size (changeable, as an operator freeing or adding space would); Infinity for none. */
  capacityBytes: number;

  constructor(opts: FaultOptions = {}) {
    this.capacityBytes = opts.capacityBytes ?? Infinity;
    this.random = seededRandom(opts.seed ?? 1);
    this.mode = opts.mode ?? 'drop';
    this.yieldChance = opts.yieldChance ?? 0.3;
  }

  get crashed(): boolean {
    return this.crashedFlag;
  }

  /** Operations counted so far (those crashAtOp counts). */
  get opCount(): number {
    return this.ops;
  }

  /** Crash just before the n-th counted operation from now (1 = the next one). */
  crashAtOp(n: number): void {
    this.crashAt = this.ops + n;
  }

  /** Makes the next operation named `op` (write, sync, truncate, open, rename, unlink, syncDir) fail with `code`; a failing write leaves a random prefix of its bytes behind, as a short write before ENOSPC does. */
  failNext(op: string, code: string): void {
    this.failures.push({ op, code });
  }

  /** Power loss now: only what the rules above keep survives; every later call fails. */
  crash(): void {
    if (this.crashedFlag) return;
    this.crashedFlag = true;
    const rnd = this.random;
    for (const dir of this.dirs.values()) {
      const keep = Math.floor(rnd() * (dir.pending.length + 1));
      const entries = new Map(dir.durable);
      for (const op of dir.pending.slice(0, keep)) applyDirOp(entries, op);
      dir.entries = entries;
      dir.durable = new Map(entries);
      dir.pending = [];
    }
    const inodes = new Set<Inode>();
    for (const dir of this.dirs.values()) for (const i of dir.entries.values()) inodes.add(i);
    for (const inode of inodes) {
      const survivor = new Inode(inode.durable);
      const ops = inode.pending;
      if (ops.length > 0) {
        const keep = this.mode === 'prefix' ? Math.floor(rnd() * (ops.length + 1)) : ops.length - 1;
        // In drop mode every op but the last is lost; in prefix mode the first `keep` land whole.
        if (this.mode === 'prefix') for (const op of ops.slice(0, keep)) survivor.apply(op);
        const torn = ops[keep];
        if (torn !== undefined) {
          if (torn.kind === 'write') {
            const part = torn.bytes.subarray(0, Math.floor(rnd() * (torn.bytes.length + 1)));
            if (part.length > 0) survivor.apply({ kind: 'write', pos: torn.pos, bytes: part });
          } else if (rnd() < 0.5) {
            survivor.apply(torn);
          }
        }
      }
      inode.durable = Buffer.from(survivor.current());
      inode.data = Buffer.from(survivor.current());
      inode.size = inode.data.length;
      inode.pending = [];
    }
  }

  /** The machine after the power comes back: a new instance holding what survived. */
  restart(opts: Omit<FaultOptions, 'seed'> = {}): FaultFileAccess {
    if (!this.crashedFlag) this.crash();
    const next = new FaultFileAccess({
      seed: Math.floor(this.random() * 2 ** 32),
      mode: opts.mode ?? this.mode,
      yieldChance: opts.yieldChance ?? this.yieldChance,
      capacityBytes: opts.capacityBytes ?? this.capacityBytes,
    });
    const copies = new Map<Inode, Inode>();
    for (const [path, dir] of this.dirs) {
      const d = new Dir();
      for (const [name, inode] of dir.entries) {
        let c = copies.get(inode);
        if (c === undefined) copies.set(inode, (c = new Inode(inode.current())));
        d.entries.set(name, c);
      }
      d.durable = new Map(d.entries);
      next.dirs.set(path, d);
    }
    return next;
  }

  // --- inspection and damage, for tests -------------------------------------

  /** Current content of a file (what a program would read), or undefined. */
  peek(path: string): Buffer | undefined {
    const inode = this.dirs.get(dirname(path))?.entries.get(basename(path));
    return inode === undefined ? undefined : Buffer.from(inode.current());
  }

  /** Replaces a file's content, durably (for damage tests). */
  poke(path: string, content: Buffer): void {
    const dir = this.dirOf(path);
    let inode = dir.entries.get(basename(path));
    if (inode === undefined) {
      inode = new Inode();
      dir.entries.set(basename(path), inode);
      dir.durable.set(basename(path), inode);
    }
    inode.data = Buffer.from(content);
    inode.size = content.length;
    inode.durable = Buffer.from(content);
    inode.pending = [];
  }

  /** Removes a file, durably (for damage tests). */
  remove(path: string): void {
    const dir = this.dirOf(path);
    dir.entries.delete(basename(path));
    dir.durable.delete(basename(path));
  }

  list(dir: string): string[] {
    return [...(this.dirs.get(dir)?.entries.keys() ?? [])].sort();
  }

  // --- FileAccess --------------------------------------------------------------

  async open(path: string, mode: OpenMode): Promise<SpoolFile> {
    this.counts.opens++;
    const creates = mode === 'create' || mode === 'replace';
    if (creates) this.step('open');
    else this.check();
    const dir = this.dirOf(path);
    const name = basename(path);
    let inode = dir.entries.get(name);
    if (mode === 'read' || mode === 'read-write') {
      if (inode === undefined) throw errno('ENOENT', `open ${path}`);
    } else if (mode === 'create' && inode !== undefined) {
      throw errno('EEXIST', `open ${path}`);
    } else if (inode === undefined) {
      inode = new Inode();
      inode.durable = Buffer.alloc(0);
      dir.entries.set(name, inode);
      dir.pending.push({ kind: 'link', name, inode });
    } else {
      const op: DataOp = { kind: 'truncate', length: 0 };
      inode.apply(op);
      inode.pending.push(op);
    }
    return new FaultFile(this, inode, mode !== 'read');
  }

  async rename(from: string, to: string): Promise<void> {
    if (dirname(from) !== dirname(to)) throw errno('EXDEV', `rename ${from} ${to}: the model keeps renames within one directory`);
    this.step('rename');
    const dir = this.dirOf(from);
    const op: DirOp = { kind: 'rename', from: basename(from), to: basename(to) };
    if (!dir.entries.has(op.from)) throw errno('ENOENT', `rename ${from}`);
    applyDirOp(dir.entries, op);
    dir.pending.push(op);
  }

  async unlink(path: string): Promise<void> {
    this.step('unlink');
    const dir = this.dirOf(path);
    const name = basename(path);
    if (!dir.entries.has(name)) throw errno('ENOENT', `unlink ${path}`);
    dir.entries.delete(name);
    dir.pending.push({ kind: 'unlink', name });
  }

  async readdir(path: string): Promise<string[]> {
    this.check();
    await this.maybeYield();
    this.check();
    const dir = this.dirs.get(path);
    if (dir === undefined) throw errno('ENOENT', `readdir ${path}`);
    return [...dir.entries.keys()];
  }

  async mkdir(path: string): Promise<void> {
    this.check();
    if (!this.dirs.has(path)) this.dirs.set(path, new Dir());
  }

  async freeBytes(_dir: string): Promise<number> {
    this.check();
    return this.capacityBytes === Infinity ? Infinity : Math.max(0, this.capacityBytes - this.usedBytes());
  }

  async syncDir(path: string): Promise<void> {
    await this.maybeYield();
    this.step('syncDir');
    const dir = this.dirs.get(path);
    if (dir === undefined) throw errno('ENOENT', `syncDir ${path}`);
    dir.durable = new Map(dir.entries);
    dir.pending = [];
    this.counts.dirSyncs++;
  }

  /** Bytes the files now linked take, in whole blocks. */
  usedBytes(): number {
    const seen = new Set<Inode>();
    for (const d of this.dirs.values()) for (const inode of d.entries.values()) seen.add(inode);
    let n = 0;
    for (const inode of seen) n += blocks(inode.size) * BLOCK_BYTES;
    return n;
  }

  /** How far a file of `size` bytes may be written before the disk is full. */
  writableEnd(size: number): number {
    if (this.capacityBytes === Infinity) return Infinity;
    const free = Math.max(0, Math.floor((this.capacityBytes - this.usedBytes()) / BLOCK_BYTES));
    return (blocks(size) + free) * BLOCK_BYTES;
  }

  // --- internals --------------------------------------------------------------

  check(): void {
    if (this.crashedFlag) throw new SimulatedCrash();
  }

  /**
   * Counts a durability-relevant operation: crashes first if armed, fails
   * if told to. Synchronous on purpose: the caller's change must follow in
   * the same tick, or a crash in between would let it land after the power
   * was gone.
   */
  step(op: string): void {
    this.check();
    this.ops++;
    if (this.ops >= this.crashAt) {
      this.crash();
      throw new SimulatedCrash();
    }
    const i = this.failures.findIndex((f) => f.op === op);
    if (i >= 0) {
      const [f] = this.failures.splice(i, 1);
      throw errno(f!.code, `injected ${op} failure`);
    }
  }

  async maybeYield(): Promise<void> {
    if (this.yieldChance > 0 && this.random() < this.yieldChance) await new Promise((r) => setImmediate(r));
  }

  takeFailure(op: string): string | undefined {
    const i = this.failures.findIndex((f) => f.op === op);
    if (i < 0) return undefined;
    return this.failures.splice(i, 1)[0]!.code;
  }

  private dirOf(path: string): Dir {
    const dir = this.dirs.get(dirname(path));
    if (dir === undefined) throw errno('ENOENT', `no directory ${dirname(path)}`);
    return dir;
  }
}

class FaultFile implements SpoolFile {
  private closed = false;
  constructor(
    private readonly fs: FaultFileAccess,
    private readonly inode: Inode,
    private readonly writable: boolean,
  ) {}

  async read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.live();
    await this.fs.maybeYield();
    this.live();
    const data = this.inode.current();
    const n = Math.max(0, Math.min(length, data.length - position));
    if (n > 0) buf.set(data.subarray(position, position + n), offset);
    return n;
  }

  async write(buf: Uint8Array, position: number): Promise<void> {
    this.live();
    if (!this.writable) throw errno('EBADF', 'write on a read-only file');
    const code = this.fs.takeFailure('write');
    this.fs.step('write-data');
    this.fs.counts.writes++;
    if (code !== undefined) {
      // A short write, then the error: some bytes reached the page cache.
      const part = Buffer.from(buf.subarray(0, Math.floor(this.fs.random() * buf.length)));
      const op: DataOp = { kind: 'write', pos: position, bytes: part };
      this.inode.apply(op);
      this.inode.pending.push(op);
      throw errno(code, 'injected write failure');
    }
    const room = this.fs.writableEnd(this.inode.size);
    if (position + buf.length > room) {
      // A full disk: what fits in the blocks left is written, then ENOSPC.
      const part = Buffer.from(buf.subarray(0, Math.max(0, room - position)));
      if (part.length > 0) {
        const op: DataOp = { kind: 'write', pos: position, bytes: part };
        this.inode.apply(op);
        this.inode.pending.push(op);
      }
      throw errno('ENOSPC', 'no space left on device');
    }
    const op: DataOp = { kind: 'write', pos: position, bytes: Buffer.from(buf) };
    this.inode.apply(op);
    this.inode.pending.push(op);
    await this.fs.maybeYield();
    this.fs.check();
  }

  async sync(): Promise<void> {
    this.live();
    // An fsync takes time: other calls run meanwhile, and a crash during it means it never happened.
    await this.fs.maybeYield();
    this.fs.step('sync');
    this.inode.durable = Buffer.from(this.inode.current());
    this.inode.pending = [];
    this.fs.counts.fileSyncs++;
  }

  async truncate(length: number): Promise<void> {
    this.live();
    this.fs.step('truncate');
    const op: DataOp = { kind: 'truncate', length };
    this.inode.apply(op);
    this.inode.pending.push(op);
  }

  async size(): Promise<number> {
    this.live();
    return this.inode.size;
  }

  async close(): Promise<void> {
    // Closing after a crash is harmless and lets cleanup paths run.
    this.closed = true;
  }

  private live(): void {
    if (this.closed) throw errno('EBADF', 'file is closed');
    this.fs.check();
  }
}

function applyDirOp(entries: Map<string, Inode>, op: DirOp): void {
  if (op.kind === 'link') entries.set(op.name, op.inode);
  else if (op.kind === 'unlink') entries.delete(op.name);
  else {
    const inode = entries.get(op.from);
    if (inode === undefined) return;
    entries.delete(op.from);
    entries.set(op.to, inode);
  }
}

function errno(code: string, message: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: ${message}`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}
