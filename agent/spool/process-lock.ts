import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { hasCode } from './file-access.js';

/**
 * The part of the data directory lock that the kernel enforces: a Linux
 * abstract Unix socket bound under a name made of the directory's device
 * and inode numbers. Only one socket can hold a name; the kernel releases
 * it when the process exits however it exits (kill -9 included), and no
 * file stands for it, so deleting or replacing `tally.lock` (a temp-file
 * cleaner, an operator) cannot admit a second writer.
 *
 * Chosen over flock(2): Node has no flock, and the only native code we have
 * (native/udp-mmsg) is an optional dependency that may not have been built;
 * a lock that silently weakens when the addon is missing is not a lock.
 * A bind works from plain Node everywhere the agent runs.
 *
 * Limits. Abstract names are per network namespace, so two agents in
 * different network namespaces (containers with their own network sharing a
 * volume) do not see each other's socket, and other systems than Linux have
 * no abstract names: there the lock file's PID check, which still runs after
 * this one, alone stands (and it refuses a holder on another host rather
 * than guess). Abstract names have no permissions either: a local user who
 * binds the name first keeps the agent from starting, which is a refusal
 * with a message, never a second writer.
 */
export class ProcessLock {
  private constructor(
    readonly name: string,
    private readonly server: Server,
  ) {}

  /** The abstract name for a directory: stable while the directory exists, another for a directory made anew. */
  static nameFor(dir: string, lockName: string): string {
    const st = statSync(dir, { bigint: true });
    return `tally-agent-lock:${st.dev.toString(16)}:${st.ino.toString(16)}:${lockName}`;
  }

  /**
   * Binds the name; resolves undefined when another socket holds it (a live
   * process has the directory), or when the system has no abstract sockets
   * (then `unsupported` is true and the caller relies on the lock file).
   */
  static async tryAcquire(dir: string, lockName: string): Promise<{ lock: ProcessLock } | { heldBy: number | undefined } | { unsupported: true }> {
    if (process.platform !== 'linux') return { unsupported: true };
    const name = ProcessLock.nameFor(dir, lockName);
    const server = createServer((socket) => socket.destroy());
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ path: `\0${name}`, exclusive: true }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      server.close();
      if (hasCode(err, 'EADDRINUSE')) return { heldBy: socketHolderPid(name) };
      throw err;
    }
    // The lock must not keep the process alive by itself.
    server.unref();
    return { lock: new ProcessLock(name, server) };
  }

  async release(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The process holding an abstract socket, for naming it in the refusal:
 * /proc/net/unix gives the socket's inode, and a process's fd links name
 * the inodes they hold. Only processes this user may look into are found.
 */
export function socketHolderPid(name: string): number | undefined {
  let table: string;
  try {
    table = readFileSync('/proc/net/unix', 'latin1');
  } catch {
    return undefined;
  }
  let inode: string | undefined;
  for (const line of table.split('\n')) {
    // Num RefCount Protocol Flags Type St Inode Path. An abstract path is shown with '@' for every NUL: the
    // leading one, and libuv's padding to the whole sun_path after the name.
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[7]!.startsWith(`@${name}`) && /^@*$/.test(f[7]!.slice(name.length + 1))) {
      inode = f[6];
      break;
    }
  }
  if (inode === undefined) return undefined;
  const target = `socket:[${inode}]`;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === target) return Number(pid);
      } catch {
        // Closed meanwhile.
      }
    }
  }
  return undefined;
}
