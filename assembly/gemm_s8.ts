// int8 GEMM: C[M,N] = A[M,K]·op(B) with int32 accumulation, for `batch`
// products. Scalar twin: src/reference/gemm_s8.ts.
//
// Driver contract (as gemm_f32): A rows lda elements apart, C rows ldc apart,
// product i at A + i·strideA and C + i·strideC (elements) with its packed B
// at packedB + i·strideB (bytes; 0 = one B for all). Only the output tile
// rows [m0, m1) x columns [n0, n1) is written, each element over all of K,
// so any split into tiles gives the bits of one full call. Per-call state
// lives in the arguments and in `work`.
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
// Relaxed build (ASC_FEATURE_RELAXED_SIMD, the "usdot" layout): groups of 4
// k instead of pairs, multiplied by i32x4.relaxed_dot_i8x16_i7x16_add_s (one
// vpdpbusd with AVX-VNNI: 16 products per instruction instead of 8). Its u8
// operand is A offset by +128 (a XOR 0x80), its s8 operand B, and
// Σ (a+128)·b = Σ a·b + 128·Σ b, so each channel's accumulator starts at
// -128·Σ_k B[k,n], computed once at packing time. Integer sums modulo 2^32:
// the same bits as the pairs above. Only correct where the engine computes
// u8·s8 without saturating; the host checks that with a probe at init
// (src/runtime/relaxed-probe.ts) and otherwise loads the plain build.
//   A: u8 [M][4·k4]                    k4 = ceil(K/4); a+128, padding 128 (B's padding is 0)
//   B: panels [ceil(N/8)] of (k4 + 1)·32 bytes: i32 [8] the -128·Σ_k B[k,n]
//      corrections, then [k4][8][4] s8: B[4q..4q+3][n] at 32 + q·32 + (n%8)·4
//
// Outputs: int32; float32 y = f32(acc)·mult[n] + add[n] (dequantize, bias
// included); int8 q = clamp(roundHalfEven(f32(acc)·mult[n] + add[n]), -127, 127)
// (requantize: symmetric, so -128 never appears). mult/add are per-channel;
// a per-tensor scale is the same value N times.

const NR: i32 = 8;
/** k values per 4-byte group of a packed A row and per 32-bit lane of a B panel step. */
const KG: i32 = ASC_FEATURE_RELAXED_SIMD ? 4 : 2;
/** 32-byte steps before a panel's first k group: the relaxed build's corrections. */
const HEAD: i32 = ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
const MODE_I32: i32 = 0;
const MODE_F32: i32 = 1;
const MODE_S8: i32 = 2;

@inline function groups(K: i32): i32 {
  return (K + KG - 1) / KG;
}

export function gemm_s8_packed_b_bytes(N: i32, K: i32): i32 {
  return ((N + NR - 1) / NR) * (groups(K) + HEAD) * (NR * 4);
}

/** Workspace for any tile of at most M rows: those rows of A widened to i16 (relaxed: offset to u8). */
export function gemm_s8_workspace_bytes(M: i32, K: i32): i32 {
  return M * groups(K) * 4;
}

/** Packs B (int8, [K,N] or with transB [N,K], rows ldb apart) into i16 panels (see the layout above). */
export function gemm_s8_pack_b(b: usize, ldb: i32, N: i32, K: i32, transB: i32, out: usize): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    packBRelaxed(b, ldb, N, K, transB, out);
    return;
  }
  const k2 = (K + 1) >> 1;
  const panels = (N + NR - 1) / NR;
  const sk: usize = transB ? 1 : <usize>ldb;
  const sn: usize = transB ? <usize>ldb : 1;
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

