import { describe, expect, it } from 'vitest';
import { ChunkedList } from '../../agent/aggregate/chunked-list.js';

describe('ChunkedList', () => {
  it('keeps entries set in order of index across chunks, and entries set again', () => {
    const list = new ChunkedList<number>();
    const n = 3 * 65_536 + 5;
    for (let i = 0; i < n; i++) list.set(i, i * 3);
    list.set(65_536, -1);
    list.set(0, -2);
    for (let i = 1; i < n; i++) expect(list.get(i)).toBe(i === 65_536 ? -1 : i * 3);
    expect(list.get(0)).toBe(-2);
  });
});
