/**
 * classifyResponse on answers the test receiver does not give: bodies past
 * the spec's 4 MiB response limit, redirects, a proxy's HTML error page,
 * unreadable Retry-After values, and Status bodies with details.
 */
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { classifyResponse, RETRYABLE_STATUSES, type OtlpResponse } from '../../../agent/export/otlp/otlp-response.js';
import { decodeRpcStatus } from '../../../agent/export/otlp/rpc-status.js';
import { otlpTypes } from '../../support/otlp-receiver.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const PB = { 'content-type': 'application/x-protobuf' };

function response(status: number, body: Uint8Array | string = new Uint8Array(), headers: OtlpResponse['headers'] = PB, truncated = false): OtlpResponse {
  return { status, headers, body: typeof body === 'string' ? Buffer.from(body) : body, truncated };
}

describe('classifyResponse', () => {
  it('retries exactly the spec\'s retryable statuses', () => {
    expect([...RETRYABLE_STATUSES].sort()).toEqual([429, 502, 503, 504]);
    for (let status = 400; status < 600; status++) {
      expect(classifyResponse(response(status), '/v1/metrics', NOW).kind).toBe(RETRYABLE_STATUSES.has(status) ? 'retry' : 'permanent');
    }
    for (const status of [200, 201, 202, 204]) expect(classifyResponse(response(status), '/v1/metrics', NOW)).toEqual({ kind: 'delivered', status });
  });

  it('treats a response body past 4 MiB as non-retryable, yet a 2xx as delivered (the data was taken)', () => {
    expect(classifyResponse(response(503, '', PB, true), '/v1/metrics', NOW)).toMatchObject({ kind: 'permanent', status: 503, error: expect.stringMatching(/over 4194304 bytes/) });
    expect(classifyResponse(response(200, '', PB, true), '/v1/metrics', NOW)).toEqual({ kind: 'delivered', status: 200 });
  });

  it('does not follow a redirect: it is a wrong endpoint, named in the error', () => {
    expect(classifyResponse(response(308, '', { location: 'https://collector:4318/v1/metrics' }), '/v1/metrics', NOW)).toEqual({
      kind: 'permanent',
      status: 308,
      error: "HTTP 308: redirected to https://collector:4318/v1/metrics; set the sink's endpoint to where the collector is",
    });
  });

  it('keeps the text of a body that is no Status (a proxy\'s error page), squeezed and shortened', () => {
    const html = `<html>\n<body>\n<h1>502 Bad Gateway</h1>${' x'.repeat(5000)}</body></html>`;
    const outcome = classifyResponse(response(502, html, { 'content-type': 'text/html' }), '/v1/metrics', NOW);
    expect(outcome).toMatchObject({ kind: 'retry', status: 502, error: expect.stringMatching(/^HTTP 502: <html> <body> <h1>502 Bad Gateway<\/h1> x x/) });
    expect(outcome.kind === 'retry' && outcome.error.length).toBeLessThanOrEqual(2048);
  });

  it('ignores an unreadable Retry-After and honours a date in the past as "now"', () => {
    expect(classifyResponse(response(429, '', { ...PB, 'retry-after': 'soon' }), '/v1/metrics', NOW)).not.toHaveProperty('retryAfterMs');
    expect(classifyResponse(response(429, '', { ...PB, 'retry-after': 'Tue, 01 Jan 2019 00:00:00 GMT' }), '/v1/metrics', NOW)).toMatchObject({ retryAfterMs: 0 });
  });

  it('ignores a 2xx body that is not a response message: still delivered', () => {
    expect(classifyResponse(response(200, Buffer.from([0x0a, 0xff])), '/v1/metrics', NOW)).toEqual({ kind: 'delivered', status: 200 });
    expect(classifyResponse(response(200, 'not json', { 'content-type': 'application/json' }), '/v1/logs', NOW)).toEqual({ kind: 'delivered', status: 200 });
  });
});

describe('decodeRpcStatus', () => {
  it('reads code, message and the number of details of a Status encoded from googleapis\' definition', async () => {
    const { status } = await otlpTypes();
    const any = { typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from([1, 2, 3]) };
    const bytes = status.encode(status.fromObject({ code: 3, message: 'bad data', details: [any, any] })).finish();
    expect(decodeRpcStatus(bytes, 'application/x-protobuf')).toEqual({ code: 3, message: 'bad data', details: 2 });
    expect(decodeRpcStatus(Buffer.from(JSON.stringify({ code: 3, message: 'bad data', details: [{}] })), 'application/json; charset=utf-8')).toEqual({
      code: 3,
      message: 'bad data',
      details: 1,
    });
  });

  it('returns undefined for what is no Status', () => {
    expect(decodeRpcStatus(new Uint8Array(), 'application/x-protobuf')).toBeUndefined();
    expect(decodeRpcStatus(Buffer.from('<html>'), 'text/html')).toBeUndefined();
    expect(decodeRpcStatus(Buffer.from([0xff, 0xff, 0xff]), 'application/x-protobuf')).toBeUndefined();
    expect(decodeRpcStatus(Buffer.from('[1]'), 'application/json')).toBeUndefined();
    // A Status with a field of the wrong wire type is skipped field by field, not misread.
    const w = protobuf.Writer.create().uint32((2 << 3) | 0).uint32(5).finish();
    expect(decodeRpcStatus(w, 'application/x-protobuf')).toBeUndefined();
  });
});
