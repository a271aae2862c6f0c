// Scalar twin of assembly/gemm_b1.ts. Rows are packed as in reference/bitpack.ts;
// rows of b are output channels (C = A·Bᵀ). gemmB1Ref and gemmB1wF32Ref have
// the drivers' contract: `batch` products, rows lda/ldb (words or elements)
// apart, C rows ldc apart, product i at offset + i·stride (0 = broadcast), and
// only the tile rows [m0, m1) x columns [n0, n1) written.

export interface GemmB1RefArgs {
  a: number; lda: number;
  b: number; ldb: number;
  c: number; ldc: number;
  batch: number; strideA: number; strideB: number; strideC: number;
  m0: number; m1: number; n0: number; n1: number;
}

export type GemmB1Mode = 'int32' | 'float32' | 'scaled';

export function popcount32(v: number): number {
  v = v - ((v >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

/**
 * gemm_b1 (int32: k - 2·popcount(a_m XOR b_n) over `words` words per row),
 * gemm_b1_f32 (the same as float32) and gemm_b1_scaled (scale[n]·that + bias[n],
 * mul and add rounded separately).
 */
export function gemmB1Ref(p: GemmB1RefArgs, k: number, words: number, A: ArrayLike<number>, B: ArrayLike<number>, C: { [i: number]: number },
                          mode: GemmB1Mode = 'int32', scale: ArrayLike<number> = [], bias: ArrayLike<number> = []): void {
  for (let t = 0; t < p.batch; t++) {
    const a = p.a + t * p.strideA, b = p.b + t * p.strideB, c = p.c + t * p.strideC;
    for (let m = p.m0; m < p.m1; m++) {
      for (let n = p.n0; n < p.n1; n++) {
        let pop = 0;
        for (let w = 0; w < words; w++) pop += popcount32((A[a + m * p.lda + w] ^ B[b + n * p.ldb + w]) >>> 0);
        const dot = k - 2 * pop;
        C[c + m * p.ldc + n] = mode === 'scaled' ? Math.fround(Math.fround(scale[n] * Math.fround(dot)) + bias[n]) : dot;
      }
    }
  }
}

function dense(M: number, N: number, lda: number, ldb: number): GemmB1RefArgs {
  return { a: 0, lda, b: 0, ldb, c: 0, ldc: N, batch: 1, strideA: 0, strideB: 0, strideC: 0, m0: 0, m1: M, n0: 0, n1: N };
}

/** The dense single product: C[M,N] = k - 2·popcount(a_m XOR b_n). */
export function binaryMatmulRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, k: number, words: number): Int32Array {
  const c = new Int32Array(M * N);
  gemmB1Ref(dense(M, N, words, words), k, words, a, b, c);
  return c;
}

/** XNOR-Net output: scale[n]·(k - 2·popcount) + bias[n], float32, mul and add rounded separately. */
export function binaryMatmulScaledRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, k: number, words: number,
                                      scale: ArrayLike<number>, bias: ArrayLike<number>): Float32Array {
  const c = new Float32Array(M * N);
  gemmB1Ref(dense(M, N, words, words), k, words, a, b, c, 'scaled', scale, bias);
  return c;
}

/**
 * gemm_b1w_f32 (BinaryConnect): C[m,n] = scale[n]·Σ_k (bit(n,k) ? -x[m,k] : x[m,k]) + bias[n],
 * summed in float32 in increasing k from +0 (this order is the contract).
 * X rows are lda elements apart, bit rows ldb words apart (a = x, b = bits).
 */
export function gemmB1wF32Ref(p: GemmB1RefArgs, K: number, X: ArrayLike<number>, bits: ArrayLike<number>, C: { [i: number]: number },
                              scale: ArrayLike<number>, bias: ArrayLike<number>): void {
  for (let t = 0; t < p.batch; t++) {
    const x = p.a + t * p.strideA, b = p.b + t * p.strideB, c = p.c + t * p.strideC;
    for (let m = p.m0; m < p.m1; m++) {
      for (let n = p.n0; n < p.n1; n++) {
        let acc = 0;
        for (let j = 0; j < K; j++) {
          const neg = (bits[b + n * p.ldb + (j >>> 5)] >>> (j & 31)) & 1;
          const v = X[x + m * p.lda + j];
          acc = Math.fround(acc + (neg ? -v : v));
        }
        C[c + m * p.ldc + n] = Math.fround(Math.fround(scale[n] * acc) + bias[n]);
      }
    }
  }
}

/** The dense single BinaryConnect product. */
export function binaryWeightsMatmulRef(x: ArrayLike<number>, M: number, K: number, bits: ArrayLike<number>, N: number, words: number,
                                       scale: ArrayLike<number>, bias: ArrayLike<number>): Float32Array {
  const c = new Float32Array(M * N);
  gemmB1wF32Ref(dense(M, N, K, words), K, x, bits, c, scale, bias);
  return c;
}
