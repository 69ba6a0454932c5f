import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../agent/lifecycle.js';

function withLog() {
  const lines: Array<{ level: number; what?: string; msg: string }> = [];
  const logger = pino({ level: 'error' }, { write: (l: string) => lines.push(JSON.parse(l) as { level: number; what?: string; msg: string }) });
  return { lines, lifecycle: new Lifecycle(logger) };
}

describe('Lifecycle', () => {
  it('closes what was opened in the reverse order, awaiting each', async () => {
    const { lifecycle } = withLog();
    const closed: string[] = [];
    lifecycle.defer('meter', () => {
      closed.push('meter');
    });
    lifecycle.defer('spool', async () => {
      await new Promise((r) => setTimeout(r, 5));
      closed.push('spool');
    });
    lifecycle.defer('listener', () => {
      closed.push('listener');
    });
    await lifecycle.closeAll();
    expect(closed).toEqual(['listener', 'spool', 'meter']);
  });

  it('logs a closer that fails and still runs the rest; each runs once', async () => {
    const { lifecycle, lines } = withLog();
    const closed: string[] = [];
    lifecycle.defer('first', () => {
      closed.push('first');
    });
    lifecycle.defer('broken', () => Promise.reject(new Error('disk gone')));
    lifecycle.defer('last', () => {
      closed.push('last');
    });
    await lifecycle.closeAll();
    await lifecycle.closeAll();
    expect(closed).toEqual(['last', 'first']);
    expect(lines.map((l) => [l.what, l.msg])).toEqual([['broken', 'could not close cleanly']]);
  });
});
