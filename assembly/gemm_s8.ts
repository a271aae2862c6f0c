// int8 GEMM: C[M,N] = A[M,K]·op(B) with int32 accumulation. Scalar twin:
// src/reference/gemm_s8.ts.
//
// Dot formulation: both operands are widened to i16 once, at packing time,
// and the microkernel multiplies with i32x4.dot_i16x8_s (pmaddwd): each lane
// gets a[k]·b[k] + a[k+1]·b[k+1] in i32, so -128·-128 sums never pass through
// an i16 intermediate. The sum wraps modulo 2^32 like the scalar twin; it
// cannot wrap for K <= 131071.
//
// Packed layouts (k2 = ceil(K/2) k-pairs; odd K and N tails are zero padded):
//   A: i16 [M][2·k2]                  row m, element k at (m·k2·2 + k)·2 bytes
//   B: i16 panels of NR = 8 channels  [ceil(N/8)][k2][8][2]: the pair
//      (b[2j][n], b[2j+1][n]) for channel n of panel p at p·k2·32 + j·32 + (n%8)·4
// so one 32-bit splat of an A pair times two B vectors covers 8 channels.
//
// Outputs: int32; float32 y = f32(acc)·mult[n] + add[n] (dequantize, bias
// included); int8 q = clamp(roundHalfEven(f32(acc)·mult[n] + add[n]), -127, 127)
// (requantize: symmetric, so -128 never appears). mult/add are per-channel;
// a per-tensor scale is the same value N times.

const NR: i32 = 8;
const MODE_I32: i32 = 0;
const MODE_F32: i32 = 1;
const MODE_S8: i32 = 2;

export function gemm_s8_packed_b_bytes(N: i32, K: i32): i32 {
  return ((N + NR - 1) / NR) * ((K + 1) >> 1) * (NR * 4);
}

export function gemm_s8_workspace_bytes(M: i32, K: i32): i32 {
  return M * ((K + 1) >> 1) * 4;
}

/** Packs B (int8, [K,N] or with transB [N,K]) into i16 panels (see the layout above). */
export function gemm_s8_pack_b(b: usize, N: i32, K: i32, transB: i32, out: usize): void {
  const k2 = (K + 1) >> 1;
  const panels = (N + NR - 1) / NR;
  const sk: usize = transB ? 1 : <usize>N;
  const sn: usize = transB ? <usize>K : 1;
  for (let p = 0; p < panels; p++) {
    const panel = out + <usize>p * <usize>k2 * <usize>(NR * 4);
    for (let j = 0; j < NR; j++) {
      const n = p * NR + j;
      const dst = panel + (<usize>j << 2);
      if (n >= N) {
        for (let q = 0; q < k2; q++) store<i32>(dst + <usize>q * <usize>(NR * 4), 0);
        continue;
      }
      const src = b + <usize>n * sn;
      for (let q = 0; q < k2; q++) {
        const k = q << 1;
        const lo = <i32>load<i8>(src + <usize>k * sk);
        const hi = k + 1 < K ? <i32>load<i8>(src + <usize>(k + 1) * sk) : 0;
        store<i32>(dst + <usize>q * <usize>(NR * 4), (lo & 0xffff) | (hi << 16));
      }
    }
  }
}

// Widens int8 rows of A to i16 rows of 2·k2 elements (zero pad for odd K).
function packA(a: usize, M: i32, K: i32, out: usize): void {
  const k2 = (K + 1) >> 1;
  for (let m = 0; m < M; m++) {
    const src = a + <usize>m * <usize>K;
    const dst = out + <usize>m * <usize>k2 * 4;
    let k = 0;
    for (; k + 16 <= K; k += 16) {
      const v = v128.load(src + <usize>k);
      v128.store(dst + (<usize>k << 1), i16x8.extend_low_i8x16_s(v));
      v128.store(dst + (<usize>k << 1), i16x8.extend_high_i8x16_s(v), 16);
    }
    for (; k < K; k++) store<i16>(dst + (<usize>k << 1), <i16>load<i8>(src + <usize>k));
    if (K & 1) store<i16>(dst + (<usize>K << 1), 0);
  }
}

