// Binary GEMM on bit-packed ±1 rows (format: bitpack.ts). Scalar twin:
// src/reference/gemm_b1.ts.
//
//   gemm_b1          C[M,N] int32   = k - 2·popcount(a_m XOR b_n)
//   gemm_b1_scaled   C[M,N] float32 = scale[n]·(k - 2·popcount) + bias[n]   (XNOR-Net)
//   gemm_b1w_f32     C[M,N] float32 = scale[n]·Σ_j ±x[m,j] + bias[n]        (BinaryConnect)
//
// A is [M, words] and B is [N, words] packed rows (B rows are output
// channels: C = A·Bᵀ). The packed rows are already the layout the XNOR
// microkernel streams (16-byte chunks, zero padded), so only the
// BinaryConnect kernel packs its weights (into word-interleaved panels).

const MODE_INT: i32 = 0;
const MODE_SCALED: i32 = 1;

// Byte lanes of a popcount accumulator hold at most 8 per chunk, so 31
// chunks fit a u8 before the flush widens them into i32 totals.
const BYTE_BLOCK: i32 = 31;

@inline function popXor(a: v128, b: v128): v128 {
  return i8x16.popcnt(v128.xor(a, b));
}

@inline function sumBytes(v: v128): i32 {
  const w = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v));
  return i32x4.extract_lane(w, 0) + i32x4.extract_lane(w, 1) + i32x4.extract_lane(w, 2) + i32x4.extract_lane(w, 3);
}

@inline function storeB1(mode: i32, c: usize, n: i32, pop: i32, k: i32, scale: usize, bias: usize): void {
  const dot = k - (pop << 1);
  if (mode == MODE_INT) {
    store<i32>(c + (<usize>n << 2), dot);
  } else {
    const o = <usize>n << 2;
    store<f32>(c + o, load<f32>(scale + o) * <f32>dot + load<f32>(bias + o));
  }
}

/**
 * Microkernel: a 4x2 tile of popcount(a XOR b) over `chunks` 16-byte chunks.
 * Rows past mr / columns past nr re-read the last valid row (no branches in
 * the loop) and are not stored.
 */
@inline function gemm_b1_4x2__simd(mode: i32, mr: i32, nr: i32, chunks: i32,
                                   a: usize, aStride: usize, b: usize, bStride: usize,
                                   c: usize, cStride: usize, n0: i32, k: i32, scale: usize, bias: usize): void {
  const a0 = a;
  const a1 = mr > 1 ? a0 + aStride : a0;
  const a2 = mr > 2 ? a1 + aStride : a1;
  const a3 = mr > 3 ? a2 + aStride : a2;
  const b0 = b;
  const b1 = nr > 1 ? b0 + bStride : b0;
  let t00 = 0, t01 = 0, t10 = 0, t11 = 0, t20 = 0, t21 = 0, t30 = 0, t31 = 0;
  const blocks = (chunks + BYTE_BLOCK - 1) / BYTE_BLOCK;
  let q = 0;
  // Row pointers advance as loop variables: TurboFan would otherwise
  // recompute the clamped row addresses inside the loop.
  let p0 = a0, p1 = a1, p2 = a2, p3 = a3, q0 = b0, q1 = b1;
  for (let blk = 0; blk < blocks; blk++) {
    // Even block lengths keep every flush equally cheap.
    const end = <i32>((<i64>chunks * <i64>(blk + 1)) / <i64>blocks);
    let s00 = i8x16.splat(0), s01 = i8x16.splat(0), s10 = i8x16.splat(0), s11 = i8x16.splat(0);
    let s20 = i8x16.splat(0), s21 = i8x16.splat(0), s30 = i8x16.splat(0), s31 = i8x16.splat(0);
    const stop = p0 + (<usize>(end - q) << 4);
    q = end;
    while (p0 < stop) {
      const vb0 = v128.load(q0);
      const vb1 = v128.load(q1);
      let va = v128.load(p0);
      s00 = i8x16.add(s00, popXor(va, vb0));
      s01 = i8x16.add(s01, popXor(va, vb1));
      va = v128.load(p1);
      s10 = i8x16.add(s10, popXor(va, vb0));
      s11 = i8x16.add(s11, popXor(va, vb1));
      va = v128.load(p2);
      s20 = i8x16.add(s20, popXor(va, vb0));
      s21 = i8x16.add(s21, popXor(va, vb1));
      va = v128.load(p3);
      s30 = i8x16.add(s30, popXor(va, vb0));
      s31 = i8x16.add(s31, popXor(va, vb1));
      p0 += 16; p1 += 16; p2 += 16; p3 += 16; q0 += 16; q1 += 16;
    }
    t00 += sumBytes(s00); t01 += sumBytes(s01);
    t10 += sumBytes(s10); t11 += sumBytes(s11);
    t20 += sumBytes(s20); t21 += sumBytes(s21);
    t30 += sumBytes(s30); t31 += sumBytes(s31);
  }
  storeB1(mode, c, n0, t00, k, scale, bias);
  if (nr > 1) storeB1(mode, c, n0 + 1, t01, k, scale, bias);
  if (mr > 1) {
    const c1 = c + cStride;
    storeB1(mode, c1, n0, t10, k, scale, bias);
    if (nr > 1) storeB1(mode, c1, n0 + 1, t11, k, scale, bias);
    if (mr > 2) {
      const c2 = c1 + cStride;
      storeB1(mode, c2, n0, t20, k, scale, bias);
      if (nr > 1) storeB1(mode, c2, n0 + 1, t21, k, scale, bias);
      if (mr > 3) {
        const c3 = c2 + cStride;
        storeB1(mode, c3, n0, t30, k, scale, bias);
        if (nr > 1) storeB1(mode, c3, n0 + 1, t31, k, scale, bias);
      }
    }
  }
}

// Driver: 2 B rows (output channels) stay in L1 while all of A streams past.
@inline function gemmB1Driver(mode: i32, M: i32, N: i32, k: i32, words: i32,
                              a: usize, b: usize, c: usize, scale: usize, bias: usize): void {
  const chunks = words >> 2;
  const rowBytes = <usize>words << 2;
  const cStride = <usize>N << 2;
  for (let n = 0; n < N; n += 2) {
    const nr = min(2, N - n);
    const bp = b + <usize>n * rowBytes;
    for (let m = 0; m < M; m += 4) {
      const mr = min(4, M - m);
      gemm_b1_4x2__simd(mode, mr, nr, chunks, a + <usize>m * rowBytes, rowBytes, bp, rowBytes,
                        c + <usize>m * cStride, cStride, n, k, scale, bias);
    }
  }
}

/** C[M,N] int32 = k - 2·popcount(A_m XOR B_n); A [M, words], B [N, words]. */
export function gemm_b1(M: i32, N: i32, k: i32, words: i32, a: usize, b: usize, c: usize): void {
  gemmB1Driver(MODE_INT, M, N, k, words, a, b, c, 0, 0);
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
      gemm_b1w_f32_4x8__simd(mr, nr, K, x + <usize>m * xStride, xStride, panel,
                             c + <usize>m * cStride + on, cStride, scale + on, bias + on);
    }
  }
}
