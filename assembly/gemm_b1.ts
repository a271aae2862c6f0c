// Binary GEMM on bit-packed ±1 rows (format: bitpack.ts). Scalar twin:
// src/reference/gemm_b1.ts.
//
//   gemm_b1          C[M,N] int32   = k - 2·popcount(a_m XOR b_n)
//   gemm_b1_f32      C[M,N] float32 = the same, converted (exact below 2^24)
//   gemm_b1_scaled   C[M,N] float32 = scale[n]·(k - 2·popcount) + bias[n]   (XNOR-Net)
//   gemm_b1w_f32     C[M,N] float32 = scale[n]·Σ_j ±x[m,j] + bias[n]        (BinaryConnect)
//
// A is [M, words] and B is [N, words] packed rows (B rows are output
// channels: C = A·Bᵀ). The packed rows are already the layout the XNOR
// microkernels stream (16-byte chunks, zero padded), so only the
// BinaryConnect kernel packs its weights (into word-interleaved panels).
//
// Driver contract (as gemm_f32): rows of A and B are lda/ldb words apart,
// rows of C ldc elements apart; product i of a batch reads A + i·strideA,
// B + i·strideB (words) and writes C + i·strideC (elements), 0 = broadcast;
// only the output tile rows [m0, m1) x columns [n0, n1) is written, each
// element over all of k, so any split into tiles gives the same bits.
// scale/bias are indexed by the absolute column n. No per-call globals.
//
// The XNOR microkernels use scalar i64.popcnt, not i8x16.popcnt: V8 lowers
// the vector popcount to an 8-instruction pshufb sequence with two constant
// loads, while i64.popcnt is one native instruction. Measured on the bench
// machine (Intel, popcnt on one port), the scalar 2x2 tile beats the best
// SIMD forms (4x2 tile with byte accumulators; Harley-Seal carry-save
// networks) and mixed scalar+SIMD tiles, which all compete for the same
// ports and front end.

const MODE_INT: i32 = 0;
const MODE_SCALED: i32 = 1;
const MODE_F32: i32 = 2;

@inline function storeB1(mode: i32, c: usize, n: i32, pop: i64, k: i32, scale: usize, bias: usize): void {
  const dot = k - (<i32>pop << 1);
  if (mode == MODE_INT) {
    store<i32>(c + (<usize>n << 2), dot);
  } else if (mode == MODE_F32) {
    store<f32>(c + (<usize>n << 2), <f32>dot);
  } else {
    const o = <usize>n << 2;
    store<f32>(c + o, load<f32>(scale + o) * <f32>dot + load<f32>(bias + o));
  }
}

/**
 * Microkernel: a 2x2 tile of popcount(a XOR b) over rows of `rowBytes`
 * (a multiple of 16, so the loop takes two 64-bit words per step). A column
 * past nr re-reads the last valid B row (no branches in the loop) and is
 * not stored.
 */
@inline function gemm_b1_2x2__i64(mode: i32, nr: i32, rowBytes: usize, a: usize, aStride: usize, b: usize, bStride: usize,
                                  c: usize, cStride: usize, n0: i32, k: i32, scale: usize, bias: usize): void {
  const b1 = nr > 1 ? b + bStride : b;
  let s00: i64 = 0, s01: i64 = 0, s10: i64 = 0, s11: i64 = 0;
  // Pointers advance as loop variables; the second row is a fixed stride away.
  let pa = a, pb0 = b, pb1 = b1;
  const end = a + rowBytes;
  while (pa < end) {
    let x0 = load<i64>(pa), x1 = load<i64>(pa + aStride);
    let y0 = load<i64>(pb0), y1 = load<i64>(pb1);
    s00 += popcnt(x0 ^ y0); s01 += popcnt(x0 ^ y1);
    s10 += popcnt(x1 ^ y0); s11 += popcnt(x1 ^ y1);
    x0 = load<i64>(pa, 8); x1 = load<i64>(pa + aStride, 8);
    y0 = load<i64>(pb0, 8); y1 = load<i64>(pb1, 8);
    s00 += popcnt(x0 ^ y0); s01 += popcnt(x0 ^ y1);
    s10 += popcnt(x1 ^ y0); s11 += popcnt(x1 ^ y1);
    pa += 16; pb0 += 16; pb1 += 16;
  }
  storeB1(mode, c, n0, s00, k, scale, bias);
  storeB1(mode, c + cStride, n0, s10, k, scale, bias);
  if (nr > 1) {
    storeB1(mode, c, n0 + 1, s01, k, scale, bias);
    storeB1(mode, c + cStride, n0 + 1, s11, k, scale, bias);
  }
}

