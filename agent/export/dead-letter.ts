import { mkdir, open, rename } from 'node:fs/promises';
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

/**
 * A folder of batches a receiver refused for good (a 4xx its protocol calls
 * permanent) or records that could not be read: kept for an operator to
 * inspect or replay by hand, so refusing one batch never blocks the queue
 * and never loses it silently. Each entry is `<seq>-<batch>.json` (what
 * happened) beside `<seq>-<batch>.body` (the bytes as they were sent).
 */
export class DeadLetterFolder {
  private ready: Promise<void> | undefined;

  constructor(readonly dir: string) {}

  async put(e: DeadLetterEntry): Promise<string> {
    // Owner only, as the rest of the spool: refused batches hold what applications sent.
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    await this.ready;
    const base = `${String(e.seq).padStart(12, '0')}-${(e.request?.batchId ?? 'unreadable').replace(/[^\w-]/g, '_')}`;
    const meta = {
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
    await writeDurably(join(this.dir, `${base}.body`), e.request?.body ?? e.raw ?? new Uint8Array());
    await writeDurably(join(this.dir, `${base}.json`), Buffer.from(JSON.stringify(meta, null, 2) + '\n'));
    const d = await open(this.dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    return join(this.dir, `${base}.json`);
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
