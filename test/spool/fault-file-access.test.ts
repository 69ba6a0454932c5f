import { describe, expect, it } from 'vitest';
import { FaultFileAccess, SimulatedCrash } from './fault-file-access.js';

/** The power-loss test is only as good as this model of a disk, so the model is tested too. */
describe('FaultFileAccess', () => {
  it('keeps fsynced data, drops unsynced writes, and leaves the last unsynced write torn at some byte', async () => {
    const tails = new Set<number>();
    for (let seed = 1; seed <= 60; seed++) {
      const fs = new FaultFileAccess({ seed, yieldChance: 0 });
      await fs.mkdir('/d');
      await fs.syncDir('/d');
      const f = await fs.open('/d/a', 'create');
      await fs.syncDir('/d');
      await f.write(Buffer.from('durable.'), 0);
      await f.sync();
      await f.write(Buffer.from('lost....'), 8);
      await f.write(Buffer.from('torn-write'), 16);
      const after = fs.restart();
      const content = after.peek('/d/a')!;
      expect(content.subarray(0, 8).toString()).toBe('durable.');
      if (content.length > 8) {
        // The earlier unsynced write is gone (zeros: a hole), the last one survives as a prefix.
        expect(content.subarray(8, 16)).toEqual(Buffer.alloc(8));
        expect('torn-write'.startsWith(content.subarray(16).toString())).toBe(true);
      }
      tails.add(content.length);
    }
    // Torn at many different bytes, including not at all and entirely.
    expect(tails.has(8)).toBe(true);
    expect(tails.has(26)).toBe(true);
    expect(tails.size).toBeGreaterThan(5);
  });

  it('in prefix mode keeps unsynced writes in order up to a torn one', async () => {
    const seen = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const fs = new FaultFileAccess({ seed, mode: 'prefix', yieldChance: 0 });
      await fs.mkdir('/d');
      const f = await fs.open('/d/a', 'create');
      await fs.syncDir('/d');
      for (const [i, w] of ['aaaa', 'bbbb', 'cccc'].entries()) await f.write(Buffer.from(w), i * 4);
      const content = fs.restart().peek('/d/a')!.toString();
      expect('aaaabbbbcccc'.startsWith(content)).toBe(true);
      seen.add(content);
    }
    expect(seen.size).toBeGreaterThan(6);
  });

  it('loses creations, renames and unlinks not followed by a directory fsync, but only as an in-order suffix', async () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const fs = new FaultFileAccess({ seed, yieldChance: 0 });
      await fs.mkdir('/d');
      const old = await fs.open('/d/old', 'create');
      await old.write(Buffer.from('x'), 0);
      await old.sync();
      await fs.syncDir('/d');
      const n = await fs.open('/d/new', 'create');
      await n.sync();
      await fs.rename('/d/new', '/d/renamed');
      await fs.unlink('/d/old');
      const names = fs.restart().list('/d').join(',');
      expect(['old', 'new,old', 'old,renamed', 'renamed']).toContain(names);
      outcomes.add(names);
    }
    expect(outcomes.size).toBe(4);
  });

  it('a synced directory keeps its entries; a rename over a file replaces it', async () => {
    const fs = new FaultFileAccess({ yieldChance: 0 });
    await fs.mkdir('/d');
    for (const [name, body] of [
      ['a', 'one'],
      ['b', 'two'],
    ]) {
      const f = await fs.open(`/d/${name}`, 'create');
      await f.write(Buffer.from(body!), 0);
      await f.sync();
    }
    await fs.rename('/d/b', '/d/a');
    await fs.syncDir('/d');
    const after = fs.restart();
    expect(after.list('/d')).toEqual(['a']);
    expect(after.peek('/d/a')!.toString()).toBe('two');
  });

  it('crashes just before the armed operation, and refuses everything after', async () => {
    const fs = new FaultFileAccess({ yieldChance: 0 });
    await fs.mkdir('/d');
    const f = await fs.open('/d/a', 'create');
    fs.crashAtOp(2);
    await f.write(Buffer.from('abc'), 0); // the first counted operation from here
    await expect(f.sync()).rejects.toBeInstanceOf(SimulatedCrash); // the second: the power goes before it
    expect(fs.opCount).toBe(3);
    expect(fs.crashed).toBe(true);
    await expect(fs.readdir('/d')).rejects.toBeInstanceOf(SimulatedCrash);
    await expect(f.read(Buffer.alloc(3), 0, 3, 0)).rejects.toBeInstanceOf(SimulatedCrash);
    // The file's creation was never made durable by a directory fsync: it may or may not be there, and it holds nothing synced.
    const after = fs.restart();
    const content = after.peek('/d/a');
    if (content !== undefined) expect('abc'.startsWith(content.toString())).toBe(true);
  });

  it('a write that started before the power went is torn with the rest, never applied after it', async () => {
    const lengths = new Set<number>();
    for (let seed = 1; seed <= 40; seed++) {
      const fs = new FaultFileAccess({ seed, yieldChance: 0 });
      await fs.mkdir('/d');
      const f = await fs.open('/d/a', 'create');
      await fs.syncDir('/d');
      fs.crashAtOp(2);
      // Both start in one tick: the first is counted before the crash, the second is where the power goes.
      const [, second] = await Promise.allSettled([f.write(Buffer.from('0123456789'), 0), f.write(Buffer.from('abcdefghij'), 10)]);
      expect(second.status).toBe('rejected');
      const content = fs.restart().peek('/d/a')!.toString();
      expect('0123456789'.startsWith(content)).toBe(true);
      lengths.add(content.length);
    }
    expect(lengths.size).toBeGreaterThan(3);
  });

  it('fails the named operation once when told to, a write leaving a short prefix behind', async () => {
    const fs = new FaultFileAccess({ yieldChance: 0 });
    await fs.mkdir('/d');
    const f = await fs.open('/d/a', 'create');
    fs.failNext('write', 'ENOSPC');
    await expect(f.write(Buffer.from('0123456789'), 0)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect('0123456789'.startsWith(fs.peek('/d/a')!.toString())).toBe(true);
    await f.write(Buffer.from('ok'), 0);
    fs.failNext('syncDir', 'EIO');
    await expect(fs.syncDir('/d')).rejects.toMatchObject({ code: 'EIO' });
    await fs.syncDir('/d');
  });
});