@inline function storeRowI32(c: usize, nr: i32, v0: v128, v1: v128): void {
  if (nr == NR) {
    v128.store(c, v0);
    v128.store(c, v1, 16);
    return;
  }
  if (nr > 0) store<i32>(c, i32x4.extract_lane(v0, 0));
  if (nr > 1) store<i32>(c, i32x4.extract_lane(v0, 1), 4);
  if (nr > 2) store<i32>(c, i32x4.extract_lane(v0, 2), 8);
  if (nr > 3) store<i32>(c, i32x4.extract_lane(v0, 3), 12);
  if (nr > 4) store<i32>(c, i32x4.extract_lane(v1, 0), 16);
  if (nr > 5) store<i32>(c, i32x4.extract_lane(v1, 1), 20);
  if (nr > 6) store<i32>(c, i32x4.extract_lane(v1, 2), 24);
}

@inline function storeRowS8(c: usize, nr: i32, v0: v128, v1: v128): void {
  const lo = f32x4.splat(-127);
  const hi = f32x4.splat(127);
  const q0 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(hi, f32x4.pmax(lo, f32x4.nearest(v0))));
  const q1 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(hi, f32x4.pmax(lo, f32x4.nearest(v1))));
  const q = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.splat(0));
  if (nr == NR) {
    v128.store64_lane(c, q, 0);
    return;
  }
  if (nr > 0) store<i8>(c, i8x16.extract_lane_s(q, 0));
  if (nr > 1) store<i8>(c, i8x16.extract_lane_s(q, 1), 1);
  if (nr > 2) store<i8>(c, i8x16.extract_lane_s(q, 2), 2);
  if (nr > 3) store<i8>(c, i8x16.extract_lane_s(q, 3), 3);
  if (nr > 4) store<i8>(c, i8x16.extract_lane_s(q, 4), 4);
  if (nr > 5) store<i8>(c, i8x16.extract_lane_s(q, 5), 5);
  if (nr > 6) store<i8>(c, i8x16.extract_lane_s(q, 6), 6);
}

// One output row of a tile: acc -> int32, or affine float -> f32 / int8.
@inline function storeRow(mode: i32, c: usize, nr: i32, a0: v128, a1: v128, m0: v128, m1: v128, d0: v128, d1: v128): void {
  if (mode == MODE_I32) {
    storeRowI32(c, nr, a0, a1);
    return;
  }
  // Two roundings (mul, then add), never fused, so every build gives the same bits.
  const y0 = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(a0), m0), d0);
  const y1 = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(a1), m1), d1);
  if (mode == MODE_F32) storeRowI32(c, nr, y0, y1);
  else storeRowS8(c, nr, y0, y1);
}

/**
 * Microkernel: a 4x8 tile over k2 k-pairs. Rows past mr re-read the last
 * valid A row and are not stored; channels past nr are zero in the panel.
 */
