import { randomBytes } from 'node:crypto';
import { constants, promises as fsp } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { hasCode } from './file-access.js';
import { bootId, processCommandLine, processLiveness, processStat } from './process-info.js';
import { ProcessLock } from './process-lock.js';

export const LOCK_FILE_NAME = 'tally.lock';

/** Who holds (or held) a lock: the JSON in the lock file. */
export interface LockHolder {
  pid: number;
  /** Clock ticks since boot when the process started (Linux), so a reused PID is not mistaken for the holder. */
  startTime?: number;
  bootId?: string;
  hostname: string;
  commandLine?: string;
  /** ISO time the lock was taken. */
  acquiredAt: string;
}

/** The directory is locked by a live process (or one on another host, which cannot be checked). */
export class DirLockHeldError extends Error {
  readonly code = 'ELOCKED';
  constructor(
    readonly lockPath: string,
    readonly holder: LockHolder,
    reason: 'this-process' | 'alive' | 'other-host' | 'socket',
  ) {
    const who =
      reason === 'this-process'
        ? `this process (pid ${holder.pid})`
        : holder.pid === 0
          ? 'a process this user cannot see'
          : `process ${holder.pid}${holder.commandLine !== undefined ? ` (${holder.commandLine})` : ''}${reason === 'other-host' ? ` on host ${holder.hostname}` : ''}`;
    const hint =
      reason === 'other-host'
        ? `; its liveness cannot be checked from ${hostname()}: if that process is gone, remove ${lockPath}`
        : '; only one tally-agent may use a data directory';
    // The socket is the kernel's lock: its holder is alive whatever the lock file says (or whether it exists).
    const since = reason === 'socket' ? ', which holds its lock socket (the lock file is missing or names another)' : ` since ${holder.acquiredAt}`;
    super(`data directory is locked by ${who}${since}: ${lockPath}${hint}`);
    this.name = 'DirLockHeldError';
  }
}

type Refusal = 'this-process' | 'alive' | 'other-host';
type Verdict = { stale: true } | { stale: false; reason: Refusal };

interface Seen {
  raw: string;
  ino: number;
  holder: LockHolder | undefined;
}

const ATTEMPTS = 5;
const BREAK_WAIT_MS = 2000;

/**
 * One writer per data directory, in two layers. First the kernel's: an
 * abstract Unix socket named after the directory (ProcessLock), held for the
 * life of the process and gone with it, whatever happens to files. Then the
 * lock file, which says who holds the directory and still guards where the
 * socket cannot (another network namespace, another host, not Linux).
 *
 * The lock file is created whole and at
 * once: the holder's description is written to a temp file, fsynced, and
 * hard-linked to the lock name, which fails if the name exists, so a
 * reader never sees a half-written lock. A lock whose holder is dead (no
 * such PID, a zombie, or a PID now used by a process that started later)
 * or that was taken before the machine last booted is stale and taken
 * over; removing it happens under a short-lived second lock, so two
 * processes finding the same stale lock cannot remove each other's new one.
 *
 * Meant for a local file system: a holder on another host (a shared
 * volume) cannot be checked, so its lock is reported and never taken over.
 */
export class DirLock {
  private released = false;

  private constructor(
    private readonly socket: ProcessLock | undefined,
    readonly path: string,
    /** This process, as written in the lock. */
    readonly holder: LockHolder,
    /** The dead holder of a stale lock this one replaced (undefined if none, `unreadable` if its file was). */
    readonly tookOver: LockHolder | 'unreadable' | undefined,
    private readonly ino: number,
    private readonly raw: string,
  ) {}

  /** Takes the lock on `dir` (created if missing), or fails at once with DirLockHeldError naming the holder. */
  static async acquire(dir: string, fileName = LOCK_FILE_NAME): Promise<DirLock> {
    await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
    const path = join(dir, fileName);
    const bound = await ProcessLock.tryAcquire(dir, fileName);
    if ('heldBy' in bound) throw await heldBySocket(path, bound.heldBy);
    const socket = 'lock' in bound ? bound.lock : undefined;
    try {
      return await DirLock.takeFile(socket, dir, path, fileName);
    } catch (err) {
      await socket?.release();
      throw err;
    }
  }