/**
 * Microkernel for a single A row (batch 1, or the last row of an odd M):
 * 1x4, so no popcounts are spent on duplicate rows. Columns past nr
 * re-read the last valid B row and are not stored.
 */
@inline function gemm_b1_1x4__i64(mode: i32, nr: i32, rowBytes: usize, a: usize, b: usize, bStride: usize,
                                  c: usize, n0: i32, k: i32, scale: usize, bias: usize): void {
  const b1 = nr > 1 ? b + bStride : b;
  const b2 = nr > 2 ? b1 + bStride : b1;
  const b3 = nr > 3 ? b2 + bStride : b2;
  let s0: i64 = 0, s1: i64 = 0, s2: i64 = 0, s3: i64 = 0;
  let pa = a, p0 = b, p1 = b1, p2 = b2, p3 = b3;
  const end = a + rowBytes;
  while (pa < end) {
    let x = load<i64>(pa);
    s0 += popcnt(x ^ load<i64>(p0)); s1 += popcnt(x ^ load<i64>(p1));
    s2 += popcnt(x ^ load<i64>(p2)); s3 += popcnt(x ^ load<i64>(p3));
    x = load<i64>(pa, 8);
    s0 += popcnt(x ^ load<i64>(p0, 8)); s1 += popcnt(x ^ load<i64>(p1, 8));
    s2 += popcnt(x ^ load<i64>(p2, 8)); s3 += popcnt(x ^ load<i64>(p3, 8));
    pa += 16; p0 += 16; p1 += 16; p2 += 16; p3 += 16;
  }
  storeB1(mode, c, n0, s0, k, scale, bias);
  if (nr > 1) storeB1(mode, c, n0 + 1, s1, k, scale, bias);
  if (nr > 2) storeB1(mode, c, n0 + 2, s2, k, scale, bias);
  if (nr > 3) storeB1(mode, c, n0 + 3, s3, k, scale, bias);
}

// Driver: 2 B rows (output channels) stay in L1 while row pairs of A stream
// past; an odd last row of the tile (all of it when it has one row) takes the
// 1x4 kernel. Integer popcounts: the tile split cannot change a bit.
@inline function gemmB1Driver(mode: i32, k: i32, words: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32,
                              batch: i32, strideA: i32, strideB: i32, strideC: i32,
                              m0: i32, m1: i32, n0: i32, n1: i32, scale: usize, bias: usize): void {
  if (m1 <= m0 || n1 <= n0) return;
  const rowBytes = <usize>words << 2;
  const aStride = <usize>lda << 2;
  const bStride = <usize>ldb << 2;
  const cStride = <usize>ldc << 2;
  const rows = m1 - m0;
  const pairs = rows & ~1;
  for (let t = 0; t < batch; t++) {
    const at = a + (<usize>t * <usize>strideA + <usize>m0 * <usize>lda << 2);
    const bt = b + (<usize>t * <usize>strideB << 2);
    const ct = c + (<usize>t * <usize>strideC + <usize>m0 * <usize>ldc << 2);
    if (pairs > 0) {
      for (let n = n0; n < n1; n += 2) {
        const nr = min(2, n1 - n);
        const bp = bt + <usize>n * bStride;
        for (let m = 0; m < pairs; m += 2) {
          gemm_b1_2x2__i64(mode, nr, rowBytes, at + <usize>m * aStride, aStride, bp, bStride, ct + <usize>m * cStride, cStride, n, k, scale, bias);
        }
      }
    }
    if (rows & 1) {
      const ar = at + <usize>pairs * aStride;
      const cr = ct + <usize>pairs * cStride;
      for (let n = n0; n < n1; n += 4) {
        gemm_b1_1x4__i64(mode, min(4, n1 - n), rowBytes, ar, bt + <usize>n * bStride, bStride, cr, n, k, scale, bias);
      }
    }
  }
}

