import type { EncodedRequest } from './sink.js';

/** A request as it sits in a sink's spool queue, with the batch it came from. */
export interface StoredRequest extends EncodedRequest {
  batchId: string;
  /** The flush that made it; fixed, so a replay sends the same samples. */
  batchTimeMs: number;
}

interface Envelope {
  v: 1;
  batchId: string;
  batchTimeMs: number;
  path: string;
  headers: Record<string, string>;
}

const VERSION = 1;

/**
 * Record layout: u32 length of a small JSON envelope, the envelope, then the
 * body as it goes on the wire. The body stays raw (not base64 in JSON) and
 * apart, the record's second part, so the log copies it once, into its
 * frame; the envelope stays readable in a hex dump.
 */
export function encodeStoredRequest(r: StoredRequest): [Uint8Array, Uint8Array] {
  const envelope: Envelope = { v: VERSION, batchId: r.batchId, batchTimeMs: r.batchTimeMs, path: r.path, headers: r.headers };
  const json = JSON.stringify(envelope);
  const head = Buffer.allocUnsafe(4 + Buffer.byteLength(json));
  head.writeUInt32BE(head.length - 4, 0);
  head.write(json, 4, 'utf8');
  return [head, r.body];
}

/** The stored request, or an Error saying why the record is not one (it then goes to the dead-letter folder). */
export function decodeStoredRequest(record: Buffer): StoredRequest | Error {
  if (record.length < 4) return new Error(`stored request of ${record.length} bytes is too short`);
  const headLength = record.readUInt32BE(0);
  if (headLength > record.length - 4) return new Error(`stored request envelope length ${headLength} exceeds the record (${record.length} bytes)`);
  let envelope: Envelope;
  try {
    envelope = JSON.parse(record.toString('utf8', 4, 4 + headLength)) as Envelope;
  } catch (err) {
    return new Error(`stored request envelope is not JSON: ${(err as Error).message}`);
  }
  if (envelope?.v !== VERSION || typeof envelope.path !== 'string' || typeof envelope.batchId !== 'string' || typeof envelope.headers !== 'object') {
    return new Error(`stored request envelope version ${String(envelope?.v)} is not one this agent reads`);
  }
  return {
    batchId: envelope.batchId,
    batchTimeMs: envelope.batchTimeMs,
    path: envelope.path,
    headers: envelope.headers,
    body: record.subarray(4 + headLength),
  };
}
