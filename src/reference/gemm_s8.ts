// Scalar twin of assembly/gemm_s8.ts.
import { roundHalfEven } from './quant_s8.js';

/** C int32 [M,N] = A[M,K]·B, B stored [K,N] or (transB) [N,K]; the sum wraps modulo 2^32. */
export function int8MatmulRef(a: ArrayLike<number>, b: ArrayLike<number>, M: number, N: number, K: number, transB: boolean): Int32Array {
  const c = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc = (acc + a[m * K + k] * b[transB ? n * K + k : k * N + n]) | 0;
      c[m * N + n] = acc;
    }
  }
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
