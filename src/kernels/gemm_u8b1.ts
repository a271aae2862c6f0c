import { rt } from '../runtime/context.js';
import { checkDType, checkRank } from '../tensor/checks.js';
import { cachedDerived } from '../tensor/derived.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { checkBits } from './bitpack.js';

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
  const out = empty([M, N], dtype);
  if (M === 0 || N === 0) return out;
  const { kernels, allocator } = rt();
  let work = 0;
  try {
    const patterns = cachedDerived(wBits, `gemm_u8b1.patterns:${K}`, kernels.gemm_u8b1_packed_w_bytes(N, K), (off) => {
      kernels.gemm_u8b1_pack_w(wBits.offset, N, words, K, off);
    });
    work = allocator.alloc(kernels.gemm_u8b1_workspace_bytes(M, K));
    if (x.dtype === 'uint8') {
      kernels.gemm_u8b1_tables_u8(x.offset, M, K, work);
    } else {
      const bad = kernels.gemm_u8b1_tables_f32(x.offset, M, K, work);
      if (bad > 0) {
        throw new Error(`${op}: x must hold integers in [0, 255] (e.g. raw pixels); ${bad} value${bad > 1 ? 's are' : ' is'} not (fractions, out of range or NaN)`);
      }
    }
    if (dtype === 'int32') kernels.gemm_u8b1(M, N, K, work, patterns, out.offset);
    else kernels.gemm_u8b1_f32(M, N, K, work, patterns, out.offset);
  } catch (err) {
    out.dispose();
    throw err;
  } finally {
    if (work !== 0) allocator.free(work);
  }
  return out;
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
