/**
 * The OTLP sender against the test receiver: every answer the OTLP/HTTP
 * specification names, classified as it says (opentelemetry-proto
 * docs/specification.md, "OTLP/HTTP Response"), plus the transport failures
 * (refused connection, timeout, abort) and the request's own headers.
 */
import type { Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OtlpSender, type OtlpSenderOptions } from '../../../agent/export/otlp/otlp-sender.js';
import type { EncodedRequest } from '../../../agent/export/sink.js';
import { OtlpReceiver } from '../../support/otlp-receiver.js';

const PROTOBUF_REQUEST: EncodedRequest = { path: '/v1/metrics', headers: { 'content-type': 'application/x-protobuf', 'x-tally-batch-id': 'b-1' }, body: new Uint8Array() };
const JSON_REQUEST: EncodedRequest = { path: '/v1/metrics', headers: { 'content-type': 'application/json' }, body: Buffer.from('{}') };
const LOGS_REQUEST: EncodedRequest = { path: '/v1/logs', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array() };

let rx: OtlpReceiver;
const senders: OtlpSender[] = [];
beforeEach(async () => {
  rx = await OtlpReceiver.start();
});
afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close()));
  await rx.close();
});

function sender(opts: Partial<OtlpSenderOptions> = {}): OtlpSender {
  const s = new OtlpSender({ name: 'otlp-test', endpoint: rx.url, timeoutMs: 5000, userAgent: 'tally-agent/test', ...opts });
  senders.push(s);
  return s;
}

const send = (s: OtlpSender, r: EncodedRequest = PROTOBUF_REQUEST, signal = new AbortController().signal) => s.send(r, signal);