/** C int32 = k - 2·popcount(A_m XOR B_n) on the tile; `words` per row are compared. */
export function gemm_b1(k: i32, words: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32,
                        batch: i32, strideA: i32, strideB: i32, strideC: i32, m0: i32, m1: i32, n0: i32, n1: i32): void {
  gemmB1Driver(MODE_INT, k, words, a, lda, b, ldb, c, ldc, batch, strideA, strideB, strideC, m0, m1, n0, n1, 0, 0);
}

/** C float32 = f32(k - 2·popcount(A_m XOR B_n)): what a folded threshold compares. */
export function gemm_b1_f32(k: i32, words: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32,
                            batch: i32, strideA: i32, strideB: i32, strideC: i32, m0: i32, m1: i32, n0: i32, n1: i32): void {
  gemmB1Driver(MODE_F32, k, words, a, lda, b, ldb, c, ldc, batch, strideA, strideB, strideC, m0, m1, n0, n1, 0, 0);
}

/** C float32 = scale[n]·(k - 2·popcount(A_m XOR B_n)) + bias[n], rounded once per op (no FMA). */
export function gemm_b1_scaled(k: i32, words: i32, a: usize, lda: i32, b: usize, ldb: i32, c: usize, ldc: i32,
                               batch: i32, strideA: i32, strideB: i32, strideC: i32, m0: i32, m1: i32, n0: i32, n1: i32,
                               scale: usize, bias: usize): void {
  gemmB1Driver(MODE_SCALED, k, words, a, lda, b, ldb, c, ldc, batch, strideA, strideB, strideC, m0, m1, n0, n1, scale, bias);
}

// ---- BinaryConnect: float activations x binary weights ------------------
// Weights are repacked into panels of 8 output channels: for each 32-bit
// word index w, the 8 channels' words sit side by side (two v128), and each
// word is bit-reversed so element 32w + j is bit 31 - j. Shifting a panel
// vector left by one per step then brings the next element's bit to the
// sign position, where it flips the sign of x by XOR (no multiplies).
//   panel p: u32 [ceil(K/32)][8] at p·ceil(K/32)·32 bytes.

const B1W_NR: i32 = 8;

export function gemm_b1w_packed_bytes(N: i32, K: i32): i32 {
  return ((N + B1W_NR - 1) / B1W_NR) * ((K + 31) >> 5) * (B1W_NR * 4);
}

/** Repacks bits [N, words] (k valid elements per row) into the panels above. */
export function gemm_b1w_pack(bits: usize, N: i32, words: i32, K: i32, out: usize): void {
  const used = (K + 31) >> 5;
  const panels = (N + B1W_NR - 1) / B1W_NR;
  for (let p = 0; p < panels; p++) {
    const panel = out + <usize>p * <usize>used * <usize>(B1W_NR * 4);
    for (let j = 0; j < B1W_NR; j++) {
      const n = p * B1W_NR + j;
      const row = bits + <usize>n * <usize>words * 4;
      for (let w = 0; w < used; w++) {
        const word: u32 = n < N ? load<u32>(row + (<usize>w << 2)) : 0;
        store<u32>(panel + <usize>w * <usize>(B1W_NR * 4) + (<usize>j << 2), reverseBits(word));
      }
    }
  }
}

@inline function reverseBits(v: u32): u32 {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  return bswap<u32>(v);
}

// Stores lanes [lo, hi) of a panel's 8 outputs; c is lane lo's address.
@inline function storeF32Row(c: usize, lo: i32, hi: i32, v0: v128, v1: v128): void {
  if (lo == 0 && hi == B1W_NR) {
    v128.store(c, v0);
    v128.store(c, v1, 16);
    return;
  }
  const c0 = c - (<usize>lo << 2);
  if (lo <= 0 && hi > 0) store<f32>(c0, f32x4.extract_lane(v0, 0));
  if (lo <= 1 && hi > 1) store<f32>(c0 + 4, f32x4.extract_lane(v0, 1));
  if (lo <= 2 && hi > 2) store<f32>(c0 + 8, f32x4.extract_lane(v0, 2));
  if (lo <= 3 && hi > 3) store<f32>(c0 + 12, f32x4.extract_lane(v0, 3));
  if (lo <= 4 && hi > 4) store<f32>(c0 + 16, f32x4.extract_lane(v1, 0));
  if (lo <= 5 && hi > 5) store<f32>(c0 + 20, f32x4.extract_lane(v1, 1));
  if (lo <= 6 && hi > 6) store<f32>(c0 + 24, f32x4.extract_lane(v1, 2));
  if (hi > 7) store<f32>(c0 + 28, f32x4.extract_lane(v1, 3));
}

