import { ValueType } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import type { SummaryMetricData } from '../../agent/export/summary-data.js';
import { summariesToPrometheusText } from '../../agent/export/summary-text.js';
import { parsePromText, sampleValue } from '../support/prom-text.js';

function summary(over: Partial<SummaryMetricData['descriptor']>, points: Array<{ attributes: Record<string, string>; q: Array<[number, number]>; sum: number; count: number }>): SummaryMetricData {
  return {
    descriptor: { name: 'rpc_seconds', description: 'RPC time', unit: '', valueType: ValueType.DOUBLE, ...over },
    dataPoints: points.map((p) => ({
      attributes: p.attributes,
      startTime: [1, 0],
      endTime: [2, 0],
      value: { sum: p.sum, count: p.count, quantileValues: p.q.map(([quantile, value]) => ({ quantile, value })) },
    })),
  };
}

describe('summariesToPrometheusText', () => {
  it('writes HELP, TYPE summary, the quantile samples, _sum and _count per series', () => {
    const text = summariesToPrometheusText([
      summary({}, [
        { attributes: { method: 'get', zone: 'a' }, q: [[0.5, 0.25], [0.99, 1.5]], sum: 12.5, count: 40 },
        { attributes: {}, q: [[0.5, 0.1], [0.99, 0.2]], sum: 1, count: 3 },
      ]),
    ]);
    expect(text).toBe(
      [
        '# HELP rpc_seconds RPC time',
        '# TYPE rpc_seconds summary',
        'rpc_seconds{method="get",zone="a",quantile="0.5"} 0.25',
        'rpc_seconds{method="get",zone="a",quantile="0.99"} 1.5',
        'rpc_seconds_sum{method="get",zone="a"} 12.5',
        'rpc_seconds_count{method="get",zone="a"} 40',
        'rpc_seconds{quantile="0.5"} 0.1',
        'rpc_seconds{quantile="0.99"} 0.2',
        'rpc_seconds_sum 1',
        'rpc_seconds_count 3',
        '',
      ].join('\n'),
    );
  });

  it('escapes help text and label values as the exposition format requires', () => {
    const text = summariesToPrometheusText([
      summary({ description: 'say "hi" \\ then\na new line' }, [
        { attributes: { path: 'C:\\tmp\n"x"}', plain: '# HELP x y' }, q: [[0.5, 1]], sum: 1, count: 1 },
      ]),
    ]);
    // In HELP only backslash and line feed are escaped; a double quote stays as it is.
    expect(text.split('\n')[0]).toBe('# HELP rpc_seconds say "hi" \\\\ then\\na new line');
    expect(text).toContain('rpc_seconds{path="C:\\\\tmp\\n\\"x\\"}",plain="# HELP x y",quantile="0.5"} 1\n');
    const exp = parsePromText(text);
    expect(sampleValue(exp, 'rpc_seconds_count', { path: 'C:\\tmp\n"x"}', plain: '# HELP x y' })).toBe(1);
  });

  it('writes NaN for an empty window and ±Inf as +Inf/-Inf, and quantile labels as client_golang does', () => {
    const text = summariesToPrometheusText([
      summary({}, [
        {
          attributes: {},
          q: [
            [0.00001, NaN],
            [0.0001, Infinity],
            [1, -Infinity],
          ],
          sum: 0,
          count: 0,
        },
      ]),
    ]);
    expect(text).toContain('rpc_seconds{quantile="1e-05"} NaN\n');
    expect(text).toContain('rpc_seconds{quantile="0.0001"} +Inf\n');
    expect(text).toContain('rpc_seconds{quantile="1"} -Inf\n');
  });

  it('adds # UNIT when the family has one, as the OpenTelemetry serializer does for its own families', () => {
    const text = summariesToPrometheusText([summary({ unit: 's' }, [])]);
    expect(text).toBe('# HELP rpc_seconds RPC time\n# UNIT rpc_seconds s\n# TYPE rpc_seconds summary\n');
  });

  it('writes nothing for no summaries', () => {
    expect(summariesToPrometheusText([])).toBe('');
  });
});
