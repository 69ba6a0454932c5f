import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DirLock, DirLockHeldError, LOCK_FILE_NAME, type LockHolder } from '../../agent/spool/dir-lock.js';
import { bootId, processStat } from '../../agent/spool/process-info.js';
import { tempDir } from './helpers.js';

/**
 * The child processes import the built module (dist/), the same code the
 * agent runs; `npm test` builds it first. They print one JSON line: the
 * lock taken, or the error they got.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILT = join(ROOT, 'dist', 'agent', 'spool', 'dir-lock.js');

const CHILD = `
const [mod, dir, holdMs, startAt] = process.argv.slice(1);
const { DirLock } = await import(mod);
// Racers wait for a common moment so that they really race.
await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
try {
  const lock = await DirLock.acquire(dir);
  console.log(JSON.stringify({ ok: true, pid: process.pid, tookOver: lock.tookOver ?? null }));
  if (holdMs === 'forever') setInterval(() => {}, 1000);
  else setTimeout(() => lock.release().then(() => process.exit(0)), Number(holdMs));
} catch (err) {
  console.log(JSON.stringify({ ok: false, pid: process.pid, code: err.code, message: err.message }));
  process.exit(3);
}
`;

interface ChildAnswer {
  ok: boolean;
  pid: number;
  code?: string;
  message?: string;
  tookOver?: LockHolder | 'unreadable' | null;
}

const children = new Set<ChildProcess>();
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of children) c.kill('SIGKILL');
  children.clear();
  for (const c of cleanups.splice(0)) c();
});

function dir(): string {
  const t = tempDir('tally-lock-');
  cleanups.push(t.cleanup);
  return t.dir;
}

function lockChild(d: string, holdMs: number | 'forever', startAt = 0): { child: ChildProcess; answer: Promise<ChildAnswer>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, pathToFileURL(BUILT).href, d, String(holdMs), String(startAt)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const answer = new Promise<ChildAnswer>((res, rej) => {
    createInterface({ input: child.stdout! }).once('line', (line) => res(JSON.parse(line) as ChildAnswer));
    void exited.then((code) => rej(new Error(`lock child exited (${code}) without answering: ${stderr}`)));
  });
  return { child, answer, exited };
}

/** A PID that was just in use and is not now: a child that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

function writeLock(d: string, h: Partial<LockHolder> & { pid: number }): void {
  writeFileSync(join(d, LOCK_FILE_NAME), JSON.stringify({ hostname: hostname(), acquiredAt: '2020-01-01T00:00:00.000Z', ...h }));
}

beforeAll(() => {
  const sources = ['dir-lock.ts', 'process-info.ts', 'file-access.ts'].map((f) => statSync(join(ROOT, 'agent', 'spool', f)).mtimeMs);
  if (!existsSync(BUILT) || statSync(BUILT).mtimeMs < Math.max(...sources)) {
    throw new Error(`${BUILT} is missing or older than its sources: run \`npx tsc -p tsconfig.json\` (npm test does) before this test`);
  }
});

describe('DirLock', () => {
  it('a second acquire in the same process fails at once, naming this process; after release it succeeds', async () => {
    const d = dir();
    const lock = await DirLock.acquire(d);
    expect(lock.tookOver).toBeUndefined();
    const held = JSON.parse(readFileSync(join(d, LOCK_FILE_NAME), 'utf8')) as LockHolder;
    expect(held).toMatchObject({ pid: process.pid, hostname: hostname() });
    expect(held.startTime).toBe(processStat(process.pid)?.startTime);
    const err = await DirLock.acquire(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirLockHeldError);
    expect((err as Error).message).toContain(`this process (pid ${process.pid})`);
    await lock.release();
    expect(existsSync(join(d, LOCK_FILE_NAME))).toBe(false);
    const again = await DirLock.acquire(d);
    await again.release();
    // Only the lock file was ever left, and it is gone: no temp files behind.
    expect(readdirSync(d)).toEqual([]);
  });

  it('another process cannot take a lock this one holds: it fails at once, naming our PID and command line', async () => {
    const d = dir();
    const lock = await DirLock.acquire(d);
    const started = Date.now();
    const { answer, exited } = lockChild(d, 0);
    const a = await answer;
    expect(a.ok).toBe(false);
    expect(a.code).toBe('ELOCKED');
    expect(a.message).toContain(`process ${process.pid} (`);
    expect(a.message).toContain(lock.holder.commandLine!.slice(0, 40));
    expect(await exited).toBe(3);
    expect(Date.now() - started).toBeLessThan(5000);
    await lock.release();
  });

  it('this process cannot take a lock a live child holds; once the child is killed, its stale lock is taken over', async () => {
    const d = dir();
    const { child, answer } = lockChild(d, 'forever');
    const a = await answer;
    expect(a.ok).toBe(true);
    const err = await DirLock.acquire(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirLockHeldError);
    expect((err as DirLockHeldError).holder.pid).toBe(child.pid);
    expect((err as Error).message).toMatch(new RegExp(`locked by process ${child.pid} \\(.*node.*--input-type=module`));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const lock = await DirLock.acquire(d);
    expect(lock.tookOver).toMatchObject({ pid: child.pid });
    await lock.release();
  });

  it('a lock left by a dead PID is taken over', async () => {
    const d = dir();
    const pid = await deadPid();
    writeLock(d, { pid });
    const lock = await DirLock.acquire(d);
    expect(lock.tookOver).toMatchObject({ pid });
    expect(JSON.parse(readFileSync(join(d, LOCK_FILE_NAME), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('a live PID that started at another time than the holder did (a reused PID) is not the holder', async () => {
    const d = dir();
    const parent = process.ppid;
    const start = processStat(parent)?.startTime;
    expect(start).toBeDefined();
    writeLock(d, { pid: parent, startTime: start! });
    await expect(DirLock.acquire(d)).rejects.toBeInstanceOf(DirLockHeldError);
    writeLock(d, { pid: parent, startTime: start! - 1 });
    const lock = await DirLock.acquire(d);
    expect(lock.tookOver).toMatchObject({ pid: parent, startTime: start! - 1 });
    await lock.release();
  });

  it('a lock taken before the machine last booted is stale even if its PID is alive now', async () => {
    const d = dir();
    expect(bootId()).toBeDefined();
    writeLock(d, { pid: process.ppid, bootId: '00000000-0000-0000-0000-000000000000' });
    const lock = await DirLock.acquire(d);
    expect(lock.tookOver).toMatchObject({ pid: process.ppid });
    await lock.release();
  });

  it('a lock held on another host is never taken over: its holder cannot be checked from here', async () => {
    const d = dir();
    writeLock(d, { pid: await deadPid(), hostname: 'some-other-host' });
    const err = await DirLock.acquire(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirLockHeldError);
    expect((err as Error).message).toMatch(/process \d+ on host some-other-host since .*; its liveness cannot be checked from .*: if that process is gone, remove .*tally\.lock$/);
  });

  it('an unreadable lock file is taken over and said to be', async () => {
    const d = dir();
    writeFileSync(join(d, LOCK_FILE_NAME), '\0\0garbage');
    const lock = await DirLock.acquire(d);
    expect(lock.tookOver).toBe('unreadable');
    await lock.release();
  });

  it('several processes racing for the same stale lock: exactly one gets it', async () => {
    const d = dir();
    writeLock(d, { pid: await deadPid() });
    const startAt = Date.now() + 700;
    const racers = Array.from({ length: 5 }, () => lockChild(d, 3000, startAt));
    const answers = await Promise.all(racers.map((r) => r.answer));
    const winners = answers.filter((a) => a.ok);
    expect(winners).toHaveLength(1);
    for (const a of answers.filter((x) => !x.ok)) expect(a.message).toContain(`process ${winners[0]!.pid}`);
    // Leftover temp files of the racers are gone once they are.
    await Promise.all(racers.map((r) => r.exited));
    expect(readdirSync(d)).toEqual([]);
  });

  it('a deleted or replaced lock file does not admit a second holder while the first lives; its death frees the directory', async () => {
    const d = dir();
    const { child, answer } = lockChild(d, 'forever');
    expect((await answer).ok).toBe(true);
    rmSync(join(d, LOCK_FILE_NAME));
    const err = await DirLock.acquire(d).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirLockHeldError);
    expect((err as Error).message).toMatch(new RegExp(`locked by process ${child.pid} \\([\\s\\S]*\\), which holds its lock socket`));
    // A stale-looking file in its place (a dead PID) changes nothing either.
    writeLock(d, { pid: await deadPid() });
    await expect(DirLock.acquire(d)).rejects.toBeInstanceOf(DirLockHeldError);
    // Another process is refused the same way.
    const other = lockChild(d, 0);
    expect(await other.answer).toMatchObject({ ok: false, code: 'ELOCKED' });
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    const lock = await DirLock.acquire(d);
    await lock.release();
  });

  it('a directory it creates is private (0700) and the lock file 0600', async () => {
    const d = join(dir(), 'made');
    const lock = await DirLock.acquire(d);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(statSync(join(d, LOCK_FILE_NAME)).mode & 0o777).toBe(0o600);
    await lock.release();
  });

  it('release leaves a lock alone that is no longer this one', async () => {
    const d = dir();
    const lock = await DirLock.acquire(d);
    // Someone removed it and another process locked the directory since (a new file, not ours).
    rmSync(join(d, LOCK_FILE_NAME));
    writeLock(d, { pid: 1 });
    await lock.release();
    expect(existsSync(join(d, LOCK_FILE_NAME))).toBe(true);
  });
});
