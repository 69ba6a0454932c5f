/**
 * The sinks' config: which histogram families keep exponential state for
 * them, and the remote-write sink's `histograms:` reaching its encoder.
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { builtInSinks } from '../../agent/export/built-in-sinks.js';
import { exponentialMode, needsSdkForm, sinksSchema } from '../../agent/export/sinks-config.js';
import { decodeNativeBody, statsdPipeline } from './remote-write/helpers.js';

const otlp = (histograms?: string) => ({ name: `otlp-${histograms}`, type: 'otlp', endpoint: 'http://127.0.0.1:4318', ...(histograms ? { histograms } : {}) });
const rw = (histograms?: string) => ({ name: `rw-${histograms}`, type: 'prometheus_remote_write', endpoint: 'http://127.0.0.1:9090/api/v1/write', ...(histograms ? { histograms } : {}) });
const mod = { name: 'mod', type: 'module', module: './sink.mjs' };

describe('exponentialMode', () => {
  it('keeps exponential state for every histogram when a sink or /metrics sends every histogram that way', () => {
    expect(exponentialMode(sinksSchema.parse([otlp('exponential')]), false)).toBe('all');
    expect(exponentialMode(sinksSchema.parse([rw('native')]), false)).toBe('all');
    expect(exponentialMode(sinksSchema.parse([rw(), otlp(), rw('native')]), false)).toBe('all');
    expect(exponentialMode(sinksSchema.parse([]), true)).toBe('all');
    expect(exponentialMode(sinksSchema.parse([otlp()]), true)).toBe('all');
  });

  it("keeps it for the mapping rules' families while a sink could send them, and never when none could", () => {
    expect(exponentialMode(sinksSchema.parse([otlp()]), false)).toBe('rules');
    expect(exponentialMode(sinksSchema.parse([mod]), false)).toBe('rules');
    expect(exponentialMode(sinksSchema.parse([rw(), rw('classic')]), false)).toBe('off');
    expect(exponentialMode(sinksSchema.parse([]), false)).toBe('off');
  });

  it('takes classic or native histograms for remote write only', () => {
    expect(sinksSchema.parse([rw()])[0]).toMatchObject({ histograms: 'classic' });
    expect(sinksSchema.safeParse([rw('exponential')]).success).toBe(false);
    expect(sinksSchema.safeParse([otlp('native')]).success).toBe(false);
  });
});

describe('needsSdkForm', () => {
  it('makes the OpenTelemetry form of a flush for a sink module only: remote write and OTLP render the families themselves', () => {
    expect(needsSdkForm(sinksSchema.parse([otlp('exponential'), otlp(), rw('native'), rw()]))).toBe(false);
    expect(needsSdkForm(sinksSchema.parse([]))).toBe(false);
    expect(needsSdkForm(sinksSchema.parse([otlp(), mod]))).toBe(true);
    expect(needsSdkForm(sinksSchema.parse([mod]))).toBe(true);
  });
});

describe('the remote-write sink made from its config', () => {
  it('sends native histograms with `histograms: native`, classic ones without', async () => {
    const pipeline = statsdPipeline({ resource: resourceFromAttributes({ 'service.name': 'tally-agent' }), now: () => 1_000, exponential: 'all' });
    pipeline.send('app.latency:120|ms');
    const batch = await pipeline.batch(2_000);
    const make = builtInSinks(resourceFromAttributes({ 'service.name': 'tally-agent' }), 'test').prometheus_remote_write;
    const ctx = { baseDir: '.', version: 'test', logger: pino({ level: 'silent' }), builtIn: {} as never };
    const names = async (histograms: string) => {
      const sink = make(sinksSchema.parse([rw(histograms)])[0]!, ctx);
      const series = (await sink.encode(batch)).flatMap((r) => decodeNativeBody(r.body));
      await sink.close?.();
      return series
        .map((s) => `${s.labels.find(([n]) => n === '__name__')![1]}:${s.histograms.length > 0 ? 'histogram' : 'samples'}`)
        .filter((n) => n.startsWith('app_'))
        .sort();
    };
    expect(await names('native')).toEqual(['app_latency_seconds:histogram']);
    expect((await names('classic')).filter((n) => !n.startsWith('app_latency_seconds_bucket'))).toEqual(['app_latency_seconds_count:samples', 'app_latency_seconds_sum:samples']);
  });
});
