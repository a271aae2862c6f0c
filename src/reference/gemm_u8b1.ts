// Scalar twin of gemm_u8b1 / gemm_u8b1_f32 (assembly/gemm_u8b1.ts): uint8
// activations times the ±1 weights of packed bits (reference/bitpack.ts: bit
// 1 = -1), exact integer sums. gemmU8B1Ref has the driver's contract: `batch`
// products, x rows lda elements apart, bit rows ldb words apart, C rows ldc
// apart, product i at offset + i·stride (0 = broadcast), only the tile rows
// [m0, m1) x columns [n0, n1) written. The weights are unpacked bits here:
// their group patterns are the kernel's business.

export interface GemmU8B1RefArgs {
  a: number; lda: number;
  b: number; ldb: number;
  c: number; ldc: number;
  batch: number; strideA: number; strideB: number; strideC: number;
  m0: number; m1: number; n0: number; n1: number;
}

export function gemmU8B1Ref(p: GemmU8B1RefArgs, K: number, x: ArrayLike<number>, bits: ArrayLike<number>, C: { [i: number]: number }): void {
  for (let t = 0; t < p.batch; t++) {
    const a = p.a + t * p.strideA, b = p.b + t * p.strideB, c = p.c + t * p.strideC;
    for (let m = p.m0; m < p.m1; m++) {
      for (let n = p.n0; n < p.n1; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) {
          const neg = (bits[b + n * p.ldb + (k >>> 5)] >>> (k & 31)) & 1;
          const v = x[a + m * p.lda + k];
          acc += neg ? -v : v;
        }
        C[c + m * p.ldc + n] = acc;
      }
    }
  }
}

/** The dense single product: C[M,N] = Σ_k x[m,k]·w[n,k], x uint8 [M, K], w = ±1 from bits [N, words]. */
export function uint8BinaryMatmulRef(x: ArrayLike<number>, M: number, K: number, bits: ArrayLike<number>, N: number, words: number): Int32Array {
  const c = new Int32Array(M * N);
  gemmU8B1Ref({ a: 0, lda: K, b: 0, ldb: words, c: 0, ldc: N, batch: 1, strideA: 0, strideB: 0, strideC: 0, m0: 0, m1: M, n0: 0, n1: N }, K, x, bits, c);
  return c;
}
