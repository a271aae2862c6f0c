/**
 * Scalar twin of assembly/gemm_f32.ts: C[M,N] = op(A)·op(B) (+ bias[N]) (+ C).
 * A is stored [M,K] or, with transA, [K,M]; B is [K,N] or, with transB, [N,K].
 * Products are accumulated in float64 and rounded to float32 once, so this is
 * the exact answer up to one rounding: the oracle the f32 kernel is held to.
 */
export function gemmF32Ref(
  M: number, N: number, K: number,
  A: Float32Array, transA: boolean,
  B: Float32Array, transB: boolean,
  bias: Float32Array | null,
  C: Float32Array,
  accumulate: boolean,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * M + i] : A[i * K + k];
        const b = transB ? B[j * K + k] : B[k * N + j];
        s += a * b;
      }
      if (bias !== null) s += bias[j];
      if (accumulate) s += C[i * N + j];
      C[i * N + j] = s;
    }
  }
}
