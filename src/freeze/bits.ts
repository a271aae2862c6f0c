import { packedWords } from '../kernels/bitpack.js';
import { flattenPackedChannels } from '../kernels/conv_binary.js';
import { unpackBitsF32 } from '../kernels/frozen.js';
import { pad, reshape, slice } from '../ops/shape.js';
import type { Tensor } from '../tensor/tensor.js';

// The two packed layouts of ±1 activations in a frozen model (bit 1 = -1,
// padding bits 0, as everywhere):
// - rows: [rows, ceil(k/128)·4] int32 words (packBits; dense layers' input);
// - images: NHWC [N, H, W, ceil(C/32)] words, channels packed per pixel
//   (the binary conv and max-pool kernels' layout, src/kernels/conv_binary.ts;
//   packChannels packs float images).
// A pixel's words are a row's words without the padding to 128 bits, so per
// pixel the two convert by padding or slicing words; flattening an image into
// one row moves bits (flattenPackedChannels).

/** Words per pixel of C channels in the image layout. */
function pixelWords(c: number): number {
  return Math.ceil(c / 32);
}

/** Image bits [N, H, W, ceil(C/32)] as rows [N·H·W, ceil(C/128)·4] (zero words appended). */
function pixelRows(bits: Tensor, c: number): Tensor {
  const [n, h, w, cw] = bits.shape;
  const rows = reshape(bits, [n * h * w, cw]);
  const extra = packedWords(c) - cw;
  return extra === 0 ? rows : pad(rows, [[0, 0], [0, extra]]);
}

/** Per-pixel rows [N·H·W, ceil(C/128)·4] of bits (thresholdPackF32's output) as image bits [N, H, W, ceil(C/32)]. */
export function rowsToImage(rows: Tensor, shape: readonly [number, number, number], c: number): Tensor {
  const cw = pixelWords(c);
  const [n, h, w] = shape;
  return reshape(cw === rows.shape[1] ? rows : slice(rows, [0, 0], [n * h * w, cw]), [n, h, w, cw]);
}

/** Image bits back to float ±1 NHWC [N, H, W, C]. */
export function unpackImage(bits: Tensor, c: number): Tensor {
  const [n, h, w] = bits.shape;
  return reshape(unpackBitsF32(pixelRows(bits, c), c, 'FrozenModel.predict'), [n, h, w, c]);
}

/** Image bits flattened to rows [N, ceil(H·W·C/128)·4] of k = H·W·C values in NHWC order (what a dense layer after Flatten reads). */
export function flattenImage(bits: Tensor, c: number): { t: Tensor; k: number } {
  const [, h, w] = bits.shape;
  return { t: flattenPackedChannels(bits, { channels: c }), k: h * w * c };
}
