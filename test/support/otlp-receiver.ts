/**
 * A small OTLP/HTTP receiver for tests. It decodes what it is sent with the
 * OpenTelemetry protobuf definitions (../shared/otlp-proto beside the
 * project: opentelemetry-proto v1.11.0, unchanged) loaded by protobufjs,
 * never with Tally's own encoder,
 * so a round trip through it checks Tally against the protocol.
 *
 *   const rx = await OtlpReceiver.start();
 *   // sink endpoint: rx.url
 *   rx.respond({ status: 503, retryAfter: '1' }, { times: 2 }); // then 200 again
 *   rx.respond({ status: 503 }, { forMs: 500 });                // for a while
 *   await rx.down(); ... await rx.up();                           // connection refused meanwhile
 *   await rx.waitForRequests(3);
 *   rx.accepted()[0].message  // the decoded ExportMetricsServiceRequest, as plain data
 *   await rx.close();
 *
 * Decoded messages are plain objects from protobufjs' toObject: field names
 * in lowerCamelCase, 64-bit integers as decimal strings (timeUnixNano,
 * count, asInt), enums as numbers, every non-oneof field present with its
 * default. The helpers at the end flatten them for assertions.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import protobuf from 'protobufjs';

/** Provided beside the project, never copied into it (the brief: nothing taken from another repository is committed). */
export const OTLP_PROTO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'otlp-proto');
/** The spec's recommended server limit on a request body, after decompression. */
const MAX_BODY_BYTES = 64 * 1024 * 1024;

export type OtlpSignal = 'metrics' | 'logs';

/** Decoded protobuf data: loosely typed on purpose, tests read the fields they check. */
export type Decoded = Record<string, any>;

export interface ReceivedRequest {
  path: string;
  signal: OtlpSignal;
  headers: IncomingHttpHeaders;
  encoding: 'protobuf' | 'json';
  gzip: boolean;
  /** The body after gzip decoding. */
  body: Buffer;
  /** ExportMetricsServiceRequest or ExportLogsServiceRequest. */
  message: Decoded;
  /** What the receiver answered. */
  status: number;
  atMs: number;
}

/** A request the receiver could not take, and why (it answered 4xx). */
export interface RefusedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  status: number;
  reason: string;
}

export interface Answer {
  status: number;
  /** Retry-After header value as sent: seconds ("2") or an HTTP-date. */
  retryAfter?: string;
  /** google.rpc.Status message for a 4xx/5xx body. */
  message?: string;
  /** For a 2xx: an ExportXServiceResponse with partial_success set. */
  partialSuccess?: { rejected: number; errorMessage: string };
  /** Wait this long before answering (to provoke client timeouts). */
  delayMs?: number;
}

interface Rule {
  answer: Answer;
  timesLeft: number;
  untilMs: number;
}

interface Types {
  metricsRequest: protobuf.Type;
  logsRequest: protobuf.Type;
  metricsResponse: protobuf.Type;
  logsResponse: protobuf.Type;
  status: protobuf.Type;
}

let typesPromise: Promise<Types> | undefined;

/**
 * google.rpc.Status, which an OTLP/HTTP server puts in every 4xx/5xx body:
 * declared here from googleapis' field numbers rather than loaded from a
 * copy of its .proto (code 1, message 2, details 3).
 */
function declareRpcStatus(root: protobuf.Root): void {
  root.addJSON(protobuf.common.get('google/protobuf/any.proto')!.nested!);
  root.define('google.rpc').add(
    new protobuf.Type('Status')
      .add(new protobuf.Field('code', 1, 'int32'))
      .add(new protobuf.Field('message', 2, 'string'))
      .add(new protobuf.Field('details', 3, 'google.protobuf.Any', 'repeated')),
  );
}

