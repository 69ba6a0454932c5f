import { setImmediate as nextTurn } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { EncodedRequest, FlushSnapshot } from '../sink.js';
import { DeltaConverter } from './delta-temporality.js';
import { logsBodies, toLogRecords } from './event-log-records.js';
import { familyUnits, type HistogramForm } from './family-units.js';
import { withIntegerCounts } from './integer-counts.js';
import { metricsPieces, type MetricUnit } from './metrics-body.js';
import { StreamedGzip } from './streamed-gzip.js';
import { BATCH_ID_HEADER, BATCH_PART_HEADER } from '../batch-headers.js';
import {
  DEFAULT_MAX_REQUEST_BYTES,
  LOGS_PATH,
  METRICS_PATH,
  contentTypeOf,
  type OtlpCompression,
  type OtlpEncoding,
} from './wire-format.js';

export type OtlpTemporality = 'delta' | 'cumulative';

const gzipAsync = promisify(gzip);

/** A flush as this sink may receive it: summaries, which are no SDK MetricData, travel beside the metrics. */

export interface OtlpEncoderOptions {
  encoding: OtlpEncoding;
  compression: OtlpCompression;
  /** Of sums and histograms; gauges have none. */
  temporality: OtlpTemporality;
  /**
   * 'exponential' sends every family the snapshot has an exponential
   * histogram for as one; 'explicit' (default) only those a mapping rule
   * asked for, the rest with their buckets.
   */
  histograms?: HistogramForm;
  /** Merged over the snapshot's resource, winning on conflicts (see otlpResource()). */
  resource?: Resource;
  /** Ship events as log records to /v1/logs (default true). */
  events?: boolean;
  /** Largest body before compression; a larger batch is split (default 8 MiB). */
  maxRequestBytes?: number;
  /** Scope of the metrics and log records (default: name tally-agent). */
  scope?: InstrumentationScope;
}

/**
 * A flush as OTLP/HTTP requests: ExportMetricsServiceRequest bodies for
 * /v1/metrics and ExportLogsServiceRequest bodies for /v1/logs, serialized
 * by @opentelemetry/otlp-transformer, gzipped when asked. Usually one of
 * each at most; a batch past maxRequestBytes is split. Holds the sink's
 * delta state, so it must see every flush, in order, once.
 *
 * Metric names are the OpenTelemetry ones the AggregateProducer hands out: a
 * counter is `logins` (a monotonic SUM), not the `logins_total` the
 * Prometheus exposition adds; a timer keeps its `_seconds` name and unit "s".
 *
 * Headers stored with each request are the ones that describe its body
 * (content type and encoding) and the batch id and part; credentials and the
 * User-Agent are added when sending, so they never sit in the spool and a
 * rotated token applies to batches already queued.
 */
export class OtlpEncoder {
  private readonly delta: DeltaConverter | undefined;
  private readonly maxRequestBytes: number;

  constructor(private readonly opts: OtlpEncoderOptions) {
    this.delta = opts.temporality === 'delta' ? new DeltaConverter() : undefined;
    this.maxRequestBytes = opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  }

  async encode(snapshot: FlushSnapshot): Promise<EncodedRequest[]> {
    const resource = this.opts.resource === undefined ? snapshot.metrics.resource : snapshot.metrics.resource.merge(this.opts.resource);
    const scope = this.opts.scope ?? { name: 'tally-agent' };
    // Turns of the event loop before each part, so the sockets are read while a large batch encodes (at 100,000 series the
    // steps run back to back held the loop about 0.1 s). Its delta state is taken: abandon() puts it back.
    await nextTurn();
    // Run on every flush, even one with nothing to send, so "the previous batch" is always the previous flush.
    this.delta?.begin();
    const bodies: Array<{ path: string; body: Uint8Array }> = [];
    // Compressed on libuv's thread pool: gzip of a 1 MiB body on this thread held it 8 ms a body.
    const gzipped = this.opts.compression === 'gzip';
    const add = async (path: string, body: Uint8Array) => bodies.push({ path, body: gzipped ? await gzipAsync(body) : body });
    const joinable = this.opts.encoding === 'protobuf';
    // The body being filled: its pieces go into its compressor as they come (see StreamedGzip), or are kept to be joined.
    let open: { bytes: number; gzip: StreamedGzip | undefined; pieces: Uint8Array[] } | undefined;
    const finishBody = async () => {
      if (open === undefined) return;
      const { gzip: stream, pieces } = open;
      open = undefined;
      bodies.push({ path: METRICS_PATH, body: stream !== undefined ? await stream.end() : pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces) });
    };
    try {
      for (const encodePiece of metricsPieces(this.units(snapshot, scope), resource, this.opts.encoding, this.maxRequestBytes)) {
        await nextTurn();
        for (const piece of encodePiece()) {
          if (!joinable || (open !== undefined && open.bytes + piece.length > this.maxRequestBytes)) await finishBody();
          open ??= { bytes: 0, gzip: gzipped ? new StreamedGzip() : undefined, pieces: [] };
          open.bytes += piece.length;
          if (open.gzip !== undefined) await open.gzip.write(piece);
          else open.pieces.push(piece);
        }
      }
    } catch (err) {
      open?.gzip?.destroy();
      throw err;
    }
    this.delta?.end();
    await finishBody();
    if (this.opts.events !== false && snapshot.events.length > 0) {
      const records = toLogRecords(snapshot.events, resource, scope, snapshot.timeMs);
      for (const body of logsBodies(records, this.opts.encoding, this.maxRequestBytes)) await add(LOGS_PATH, body);
    }
    return bodies.map(({ path, body }, i) => this.request(path, body, snapshot.batchId, `${i + 1}/${bodies.length}`));
  }

  /** The batch's families as this sink sends them, a run at a time: counts rounded to integers, in delta form where asked. */
  private *units(snapshot: FlushSnapshot, scope: InstrumentationScope): Generator<MetricUnit> {
    for (const unit of familyUnits(snapshot.families, scope, this.opts.histograms ?? 'explicit')) {
      if (!('metric' in unit)) yield unit;
      else {
        const rounded = withIntegerCounts(unit.metric);
        yield { scope, metric: this.delta === undefined ? rounded : this.delta.convertMetric(scope.name, rounded) };
      }
    }
  }

  /** The last encoded batch did not reach the queue: delta state goes back to before it. */
  abandon(): void {
    this.delta?.abandon();
  }

  private request(path: string, body: Uint8Array, batchId: string, part: string): EncodedRequest {
    const headers: Record<string, string> = { 'content-type': contentTypeOf(this.opts.encoding), [BATCH_ID_HEADER]: batchId, [BATCH_PART_HEADER]: part };
    if (this.opts.compression === 'gzip') headers['content-encoding'] = 'gzip';
    return { path, headers, body };
  }
}