  private static async takeFile(socket: ProcessLock | undefined, dir: string, path: string, fileName: string): Promise<DirLock> {
    const me = describeSelf();
    const temp = await writeTemp(path, me);
    let tookOver: LockHolder | 'unreadable' | undefined;
    try {
      for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
        try {
          await fsp.link(temp, path);
          const { ino } = await fsp.stat(path);
          await syncDir(dir);
          await removeOrphanTemps(dir, fileName);
          return new DirLock(socket, path, me, tookOver, ino, serialize(me));
        } catch (err) {
          if (!hasCode(err, 'EEXIST')) throw err;
        }
        const seen = await readLock(path);
        if (seen === undefined) continue; // released meanwhile: try again
        const v = judge(seen.holder);
        if (!v.stale) throw refusal(path, seen.holder!, v.reason);
        await removeStale(path, seen);
        tookOver = seen.holder ?? 'unreadable';
      }
      throw new Error(`${path}: could not take the lock after ${ATTEMPTS} attempts; other processes keep taking it`);
    } finally {
      await fsp.unlink(temp).catch(() => {});
    }
  }

  /** Removes the lock file if it is still this lock's. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    try {
      // Inode numbers are reused at once on some file systems, so the content must match too.
      const seen = await readLock(this.path);
      if (seen !== undefined && seen.ino === this.ino && seen.raw === this.raw) await fsp.unlink(this.path);
    } finally {
      // Last: until the file is gone, a newcomer must still be refused by the socket.
      await this.socket?.release();
    }
  }
}

/**
 * The refusal when another socket holds the directory's name. The lock file
 * names the holder when it is still that process's; when it was deleted or
 * replaced, the holder is found from the socket instead.
 */
async function heldBySocket(path: string, pid: number | undefined): Promise<DirLockHeldError> {
  const seen = await readLock(path).catch(() => undefined);
  const v = judge(seen?.holder);
  if (!v.stale && (pid === undefined || seen!.holder!.pid === pid)) return refusal(path, seen!.holder!, v.reason);
  if (pid === process.pid) return new DirLockHeldError(path, describeSelf(), 'this-process');
  const holder: LockHolder = { pid: pid ?? 0, hostname: hostname(), acquiredAt: 'unknown' };
  const cmd = pid === undefined ? undefined : processCommandLine(pid);
  if (cmd !== undefined) holder.commandLine = cmd;
  return new DirLockHeldError(path, holder, 'socket');
}

function refusal(path: string, holder: LockHolder, reason: Refusal): DirLockHeldError {
  // Name the holder as /proc shows it now, when it can be seen from here.
  const live = reason === 'alive' ? processCommandLine(holder.pid) : undefined;
  return new DirLockHeldError(path, live === undefined ? holder : { ...holder, commandLine: live }, reason);
}

function describeSelf(): LockHolder {
  const stat = processStat(process.pid);
  const me: LockHolder = { pid: process.pid, hostname: hostname(), acquiredAt: new Date().toISOString() };
  if (stat !== undefined) me.startTime = stat.startTime;
  const boot = bootId();
  if (boot !== undefined) me.bootId = boot;
  const cmd = processCommandLine(process.pid) ?? process.argv.join(' ');
  me.commandLine = cmd;
  return me;
}

function judge(h: LockHolder | undefined): Verdict {
  // Locks are written whole (see DirLock), so an unreadable one was damaged, not caught half-written.
  if (h === undefined) return { stale: true };
  const boot = bootId();
  if (h.bootId !== undefined && boot !== undefined && h.bootId !== boot) return { stale: true };
  if (h.hostname !== hostname()) return { stale: false, reason: 'other-host' };
  if (h.pid === process.pid && (h.startTime === undefined || h.startTime === processStat(process.pid)?.startTime)) {
    return { stale: false, reason: 'this-process' };
  }
  return processLiveness(h.pid, h.startTime) === 'dead' ? { stale: true } : { stale: false, reason: 'alive' };
}

