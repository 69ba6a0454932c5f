// snappyjs ships no types. Its format is Snappy's block format (not the framed one), which remote write requires.
declare module 'snappyjs' {
  export function compress(uncompressed: Uint8Array): Uint8Array;
  /** Throws on a corrupt stream, or when the declared length exceeds maxLength. */
  export function uncompress(compressed: Uint8Array, maxLength?: number): Uint8Array;
}
