import { rt } from '../runtime/context.js';
import { checkDType, checkFloat, checkNumber, checkRank } from '../tensor/checks.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { parallelTiles, TILE_LENGTH } from '../runtime/parallel.js';

// Bit packing (kernel: assembly/bitpack.ts, twin: reference/bitpack.ts).
//
// Packed bits live in an int32 tensor whose elements are raw 32-bit words:
// bit = 1 means -1 (x < 0), bit = 0 means +1 (x >= 0, so 0 -> +1 as in
// ste.binarize); element j of a row is bit j % 32 of word floor(j / 32); rows
// are padded with 0 bits to a multiple of 128 bits (ceil(K / 128) * 4 words).
// toArray() shows the words as signed integers; read them with `>>> 0`.

/** Words per packed row of k values: ceil(k / 128) * 4. */
export function packedWords(k: number): number {
  checkNumber(k, 'packedWords', 'k', { integer: true, min: 0, max: 2 ** 31 - 1 });
  return Math.ceil(k / 128) * 4;
}

/**
 * Binarizes and packs float32 x [M, K] into int32 words [M, ceil(K/128)*4]
 * (bit 1 = negative). NaN has no sign and is rejected.
 */
export function packBits(x: Tensor): Tensor {
  const op = 'packBits';
  checkFloat(x, op, 'x');
  checkRank(x, op, 'x', 2);
  const [M, K] = x.shape;
  const words = packedWords(K);
  const out = empty([M, words], 'int32');
  if (M === 0 || words === 0) return out;
  // Rows pack independently: split over rows; the tiles' NaN counts add up.
  const nan = parallelTiles({
    kernel: 'pack_bits_f32', rows: { begin: 0, end: M, align: 1 }, cost: 2 * M * K,
    args: [{ c: x.offset, i0: K * 4 }, TILE_LENGTH, K, { c: out.offset, i0: words * 4 }, words],
  });
  if (nan > 0) {
    out.dispose();
    throw new Error(`${op}: x contains ${nan} NaN value${nan > 1 ? 's' : ''}; NaN has no sign and cannot be packed`);
  }
  return out;
}

/**
 * Checks a packed-bits argument: int32, 2-D, `words` = ceil(k/128)*4 words per
 * row and every padding bit (element >= k) 0. Returns [rows, words].
 */
export function checkBits(bits: Tensor, k: number, op: string, arg: string): [number, number] {
  checkDType(bits, op, arg, 'int32');
  checkRank(bits, op, arg, 2);
  const [rows, words] = bits.shape;
  const want = packedWords(k);
  if (words !== want) {
    throw new Error(`${op}: ${arg} must have ceil(k/128)*4 = ${want} words per row for k = ${k}, got shape [${bits.shape}]`);
  }
  if (rows > 0 && words > 0) {
    const bad = rt().kernels.bits_padding_violations(bits.offset, rows, words, k);
    if (bad > 0) {
      throw new Error(`${op}: ${arg} has ${bad} row${bad > 1 ? 's' : ''} with 1 bits past k = ${k}; padding bits must be 0 (pack with packBits)`);
    }
  }
  return [rows, words];
}
