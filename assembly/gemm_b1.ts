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
@inline function gemm_b1_2x2__i64(mode: i32, nr: i32, rowBytes: usize, a: usize, b: usize,
                                  c: usize, cStride: usize, n0: i32, k: i32, scale: usize, bias: usize): void {
  const b1 = nr > 1 ? b + rowBytes : b;
  let s00: i64 = 0, s01: i64 = 0, s10: i64 = 0, s11: i64 = 0;
  // Pointers advance as loop variables; the second row is a fixed stride away.
  let pa = a, pb0 = b, pb1 = b1;
  const end = a + rowBytes;
  while (pa < end) {
    let x0 = load<i64>(pa), x1 = load<i64>(pa + rowBytes);
    let y0 = load<i64>(pb0), y1 = load<i64>(pb1);
    s00 += popcnt(x0 ^ y0); s01 += popcnt(x0 ^ y1);
    s10 += popcnt(x1 ^ y0); s11 += popcnt(x1 ^ y1);
    x0 = load<i64>(pa, 8); x1 = load<i64>(pa + rowBytes, 8);
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
@inline function gemm_b1_1x4__i64(mode: i32, nr: i32, rowBytes: usize, a: usize, b: usize,
                                  c: usize, n0: i32, k: i32, scale: usize, bias: usize): void {
  const b1 = nr > 1 ? b + rowBytes : b;
  const b2 = nr > 2 ? b1 + rowBytes : b1;
  const b3 = nr > 3 ? b2 + rowBytes : b2;
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
// past; an odd last row of A (all of A when M = 1) takes the 1x4 kernel.
@inline function gemmB1Driver(mode: i32, M: i32, N: i32, k: i32, words: i32,
                              a: usize, b: usize, c: usize, scale: usize, bias: usize): void {
  const rowBytes = <usize>words << 2;
  const cStride = <usize>N << 2;
  const pairs = M & ~1;
  if (pairs > 0) {
    for (let n = 0; n < N; n += 2) {
      const nr = min(2, N - n);
      const bp = b + <usize>n * rowBytes;
      for (let m = 0; m < pairs; m += 2) {
        gemm_b1_2x2__i64(mode, nr, rowBytes, a + <usize>m * rowBytes, bp, c + <usize>m * cStride, cStride, n, k, scale, bias);
      }
    }
  }
  if (M & 1) {
    const ar = a + <usize>pairs * rowBytes;
    const cr = c + <usize>pairs * cStride;
    for (let n = 0; n < N; n += 4) {
      gemm_b1_1x4__i64(mode, min(4, N - n), rowBytes, ar, b + <usize>n * rowBytes, cr, n, k, scale, bias);
    }
  }
}

/** C[M,N] int32 = k - 2·popcount(A_m XOR B_n); A [M, words], B [N, words]. */
export function gemm_b1(M: i32, N: i32, k: i32, words: i32, a: usize, b: usize, c: usize): void {
  gemmB1Driver(MODE_INT, M, N, k, words, a, b, c, 0, 0);
}

/** C[M,N] float32 = f32(k - 2·popcount(A_m XOR B_n)): what a folded threshold compares. */
export function gemm_b1_f32(M: i32, N: i32, k: i32, words: i32, a: usize, b: usize, c: usize): void {
  gemmB1Driver(MODE_F32, M, N, k, words, a, b, c, 0, 0);
}

/** C[M,N] float32 = scale[n]·(k - 2·popcount(A_m XOR B_n)) + bias[n], rounded once per op (no FMA). */
export function gemm_b1_scaled(M: i32, N: i32, k: i32, words: i32, a: usize, b: usize, c: usize, scale: usize, bias: usize): void {
  gemmB1Driver(MODE_SCALED, M, N, k, words, a, b, c, scale, bias);
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

@inline function storeF32Row(c: usize, nr: i32, v0: v128, v1: v128): void {
  if (nr == B1W_NR) {
    v128.store(c, v0);
    v128.store(c, v1, 16);
    return;
  }
  if (nr > 0) store<f32>(c, f32x4.extract_lane(v0, 0));
  if (nr > 1) store<f32>(c, f32x4.extract_lane(v0, 1), 4);
  if (nr > 2) store<f32>(c, f32x4.extract_lane(v0, 2), 8);
  if (nr > 3) store<f32>(c, f32x4.extract_lane(v0, 3), 12);
  if (nr > 4) store<f32>(c, f32x4.extract_lane(v1, 0), 16);
  if (nr > 5) store<f32>(c, f32x4.extract_lane(v1, 1), 20);
  if (nr > 6) store<f32>(c, f32x4.extract_lane(v1, 2), 24);
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
 * order per output (the scalar twin's order, so the bits match).
 */
@inline function gemm_b1w_f32_4x8__simd(mr: i32, nr: i32, K: i32, x: usize, xStride: usize, panel: usize,
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
  if (nr == B1W_NR) {
    m0 = v128.load(scale); m1 = v128.load(scale, 16);
    d0 = v128.load(bias); d1 = v128.load(bias, 16);
  } else {
    m0 = loadLanes(scale, nr); m1 = loadLanes(scale + 16, nr - 4);
    d0 = loadLanes(bias, nr); d1 = loadLanes(bias + 16, nr - 4);
  }
  // mul then add, two roundings (never fused): the same bits in every build.
  storeF32Row(c, nr, f32x4.add(f32x4.mul(c00, m0), d0), f32x4.add(f32x4.mul(c01, m1), d1));
  if (mr > 1) storeF32Row(c + cStride, nr, f32x4.add(f32x4.mul(c10, m0), d0), f32x4.add(f32x4.mul(c11, m1), d1));
  if (mr > 2) storeF32Row(c + cStride * 2, nr, f32x4.add(f32x4.mul(c20, m0), d0), f32x4.add(f32x4.mul(c21, m1), d1));
  if (mr > 3) storeF32Row(c + cStride * 3, nr, f32x4.add(f32x4.mul(c30, m0), d0), f32x4.add(f32x4.mul(c31, m1), d1));
}

/**
 * Microkernel for a single row of x (batch 1, or one row left after the
 * 4-row blocks): 1x8, so no adds are spent on duplicate rows. Same k order
 * per output as the 4x8 kernel and the twin.
 */
@inline function gemm_b1w_f32_1x8__simd(nr: i32, K: i32, x: usize, panel: usize, c: usize, scale: usize, bias: usize): void {
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
  if (nr == B1W_NR) {
    m0 = v128.load(scale); m1 = v128.load(scale, 16);
    d0 = v128.load(bias); d1 = v128.load(bias, 16);
  } else {
    m0 = loadLanes(scale, nr); m1 = loadLanes(scale + 16, nr - 4);
    d0 = loadLanes(bias, nr); d1 = loadLanes(bias + 16, nr - 4);
  }
  storeF32Row(c, nr, f32x4.add(f32x4.mul(c0, m0), d0), f32x4.add(f32x4.mul(c1, m1), d1));
}

/**
 * C[M,N] float32 = scale[n]·Σ_k (bit(n,k) ? -x[m,k] : x[m,k]) + bias[n];
 * x float32 [M, K], `packed` from gemm_b1w_pack.
 */
export function gemm_b1w_f32(M: i32, N: i32, K: i32, x: usize, packed: usize, c: usize, scale: usize, bias: usize): void {
  const xStride = <usize>K << 2;
  const cStride = <usize>N << 2;
  const panelBytes = <usize>((K + 31) >> 5) * <usize>(B1W_NR * 4);
  for (let n = 0; n < N; n += B1W_NR) {
    const nr = min(B1W_NR, N - n);
    const panel = packed + <usize>(n / B1W_NR) * panelBytes;
    const on = <usize>n << 2;
    for (let m = 0; m < M; m += 4) {
      const mr = min(4, M - m);
      if (mr == 1) {
        gemm_b1w_f32_1x8__simd(nr, K, x + <usize>m * xStride, panel, c + <usize>m * cStride + on, scale + on, bias + on);
      } else {
        gemm_b1w_f32_4x8__simd(mr, nr, K, x + <usize>m * xStride, xStride, panel,
                               c + <usize>m * cStride + on, cStride, scale + on, bias + on);
      }
    }
  }
}
