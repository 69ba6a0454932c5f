import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { StoredRequest } from './stored-request.js';

export interface DeadLetterEntry {
  sink: string;
  seq: number;
  /** Why it can never be delivered as it is. */
  error: string;
  status?: number;
  responseBody?: string;
  /** Absent when the record itself could not be read. */
  request?: StoredRequest;
  /** The raw record, when it could not be decoded. */
  raw?: Buffer;
}

export interface DeadLetterOptions {
  /** Bytes the folder may hold; the oldest entries are removed to make room. Default: no bound. */
  maxBytes?: number;
  /** Called with the number of entries removed for room. */
  onRemoved?: (entries: number) => void;
}

/**
 * A folder of batches a receiver refused for good (a 4xx its protocol calls
 * permanent) or records that could not be read: kept for an operator to
 * inspect or replay by hand, so refusing one batch never blocks the queue
 * and never loses it silently. Each entry is `<seq>-<batch>.json` (what
 * happened) beside `<seq>-<batch>.body` (the bytes as they were sent).
 * The folder shares the disk with the queues, so `maxBytes` bounds it:
 * the oldest entries go first, counted.
 */
export class DeadLetterFolder {
  private ready: Promise<void> | undefined;
  /** Entries on disk, oldest first (names sort by sequence number), with their bytes. */
  private entries: Array<{ base: string; bytes: number }> = [];
  private total = 0;

  constructor(
    readonly dir: string,
    private readonly opts: DeadLetterOptions = {},
  ) {}

  /** Bytes the folder holds. */
  get bytes(): number {
    return this.total;
  }

  async put(e: DeadLetterEntry): Promise<string> {
    this.ready ??= this.scan();
    await this.ready;
    const base = `${String(e.seq).padStart(12, '0')}-${(e.request?.batchId ?? 'unreadable').replace(/[^\w-]/g, '_')}`;
    let body = e.request?.body ?? e.raw ?? new Uint8Array();
    const meta: Record<string, unknown> = {
      sink: e.sink,
      seq: e.seq,
      error: e.error,
      status: e.status,
      response_body: e.responseBody,
      batch_id: e.request?.batchId,
      batch_time: e.request ? new Date(e.request.batchTimeMs).toISOString() : undefined,
      path: e.request?.path,
      headers: e.request?.headers,
      dead_lettered_at: new Date().toISOString(),
    };
    const max = this.opts.maxBytes ?? Infinity;
    let metaText = Buffer.from(JSON.stringify(meta, null, 2) + '\n');
    if (body.length + metaText.length > max) {
      // Too large to keep whole within the bound: what happened is kept, the body is not.
      meta.body_omitted = `${body.length} bytes, more than dead_letter.max_bytes`;
      body = new Uint8Array();
      metaText = Buffer.from(JSON.stringify(meta, null, 2) + '\n');
    }
    const bytes = body.length + metaText.length;
    let removed = 0;
    while (this.entries.length > 0 && this.total + bytes > max) {
      const old = this.entries.shift()!;
      this.total -= old.bytes;
      for (const ext of ['.json', '.body']) await unlink(join(this.dir, old.base + ext)).catch(() => {});
      removed++;
    }
    if (removed > 0) this.opts.onRemoved?.(removed);
    await writeDurably(join(this.dir, `${base}.body`), body);
    await writeDurably(join(this.dir, `${base}.json`), metaText);
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    this.entries.push({ base, bytes });
    this.total += bytes;
    return join(this.dir, `${base}.json`);
  }

  /** What earlier runs left in the folder, so the bound covers it too. */
  private async scan(): Promise<void> {
    // Owner only, as the rest of the spool: refused batches hold what applications sent.
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const sizes = new Map<string, number>();
    for (const name of (await readdir(this.dir)).sort()) {
      const m = /^(.+)\.(json|body)$/.exec(name);
      if (m === null) continue;
      const size = await stat(join(this.dir, name)).then((st) => st.size, () => 0);
      sizes.set(m[1]!, (sizes.get(m[1]!) ?? 0) + size);
    }
    for (const [base, bytes] of sizes) {
      this.entries.push({ base, bytes });
      this.total += bytes;
    }
  }
}

async function writeDurably(path: string, data: Uint8Array): Promise<void> {
  const tmp = `${path}.tmp`;
  const f = await open(tmp, 'w', 0o600);
  try {
    await f.writeFile(data);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, path);
}
