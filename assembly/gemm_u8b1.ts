// uint8 activations times binary weights: C[M,N] = Σ_k x[m,k]·w[n,k] with x
// in [0, 255] and w = ±1 from packed bits (bitpack.ts: bit 1 = -1), exact;
// the first layer of a BNN that sees raw pixels. Scalar twin:
// src/reference/gemm_u8b1.ts.
//
// Σ x·w = Σ x - 2·S with S = Σ_{w = -1} x, and S is found by table lookup
// instead of multiplies. Take the inputs in groups of 4. Which of a group's 4
// weights are -1 is a 4-bit pattern p; write each pixel as 16·hi + lo; then
// S adds, per group, TL[p] = Σ_{i in p} lo_i and 16·TH[p] with TH[p] = Σ_{i in p} hi_i.
// Both tables have 16 entries of at most 60, so one swizzle (`lookup`) looks up 16
// output channels at once (their patterns are the index vector), and 4 groups
// add up in bytes (<= 240) before widening to u16. Measured on the bench
// machine this does ~1.9x the MACs per cycle of the pmaddwd int8 GEMV and
// beats the 4x8 int8 tile; AND-mask forms lose to V8's per-op constant loads.
//
// Layouts (G = 4·ceil(K/16) groups; inputs past K are 0 and so are their patterns):
//   W patterns: u8 [ceil(N/16)][G][16]  byte j of (block b, group g) = pattern of
//               channel 16b + j at group g (channels past N: 0)
//   workspace:  u8 [G][32] TL then TH of each group of the current row, then the
//               row's 4·G pixel bytes, then a 64-byte staging tile for partial
//               channel blocks: O(K), whatever M is (rows are done one at a time).
// A u16 lane grows by at most 60 per group, so sums are carried in i32 every
// BLOCK_GROUPS groups (4096 inputs).
//
// Driver contract (as gemm_f32): rows of x are ldx elements apart, rows of C
// ldc apart; product i of a batch reads x + i·strideX, writes C + i·strideC
// (elements) and uses the patterns at w + i·strideW (bytes; 0 = one weight
// set for all). Only the output tile rows [m0, m1) x columns [n0, n1) is
// written, each element over all of K (exact integer sums, so any split into
// tiles gives the same bits). Per-call state lives in the arguments and `work`.

const BLOCK_GROUPS: i32 = 1024;
const MODE_I32: i32 = 0;
const MODE_F32: i32 = 1;
const FIRST: i32 = 1;
const LAST: i32 = 2;

@inline function groupsOf(K: i32): i32 {
  return ((K + 15) >> 4) << 2;
}

export function gemm_u8b1_packed_w_bytes(N: i32, K: i32): i32 {
  return ((N + 15) >> 4) * groupsOf(K) * 16;
}

export function gemm_u8b1_workspace_bytes(K: i32): i32 {
  const G = groupsOf(K);
  return G * 32 + G * 4 + 64;
}

/** Rewrites packed bits [N, words] (K valid per row) as the group patterns above. */
export function gemm_u8b1_pack_w(bits: usize, N: i32, words: i32, K: i32, out: usize): void {
  const G = groupsOf(K);
  const blocks = (N + 15) >> 4;
  for (let b = 0; b < blocks; b++) {
    for (let j = 0; j < 16; j++) {
      const n = b * 16 + j;
      const row = bits + <usize>n * <usize>words * 4;
      const dst = out + <usize>b * <usize>G * 16 + <usize>j;
      for (let g = 0; g < G; g++) {
        // A group's 4 bits never straddle a word, and 4·G <= 32·words (rows are padded to 128 bits).
        const k = g << 2;
        const p: u32 = n < N ? (load<u32>(row + (<usize>(k >> 5) << 2)) >>> <u32>(k & 31)) & 15 : 0;
        store<u8>(dst + (<usize>g << 4), <u8>p);
      }
    }
  }
}