@inline function gemm_s8_4x8__simd(mode: i32, mr: i32, nr: i32, k2: i32,
                                   a: usize, aStride: usize, panel: usize,
                                   c: usize, cStride: usize, mult: usize, add: usize): void {
  const a0 = a;
  const a1 = mr > 1 ? a0 + aStride : a0;
  const a2 = mr > 2 ? a1 + aStride : a1;
  const a3 = mr > 3 ? a2 + aStride : a2;
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0), c10 = i32x4.splat(0), c11 = i32x4.splat(0);
  let c20 = i32x4.splat(0), c21 = i32x4.splat(0), c30 = i32x4.splat(0), c31 = i32x4.splat(0);
  // Pointers advance as loop variables: TurboFan would otherwise recompute
  // the clamped row addresses inside the loop.
  let p0 = a0, p1 = a1, p2 = a2, p3 = a3, bp = panel;
  const end = a0 + (<usize>k2 << 2);
  while (p0 < end) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let va = v128.load32_splat(p0);
    c00 = i32x4.add(c00, i32x4.dot_i16x8_s(va, b0));
    c01 = i32x4.add(c01, i32x4.dot_i16x8_s(va, b1));
    va = v128.load32_splat(p1);
    c10 = i32x4.add(c10, i32x4.dot_i16x8_s(va, b0));
    c11 = i32x4.add(c11, i32x4.dot_i16x8_s(va, b1));
    va = v128.load32_splat(p2);
    c20 = i32x4.add(c20, i32x4.dot_i16x8_s(va, b0));
    c21 = i32x4.add(c21, i32x4.dot_i16x8_s(va, b1));
    va = v128.load32_splat(p3);
    c30 = i32x4.add(c30, i32x4.dot_i16x8_s(va, b0));
    c31 = i32x4.add(c31, i32x4.dot_i16x8_s(va, b1));
    p0 += 4; p1 += 4; p2 += 4; p3 += 4;
    bp += NR * 4;
  }
  let m0 = i32x4.splat(0), m1 = i32x4.splat(0), d0 = i32x4.splat(0), d1 = i32x4.splat(0);
  if (mode != MODE_I32) {
    // A partial tile reads only its nr entries: mult/add have exactly N.
    if (nr == NR) {
      m0 = v128.load(mult); m1 = v128.load(mult, 16);
      d0 = v128.load(add); d1 = v128.load(add, 16);
    } else {
      for (let j = 0; j < nr; j++) {
        const o = <usize>j << 2;
        if (j < 4) {
          m0 = replaceLane(m0, j, load<f32>(mult + o));
          d0 = replaceLane(d0, j, load<f32>(add + o));
        } else {
          m1 = replaceLane(m1, j - 4, load<f32>(mult + o));
          d1 = replaceLane(d1, j - 4, load<f32>(add + o));
        }
      }
    }
  }
  storeRow(mode, c, nr, c00, c01, m0, m1, d0, d1);
  if (mr > 1) storeRow(mode, c + cStride, nr, c10, c11, m0, m1, d0, d1);
  if (mr > 2) storeRow(mode, c + cStride * 2, nr, c20, c21, m0, m1, d0, d1);
  if (mr > 3) storeRow(mode, c + cStride * 3, nr, c30, c31, m0, m1, d0, d1);
}

/**
 * Microkernel for a single A row (batch 1, or one row left after the 4-row
 * blocks): 1x8, so no dot products are spent on duplicate rows. Two k-pairs
 * per step with two accumulator sets keep the adds independent.
 */
@inline function gemm_s8_1x8__simd(mode: i32, nr: i32, k2: i32, a: usize, panel: usize,
                                   c: usize, mult: usize, add: usize): void {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), e0 = i32x4.splat(0), e1 = i32x4.splat(0);
  let pa = a, bp = panel;
  const end2 = a + (<usize>(k2 & ~1) << 2);
  while (pa < end2) {
    let va = v128.load32_splat(pa);
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(va, v128.load(bp)));
    c1 = i32x4.add(c1, i32x4.dot_i16x8_s(va, v128.load(bp, 16)));
    va = v128.load32_splat(pa, 4);
    e0 = i32x4.add(e0, i32x4.dot_i16x8_s(va, v128.load(bp, 32)));
    e1 = i32x4.add(e1, i32x4.dot_i16x8_s(va, v128.load(bp, 48)));
    pa += 8;
    bp += NR * 8;
  }
  if (k2 & 1) {
    const va = v128.load32_splat(pa);
    c0 = i32x4.add(c0, i32x4.dot_i16x8_s(va, v128.load(bp)));
    c1 = i32x4.add(c1, i32x4.dot_i16x8_s(va, v128.load(bp, 16)));
  }
  // i32 addition is associative modulo 2^32: the split sums give the twin's bits.
  c0 = i32x4.add(c0, e0);
  c1 = i32x4.add(c1, e1);
  let m0 = i32x4.splat(0), m1 = i32x4.splat(0), d0 = i32x4.splat(0), d1 = i32x4.splat(0);
  if (mode != MODE_I32) {
    if (nr == NR) {
      m0 = v128.load(mult); m1 = v128.load(mult, 16);
      d0 = v128.load(add); d1 = v128.load(add, 16);
    } else {
      for (let j = 0; j < nr; j++) {
        const o = <usize>j << 2;
        if (j < 4) {
          m0 = replaceLane(m0, j, load<f32>(mult + o));
          d0 = replaceLane(d0, j, load<f32>(add + o));
        } else {
          m1 = replaceLane(m1, j - 4, load<f32>(mult + o));
          d1 = replaceLane(d1, j - 4, load<f32>(add + o));
        }
      }
    }
  }
  storeRow(mode, c, nr, c0, c1, m0, m1, d0, d1);
}

