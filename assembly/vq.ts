import { gemm_f32_pack_a_4, gemm_f32_pack_b_8 } from "./gemm_f32";

// Vector quantization kernels. The scalar twin is src/reference/vq.ts.
//
// Nearest code: argmin_k ‖z − c_k‖² = argmin_k (‖c_k‖² − 2 z·c_k), since ‖z‖²
// is the same for every k. The dot products run on the f32 GEMM path: z rows
// are packed 4 at a time and the codebook once per call into 8-code panels
// (the GEMM packing routines); a 4x8 tile kernel keeps the dots in registers
// and folds them straight into a running argmin, so the N x K matrix of dots
// is never stored. Exact order of operations (the twin repeats it):
//   norm_k = Σ_d c_kd² summed in f32 in ascending d (vq_codebook_norms, cached by the host)
//   hn_k   = norm_k · 0.5
//   dot    = Σ_d z_d·c_kd summed in f32 in ascending d, starting from 0
//   score  = hn_k − dot                    (= (norm_k − 2·dot) / 2: halving is exact)
//   index  = the first k with the smallest score (lowest index on ties).

// Tile of the GEMM microkernel the tile kernel below mirrors.
// @ts-ignore: decorator
@inline const MR: i32 = 4;
// @ts-ignore: decorator
@inline const NR: i32 = 8;

@inline function padCodes(K: i32): i32 {
  return (K + NR - 1) / NR * NR;
}

/** ‖c_k‖² for k < K, summed in ascending d (scalar on purpose: it fixes the order and is cached by the host). */
export function vq_codebook_norms(codebook: usize, K: i32, D: i32, norms: usize): void {
  for (let k = 0; k < K; k++) {
    const row = codebook + (<usize>k * <usize>D << 2);
    let s: f32 = 0;
    for (let d = 0; d < D; d++) {
      const v = load<f32>(row + (<usize>d << 2));
      s += v * v;
    }
    store<f32>(norms + (<usize>k << 2), s);
  }
}

export function vq_nearest_workspace_bytes(N: i32, K: i32, D: i32): i32 {
  const kp = padCodes(K);
  // packed codebook + padded half norms + one packed 4-row z panel + running best per row
  return (kp * D + kp + MR * D) * 4 + MR * 64 + 16;
}

// strict < keeps the earliest index of each lane
@inline function vqUpdateBest(best: usize, s0: v128, s1: v128, i0: v128, i1: v128): void {
  const v0 = v128.load(best), v1 = v128.load(best, 16);
  const m0 = f32x4.lt(s0, v0), m1 = f32x4.lt(s1, v1);
  v128.store(best, v128.bitselect(s0, v0, m0));
  v128.store(best, v128.bitselect(s1, v1, m1), 16);
  v128.store(best, v128.bitselect(i0, v128.load(best, 32), m0), 32);
  v128.store(best, v128.bitselect(i1, v128.load(best, 48), m1), 48);
}

// One 4-row z panel against the 8-code panel starting at code j: the 4x8
// dots stay in registers, become scores hn − dot and update each row's
// running best. Per row, `best` holds 2 vectors of scores then 2 of indices.
function vq_nearest_4x8__simd(D: i32, a: usize, b: usize, hn: usize, j: i32, best: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < D; k++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    const a0 = v128.load32_splat(a);
    c00 = f32x4.add(c00, f32x4.mul(a0, b0));
    c01 = f32x4.add(c01, f32x4.mul(a0, b1));
    const a1 = v128.load32_splat(a, 4);
    c10 = f32x4.add(c10, f32x4.mul(a1, b0));
    c11 = f32x4.add(c11, f32x4.mul(a1, b1));
    const a2 = v128.load32_splat(a, 8);
    c20 = f32x4.add(c20, f32x4.mul(a2, b0));
    c21 = f32x4.add(c21, f32x4.mul(a2, b1));
    const a3 = v128.load32_splat(a, 12);
    c30 = f32x4.add(c30, f32x4.mul(a3, b0));
    c31 = f32x4.add(c31, f32x4.mul(a3, b1));
    a += 16;
    b += 32;
  }
  const h0 = v128.load(hn), h1 = v128.load(hn, 16);
  const i0 = i32x4.add(i32x4.splat(j), i32x4(0, 1, 2, 3));
  const i1 = i32x4.add(i32x4.splat(j), i32x4(4, 5, 6, 7));
  vqUpdateBest(best, f32x4.sub(h0, c00), f32x4.sub(h1, c01), i0, i1);
  vqUpdateBest(best + 64, f32x4.sub(h0, c10), f32x4.sub(h1, c11), i0, i1);
  vqUpdateBest(best + 128, f32x4.sub(h0, c20), f32x4.sub(h1, c21), i0, i1);
  vqUpdateBest(best + 192, f32x4.sub(h0, c30), f32x4.sub(h1, c31), i0, i1);
}