/** Entry p of a table: the sum of those of 4 values (lanes of v) selected by p's bits. */
@inline function table16(v: v128): v128 {
  const b0 = i8x16(0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1, 0, -1);
  const b1 = i8x16(0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1, 0, 0, -1, -1);
  const b2 = i8x16(0, 0, 0, 0, -1, -1, -1, -1, 0, 0, 0, 0, -1, -1, -1, -1);
  const b3 = i8x16(0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, -1, -1, -1, -1);
  const v0 = i8x16.shuffle(v, v, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
  const v1 = i8x16.shuffle(v, v, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  const v2 = i8x16.shuffle(v, v, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2);
  const v3 = i8x16.shuffle(v, v, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3);
  return i8x16.add(i8x16.add(v128.and(v0, b0), v128.and(v1, b1)), i8x16.add(v128.and(v2, b2), v128.and(v3, b3)));
}

/** Builds TL/TH for every group of one row's G·4 pixels (bytes at px). */
function buildTables(px: usize, G: i32, dst: usize): void {
  const nibble = i8x16.splat(15);
  for (let g = 0; g < G; g++) {
    const v = v128.load32_splat(px + (<usize>g << 2));
    v128.store(dst + (<usize>g << 5), table16(v128.and(v, nibble)));
    v128.store(dst + (<usize>g << 5), table16(i8x16.shr_u(v, 4)), 16);
  }
}

@inline function byteSum(v: v128): i32 {
  const s = i32x4.extadd_pairwise_i16x8_u(i16x8.extadd_pairwise_i8x16_u(v));
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);
}

@inline function badLanes(v: v128, q: v128): v128 {
  const outside = v128.or(i32x4.lt_s(q, i32x4.splat(0)), i32x4.gt_s(q, i32x4.splat(255)));
  return v128.or(f32x4.ne(f32x4.convert_i32x4_s(q), v), outside);
}

/**
 * How many of the n float32 values at x are not integers in [0, 255]
 * (fractions, out of range, NaN). The host checks float inputs with this
 * before gemm_u8b1, which then converts them exactly.
 */
export function gemm_u8b1_check_f32(x: usize, n: i32): i32 {
  let bad = i32x4.splat(0);
  let badScalar = 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const v = v128.load(x + (<usize>i << 2));
    // Good lanes convert back to themselves (integers, not NaN) inside [0, 255]; bad ones add -1.
    bad = i32x4.add(bad, badLanes(v, i32x4.trunc_sat_f32x4_s(v)));
  }
  for (; i < n; i++) {
    const v = load<f32>(x + (<usize>i << 2));
    if (!(v >= 0 && v <= 255 && <f32><i32>v == v)) badScalar++;
  }
  return badScalar - (i32x4.extract_lane(bad, 0) + i32x4.extract_lane(bad, 1) + i32x4.extract_lane(bad, 2) + i32x4.extract_lane(bad, 3));
}

/** The row of x at `row` (uint8, or float32 holding integers in [0, 255]) as G·4 zero-padded bytes at px; returns their sum. */
@inline function loadRow(row: usize, xF32: i32, K: i32, G: i32, px: usize): i32 {
  memory.fill(px, 0, <usize>G << 2);
  if (!xF32) {
    memory.copy(px, row, <usize>K);
  } else {
    const src = row;
    let k = 0;
    for (; k + 16 <= K; k += 16) {
      const p = src + (<usize>k << 2);
      const q0 = i32x4.trunc_sat_f32x4_s(v128.load(p)), q1 = i32x4.trunc_sat_f32x4_s(v128.load(p, 16));
      const q2 = i32x4.trunc_sat_f32x4_s(v128.load(p, 32)), q3 = i32x4.trunc_sat_f32x4_s(v128.load(p, 48));
      v128.store(px + <usize>k, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q0, q1), i16x8.narrow_i32x4_u(q2, q3)));
    }
    for (; k < K; k++) store<u8>(px + <usize>k, <u8><i32>load<f32>(src + (<usize>k << 2)));
  }
  let sum = 0;
  for (let j = 0; j < (G << 2); j += 16) sum += byteSum(v128.load(px + <usize>j));
  return sum;
}

/** 4 channels' S = L + 16·H into out (partial) or their dot products (last block). */
@inline function finish4(mode: i32, flags: i32, out: usize, l: v128, h: v128, rowSum: v128): void {
  let s = i32x4.add(l, i32x4.shl(h, 4));
  if (!(flags & FIRST)) s = i32x4.add(s, v128.load(out));
  if (!(flags & LAST)) {
    v128.store(out, s);
    return;
  }
  const dot = i32x4.sub(rowSum, i32x4.shl(s, 1));
  v128.store(out, mode == MODE_I32 ? dot : f32x4.convert_i32x4_s(dot));
}

/**
 * Table lookup with indices 0..15 (patterns), where plain and relaxed
 * swizzle agree exactly; the relaxed one lowers to a bare pshufb, the plain
 * one adds a saturating index fix-up for indices past 15 that never occur.
 */
@inline function lookup(table: v128, idx: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return i8x16.relaxed_swizzle(table, idx);
  return i8x16.swizzle(table, idx);
}

/**
 * Microkernel: one row x 16 channels over `groups` groups (a multiple of 4):
 * per group one pattern load and two table lookups; bytes widen to u16 every
 * 4 groups. Writes 16 lanes at out.
 */
