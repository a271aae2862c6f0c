import { record } from '../autograd/tape.js';
import { gemmF32 } from '../kernels/gemm_f32.js';
import { checkFloat, checkRank } from '../tensor/checks.js';
import { empty, type Tensor } from '../tensor/tensor.js';

export interface MatmulOptions {
  /** Use aᵀ: a is stored [K, M]. */
  transposeA?: boolean;
  /** Use bᵀ: b is stored [N, K] (the usual weight layout). */
  transposeB?: boolean;
}

/** C = op(a) · op(b) for 2-D float32 tensors; every transpose form runs the same packed GEMM. */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  checkFloat(a, 'matmul', 'a');
  checkFloat(b, 'matmul', 'b');
  checkRank(a, 'matmul', 'a', 2);
  checkRank(b, 'matmul', 'b', 2);
  const ta = !!options.transposeA;
  const tb = !!options.transposeB;
  const [M, K] = ta ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [Kb, N] = tb ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (K !== Kb) {
    throw new Error(
      `matmul: inner dimensions differ: ${ta ? 'aᵀ' : 'a'} is [${M}, ${K}] (a has shape [${a.shape}]) but ${tb ? 'bᵀ' : 'b'} is [${Kb}, ${N}] (b has shape [${b.shape}])`,
    );
  }
  const c = gemm(a, ta, b, tb, M, N, K);
  return record(c, 'matmul', [a, b], (dc) => {
    // Every gradient is one more GEMM in some transpose form — all equally fast.
    // C = op(A)·op(B):  dop(A) = dC·op(B)ᵀ,  dop(B) = op(A)ᵀ·dC.
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a.requiresGrad) {
      da = ta
        ? gemm(b, tb, dc, true, K, M, N) // dA (stored [K,M]) = op(B)·dCᵀ
        : gemm(dc, false, b, !tb, M, K, N); // dA = dC·op(B)ᵀ
    }
    if (b.requiresGrad) {
      db = tb
        ? gemm(dc, true, a, ta, N, K, M) // dB (stored [N,K]) = dCᵀ·op(A)
        : gemm(a, !ta, dc, false, K, N, M); // dB = op(A)ᵀ·dC
    }
    return [da, db];
  });
}

/** out[m, n] = op(x)·op(y) where op(x) is [m, k] (k = 0 gives zeros). */
function gemm(x: Tensor, tx: boolean, y: Tensor, ty: boolean, m: number, n: number, k: number): Tensor {
  const out = empty([m, n], 'float32');
  if (out.size === 0) return out;
  gemmF32({ M: m, N: n, K: k, a: x.offset, b: y.offset, c: out.offset, transA: tx, transB: ty });
  return out;
}