@inline function loadLanes(p: usize, nr: i32): v128 {
  let v = f32x4.splat(0);
  if (nr > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (nr > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (nr > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  if (nr > 3) v = f32x4.replace_lane(v, 3, load<f32>(p, 12));
  return v;
}

/**
 * Microkernel: 4 rows of x times one 8-channel panel, summing ±x[k] in k
 * order per output (the scalar twin's order, so the bits match). Stores
 * lanes [lo, hi): c is lane lo's address, scale/bias lane 0's.
 */
@inline function gemm_b1w_f32_4x8__simd(mr: i32, lo: i32, hi: i32, K: i32, x: usize, xStride: usize, panel: usize,
                                        c: usize, cStride: usize, scale: usize, bias: usize): void {
  const x0 = x;
  const x1 = mr > 1 ? x0 + xStride : x0;
  const x2 = mr > 2 ? x1 + xStride : x1;
  const x3 = mr > 3 ? x2 + xStride : x2;
  let p0 = x0, p1 = x1, p2 = x2, p3 = x3, wp = panel;
  const sign = i32x4.splat(0x80000000);
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let left = K;
  while (left > 0) {
    let t0 = v128.load(wp);
    let t1 = v128.load(wp, 16);
    const stop = p0 + (<usize>min(32, left) << 2);
    while (p0 < stop) {
      const s0 = v128.and(t0, sign);
      const s1 = v128.and(t1, sign);
      let xs = v128.load32_splat(p0);
      c00 = f32x4.add(c00, v128.xor(xs, s0));
      c01 = f32x4.add(c01, v128.xor(xs, s1));
      xs = v128.load32_splat(p1);
      c10 = f32x4.add(c10, v128.xor(xs, s0));
      c11 = f32x4.add(c11, v128.xor(xs, s1));
      xs = v128.load32_splat(p2);
      c20 = f32x4.add(c20, v128.xor(xs, s0));
      c21 = f32x4.add(c21, v128.xor(xs, s1));
      xs = v128.load32_splat(p3);
      c30 = f32x4.add(c30, v128.xor(xs, s0));
      c31 = f32x4.add(c31, v128.xor(xs, s1));
      t0 = i32x4.shl(t0, 1);
      t1 = i32x4.shl(t1, 1);
      p0 += 4; p1 += 4; p2 += 4; p3 += 4;
    }
    wp += B1W_NR * 4;
    left -= 32;
  }
  let m0: v128, m1: v128, d0: v128, d1: v128;
  if (hi == B1W_NR) {
    m0 = v128.load(scale); m1 = v128.load(scale, 16);
    d0 = v128.load(bias); d1 = v128.load(bias, 16);
  } else {
    m0 = loadLanes(scale, hi); m1 = loadLanes(scale + 16, hi - 4);
    d0 = loadLanes(bias, hi); d1 = loadLanes(bias + 16, hi - 4);
  }
  // mul then add, two roundings (never fused): the same bits in every build.
  storeF32Row(c, lo, hi, f32x4.add(f32x4.mul(c00, m0), d0), f32x4.add(f32x4.mul(c01, m1), d1));
  if (mr > 1) storeF32Row(c + cStride, lo, hi, f32x4.add(f32x4.mul(c10, m0), d0), f32x4.add(f32x4.mul(c11, m1), d1));
  if (mr > 2) storeF32Row(c + cStride * 2, lo, hi, f32x4.add(f32x4.mul(c20, m0), d0), f32x4.add(f32x4.mul(c21, m1), d1));
  if (mr > 3) storeF32Row(c + cStride * 3, lo, hi, f32x4.add(f32x4.mul(c30, m0), d0), f32x4.add(f32x4.mul(c31, m1), d1));
}

/**
 * Microkernel for a single row of x (batch 1, or one row left after the
 * 4-row blocks): 1x8, so no adds are spent on duplicate rows. Same k order
 * per output as the 4x8 kernel and the twin.
 */
@inline function gemm_b1w_f32_1x8__simd(lo: i32, hi: i32, K: i32, x: usize, panel: usize, c: usize, scale: usize, bias: usize): void {
  let p0 = x, wp = panel;
  const sign = i32x4.splat(0x80000000);
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
  let left = K;
  while (left > 0) {
    let t0 = v128.load(wp);
    let t1 = v128.load(wp, 16);
    const stop = p0 + (<usize>min(32, left) << 2);
    while (p0 < stop) {
      const xs = v128.load32_splat(p0);
      c0 = f32x4.add(c0, v128.xor(xs, v128.and(t0, sign)));
      c1 = f32x4.add(c1, v128.xor(xs, v128.and(t1, sign)));
      t0 = i32x4.shl(t0, 1);
      t1 = i32x4.shl(t1, 1);
      p0 += 4;
    }
    wp += B1W_NR * 4;
    left -= 32;
  }
  let m0: v128, m1: v128, d0: v128, d1: v128;
  if (hi == B1W_NR) {
    m0 = v128.load(scale); m1 = v128.load(scale, 16);
    d0 = v128.load(bias); d1 = v128.load(bias, 16);
  } else {
    m0 = loadLanes(scale, hi); m1 = loadLanes(scale + 16, hi - 4);
    d0 = loadLanes(bias, hi); d1 = loadLanes(bias + 16, hi - 4);
  }
  storeF32Row(c, lo, hi, f32x4.add(f32x4.mul(c0, m0), d0), f32x4.add(f32x4.mul(c1, m1), d1));
}

/**
 * C float32 = scale[n]·Σ_k (bit(n,k) ? -x[m,k] : x[m,k]) + bias[n] on rows
 * [m0, m1) x columns [n0, n1) of each product; x float32 rows ldx apart,
 * `packed` from gemm_b1w_pack, product i at x + i·strideX, C + i·strideC
 * (elements) and packed + i·strideP (bytes; 0 = one weight set for all).
 */
export function gemm_b1w_f32(K: i32, x: usize, ldx: i32, packed: usize, c: usize, ldc: i32,
                             batch: i32, strideX: i32, strideP: i32, strideC: i32,
                             m0: i32, m1: i32, n0: i32, n1: i32, scale: usize, bias: usize): void {
  if (m1 <= m0 || n1 <= n0) return;
  const xStride = <usize>ldx << 2;
  const cStride = <usize>ldc << 2;
  const panelBytes = <usize>((K + 31) >> 5) * <usize>(B1W_NR * 4);
  const rows = m1 - m0;
  for (let t = 0; t < batch; t++) {
    const xt = x + (<usize>t * <usize>strideX + <usize>m0 * <usize>ldx << 2);
    const ct = c + (<usize>t * <usize>strideC + <usize>m0 * <usize>ldc << 2);
    const pt = packed + <usize>t * <usize>strideP;
    for (let p = n0 / B1W_NR; p * B1W_NR < n1; p++) {
      const base = p * B1W_NR;
      const lo = max(n0 - base, 0);
      const hi = min(n1 - base, B1W_NR);
      const panel = pt + <usize>p * panelBytes;
      const cn = ct + (<usize>(base + lo) << 2);
      const on = <usize>base << 2;
      for (let m = 0; m < rows; m += 4) {
        const mr = min(4, rows - m);
        if (mr == 1) {
          gemm_b1w_f32_1x8__simd(lo, hi, K, xt + <usize>m * xStride, panel, cn + <usize>m * cStride, scale + on, bias + on);
        } else {
          gemm_b1w_f32_4x8__simd(mr, lo, hi, K, xt + <usize>m * xStride, xStride, panel,
                                 cn + <usize>m * cStride, cStride, scale + on, bias + on);
        }
      }
    }
  }
}
