import { readFileSync } from 'node:fs';

/**
 * What /proc says about a process, for telling a live lock holder from a
 * dead one whose PID was reused. Linux only; elsewhere every answer is
 * undefined and callers fall back to `process.kill(pid, 0)` alone.
 */

/**
 * State letter (field 3; Z for a zombie) and start time in clock ticks
 * since boot (field 22) from /proc/<pid>/stat. With the PID the start time
 * names one process for the life of the machine, since a reused PID starts
 * later.
 */
export function processStat(pid: number): { state: string; startTime: number } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3, so field 22 is fields[19].
  const startTime = Number(fields[19]);
  if (fields[0] === undefined || !Number.isSafeInteger(startTime)) return undefined;
  return { state: fields[0], startTime };
}

/** The process's command line, arguments joined by spaces, or undefined if it cannot be read. */
export function processCommandLine(pid: number): string | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const s = raw.replace(/\0+$/, '').split('\0').join(' ');
    return s === '' ? undefined : s;
  } catch {
    return undefined;
  }
}

/** Random id of the current boot: a lock taken under another boot is from before a restart of the machine. */
export function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export type Liveness = 'alive' | 'dead' | 'unknown';

/**
 * Whether `pid` still runs as the process that started at `startTime`
 * (when known). EPERM means it exists under another user: alive.
 */
export function processLiveness(pid: number, startTime: number | undefined): Liveness {
  try {
    process.kill(pid, 0);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return 'dead';
    if (code !== 'EPERM') return 'unknown';
  }
  const stat = processStat(pid);
  if (stat === undefined) return 'alive';
  // A zombie has exited; only its parent has not collected it yet.
  if (stat.state === 'Z') return 'dead';
  if (startTime === undefined) return 'alive';
  return stat.startTime === startTime ? 'alive' : 'dead';
}
