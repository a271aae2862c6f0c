// Scalar twin of assembly/gemm_u8b1.ts: uint8 activations times the ±1
// weights of packed bits (reference/bitpack.ts: bit 1 = -1), exact int32 sums.

/** C[M,N] = Σ_k x[m,k]·w[n,k], x uint8 [M, K], w = ±1 from bits [N, words]. */
export function uint8BinaryMatmulRef(x: ArrayLike<number>, M: number, K: number, bits: ArrayLike<number>, N: number, words: number): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) {
        const neg = (bits[n * words + (k >>> 5)] >>> (k & 31)) & 1;
        acc += neg ? -x[m * K + k] : x[m * K + k];
      }
      c[m * N + n] = acc;
    }
  }
  return c;
}