/** out[i] = nearest code of z row i; z [N, D], codebook [K, D] with K >= 1, norms from vq_codebook_norms. */
export function vq_nearest(z: usize, N: i32, codebook: usize, norms: usize, K: i32, D: i32, out: usize, work: usize): void {
  if (N <= 0) return;
  const kp = padCodes(K);
  const packedCodes = work;
  const hn = packedCodes + (<usize>(kp * D) << 2);
  const packedZ = hn + (<usize>kp << 2);
  const best = packedZ + (<usize>(MR * D) << 2);
  // Padding codes get +Inf, which never beats the initial +Inf.
  for (let k = 0; k < kp; k++) {
    store<f32>(hn + (<usize>k << 2), k < K ? load<f32>(norms + (<usize>k << 2)) * <f32>0.5 : Infinity);
  }
  // The codebook is op(B) stored [K, D], i.e. the transposed-B layout.
  gemm_f32_pack_b_8(K, D, codebook, D, 1, 0, 0, packedCodes);
  for (let i0 = 0; i0 < N; i0 += MR) {
    const mr = min(MR, N - i0);
    gemm_f32_pack_a_4(mr, D, z, D, 0, i0, 0, packedZ);
    for (let r = 0; r < MR; r++) {
      const p = best + (<usize>r << 6);
      v128.store(p, f32x4.splat(Infinity));
      v128.store(p, f32x4.splat(Infinity), 16);
      v128.store(p, i32x4.splat(0), 32);
      v128.store(p, i32x4.splat(0), 48);
    }
    for (let j = 0; j < kp; j += NR) {
      vq_nearest_4x8__simd(D, packedZ, packedCodes + (<usize>(j * D) << 2), hn + (<usize>j << 2), j, best);
    }
    for (let r = 0; r < mr; r++) {
      // merge the 8 lanes: smallest score, then smallest index among equal scores
      const p = best + (<usize>r << 6);
      let bv: f32 = Infinity;
      let bi: i32 = 0;
      for (let l = 0; l < 8; l++) {
        const v = load<f32>(p + (<usize>l << 2));
        const i = load<i32>(p + 32 + (<usize>l << 2));
        if (v < bv || (v == bv && v != Infinity && i < bi)) {
          bv = v;
          bi = i;
        }
      }
      store<i32>(out + (<usize>(i0 + r) << 2), bi);
    }
  }
}

export function vq_ema_workspace_bytes(K: i32, D: i32): i32 {
  return K * (D + 1) * 4 + 16;
}

/**
 * EMA codebook update (VQ-VAE v2 / Sonnet style), in place on the state:
 *   counts_k  = #{i : idx_i = k},  sums_k = Σ_{idx_i = k} z_i  (ascending i, f32)
 *   size_k    = decay·size_k + (1 − decay)·counts_k
 *   embed_k   = decay·embed_k + (1 − decay)·sums_k
 *   n         = Σ_k size_k (ascending k, f32)
 *   smooth_k  = (size_k + eps) / (n + K·eps) · n
 *   codebook_k = embed_k / smooth_k
 * Indices must be in [0, K) (checked by the host).
 */
export function vq_ema_update(z: usize, idx: usize, N: i32, K: i32, D: i32, clusterSize: usize, embedSum: usize,
                              codebook: usize, decay: f32, eps: f32, work: usize): void {
  const counts = work;
  const sums = work + (<usize>K << 2);
  const rowBytes = <usize>D << 2;
  memory.fill(counts, 0, <usize>K << 2);
  memory.fill(sums, 0, <usize>K * rowBytes);
  for (let i = 0; i < N; i++) {
    const k = load<i32>(idx + (<usize>i << 2));
    const cp = counts + (<usize>k << 2);
    store<f32>(cp, load<f32>(cp) + 1);
    const srow = sums + <usize>k * rowBytes;
    const zrow = z + <usize>i * rowBytes;
    let d = 0;
    for (; d + 4 <= D; d += 4) {
      const o = <usize>d << 2;
      v128.store(srow + o, f32x4.add(v128.load(srow + o), v128.load(zrow + o)));
    }
    for (; d < D; d++) {
      const o = <usize>d << 2;
      store<f32>(srow + o, load<f32>(srow + o) + load<f32>(zrow + o));
    }
  }
  const keep = decay;
  const take: f32 = <f32>1 - decay;
  const vk = f32x4.splat(keep), vt = f32x4.splat(take);
  let n: f32 = 0;
  for (let k = 0; k < K; k++) {
    const o = <usize>k << 2;
    const s = keep * load<f32>(clusterSize + o) + take * load<f32>(counts + o);
    store<f32>(clusterSize + o, s);
    n += s;
    const erow = embedSum + <usize>k * rowBytes;
    const srow = sums + <usize>k * rowBytes;
    let d = 0;
    for (; d + 4 <= D; d += 4) {
      const p = <usize>d << 2;
      v128.store(erow + p, f32x4.add(f32x4.mul(vk, v128.load(erow + p)), f32x4.mul(vt, v128.load(srow + p))));
    }
    for (; d < D; d++) {
      const p = <usize>d << 2;
      store<f32>(erow + p, keep * load<f32>(erow + p) + take * load<f32>(srow + p));
    }
  }
  const denom = n + <f32>K * eps;
  for (let k = 0; k < K; k++) {
    const smooth = (load<f32>(clusterSize + (<usize>k << 2)) + eps) / denom * n;
    const erow = embedSum + <usize>k * rowBytes;
    const crow = codebook + <usize>k * rowBytes;
    const vs = f32x4.splat(smooth);
    let d = 0;
    for (; d + 4 <= D; d += 4) {
      const p = <usize>d << 2;
      v128.store(crow + p, f32x4.div(v128.load(erow + p), vs));
    }
    for (; d < D; d++) {
      const p = <usize>d << 2;
      store<f32>(crow + p, load<f32>(erow + p) / smooth);
    }
  }
}
