import { rt } from '../runtime/context.js';
import { checkDType, checkRank } from '../tensor/checks.js';
import { cachedDerived } from '../tensor/derived.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { checkBits } from './bitpack.js';
import { parallelTiles, TILE_LENGTH, WORKSPACE } from '../runtime/parallel.js';
import { produce } from './workspace.js';

/** Output channels per block of weight patterns (assembly/gemm_u8b1.ts). */
const U8B1_NR = 16;

// uint8 activations times binary weights (kernel: assembly/gemm_u8b1.ts, twin:
// reference/gemm_u8b1.ts): the first layer of a BNN that sees raw pixels,
// exact, by nibble-table lookups instead of multiplies. The weights' group
// patterns are cached with wBits (rebuilt after markModified).

/** Largest K whose sums are exact in float32 (|sum| <= 255·K < 2^24). */
const F32_EXACT_K = 65792;
/** Largest K whose sums fit int32 (255·K < 2^31). */
const I32_MAX_K = 8421504;

function product(x: Tensor, wBits: Tensor, op: string, dtype: 'int32' | 'float32'): Tensor {
  checkDType(x, op, 'x', 'uint8', 'float32');
  checkRank(x, op, 'x', 2);
  const [M, K] = x.shape;
  const maxK = dtype === 'int32' ? I32_MAX_K : F32_EXACT_K;
  if (K > maxK) throw new Error(`${op}: K = ${K} is too large; sums of ${K} uint8 values are not exact past K = ${maxK}`);
  const [N, words] = checkBits(wBits, K, op, 'wBits');
  const xF32 = x.dtype === 'float32' ? 1 : 0;
  if (xF32 && x.size > 0) {
    const bad = rt().kernels.gemm_u8b1_check_f32(x.offset, x.size);
    if (bad > 0) throw new Error(`${op}: x must hold integers in [0, 255] (e.g. raw pixels); ${bad} value${bad > 1 ? 's are' : ' is'} not (fractions, out of range or NaN)`);
  }
  const out = empty([M, N], dtype);
  if (M === 0 || N === 0) return out;
  return produce(out, () => {
    const { kernels } = rt();
    const groups = ((K + 15) >> 4) << 2;
    const patterns = cachedDerived(wBits, `gemm_u8b1.patterns:${K}`, kernels.gemm_u8b1_packed_w_bytes(N, K), (off) => {
      // Blocks of U8B1_NR channels are independent: split over channels (one byte per group and channel).
      parallelTiles({
        kernel: 'gemm_u8b1_pack_w',
        rows: { begin: 0, end: N, align: U8B1_NR },
        // Each (channel, group) builds a lookup table: measured ~8x a multiply-add.
        cost: 8 * N * groups,
        args: [{ c: wBits.offset, i0: words * 4 }, TILE_LENGTH, words, K, { c: off, i0: groups }],
      });
    });
    // Each row's lookup tables are built once per tile: split over rows, and over
    // channels only when there are too few rows to go round.
    const byRows = M >= 16;
    parallelTiles({
      kernel: dtype === 'int32' ? 'gemm_u8b1' : 'gemm_u8b1_f32',
      rows: { begin: 0, end: M, align: 1 },
      cols: byRows ? undefined : { begin: 0, end: N, align: U8B1_NR },
      cost: M * N * Math.max(K, 1),
      workspace: () => kernels.gemm_u8b1_workspace_bytes(K),
      args: [K, x.offset, K, xF32, patterns, out.offset, N, 1, 0, 0, 0, { i0: 1 }, { i1: 1 }, byRows ? 0 : { j0: 1 }, byRows ? N : { j1: 1 }, WORKSPACE],
    });
  });
}

/**
 * uint8 activations times binary weights: x [M, K] (uint8, or float32 holding
 * integers in [0, 255]) and wBits [N, ceil(K/128)*4] (packBits of the float
 * weights [N, K]) -> int32 [M, N] = Σ_k x[m,k]·w[n,k] with w = ±1 (bit 1 = -1).
 * Exact; float32 x that is not such integers is rejected.
 */
export function uint8BinaryMatmul(x: Tensor, wBits: Tensor): Tensor {
  return product(x, wBits, 'uint8BinaryMatmul', 'int32');
}

/** The same exact sums as float32 (K <= 65792), for layers whose epilogue is float. */
export function uint8BinaryMatmulF32(x: Tensor, wBits: Tensor, op = 'uint8BinaryMatmul'): Tensor {
  return product(x, wBits, op, 'float32');
}