/** The OTLP message types, loaded once per test process from ../shared/otlp-proto. */
export function otlpTypes(): Promise<Types> {
  typesPromise ??= (async () => {
    const root = new protobuf.Root();
    // Imports name files from the include root, as protoc's -I does.
    root.resolvePath = (_origin, target) => (target.startsWith(OTLP_PROTO_DIR) ? target : join(OTLP_PROTO_DIR, target));
    await root.load(['opentelemetry/proto/collector/metrics/v1/metrics_service.proto', 'opentelemetry/proto/collector/logs/v1/logs_service.proto'], {
      keepCase: false,
    });
    declareRpcStatus(root);
    root.resolveAll();
    return {
      metricsRequest: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'),
      logsRequest: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'),
      metricsResponse: root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse'),
      logsResponse: root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse'),
      status: root.lookupType('google.rpc.Status'),
    };
  })();
  return typesPromise;
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: true, arrays: true, objects: true };

export class OtlpReceiver {
  /** Every request decoded, in arrival order, whatever was answered. */
  readonly requests: ReceivedRequest[] = [];
  /** Requests refused as malformed (400/404/413/415). */
  readonly refused: RefusedRequest[] = [];
  private rules: Rule[] = [];
  private server: Server;
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly types: Types,
    readonly port: number,
    server: Server,
  ) {
    this.server = server;
  }

  /** Listens on 127.0.0.1, on a free port unless one is given. */
  static async start(opts: { port?: number } = {}): Promise<OtlpReceiver> {
    const types = await otlpTypes();
    let self: OtlpReceiver | undefined;
    const server = createServer((req, res) => void self!.handle(req, res));
    await listen(server, opts.port ?? 0);
    self = new OtlpReceiver(types, (server.address() as AddressInfo).port, server);
    return self;
  }

  /** The base URL a sink's endpoint is set to. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Requests answered 2xx, in order: what a collector would have taken. */
  accepted(signal?: OtlpSignal): ReceivedRequest[] {
    return this.requests.filter((r) => r.status >= 200 && r.status < 300 && (signal === undefined || r.signal === signal));
  }

  /**
   * Answers the next requests with `answer`: `times` of them, or all that
   * come within `forMs`, or (with neither) all until reset(). Rules queue up
   * and are used in the order given; with none left the answer is 200.
   */
  respond(answer: Answer, opts: { times?: number; forMs?: number } = {}): void {
    this.rules.push({
      answer,
      timesLeft: opts.times ?? Infinity,
      untilMs: opts.forMs === undefined ? Infinity : Date.now() + opts.forMs,
    });
  }

  /** Back to answering 200 to everything. */
  reset(): void {
    this.rules = [];
  }

  /** Stops listening and drops open connections: clients get "connection refused" until up(). */
  async down(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await closed;
  }

  /** Listens again on the same port. */
  async up(): Promise<void> {
    if (this.server.listening) return;
    const server = createServer((req, res) => void this.handle(req, res));
    await listen(server, this.port);
    this.server = server;
  }

  async close(): Promise<void> {
    await this.down();
  }

  /** Resolves once `count` requests (of a signal, when given) have been decoded. */
  async waitForRequests(count: number, opts: { signal?: OtlpSignal; accepted?: boolean; timeoutMs?: number } = {}): Promise<ReceivedRequest[]> {
    const pick = () => (opts.accepted ? this.accepted(opts.signal) : this.requests.filter((r) => opts.signal === undefined || r.signal === opts.signal));
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    while (pick().length < count) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`OTLP receiver: ${pick().length} of ${count} requests after ${opts.timeoutMs ?? 10_000} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
    return pick();
  }

  private nextAnswer(): Answer {
    const now = Date.now();
    while (this.rules.length > 0 && (this.rules[0]!.timesLeft <= 0 || this.rules[0]!.untilMs <= now)) this.rules.shift();
    const rule = this.rules[0];
    if (rule === undefined) return { status: 200 };
    rule.timesLeft--;
    return rule.answer;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0]!;
    const json = /^application\/json\b/i.test(req.headers['content-type'] ?? '');
    const refuse = (status: number, reason: string) => {
      this.refused.push({ path, headers: req.headers, status, reason });
      this.reply(res, json, status, this.types.status.encode({ code: 3, message: reason }).finish(), { code: 3, message: reason });
    };
    let raw: Buffer;
    try {
      raw = await readBody(req, MAX_BODY_BYTES);
    } catch (err) {
      return refuse(413, (err as Error).message);
    }
    const signal: OtlpSignal | undefined = path.endsWith('/v1/metrics') ? 'metrics' : path.endsWith('/v1/logs') ? 'logs' : undefined;
    if (req.method !== 'POST') return refuse(405, `method ${req.method} not allowed`);
    if (signal === undefined) return refuse(404, `no OTLP signal at ${path}`);
    const type = req.headers['content-type'] ?? '';
    if (!json && !/^application\/x-protobuf\b/i.test(type)) return refuse(415, `unsupported content-type ${type}`);
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding !== 'gzip') return refuse(415, `unsupported content-encoding ${encoding}`);
    let body: Buffer;
    try {
      body = encoding === 'gzip' ? gunzipSync(raw, { maxOutputLength: MAX_BODY_BYTES }) : raw;
    } catch (err) {
      return refuse(400, `gzip: ${(err as Error).message}`);
    }
    const requestType = signal === 'metrics' ? this.types.metricsRequest : this.types.logsRequest;
    let message: Decoded;
    try {
      message = json ? decodeJson(requestType, body) : requestType.toObject(requestType.decode(body), TO_OBJECT);
    } catch (err) {
      return refuse(400, `cannot decode ${json ? 'JSON' : 'protobuf'} ${requestType.name}: ${(err as Error).message}`);
    }
    const answer = this.nextAnswer();
    this.requests.push({ path, signal, headers: req.headers, encoding: json ? 'json' : 'protobuf', gzip: encoding === 'gzip', body, message, status: answer.status, atMs: Date.now() });
    for (const w of this.waiters.splice(0)) w();
    if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
    const headers: Record<string, string> = answer.retryAfter === undefined ? {} : { 'retry-after': answer.retryAfter };
    if (answer.status >= 200 && answer.status < 300) {
      const responseType = signal === 'metrics' ? this.types.metricsResponse : this.types.logsResponse;
      const partial = answer.partialSuccess && {
        [signal === 'metrics' ? 'rejectedDataPoints' : 'rejectedLogRecords']: answer.partialSuccess.rejected,
        errorMessage: answer.partialSuccess.errorMessage,
      };
      const response = partial ? { partialSuccess: partial } : {};
      return this.reply(res, json, answer.status, responseType.encode(responseType.fromObject(response)).finish(), response, headers);
    }
    const status = { code: answer.status === 400 ? 3 : 14, message: answer.message ?? `answered ${answer.status} as told` };
    this.reply(res, json, answer.status, this.types.status.encode(status).finish(), status, headers);
  }

  /** "The server MUST use the same Content-Type in the response as it received in the request." */
  private reply(res: ServerResponse, json: boolean, status: number, binary: Uint8Array, object: object, headers: Record<string, string> = {}): void {
    const body = json ? Buffer.from(JSON.stringify(object)) : Buffer.from(binary);
    res.writeHead(status, { 'content-type': json ? 'application/json' : 'application/x-protobuf', 'content-length': body.length, ...headers });
    res.end(body);
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolveListen();
    });
  });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolveBody, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error(`body over ${limit} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolveBody(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Fields whose JSON value is an enum: "only integer enum values are allowed in OTLP JSON". */
const ENUM_FIELDS = new Set(['aggregationTemporality', 'severityNumber']);

/**
 * OTLP/JSON as the spec restricts the proto3 JSON mapping: keys must be
 * lowerCamelCase field names (snake_case "is NOT a valid representation"),
 * enums integers. protobufjs' fromObject alone would accept both quietly.
 */
function decodeJson(type: protobuf.Type, body: Buffer): Decoded {
  const parsed = JSON.parse(body.toString('utf8')) as unknown;
  const walk = (v: unknown, at: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${at}[${i}]`));
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        if (!/^[a-z][A-Za-z0-9]*$/.test(k)) throw new Error(`${at}: key "${k}" is not a lowerCamelCase field name`);
        if (ENUM_FIELDS.has(k) && typeof x !== 'number') throw new Error(`${at}.${k}: enum value ${JSON.stringify(x)} is not an integer`);
        walk(x, `${at}.${k}`);
      }
    }
  };
  walk(parsed, '$');
  return type.toObject(type.fromObject(parsed as Record<string, unknown>), TO_OBJECT);
}

// ---- Reading decoded messages -------------------------------------------------

/** An AnyValue as the JavaScript value it holds. */
export function anyValue(v: Decoded | undefined): unknown {
  if (v === undefined || v === null) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values as Decoded[]).map(anyValue);
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return v.bytesValue;
  return undefined;
}

/** A repeated KeyValue as an object. */
export function attributes(kvs: Decoded[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

export interface FlatPoint {
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
  metric: string;
  description: string;
  unit: string;
  kind: 'gauge' | 'sum' | 'histogram' | 'exponentialHistogram' | 'summary';
  /** 1 delta, 2 cumulative, 0 for gauges (AggregationTemporality). */
  temporality: number;
  isMonotonic: boolean;
  attributes: Record<string, unknown>;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  /** The NumberDataPoint's value, or the whole histogram data point (counts as numbers). */
  value: number | Decoded;
}

/** Every data point of an ExportMetricsServiceRequest, with its metric's facts beside it. */
export function metricPoints(message: Decoded): FlatPoint[] {
  const out: FlatPoint[] = [];
  for (const rm of message.resourceMetrics ?? []) {
    const resource = attributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      const scope = { name: sm.scope?.name ?? '', version: sm.scope?.version ?? '' };
      for (const m of sm.metrics ?? []) {
        const kind = (['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary'] as const).find((k) => m[k] !== undefined && m[k] !== null);
        if (kind === undefined) throw new Error(`metric ${m.name} has no data`);
        const data = m[kind];
        for (const p of data.dataPoints ?? []) {
          out.push({
            resource,
            scope,
            metric: m.name,
            description: m.description,
            unit: m.unit,
            kind,
            temporality: data.aggregationTemporality ?? 0,
            isMonotonic: data.isMonotonic ?? false,
            attributes: attributes(p.attributes),
            startTimeUnixNano: BigInt(p.startTimeUnixNano ?? 0),
            timeUnixNano: BigInt(p.timeUnixNano ?? 0),
            value: kind === 'gauge' || kind === 'sum' ? numberValue(p) : histogramValue(p),
          });
        }
      }
    }
  }
  return out;
}

function numberValue(p: Decoded): number {
  return p.asInt !== undefined && p.asInt !== null ? Number(p.asInt) : p.asDouble;
}

/** A histogram data point with its 64-bit counts as numbers. */
function histogramValue(p: Decoded): Decoded {
  const n = (x: unknown) => Number(x ?? 0);
  const out: Decoded = { ...p, count: n(p.count) };
  delete out.attributes;
  if (Array.isArray(p.bucketCounts)) out.bucketCounts = p.bucketCounts.map(n);
  if (p.zeroCount !== undefined) out.zeroCount = n(p.zeroCount);
  for (const side of ['positive', 'negative']) {
    if (p[side]) out[side] = { offset: p[side].offset ?? 0, bucketCounts: (p[side].bucketCounts ?? []).map(n) };
  }
  return out;
}

export interface FlatLogRecord {
  resource: Record<string, unknown>;
  scope: { name: string; version: string };
  eventName: string;
  body: unknown;
  attributes: Record<string, unknown>;
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: number;
  severityText: string;
}

/** Every log record of an ExportLogsServiceRequest. */
export function logRecords(message: Decoded): FlatLogRecord[] {
  const out: FlatLogRecord[] = [];
  for (const rl of message.resourceLogs ?? []) {
    const resource = attributes(rl.resource?.attributes);
    for (const sl of rl.scopeLogs ?? []) {
      const scope = { name: sl.scope?.name ?? '', version: sl.scope?.version ?? '' };
      for (const r of sl.logRecords ?? []) {
        out.push({
          resource,
          scope,
          eventName: r.eventName ?? '',
          body: anyValue(r.body),
          attributes: attributes(r.attributes),
          timeUnixNano: BigInt(r.timeUnixNano ?? 0),
          observedTimeUnixNano: BigInt(r.observedTimeUnixNano ?? 0),
          severityNumber: r.severityNumber ?? 0,
          severityText: r.severityText ?? '',
        });
      }
    }
  }
  return out;
}
