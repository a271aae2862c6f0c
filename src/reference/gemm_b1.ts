// Scalar twin of assembly/gemm_b1.ts. Rows are packed as in reference/bitpack.ts;
// rows of b are output channels (C = A·Bᵀ).

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/** C[M,N] = k - 2·popcount(a_m XOR b_n) over `words` words per row. */
export function binaryMatmulRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, k: number, words: number): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let pop = 0;
      for (let w = 0; w < words; w++) pop += popcount32((a[m * words + w] ^ b[n * words + w]) >>> 0);
      c[m * N + n] = k - 2 * pop;
    }
  }
  return c;
}

/** XNOR-Net output: scale[n]·(k - 2·popcount) + bias[n], float32, mul and add rounded separately. */
export function binaryMatmulScaledRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, k: number, words: number,
                                      scale: ArrayLike<number>, bias: ArrayLike<number>): Float32Array {
  const dots = binaryMatmulRef(a, b, M, N, k, words);
  const c = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) c[m * N + n] = Math.fround(Math.fround(scale[n] * Math.fround(dots[m * N + n])) + bias[n]);
  }
  return c;
}

/**
 * BinaryConnect: C[m,n] = scale[n]·Σ_k (bit(n,k) ? -x[m,k] : x[m,k]) + bias[n],
 * summed in float32 in increasing k from +0 (this order is the contract).
 */
export function binaryWeightsMatmulRef(x: ArrayLike<number>, M: number, K: number, bits: ArrayLike<number>, N: number, words: number,
                                       scale: ArrayLike<number>, bias: ArrayLike<number>): Float32Array {
  const c = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let j = 0; j < K; j++) {
        const neg = (bits[n * words + (j >>> 5)] >>> (j & 31)) & 1;
        const v = x[m * K + j];
        acc = Math.fround(acc + (neg ? -v : v));
      }
      c[m * N + n] = Math.fround(Math.fround(scale[n] * acc) + bias[n]);
    }
  }
  return c;
}