describe('OtlpSender', () => {
  it('delivers on 200, with the configured and fixed headers and the body as encoded', async () => {
    const s = sender({ headers: { Authorization: 'Bearer t0k3n' } });
    expect(await send(s)).toEqual({ kind: 'delivered', status: 200 });
    const [r] = rx.accepted();
    expect(r!.path).toBe('/v1/metrics');
    expect(r!.headers).toMatchObject({ 'user-agent': 'tally-agent/test', authorization: 'Bearer t0k3n', 'x-tally-batch-id': 'b-1', 'content-type': 'application/x-protobuf' });
  });

  it('reports a partial success (protobuf and JSON, metrics and logs) as delivered, with the rejected count, and logs it', async () => {
    const warn = vi.fn();
    const s = sender({ logger: { warn } as unknown as Logger });
    rx.respond({ status: 200, partialSuccess: { rejected: 3, errorMessage: 'points too old' } }, { times: 3 });
    expect(await send(s)).toEqual({ kind: 'delivered', status: 200, partialSuccess: { rejected: 3, message: 'points too old' } });
    expect(await send(s, JSON_REQUEST)).toEqual({ kind: 'delivered', status: 200, partialSuccess: { rejected: 3, message: 'points too old' } });
    expect(await send(s, LOGS_REQUEST)).toEqual({ kind: 'delivered', status: 200, partialSuccess: { rejected: 3, message: 'points too old' } });
    // Never retried: each request reached the receiver once.
    expect(rx.requests).toHaveLength(3);
    // Logged once a minute at most.
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0]![0]).toMatchObject({ sink: 'otlp-test', rejected: 3, message: 'points too old' });
    // A warning without rejections is a partial success too ("rejected_<signal> MUST have a value of 0").
    rx.respond({ status: 200, partialSuccess: { rejected: 0, errorMessage: 'deprecated attribute' } }, { times: 1 });
    expect(await send(s)).toEqual({ kind: 'delivered', status: 200, partialSuccess: { rejected: 0, message: 'deprecated attribute' } });
  });

  it('takes 400 as permanent, with the google.rpc.Status message of the body (binary or JSON)', async () => {
    const s = sender();
    rx.respond({ status: 400, message: 'metric name is empty' });
    expect(await send(s)).toEqual({ kind: 'permanent', status: 400, error: 'HTTP 400: metric name is empty (code 3)', responseBody: 'metric name is empty (code 3)' });
    expect(await send(s, JSON_REQUEST)).toEqual({ kind: 'permanent', status: 400, error: 'HTTP 400: metric name is empty (code 3)', responseBody: 'metric name is empty (code 3)' });
  });

  it.each([500, 501, 401, 403, 404, 413])('takes %i as permanent: only 429, 502, 503 and 504 are retryable', async (status) => {
    const s = sender();
    rx.respond({ status, message: 'no' });
    expect(await send(s)).toMatchObject({ kind: 'permanent', status });
  });

  it('retries 429 and 503 after their Retry-After, in seconds or as an HTTP-date', async () => {
    const date = 'Wed, 21 Oct 2037 07:28:00 GMT';
    const s = sender({ now: () => Date.parse(date) - 90_000 });
    rx.respond({ status: 429, retryAfter: '7', message: 'slow down' }, { times: 1 });
    rx.respond({ status: 503, retryAfter: date }, { times: 1 });
    expect(await send(s)).toEqual({ kind: 'retry', status: 429, error: 'HTTP 429: slow down (code 14)', retryAfterMs: 7000 });
    expect(await send(s)).toEqual({ kind: 'retry', status: 503, error: 'HTTP 503: answered 503 as told (code 14)', retryAfterMs: 90_000 });
    expect(await send(s)).toEqual({ kind: 'delivered', status: 200 });
  });

  it.each([502, 503, 504])('retries %i without Retry-After, leaving the wait to the backoff', async (status) => {
    const s = sender();
    rx.respond({ status }, { times: 1 });
    const outcome = await send(s);
    expect(outcome).toMatchObject({ kind: 'retry', status });
    expect(outcome).not.toHaveProperty('retryAfterMs');
  });

  it('retries when the connection is refused, and delivers on the same pool once the receiver is back', async () => {
    const s = sender();
    expect(await send(s)).toEqual({ kind: 'delivered', status: 200 });
    await rx.down();
    const outcome = await send(s);
    expect(outcome).toMatchObject({ kind: 'retry' });
    expect(outcome.kind === 'retry' && outcome.error).toMatch(/ECONNREFUSED/);
    await rx.up();
    expect(await send(s)).toEqual({ kind: 'delivered', status: 200 });
  });

  it('retries when the answer does not come within the timeout', async () => {
    const s = sender({ timeoutMs: 200 });
    rx.respond({ status: 200, delayMs: 2000 }, { times: 1 });
    const t0 = Date.now();
    expect(await send(s)).toEqual({ kind: 'retry', error: 'no complete answer within 200 ms' });
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('gives up an attempt at once when the shipper aborts it, as a retry (the batch stays queued)', async () => {
    const s = sender();
    rx.respond({ status: 200, delayMs: 2000 }, { times: 1 });
    const stop = new AbortController();
    const pending = send(s, PROTOBUF_REQUEST, stop.signal);
    await rx.waitForRequests(1);
    stop.abort();
    expect(await pending).toEqual({ kind: 'retry', error: 'attempt aborted: the agent is stopping' });
  });

  it('appends the signal path to the endpoint\'s own path, and turns credentials in the URL into basic auth', async () => {
    const s = sender({ endpoint: `http://collector:p%40ss@127.0.0.1:${rx.port}/otlp/` });
    expect(await send(s)).toEqual({ kind: 'delivered', status: 200 });
    const [r] = rx.accepted();
    expect(r!.path).toBe('/otlp/v1/metrics');
    expect(r!.headers.authorization).toBe(`Basic ${Buffer.from('collector:p@ss').toString('base64')}`);
  });

  it('refuses to be configured with headers that describe the body or the batch', () => {
    expect(() => sender({ headers: { 'Content-Type': 'text/plain' } })).toThrow(/Content-Type is set by the OTLP sink/);
    expect(() => sender({ headers: { 'X-Tally-Batch-Id': 'x' } })).toThrow(/set by the OTLP sink/);
    expect(() => sender({ endpoint: 'ftp://127.0.0.1/' })).toThrow(/not an http/);
  });
});
