/**
 * The client's DogStatsD encoding and datagram cutting, against fixtures of
 * calls and the exact lines they must become.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../support/agent-process.js';
import { APPENDED, INVALID, MAX_UDP_PAYLOAD, StatsdWriter, TOO_LARGE } from '../../dist/client/statsd-writer.js';
import type { Kind, Tags } from '../../dist/client/types.js';

type Call = [Kind, string, number | string | null, Tags | null, number, string | null, boolean];
interface Fixture {
  options: { prefix: string; globalTags: Record<string, string> };
  cases: Array<{ what: string; call: Call; line: string }>;
  invalid: Call[];
}
const fixture = JSON.parse(readFileSync(join(ROOT, 'test', 'client', 'fixtures', 'statsd-lines.json'), 'utf8')) as Fixture;

function numeric(v: number | string | null, kind: Kind): number | string {
  if (kind !== 'e' && typeof v === 'string') return Number(v);
  return v as number | string;
}

function writer(maxDatagramBytes = 1432, opts: Partial<Fixture['options']> = fixture.options) {
  const datagrams: Array<{ text: string; lines: number }> = [];
  const w = new StatsdWriter({
    ...opts,
    maxDatagramBytes,
    onDatagram: (staging, length, lines) => datagrams.push({ text: staging.toString('utf8', 0, length), lines }),
  });
  const append = (c: Call) => w.append(c[0], c[1], numeric(c[2], c[0]), c[3] ?? undefined, c[4], c[5] ?? undefined, c[6]);
  return { w, datagrams, append };
}

describe('StatsdWriter', () => {
  for (const c of fixture.cases) {
    it(`encodes ${c.what}`, () => {
      const { w, datagrams, append } = writer();
      expect(append(c.call)).toBe(APPENDED);
      w.cut();
      expect(datagrams).toEqual([{ text: c.line, lines: c.line.split('\n').length }]);
    });
  }

  it('refuses values the agent would reject, writing nothing', () => {
    const { w, datagrams, append } = writer();
    for (const c of fixture.invalid) expect(append(c), JSON.stringify(c)).toBe(INVALID);
    w.cut();
    expect(datagrams).toEqual([]);
  });

  it('cuts datagrams at the size limit, keeping every line whole and in order', () => {
    const { w, datagrams, append } = writer(200, {});
    const expected: string[] = [];
    for (let i = 0; i < 500; i++) {
      const tags = { route: `/r${i % 7}`, n: i };
      expect(append(['c', `metric.${i % 13}`, i, tags, 1, null, false])).toBe(APPENDED);
      expected.push(`metric.${i % 13}:${i}|c|#route:/r${i % 7},n:${i}`);
    }
    w.cut();
    expect(datagrams.length).toBeGreaterThan(20);
    for (const d of datagrams) {
      expect(Buffer.byteLength(d.text)).toBeLessThanOrEqual(200);
      expect(d.text.split('\n')).toHaveLength(d.lines);
    }
    expect(datagrams.flatMap((d) => d.text.split('\n'))).toEqual(expected);
  });

  it('sends a line longer than a datagram alone, and refuses one longer than UDP carries', () => {
    const { w, datagrams, append } = writer(100, {});
    expect(append(['c', 'a', 1, null, 1, null, false])).toBe(APPENDED);
    expect(append(['e', 'big', 'x'.repeat(500), null, 1, null, false])).toBe(APPENDED);
    expect(append(['c', 'b', 2, null, 1, null, false])).toBe(APPENDED);
    expect(append(['e', 'huge', 'y'.repeat(MAX_UDP_PAYLOAD), null, 1, null, false])).toBe(TOO_LARGE);
    expect(append(['c', 'c', 3, null, 1, null, false])).toBe(APPENDED);
    w.cut();
    expect(datagrams.map((d) => d.text)).toEqual(['a:1|c', `_e{3,500}:big|${'x'.repeat(500)}|#value:${'x'.repeat(500)}`, 'b:2|c\nc:3|c']);
  });

  it('writes no tag section when there are no tags', () => {
    const { w, datagrams, append } = writer(1432, {});
    append(['c', 'plain', 5, {}, 1, null, false]);
    w.cut();
    expect(datagrams[0]!.text).toBe('plain:5|c');
  });
});
