/**
 * Scalar twin of assembly/threshold.ts: packs the sign of a folded
 * batch-norm + binarize into packBits' layout. Bit (m, n) is 1 (meaning -1)
 * when dir[n] > 0 ? y[m, n] < thr[n] : y[m, n] > thr[n].
 */
export function thresholdPackRef(y: Float32Array, thr: Float32Array, dir: Int32Array, M: number, N: number): Uint32Array {
  const words = Math.ceil(N / 128) * 4;
  const out = new Uint32Array(M * words);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const v = y[m * N + n];
      const neg = dir[n] > 0 ? v < thr[n] : v > thr[n];
      if (neg) out[m * words + (n >> 5)] |= 1 << (n & 31);
    }
  }
  return out;
}
