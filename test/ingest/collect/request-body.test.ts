/**
 * Reading a collect request body: limits, gzip, clients that go away, and a
 * one-chunk body handed on without a copy.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readBody, type BodyOutcome } from '../../../agent/ingest/collect/request-body.js';

/**
 * A request stand-in: a readable stream of `chunks`, optionally destroyed
 * before its end; `complete` is set, as on an IncomingMessage, once all of it arrived.
 */
function request(chunks: Buffer[], abortAfter?: number): IncomingMessage {
  let i = 0;
  const r = new Readable({
    read() {
      if (abortAfter !== undefined && i === abortAfter) {
        this.destroy();
        return;
      }
      if (i < chunks.length) this.push(chunks[i++]);
      else {
        (this as Readable & { complete: boolean }).complete = true;
        this.push(null);
      }
    },
  });
  return Object.assign(r, { complete: false }) as unknown as IncomingMessage;
}

function read(req: IncomingMessage, gzip: boolean, limit: number): Promise<BodyOutcome> {
  return new Promise((resolve, reject) => {
    let calls = 0;
    readBody(req, gzip, limit, (r) => {
      if (++calls > 1) reject(new Error('called back twice'));
      resolve(r);
    });
  });
}

describe('readBody', () => {
  it('hands a one-chunk body on as it is, and joins several', async () => {
    const one = Buffer.from('{"name":"a","value":1}');
    expect(await read(request([one]), false, 1024)).toBe(one);
    const parts = ['{"name":', '"a","val', 'ue":1}'].map((s) => Buffer.from(s));
    expect((await read(request(parts), false, 1024))?.toString()).toBe('{"name":"a","value":1}');
    expect(await read(request([]), false, 1024)).toEqual(Buffer.alloc(0));
  });

  it('refuses a body past the limit, counted as it arrives', async () => {
    expect(await read(request([Buffer.alloc(10), Buffer.alloc(10)]), false, 20)).toHaveLength(20);
    expect(await read(request([Buffer.alloc(10), Buffer.alloc(11)]), false, 20)).toBe('too_large');
    expect(await read(request([Buffer.alloc(21)]), false, 20)).toBe('too_large');
  });

  it('calls back with undefined when the client goes away mid-body', async () => {
    expect(await read(request([Buffer.from('{"na')], 1), false, 1024)).toBeUndefined();
    expect(await read(request([gzipSync('{"name":"a"}').subarray(0, 5)], 1), true, 1024)).toBeUndefined();
  });

  it('inflates gzip, limits the decoded size, and names a broken stream', async () => {
    const text = '{"name":"a","value":1}';
    expect((await read(request([gzipSync(text)]), true, 1024))?.toString()).toBe(text);
    expect(await read(request([gzipSync(Buffer.alloc(100_000))]), true, 1024)).toBe('too_large');
    expect(await read(request([Buffer.from('not gzip')]), true, 1024)).toBe('bad_gzip');
  });
});
