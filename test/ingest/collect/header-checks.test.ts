/**
 * The Host, Origin and Content-Type checks of POST /v1/collect, without a
 * server: above all, that remembering answers never changes one.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeHostCheck, originAllowed, parseContentType } from '../../../agent/ingest/collect/header-checks.js';

describe('makeHostCheck', () => {
  it('is off for a non-loopback listener without allowed_hosts, on for loopback', () => {
    expect(makeHostCheck('0.0.0.0', [])).toBeUndefined();
    expect(makeHostCheck('127.0.0.1', [])).toBeDefined();
    expect(makeHostCheck('0.0.0.0', ['metrics.internal'])).toBeDefined();
  });

  it('on loopback takes the loopback names on the port the request came in on, and nothing else', () => {
    const check = makeHostCheck('127.0.0.1', [])!;
    for (const host of ['127.0.0.1:9102', 'localhost:9102', 'LOCALHOST:9102', '[::1]:9102']) expect(check(host, 9102), host).toBe(true);
    for (const host of ['evil.example:9102', '127.0.0.1:9103', '127.0.0.1', 'localhost', '', ' ', '127.0.0.1:9102:1', '[::1']) {
      expect(check(host, 9102), host).toBe(false);
    }
    expect(check(undefined, 9102)).toBe(false);
  });

  it('gives the same answer the second time, and after the port changes', () => {
    const check = makeHostCheck('127.0.0.1', [])!;
    expect(check('127.0.0.1:9102', 9102)).toBe(true);
    expect(check('127.0.0.1:9102', 9102)).toBe(true);
    // The remembered "yes" was for port 9102; on another port the same header is refused.
    expect(check('127.0.0.1:9102', 9200)).toBe(false);
    expect(check('127.0.0.1:9200', 9200)).toBe(true);
    expect(check('evil.example:9200', 9200)).toBe(false);
    expect(check('evil.example:9200', 9200)).toBe(false);
  });

  it('answers as a fresh check would, whatever came before (the memo is bounded and starts over)', () => {
    const host = fc.oneof(
      fc.constantFrom('127.0.0.1', 'localhost', '[::1]', 'evil.example', 'metrics.internal', 'LocalHost'),
      fc.string({ maxLength: 12 }),
    );
    const header = fc.tuple(host, fc.option(fc.constantFrom(80, 9102, 9103, 443), { nil: undefined })).map(([h, p]) => (p === undefined ? h : `${h}:${p}`));
    const request = fc.tuple(header, fc.constantFrom(9102, 9103));
    fc.assert(
      fc.property(fc.array(request, { maxLength: 300 }), fc.constantFrom<string[]>([], ['metrics.internal', 'localhost:9103']), (requests, allowed) => {
        const remembering = makeHostCheck('127.0.0.1', allowed)!;
        for (const [h, port] of requests) {
          expect(remembering(h, port), `${h} on ${port}`).toBe(makeHostCheck('127.0.0.1', allowed)!(h, port));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('holds a browser Origin to the same check', () => {
    const check = makeHostCheck('127.0.0.1', [])!;
    expect(originAllowed('http://127.0.0.1:9102', check, 9102)).toBe(true);
    expect(originAllowed('http://localhost:9102', check, 9102)).toBe(true);
    expect(originAllowed('https://evil.example', check, 9102)).toBe(false);
    expect(originAllowed('http://127.0.0.1:9103', check, 9102)).toBe(false);
    expect(originAllowed('null', check, 9102)).toBe(false);
    expect(originAllowed('file:///tmp/x.html', check, 9102)).toBe(false);
  });
});

describe('parseContentType', () => {
  it('takes JSON and text, UTF-8 (or ASCII text) when a charset is given', () => {
    const cases: Array<[string | undefined, 'json' | 'text' | undefined]> = [
      ['application/json', 'json'],
      ['Application/JSON; charset=UTF-8', 'json'],
      ['application/json;charset="utf-8"', 'json'],
      ['text/plain', 'text'],
      ['text/plain; charset=us-ascii', 'text'],
      ['application/json; charset=us-ascii', undefined],
      ['application/json; charset=latin1', undefined],
      ['application/x-www-form-urlencoded', undefined],
      ['', undefined],
      [undefined, undefined],
    ];
    // Twice over, so the second round is answered from the memo.
    for (let round = 0; round < 2; round++) {
      for (const [header, want] of cases) expect(parseContentType(header), `${header}`).toBe(want);
    }
  });

  it('answers the same after more distinct headers than it remembers', () => {
    for (let i = 0; i < 500; i++) expect(parseContentType(`application/json; x=${i}`)).toBe('json');
    expect(parseContentType('text/plain; charset=latin1')).toBeUndefined();
    expect(parseContentType('application/json')).toBe('json');
  });
});