// The relaxed build's B panels (layout above): 4 k per lane, corrections first.
function packBRelaxed(b: usize, ldb: i32, N: i32, K: i32, transB: i32, out: usize): void {
  const k4 = groups(K);
  const panels = (N + NR - 1) / NR;
  const sk: usize = transB ? 1 : <usize>ldb;
  const sn: usize = transB ? <usize>ldb : 1;
  for (let p = 0; p < panels; p++) {
    const panel = out + <usize>p * <usize>(k4 + 1) * <usize>(NR * 4);
    for (let j = 0; j < NR; j++) {
      const n = p * NR + j;
      const dst = panel + (<usize>j << 2);
      if (n >= N) {
        for (let q = 0; q <= k4; q++) store<i32>(dst + <usize>q * <usize>(NR * 4), 0);
        continue;
      }
      const src = b + <usize>n * sn;
      let sum = 0;
      for (let q = 0; q < k4; q++) {
        let word = 0;
        for (let t = 0; t < 4; t++) {
          const k = (q << 2) + t;
          if (k >= K) break;
          const v = <i32>load<i8>(src + <usize>k * sk);
          sum += v;
          word |= (v & 0xff) << (t << 3);
        }
        store<i32>(dst + <usize>(q + 1) * <usize>(NR * 4), word);
      }
      store<i32>(dst, -128 * sum);
    }
  }
}

// Widens M int8 rows of A (lda apart) to i16 rows of 2·k2 elements (zero pad for odd K).
function gemm_s8_pack_a(a: usize, lda: i32, M: i32, K: i32, out: usize): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    packARelaxed(a, lda, M, K, out);
    return;
  }
  const k2 = (K + 1) >> 1;
  for (let m = 0; m < M; m++) {
    const src = a + <usize>m * <usize>lda;
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

// The relaxed build's A rows: a XOR 0x80 is a + 128 as u8; padding 128 (a = 0).
function packARelaxed(a: usize, lda: i32, M: i32, K: i32, out: usize): void {
  const width = groups(K) << 2;
  const flip = i8x16.splat(-128);
  for (let m = 0; m < M; m++) {
    const src = a + <usize>m * <usize>lda;
    const dst = out + <usize>m * <usize>width;
    let k = 0;
    for (; k + 16 <= K; k += 16) v128.store(dst + <usize>k, v128.xor(v128.load(src + <usize>k), flip));
    for (; k < K; k++) store<u8>(dst + <usize>k, load<u8>(src + <usize>k) ^ 0x80);
    for (; k < width; k++) store<u8>(dst + <usize>k, 0x80);
  }
}

/** acc + the products of one 4-byte A group (splat in va) with one B step vector b. */
@inline function dotStep(acc: v128, va: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i32x4.relaxed_dot_i8x16_i7x16_add_s(b, va, acc);
  return i32x4.add(acc, i32x4.dot_i16x8_s(va, b));
}

// The row stores write lanes [lo, hi) of a panel's 8; c is lane lo's address.
@inline function storeRowI32(c: usize, lo: i32, hi: i32, v0: v128, v1: v128): void {
  if (lo == 0 && hi == NR) {
    v128.store(c, v0);
    v128.store(c, v1, 16);
    return;
  }
  const c0 = c - (<usize>lo << 2);
  if (lo <= 0 && hi > 0) store<i32>(c0, i32x4.extract_lane(v0, 0));
  if (lo <= 1 && hi > 1) store<i32>(c0 + 4, i32x4.extract_lane(v0, 1));
  if (lo <= 2 && hi > 2) store<i32>(c0 + 8, i32x4.extract_lane(v0, 2));
  if (lo <= 3 && hi > 3) store<i32>(c0 + 12, i32x4.extract_lane(v0, 3));
  if (lo <= 4 && hi > 4) store<i32>(c0 + 16, i32x4.extract_lane(v1, 0));
  if (lo <= 5 && hi > 5) store<i32>(c0 + 20, i32x4.extract_lane(v1, 1));
  if (lo <= 6 && hi > 6) store<i32>(c0 + 24, i32x4.extract_lane(v1, 2));
  if (hi > 7) store<i32>(c0 + 28, i32x4.extract_lane(v1, 3));
}

@inline function storeRowS8(c: usize, lo: i32, hi: i32, v0: v128, v1: v128): void {
  const qmin = f32x4.splat(-127);
  const qmax = f32x4.splat(127);
  const q0 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(qmax, f32x4.pmax(qmin, f32x4.nearest(v0))));
  const q1 = i32x4.trunc_sat_f32x4_s(f32x4.pmin(qmax, f32x4.pmax(qmin, f32x4.nearest(v1))));
  const q = i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(q0, q1), i16x8.splat(0));
  if (lo == 0 && hi == NR) {
    v128.store64_lane(c, q, 0);
    return;
  }
  const c0 = c - <usize>lo;
  if (lo <= 0 && hi > 0) store<i8>(c0, i8x16.extract_lane_s(q, 0));
  if (lo <= 1 && hi > 1) store<i8>(c0 + 1, i8x16.extract_lane_s(q, 1));
  if (lo <= 2 && hi > 2) store<i8>(c0 + 2, i8x16.extract_lane_s(q, 2));
  if (lo <= 3 && hi > 3) store<i8>(c0 + 3, i8x16.extract_lane_s(q, 3));
  if (lo <= 4 && hi > 4) store<i8>(c0 + 4, i8x16.extract_lane_s(q, 4));
  if (lo <= 5 && hi > 5) store<i8>(c0 + 5, i8x16.extract_lane_s(q, 5));
  if (lo <= 6 && hi > 6) store<i8>(c0 + 6, i8x16.extract_lane_s(q, 6));
  if (hi > 7) store<i8>(c0 + 7, i8x16.extract_lane_s(q, 7));
}

