/**
 * Scalar twin of gemm_f32 (assembly/gemm_f32.ts), with the same contract:
 * C = op(A)·op(B) (+ bias[N]) (+ C) for `batch` products, A stored [M,K] or
 * (transA) [K,M] with rows lda apart, B stored [K,N] or (transB) [N,K] with
 * rows ldb apart, C rows ldc apart, product i at offset + i·stride (0 =
 * broadcast), and only the tile rows [m0, m1) x columns [n0, n1) written.
 * Offsets, leading dimensions and strides count elements of the arrays.
 *
 * It sums in the kernel's order, which is the contract: per C element, f32
 * products added in ascending k from +0 inside each KC = 256 block, block sums
 * added to C in ascending order, C starting from old C (+ bias), bias, or the
 * first block sum. So the kernel must match it bit for bit.
 */
export const GEMM_F32_KC = 256;

export interface GemmF32RefArgs {
  M: number; N: number; K: number;
  transA: boolean; transB: boolean;
  a: number; lda: number;
  b: number; ldb: number;
  c: number; ldc: number;
  batch: number; strideA: number; strideB: number; strideC: number;
  /** Offset of bias[N] in `bias`, when given. */
  biasOffset?: number;
  accumulate: boolean;
  m0: number; m1: number; n0: number; n1: number;
}

export function gemmF32Ref(p: GemmF32RefArgs, A: Float32Array, B: Float32Array, C: Float32Array, bias: Float32Array | null = null): void {
  const f = Math.fround;
  const { K, transA, transB, lda, ldb, ldc } = p;
  const bo = p.biasOffset ?? 0;
  const preinit = bias !== null || p.accumulate || K === 0;
  for (let t = 0; t < p.batch; t++) {
    const a = p.a + t * p.strideA, b = p.b + t * p.strideB, c = p.c + t * p.strideC;
    for (let i = p.m0; i < p.m1; i++) {
      for (let j = p.n0; j < p.n1; j++) {
        const at = c + i * ldc + j;
        let acc = C[at];
        if (preinit) {
          if (!p.accumulate) acc = bias !== null ? bias[bo + j] : 0;
          else if (bias !== null) acc = f(acc + bias[bo + j]);
        }
        for (let p0 = 0; p0 < K; p0 += GEMM_F32_KC) {
          let s = 0;
          for (let k = p0; k < Math.min(K, p0 + GEMM_F32_KC); k++) {
            const x = transA ? A[a + k * lda + i] : A[a + i * lda + k];
            const y = transB ? B[b + j * ldb + k] : B[b + k * ldb + j];
            s = f(s + f(x * y));
          }
          acc = preinit || p0 > 0 ? f(acc + s) : s;
        }
        C[at] = acc;
      }
    }
  }
}
