/**
 * Encodes `items` into as few bodies as keep each within `maxBytes`, halving
 * the list until each half fits, so one large flush becomes several requests
 * rather than one a collector refuses with 413 (a permanent error: the whole
 * batch would be dead-lettered). An item too large on its own is split by
 * `splitItem` when it can be (a metric into halves of its points), and sent
 * alone, oversized, when it cannot: the receiver then decides.
 *
 * Order is kept, so a receiver that sees the requests in order sees the
 * items in order.
 */
export function encodeWithin<T>(
  items: T[],
  encode: (items: T[]) => Uint8Array,
  maxBytes: number,
  splitItem?: (item: T) => T[] | undefined,
): Uint8Array[] {
  const out: Uint8Array[] = [];
  const visit = (part: T[]): void => {
    const body = encode(part);
    if (body.length <= maxBytes) {
      out.push(body);
      return;
    }
    if (part.length > 1) {
      const half = Math.ceil(part.length / 2);
      visit(part.slice(0, half));
      visit(part.slice(half));
      return;
    }
    const pieces = splitItem?.(part[0]!);
    if (pieces !== undefined && pieces.length > 1) {
      visit(pieces);
      return;
    }
    out.push(body);
  };
  if (items.length > 0) visit(items);
  return out;
}