// One output row of a tile: acc -> int32, or affine float -> f32 / int8.
@inline function storeRow(mode: i32, c: usize, lo: i32, hi: i32, a0: v128, a1: v128, m0: v128, m1: v128, d0: v128, d1: v128): void {
  if (mode == MODE_I32) {
    storeRowI32(c, lo, hi, a0, a1);
    return;
  }
  // Two roundings (mul, then add), never fused, so every build gives the same bits.
  const y0 = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(a0), m0), d0);
  const y1 = f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(a1), m1), d1);
  if (mode == MODE_F32) storeRowI32(c, lo, hi, y0, y1);
  else storeRowS8(c, lo, hi, y0, y1);
}

/**
 * Microkernel: a 4x8 tile over k2 groups (k-pairs; relaxed: 4 k), storing lanes [lo, hi) (c is lane
 * lo's address; mult/add are lane 0's). Rows past mr re-read the last valid
 * A row and are not stored; channels past the panel's last are zero in it.
 */
@inline function gemm_s8_4x8__simd(mode: i32, mr: i32, lo: i32, hi: i32, k2: i32,
                                   a: usize, aStride: usize, panel: usize,
                                   c: usize, cStride: usize, mult: usize, add: usize): void {
  const a0 = a;
  const a1 = mr > 1 ? a0 + aStride : a0;
  const a2 = mr > 2 ? a1 + aStride : a1;
  const a3 = mr > 3 ? a2 + aStride : a2;
  // Accumulators start at the panel's corrections (relaxed) or zero.
  let c00 = i32x4.splat(0), c01 = i32x4.splat(0);
  if (HEAD) {
    c00 = v128.load(panel);
    c01 = v128.load(panel, 16);
  }
  let c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01;
  // Pointers advance as loop variables: TurboFan would otherwise recompute
  // the clamped row addresses inside the loop.
  let p0 = a0, p1 = a1, p2 = a2, p3 = a3, bp = panel + <usize>(HEAD * NR * 4);
  const end = a0 + (<usize>k2 << 2);
  while (p0 < end) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let va = v128.load32_splat(p0);
    c00 = dotStep(c00, va, b0);
    c01 = dotStep(c01, va, b1);
    va = v128.load32_splat(p1);
    c10 = dotStep(c10, va, b0);
    c11 = dotStep(c11, va, b1);
    va = v128.load32_splat(p2);
    c20 = dotStep(c20, va, b0);
    c21 = dotStep(c21, va, b1);
    va = v128.load32_splat(p3);
    c30 = dotStep(c30, va, b0);
    c31 = dotStep(c31, va, b1);
    p0 += 4; p1 += 4; p2 += 4; p3 += 4;
    bp += NR * 4;
  }
  let m0 = i32x4.splat(0), m1 = i32x4.splat(0), d0 = i32x4.splat(0), d1 = i32x4.splat(0);
  if (mode != MODE_I32) {
    // A partial tile reads only entries below hi: mult/add have exactly N.
    if (hi == NR) {
      m0 = v128.load(mult); m1 = v128.load(mult, 16);
      d0 = v128.load(add); d1 = v128.load(add, 16);
    } else {
      for (let j = 0; j < hi; j++) {
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
  storeRow(mode, c, lo, hi, c00, c01, m0, m1, d0, d1);
  if (mr > 1) storeRow(mode, c + cStride, lo, hi, c10, c11, m0, m1, d0, d1);
  if (mr > 2) storeRow(mode, c + cStride * 2, lo, hi, c20, c21, m0, m1, d0, d1);
  if (mr > 3) storeRow(mode, c + cStride * 3, lo, hi, c30, c31, m0, m1, d0, d1);
}

/**
 * Microkernel for a single A row (batch 1, or one row left after the 4-row
 * blocks): 1x8, so no dot products are spent on duplicate rows. Two k-pairs
 * per step with two accumulator sets keep the adds independent.
 */
@inline function gemm_s8_1x8__simd(mode: i32, lo: i32, hi: i32, k2: i32, a: usize, panel: usize,
                                   c: usize, mult: usize, add: usize): void {
  let c0 = i32x4.splat(0), c1 = i32x4.splat(0), e0 = i32x4.splat(0), e1 = i32x4.splat(0);
  if (HEAD) {
    c0 = v128.load(panel);
    c1 = v128.load(panel, 16);
  }
  let pa = a, bp = panel + <usize>(HEAD * NR * 4);
  const end2 = a + (<usize>(k2 & ~1) << 2);
  while (pa < end2) {
    let va = v128.load32_splat(pa);
    c0 = dotStep(c0, va, v128.load(bp));
    c1 = dotStep(c1, va, v128.load(bp, 16));
    va = v128.load32_splat(pa, 4);
    e0 = dotStep(e0, va, v128.load(bp, 32));
    e1 = dotStep(e1, va, v128.load(bp, 48));
    pa += 8;
    bp += NR * 8;
  }
  if (k2 & 1) {
    const va = v128.load32_splat(pa);
    c0 = dotStep(c0, va, v128.load(bp));
    c1 = dotStep(c1, va, v128.load(bp, 16));
  }
  // i32 addition is associative modulo 2^32: the split sums give the twin's bits.
  c0 = i32x4.add(c0, e0);
  c1 = i32x4.add(c1, e1);
  let m0 = i32x4.splat(0), m1 = i32x4.splat(0), d0 = i32x4.splat(0), d1 = i32x4.splat(0);
  if (mode != MODE_I32) {
    if (hi == NR) {
      m0 = v128.load(mult); m1 = v128.load(mult, 16);
      d0 = v128.load(add); d1 = v128.load(add, 16);
    } else {
      for (let j = 0; j < hi; j++) {
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
  storeRow(mode, c, lo, hi, c0, c1, m0, m1, d0, d1);
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

// Driver: one B panel ((k2 + HEAD)·32 bytes) stays hot while every A row block streams
// past; a single leftover row (all of A when the tile has one row) takes the
// 1x8 kernel. Integer sums: the tile split cannot change a bit.
@inline function gemmS8Driver(mode: i32, K: i32, a: usize, lda: i32, packedB: usize, c: usize, ldc: i32,
                              batch: i32, strideA: i32, strideB: i32, strideC: i32,
                              m0: i32, m1: i32, n0: i32, n1: i32, work: usize, mult: usize, add: usize): void {
  if (m1 <= m0 || n1 <= n0) return;
  const rows = m1 - m0;
  const k2 = groups(K);
  const aStride = <usize>k2 << 2;
  const elem: usize = mode == MODE_S8 ? 1 : 4;
  const cStride = <usize>ldc * elem;
  const panelBytes = <usize>(k2 + HEAD) * <usize>(NR * 4);
  for (let t = 0; t < batch; t++) {
    // a broadcast A (stride 0) is widened once for the whole batch
    if (t == 0 || strideA != 0) gemm_s8_pack_a(a + <usize>t * <usize>strideA + <usize>m0 * <usize>lda, lda, rows, K, work);
    const pb = packedB + <usize>t * <usize>strideB;
    const ct = c + (<usize>t * <usize>strideC + <usize>m0 * <usize>ldc) * elem;
    for (let p = n0 / NR; p * NR < n1; p++) {
      const base = p * NR;
      const lo = max(n0 - base, 0);
      const hi = min(n1 - base, NR);
      const panel = pb + <usize>p * panelBytes;
      const cn = ct + <usize>(base + lo) * elem;
      const mn = mult + (<usize>base << 2);
      const dn = add + (<usize>base << 2);
      for (let m = 0; m < rows; m += 4) {
        const mr = min(4, rows - m);
        if (mr == 1) {
          gemm_s8_1x8__simd(mode, lo, hi, k2, work + <usize>m * aStride, panel, cn + <usize>m * cStride, mn, dn);
        } else {
          gemm_s8_4x8__simd(mode, mr, lo, hi, k2, work + <usize>m * aStride, aStride, panel,
                            cn + <usize>m * cStride, cStride, mn, dn);
        }
      }
    }
  }
}

/**
 * C int32 = A·B on rows [m0, m1) x columns [n0, n1) of each product; `packedB`
 * from gemm_s8_pack_b, `work` of gemm_s8_workspace_bytes(m1 - m0, K).
 */
export function gemm_s8(K: i32, a: usize, lda: i32, packedB: usize, c: usize, ldc: i32,
                        batch: i32, strideA: i32, strideB: i32, strideC: i32,
                        m0: i32, m1: i32, n0: i32, n1: i32, work: usize): void {
  gemmS8Driver(MODE_I32, K, a, lda, packedB, c, ldc, batch, strideA, strideB, strideC, m0, m1, n0, n1, work, 0, 0);
}

/** C float32 = f32(A·B)·mult[n] + add[n] on the tile (mult/add indexed by the absolute column n). */
export function gemm_s8_dequant(K: i32, a: usize, lda: i32, packedB: usize, c: usize, ldc: i32,
                                batch: i32, strideA: i32, strideB: i32, strideC: i32,
                                m0: i32, m1: i32, n0: i32, n1: i32, work: usize, mult: usize, add: usize): void {
  gemmS8Driver(MODE_F32, K, a, lda, packedB, c, ldc, batch, strideA, strideB, strideC, m0, m1, n0, n1, work, mult, add);
}

/** C int8 = clamp(roundHalfEven(f32(A·B)·mult[n] + add[n]), -127, 127) on the tile. */
export function gemm_s8_requant(K: i32, a: usize, lda: i32, packedB: usize, c: usize, ldc: i32,
                                batch: i32, strideA: i32, strideB: i32, strideC: i32,
                                m0: i32, m1: i32, n0: i32, n1: i32, work: usize, mult: usize, add: usize): void {
  gemmS8Driver(MODE_S8, K, a, lda, packedB, c, ldc, batch, strideA, strideB, strideC, m0, m1, n0, n1, work, mult, add);
}