// Lane index must be an immediate: dispatch a runtime index to constants.
@inline function replaceLane(v: v128, lane: i32, x: f32): v128 {
  switch (lane) {
    case 0: return f32x4.replace_lane(v, 0, x);
    case 1: return f32x4.replace_lane(v, 1, x);
    case 2: return f32x4.replace_lane(v, 2, x);
    default: return f32x4.replace_lane(v, 3, x);
  }
}

// Driver: one B panel (k2·32 bytes) stays hot while every A row block streams
// past; a single leftover row (all of A when M = 1) takes the 1x8 kernel.
@inline function gemmS8Driver(mode: i32, M: i32, N: i32, K: i32, a: usize, packedB: usize, c: usize,
                              work: usize, mult: usize, add: usize): void {
  if (M == 0 || N == 0) return;
  const k2 = (K + 1) >> 1;
  packA(a, M, K, work);
  const aStride = <usize>k2 << 2;
  const elem: usize = mode == MODE_S8 ? 1 : 4;
  const cStride = <usize>N * elem;
  const panelBytes = <usize>k2 * <usize>(NR * 4);
  for (let n = 0; n < N; n += NR) {
    const nr = min(NR, N - n);
    const panel = packedB + <usize>(n / NR) * panelBytes;
    const cn = c + <usize>n * elem;
    const mn = mult + (<usize>n << 2);
    const dn = add + (<usize>n << 2);
    for (let m = 0; m < M; m += 4) {
      const mr = min(4, M - m);
      if (mr == 1) {
        gemm_s8_1x8__simd(mode, nr, k2, work + <usize>m * aStride, panel, cn + <usize>m * cStride, mn, dn);
      } else {
        gemm_s8_4x8__simd(mode, mr, nr, k2, work + <usize>m * aStride, aStride, panel,
                          cn + <usize>m * cStride, cStride, mn, dn);
      }
    }
  }
}

/** C int32 [M,N] = A·B; `packedB` from gemm_s8_pack_b, `work` of gemm_s8_workspace_bytes(M, K). */
export function gemm_s8(M: i32, N: i32, K: i32, a: usize, packedB: usize, c: usize, work: usize): void {
  gemmS8Driver(MODE_I32, M, N, K, a, packedB, c, work, 0, 0);
}

/** C float32 [M,N] = f32(A·B)·mult[n] + add[n]. */
export function gemm_s8_dequant(M: i32, N: i32, K: i32, a: usize, packedB: usize, c: usize, work: usize,
                                mult: usize, add: usize): void {
  gemmS8Driver(MODE_F32, M, N, K, a, packedB, c, work, mult, add);
}

/** C int8 [M,N] = clamp(roundHalfEven(f32(A·B)·mult[n] + add[n]), -127, 127). */
export function gemm_s8_requant(M: i32, N: i32, K: i32, a: usize, packedB: usize, c: usize, work: usize,
                                mult: usize, add: usize): void {
  gemmS8Driver(MODE_S8, M, N, K, a, packedB, c, work, mult, add);
}
