import protobuf from 'protobufjs';

/** google.rpc.Status, as far as a log line needs it: `details` are only counted. */
export interface RpcStatus {
  code?: number;
  message?: string;
  details: number;
}

/**
 * The google.rpc.Status an OTLP/HTTP server must put in every 4xx/5xx body,
 * binary or JSON like the request ("The server MUST use the same
 * Content-Type in the response as it received in the request"). Undefined
 * when the body is not one, e.g. the HTML error page of a proxy in between.
 *
 *   message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
 */
export function decodeRpcStatus(body: Uint8Array, contentType: string | undefined): RpcStatus | undefined {
  if (body.length === 0) return undefined;
  const type = (contentType ?? '').toLowerCase();
  if (type.includes('json')) return fromJson(body);
  if (type.includes('protobuf')) return fromProtobuf(body);
  return undefined;
}

function fromProtobuf(body: Uint8Array): RpcStatus | undefined {
  const status: RpcStatus = { details: 0 };
  try {
    const r = protobuf.Reader.create(body);
    while (r.pos < r.len) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 0) status.code = r.int32();
      else if (field === 2 && wire === 2) status.message = r.string();
      else if (field === 3 && wire === 2) {
        r.skipType(wire);
        status.details++;
      } else if (field === 0) return undefined;
      else r.skipType(wire);
    }
  } catch {
    return undefined;
  }
  return status.code === undefined && status.message === undefined && status.details === 0 ? undefined : status;
}

function fromJson(body: Uint8Array): RpcStatus | undefined {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const status: RpcStatus = { details: Array.isArray(o.details) ? o.details.length : 0 };
  if (typeof o.code === 'number') status.code = o.code;
  if (typeof o.message === 'string') status.message = o.message;
  return status.code === undefined && status.message === undefined ? undefined : status;
}
