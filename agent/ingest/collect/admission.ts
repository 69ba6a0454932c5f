/**
 * Whether POST /v1/collect takes a request, judged on its headers before the
 * body is read (Host and Origin, bearer token, Content-Type,
 * Content-Encoding, declared length, whether it can be made durable now),
 * and on what reading the body found (its size once inflated, its gzip).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { refusal, type Refusal } from './answers.js';
import { makeHostCheck, originAllowed, parseContentType } from './header-checks.js';

export interface AdmissionOptions {
  /** The address the HTTP server listens on; a loopback one turns the Host check on. */
  listenAddress: string;
  /** Empty: the listen address, localhost, 127.0.0.1 and [::1], on the port the request came in on. */
  allowedHosts: string[];
  /** Empty: no token required. */
  bearerToken?: string;
  maxBodyBytes: number;
  /**
   * Why a request cannot be acknowledged durably now (the journal is not
   * open, a sink queue refuses flushes), and when to retry; undefined when
   * it can. Such requests are answered 503 with Retry-After, unread.
   */
  unavailable?: () => { reason: string; message: string; retryAfterSeconds: number } | undefined;
}

/** A request taken: how to read its body. */
export interface Admitted {
  ok: true;
  json: boolean;
  gzip: boolean;
}

export type Admission = (req: IncomingMessage) => Admitted | Refusal;

const HOST_NOT_ALLOWED = refusal(421, 'host_not_allowed', 'Host header not allowed (see http.collect.allowed_hosts)');
const ORIGIN_NOT_ALLOWED = refusal(403, 'origin_not_allowed', 'requests from web pages are not accepted');
const UNAUTHORIZED = refusal(401, 'unauthorized', 'a valid bearer token is required', { 'www-authenticate': 'Bearer' });
const UNSUPPORTED_MEDIA_TYPE = refusal(415, 'unsupported_media_type', 'Content-Type must be application/json or text/plain (charset utf-8)');
const UNSUPPORTED_ENCODING = refusal(415, 'unsupported_encoding', 'Content-Encoding must be gzip or absent');
const BAD_GZIP = refusal(400, 'bad_gzip', 'body is not valid gzip');

export function createAdmission(opts: AdmissionOptions): Admission {
  const tokenDigest = opts.bearerToken !== undefined && opts.bearerToken !== '' ? sha256(opts.bearerToken) : undefined;
  const hostCheck = makeHostCheck(opts.listenAddress, opts.allowedHosts);
  const tooLarge = bodyTooLarge(opts.maxBodyBytes, false);
  return (req) => {
    if (hostCheck !== undefined) {
      if (!hostCheck(req.headers.host, req.socket.localPort)) return HOST_NOT_ALLOWED;
      // A browser sends Origin on every cross-site POST, even text/plain ones that need no CORS preflight.
      const origin = req.headers.origin;
      if (origin !== undefined && !originAllowed(origin, hostCheck, req.socket.localPort)) return ORIGIN_NOT_ALLOWED;
    }
    if (tokenDigest !== undefined) {
      const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
      // Digests make the comparison constant-time and of equal length whatever was sent.
      if (m === null || !timingSafeEqual(sha256(m[1]!), tokenDigest)) return UNAUTHORIZED;
    }
    // statsd-client's HTTP transport PUTs statsd lines with no Content-Type; a PUT is never a browser's simple request, so reading it as text opens nothing to pages.
    const ct = req.method === 'PUT' && req.headers['content-type'] === undefined ? 'text' : parseContentType(req.headers['content-type']);
    if (ct === undefined) return UNSUPPORTED_MEDIA_TYPE;
    const rawEnc = req.headers['content-encoding'];
    const enc = rawEnc === undefined ? 'identity' : rawEnc.trim().toLowerCase();
    if (enc !== 'identity' && enc !== 'gzip') return UNSUPPORTED_ENCODING;
    const declared = req.headers['content-length'];
    if (enc === 'identity' && declared !== undefined && Number(declared) > opts.maxBodyBytes) return tooLarge;
    const down = opts.unavailable?.();
    if (down !== undefined) return refusal(503, down.reason, down.message, { 'retry-after': String(down.retryAfterSeconds) });
    return { ok: true, json: ct === 'json', gzip: enc === 'gzip' };
  };
}

/** The refusal of a body that reading found too large (once inflated, for gzip) or not gzip at all. */
export function bodyRefusal(outcome: 'too_large' | 'bad_gzip', maxBodyBytes: number, gzip: boolean): Refusal {
  return outcome === 'bad_gzip' ? BAD_GZIP : bodyTooLarge(maxBodyBytes, gzip);
}

function bodyTooLarge(maxBodyBytes: number, gzip: boolean): Refusal {
  return refusal(413, 'body_too_large', `body larger than ${maxBodyBytes} bytes${gzip ? ' once decompressed' : ''}`);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}
