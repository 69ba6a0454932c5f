// A custom Tally sink: every flush as JSON lines appended to a file.
//
// Name it in the config and it gets the same spool queue, retries and
// telemetry as the built-in sinks:
//
//   sinks:
//     - name: audit-file
//       type: module
//       module: ./examples/jsonl-sink.mjs     # relative to the config file
//       options: { path: /var/log/tally/metrics.jsonl }
//
// A sink module's default export takes { name, options, logger, version }
// and returns an object with the Sink interface of agent/export/sink.ts:
// encode(snapshot) turns one flush into stored requests (bytes, encoded
// once), send(request, signal) delivers one of them and says how it went.
import { open } from 'node:fs/promises';

/** One JSON object per data point: what a log pipeline or `jq` reads easily. */
function* lines(snapshot) {
  const time = new Date(snapshot.timeMs).toISOString();
  for (const scope of snapshot.metrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      for (const point of metric.dataPoints) {
        yield { time, batch: snapshot.batchId, name: metric.descriptor.name, unit: metric.descriptor.unit || undefined, attributes: point.attributes, value: point.value };
      }
    }
  }
  for (const e of snapshot.events) {
    yield { time: new Date(e.timeMs).toISOString(), batch: snapshot.batchId, event: e.name, value: e.value, attributes: Object.fromEntries(e.attributes) };
  }
}

export default function createJsonLinesSink({ name, options }) {
  if (typeof options.path !== 'string' || options.path === '') throw new Error(`sink ${name}: options.path (the file to append to) is required`);
  const path = options.path;
  return {
    name,
    encode(snapshot) {
      let text = '';
      for (const line of lines(snapshot)) text += JSON.stringify(line) + '\n';
      return text === '' ? [] : [{ path: '', headers: {}, body: Buffer.from(text) }];
    },
    async send(request) {
      try {
        const file = await open(path, 'a');
        try {
          await file.write(request.body);
          // Acknowledged means durable: the queue drops the batch after this returns.
          await file.sync();
        } finally {
          await file.close();
        }
        return { kind: 'delivered', status: 200 };
      } catch (err) {
        // A full disk or a missing folder may heal; keep the batch queued and try again.
        return { kind: 'retry', error: `${path}: ${err.message}` };
      }
    },
  };
}
