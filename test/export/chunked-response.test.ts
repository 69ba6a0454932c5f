import { describe, expect, it } from 'vitest';
import { acceptsGzip } from '../../agent/export/chunked-response.js';

describe('acceptsGzip', () => {
  it('takes gzip or x-gzip listed without q=0, in any case and position', () => {
    expect(acceptsGzip('gzip')).toBe(true);
    expect(acceptsGzip('deflate, GZIP;q=0.5')).toBe(true);
    expect(acceptsGzip('x-gzip')).toBe(true);
    expect(acceptsGzip(['br', 'gzip'])).toBe(true);
  });

  it('refuses an absent header, other codings and gzip;q=0', () => {
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip('')).toBe(false);
    expect(acceptsGzip('identity, deflate, br')).toBe(false);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip; q=0.0')).toBe(false);
    expect(acceptsGzip('gzipx')).toBe(false);
  });
});