/**
 * Removes a stale lock, but only the one judged: under a second lock
 * (`<lock>.break`, same protocol), the file is read again and removed only
 * if it is still the same file with the same content.
 */
async function removeStale(path: string, seen: Seen): Promise<void> {
  const breaker = `${path}.break`;
  const temp = await writeTemp(breaker, describeSelf());
  try {
    const deadline = Date.now() + BREAK_WAIT_MS;
    for (;;) {
      try {
        await fsp.link(temp, breaker);
        break;
      } catch (err) {
        if (!hasCode(err, 'EEXIST')) throw err;
      }
      const other = await readLock(breaker);
      if (other === undefined) continue;
      if (judge(other.holder).stale) {
        // Its holder died while breaking: only this narrow step can race, and only with another such death.
        await fsp.unlink(breaker).catch(() => {});
        continue;
      }
      // Someone alive is breaking the same lock; when it is done the lock is theirs and our next look says so.
      if (Date.now() > deadline) throw new Error(`${breaker}: held by process ${other.holder?.pid} for over ${BREAK_WAIT_MS} ms`);
      await sleep(20);
      const again = await readLock(path);
      if (again === undefined || again.ino !== seen.ino) return;
    }
    try {
      const now = await readLock(path);
      if (now !== undefined && now.ino === seen.ino && now.raw === seen.raw) await fsp.unlink(path);
    } finally {
      await fsp.unlink(breaker).catch(() => {});
    }
  } finally {
    await fsp.unlink(temp).catch(() => {});
  }
}

/** Temp files of acquirers that died between writing and removing them. */
async function removeOrphanTemps(dir: string, fileName: string): Promise<void> {
  const prefix = `${fileName}.`;
  for (const name of await fsp.readdir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const m = /^(?:break\.)?(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name.slice(prefix.length));
    if (m === null) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && processLiveness(pid, undefined) === 'dead') await fsp.unlink(join(dir, name)).catch(() => {});
  }
}

async function writeTemp(path: string, h: LockHolder): Promise<string> {
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fh = await fsp.open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.writeFile(serialize(h));
    await fh.sync();
  } finally {
    await fh.close();
  }
  return temp;
}

function serialize(h: LockHolder): string {
  return JSON.stringify(h) + '\n';
}

/** The lock file's content and inode, or undefined if there is none. */
async function readLock(path: string): Promise<Seen | undefined> {
  let fh;
  try {
    fh = await fsp.open(path, constants.O_RDONLY);
  } catch (err) {
    if (hasCode(err, 'ENOENT')) return undefined;
    throw err;
  }
  try {
    const { ino, size } = await fh.stat();
    // A lock is a few hundred bytes; a huge file is damage, and is not read whole.
    const buf = Buffer.alloc(Math.min(size, 64 * 1024));
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    const raw = buf.subarray(0, bytesRead).toString('utf8');
    return { raw, ino, holder: parseHolder(raw) };
  } finally {
    await fh.close();
  }
}

function parseHolder(raw: string): LockHolder | undefined {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (!Number.isSafeInteger(o.pid) || (o.pid as number) <= 0 || typeof o.hostname !== 'string' || typeof o.acquiredAt !== 'string') return undefined;
  const h: LockHolder = { pid: o.pid as number, hostname: o.hostname, acquiredAt: o.acquiredAt };
  if (Number.isSafeInteger(o.startTime)) h.startTime = o.startTime as number;
  if (typeof o.bootId === 'string') h.bootId = o.bootId;
  if (typeof o.commandLine === 'string') h.commandLine = o.commandLine;
  return h;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
