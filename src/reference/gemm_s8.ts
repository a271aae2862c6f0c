// Scalar twin of gemm_s8 / gemm_s8_dequant / gemm_s8_requant (assembly/gemm_s8.ts)
// with the driver's contract: `batch` products, A [M,K] rows lda apart, B
// [K,N] or (transB) [N,K] rows ldb apart, C rows ldc apart, product i at
// offset + i·stride (elements; 0 = broadcast), only the tile rows [m0, m1) x
// columns [n0, n1) written. B is unpacked here: packing is the kernel's business.
import { roundHalfEven } from './quant_s8.js';

export type GemmS8Mode = 'int32' | 'float32' | 'int8';

export interface GemmS8RefArgs {
  K: number; transB: boolean;
  a: number; lda: number;
  b: number; ldb: number;
  c: number; ldc: number;
  batch: number; strideA: number; strideB: number; strideC: number;
  m0: number; m1: number; n0: number; n1: number;
}

/**
 * int32: acc = Σ_k a·b wrapping modulo 2^32; float32: f32(acc)·mult[n] + add[n]
 * (mul and add rounded separately); int8: clamp(roundHalfEven(that), -127, 127).
 */
export function gemmS8Ref(p: GemmS8RefArgs, A: ArrayLike<number>, B: ArrayLike<number>, C: { [i: number]: number },
                          mode: GemmS8Mode = 'int32', mult: ArrayLike<number> = [], add: ArrayLike<number> = []): void {
  const f = Math.fround;
  for (let t = 0; t < p.batch; t++) {
    const a = p.a + t * p.strideA, b = p.b + t * p.strideB, c = p.c + t * p.strideC;
    for (let m = p.m0; m < p.m1; m++) {
      for (let n = p.n0; n < p.n1; n++) {
        let acc = 0;
        for (let k = 0; k < p.K; k++) acc = (acc + A[a + m * p.lda + k] * B[p.transB ? b + n * p.ldb + k : b + k * p.ldb + n]) | 0;
        const at = c + m * p.ldc + n;
        if (mode === 'int32') { C[at] = acc; continue; }
        const y = f(f(f(acc) * mult[n]) + add[n]);
        C[at] = mode === 'float32' ? y : Math.min(127, Math.max(-127, roundHalfEven(y)));
      }
    }
  }
}

/** The dense single product: C int32 [M,N] = A[M,K]·B, B stored [K,N] or (transB) [N,K]. */
export function int8MatmulRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number, transB: boolean): Int32Array {
  const c = new Int32Array(M * N);
  gemmS8Ref({ K, transB, a: 0, lda: K, b: 0, ldb: transB ? K : N, c: 0, ldc: N, batch: 1, strideA: 0, strideB: 0, strideC: 0, m0: 0, m1: M, n0: 0, n1: N }, a, b, c);
  return c;
}

/** float32 y = f32(acc)·mult[n] + add[n], mul and add rounded separately. */
export function affineRef(acc: ArrayLike<number>, M: number, N: number, mult: ArrayLike<number>, add: ArrayLike<number>): Float32Array {
  const y = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) y[m * N + n] = Math.fround(Math.fround(Math.fround(acc[m * N + n]) * mult[n]) + add[n]);
  }
  return y;
}

/** int8 q = clamp(roundHalfEven(f32(acc)·mult[n] + add[n]), -127, 127) (symmetric output). */
export function requantizeRef(acc: ArrayLike<number>, M: number, N: number, mult: ArrayLike<number>, add: ArrayLike<number>): Int8Array {
  const y = affineRef(acc, M, N, mult, add);
  const q = new Int8Array(M * N);
  for (let i = 0; i < y.length; i++) q[i] = Math.min(127, Math.max(-127, roundHalfEven(y[i])));
  return q;
}