@inline function gemm_u8b1_1x16__simd(mode: i32, flags: i32, groups: i32, t: usize, w: usize, out: usize, rowSum: i32): void {
  let l0 = i16x8.splat(0), l1 = l0, h0 = l0, h1 = l0;
  let pt = t, pw = w;
  const end = w + (<usize>groups << 4);
  while (pw < end) {
    let idx = v128.load(pw);
    let l = lookup(v128.load(pt), idx);
    let h = lookup(v128.load(pt, 16), idx);
    idx = v128.load(pw, 16);
    l = i8x16.add(l, lookup(v128.load(pt, 32), idx));
    h = i8x16.add(h, lookup(v128.load(pt, 48), idx));
    idx = v128.load(pw, 32);
    l = i8x16.add(l, lookup(v128.load(pt, 64), idx));
    h = i8x16.add(h, lookup(v128.load(pt, 80), idx));
    idx = v128.load(pw, 48);
    l = i8x16.add(l, lookup(v128.load(pt, 96), idx));
    h = i8x16.add(h, lookup(v128.load(pt, 112), idx));
    l0 = i16x8.add(l0, i16x8.extend_low_i8x16_u(l));
    l1 = i16x8.add(l1, i16x8.extend_high_i8x16_u(l));
    h0 = i16x8.add(h0, i16x8.extend_low_i8x16_u(h));
    h1 = i16x8.add(h1, i16x8.extend_high_i8x16_u(h));
    pt += 128;
    pw += 64;
  }
  const rs = i32x4.splat(rowSum);
  finish4(mode, flags, out, i32x4.extend_low_i16x8_u(l0), i32x4.extend_low_i16x8_u(h0), rs);
  finish4(mode, flags, out + 16, i32x4.extend_high_i16x8_u(l0), i32x4.extend_high_i16x8_u(h0), rs);
  finish4(mode, flags, out + 32, i32x4.extend_low_i16x8_u(l1), i32x4.extend_low_i16x8_u(h1), rs);
  finish4(mode, flags, out + 48, i32x4.extend_high_i16x8_u(l1), i32x4.extend_high_i16x8_u(h1), rs);
}

// Driver: one row at a time: its pixels become tables (32·G bytes, which stay
// in L1) while the weight patterns stream past; a block of 16 channels that
// the tile covers only in part goes through the staging tile.
@inline function gemmU8B1Driver(mode: i32, K: i32, x: usize, ldx: i32, xF32: i32, w: usize, c: usize, ldc: i32,
                                batch: i32, strideX: i32, strideW: i32, strideC: i32,
                                m0: i32, m1: i32, n0: i32, n1: i32, work: usize): void {
  if (m1 <= m0 || n1 <= n0) return;
  const G = groupsOf(K);
  const tables = work;
  const px = work + <usize>G * 32;
  const stage = px + (<usize>G << 2);
  const xElem: usize = xF32 ? 4 : 1;
  for (let t = 0; t < batch; t++) {
    const wt = w + <usize>t * <usize>strideW;
    for (let m = m0; m < m1; m++) {
      const rowSum = loadRow(x + (<usize>t * <usize>strideX + <usize>m * <usize>ldx) * xElem, xF32, K, G, px);
      buildTables(px, G, tables);
      const cRow = c + (<usize>t * <usize>strideC + <usize>m * <usize>ldc << 2);
      // K = 0 still runs one (empty) block, which stores the dot products Σ x = 0.
      for (let g0 = 0; g0 == 0 || g0 < G; g0 += BLOCK_GROUPS) {
        const bg = min(BLOCK_GROUPS, G - g0);
        const flags = (g0 == 0 ? FIRST : 0) | (g0 + bg >= G ? LAST : 0);
        const tg = tables + <usize>g0 * 32;
        for (let b = n0 >> 4; b << 4 < n1; b++) {
          const base = b << 4;
          const lo = max(n0 - base, 0);
          const hi = min(n1 - base, 16);
          const cb = cRow + (<usize>base << 2);
          const wb = wt + (<usize>b * <usize>G + <usize>g0) * 16;
          if (lo == 0 && hi == 16) {
            gemm_u8b1_1x16__simd(mode, flags, bg, tg, wb, cb, rowSum);
            continue;
          }
          const o = <usize>lo << 2;
          const bytes = <usize>(hi - lo) << 2;
          if (!(flags & FIRST)) memory.copy(stage + o, cb + o, bytes);
          gemm_u8b1_1x16__simd(mode, flags, bg, tg, wb, stage, rowSum);
          memory.copy(cb + o, stage + o, bytes);
        }
      }
    }
  }
}

/**
 * C int32 = Σ_k x[m,k]·w[n,k] on the tile; x uint8, or float32 (xF32 = 1)
 * already checked with gemm_u8b1_check_f32; `w` from gemm_u8b1_pack_w; `work`
 * of gemm_u8b1_workspace_bytes(K).
 */
export function gemm_u8b1(K: i32, x: usize, ldx: i32, xF32: i32, w: usize, c: usize, ldc: i32,
                          batch: i32, strideX: i32, strideW: i32, strideC: i32,
                          m0: i32, m1: i32, n0: i32, n1: i32, work: usize): void {
  gemmU8B1Driver(MODE_I32, K, x, ldx, xF32, w, c, ldc, batch, strideX, strideW, strideC, m0, m1, n0, n1, work);
}

/** The same sums as float32 (exact while |sum| < 2^24, i.e. for K <= 65792). */
export function gemm_u8b1_f32(K: i32, x: usize, ldx: i32, xF32: i32, w: usize, c: usize, ldc: i32,
                              batch: i32, strideX: i32, strideW: i32, strideC: i32,
                              m0: i32, m1: i32, n0: i32, n1: i32, work: usize): void {
  gemmU8B1Driver(MODE_F32, K, x, ldx, xF32, w, c, ldc, batch, strideX, strideW, strideC, m0, m1, n0, n1, work);
}
