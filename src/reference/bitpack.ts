// Scalar twin of assembly/bitpack.ts: the specification of the packed format.
// bit = 1 means -1 (x < 0); bit = 0 means +1 (x >= 0, including 0 and -0).
// Element j of a row is bit (j % 32) of word floor(j / 32); a row of k values
// occupies ceil(k / 128) * 4 words and every bit past k is 0.

/** Words per packed row of k values. */
export function packedWordsRef(k: number): number {
  return Math.ceil(k / 128) * 4;
}

/** Packs x [rows, k] (row-major) into rows of packedWordsRef(k) u32 words. NaN packs as +1 (the host rejects it). */
export function packBitsRef(x: ArrayLike<number>, rows: number, k: number): Uint32Array {
  const words = packedWordsRef(k);
  const out = new Uint32Array(rows * words);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < k; j++) {
      if (x[r * k + j] < 0) out[r * words + (j >>> 5)] |= 1 << (j & 31);
    }
  }
  return out;
}

/** The ±1 value element j of packed row `row` stands for. */
export function unpackBitRef(bits: ArrayLike<number>, words: number, row: number, j: number): number {
  return (bits[row * words + (j >>> 5)] >>> (j & 31)) & 1 ? -1 : 1;
}

/** Number of rows with a 1 bit at an element >= k. */
export function paddingViolationsRef(bits: ArrayLike<number>, rows: number, words: number, k: number): number {
  let bad = 0;
  for (let r = 0; r < rows; r++) {
    let any = false;
    for (let j = k; j < words * 32 && !any; j++) any = unpackBitRef(bits, words, r, j) < 0;
    if (any) bad++;
  }
  return bad;
}
