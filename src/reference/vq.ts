// Scalar twins of assembly/vq.ts: the same formulas in the same order, every
// step rounded to float32 with Math.fround, so the SIMD kernels must match
// them bit for bit.
const f = Math.fround;

/** ‖c_k‖², summed in ascending d. */
export function vqCodebookNormsRef(codebook: Float32Array, K: number, D: number): Float32Array {
  const norms = new Float32Array(K);
  for (let k = 0; k < K; k++) {
    let s = 0;
    for (let d = 0; d < D; d++) s = f(s + f(codebook[k * D + d] * codebook[k * D + d]));
    norms[k] = s;
  }
  return norms;
}

/**
 * Nearest code per z row, lowest index on ties, by score ‖c_k‖²/2 − z·c_k
 * (= (‖c_k‖² − 2 z·c_k) / 2 exactly): f32 dot in ascending d, as the kernel.
 */
export function vqNearestRef(z: Float32Array, N: number, codebook: Float32Array, K: number, D: number): Int32Array {
  const norms = vqCodebookNormsRef(codebook, K, D).map((n) => f(n * 0.5));
  const out = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    let best = Infinity;
    let bi = 0;
    for (let k = 0; k < K; k++) {
      let dot = 0;
      for (let d = 0; d < D; d++) dot = f(dot + f(z[i * D + d] * codebook[k * D + d]));
      const s = f(norms[k] - dot);
      if (s < best) {
        best = s;
        bi = k;
      }
    }
    out[i] = bi;
  }
  return out;
}

/** EMA update in place on clusterSize, embedSum and codebook (see vq_ema_update). */
export function vqEmaUpdateRef(
  z: Float32Array, idx: Int32Array, N: number, K: number, D: number,
  clusterSize: Float32Array, embedSum: Float32Array, codebook: Float32Array,
  decay: number, eps: number,
): void {
  const keep = f(decay);
  const take = f(1 - keep);
  const e = f(eps);
  const counts = new Float32Array(K);
  const sums = new Float32Array(K * D);
  for (let i = 0; i < N; i++) {
    const k = idx[i];
    counts[k] = f(counts[k] + 1);
    for (let d = 0; d < D; d++) sums[k * D + d] = f(sums[k * D + d] + z[i * D + d]);
  }
  let n = 0;
  for (let k = 0; k < K; k++) {
    const s = f(f(keep * clusterSize[k]) + f(take * counts[k]));
    clusterSize[k] = s;
    n = f(n + s);
    for (let d = 0; d < D; d++) embedSum[k * D + d] = f(f(keep * embedSum[k * D + d]) + f(take * sums[k * D + d]));
  }
  const denom = f(n + f(K * e));
  for (let k = 0; k < K; k++) {
    const smooth = f(f(f(clusterSize[k] + e) / denom) * n);
    for (let d = 0; d < D; d++) codebook[k * D + d] = f(embedSum[k * D + d] / smooth);
  }
}
