// f32 GEMM: C[M,N] = op(A)·op(B) (+ bias[N]) (+ C when accumulate != 0),
// for `batch` products at once. Scalar twin: src/reference/gemm_f32.ts.
// A is stored [M,K] (transA = 0) or [K,M] (transA = 1), rows lda elements
// apart; B is stored [K,N] (transB = 0) or [N,K] (transB = 1), rows ldb
// apart; C rows are ldc apart. Product i reads A + i·strideA, B + i·strideB
// and writes C + i·strideC (strides in elements; 0 broadcasts an operand).
// The driver computes only the output tile rows [m0, m1) x columns [n0, n1)
// of every product, each element over the whole of K, so a worker pool can
// split C into tiles and get the bits of one full call. All per-call state
// is in the arguments and in `work`, host-provided scratch of
// gemm_f32_workspace_bytes(M, N, K) bytes (enough for any tile of M x N).
//
// Structure (XNNPACK/GotoBLAS style):
//  - packing: A blocks become panels of MR rows stored k-major ([kc][MR]),
//    B blocks become panels of NR columns ([kc][NR]); both are zero-padded at
//    the edges. Every storage layout is packed by its own SIMD routine
//    (4x4 transposes for the strided ones), so all four transpose forms feed
//    the microkernel the same bytes and run at the same speed.
//  - microkernel gemm_f32_4x8__simd: 8 accumulators, 2 B vectors, 1 broadcast
//    A value and 1 product temporary = 12 live v128, below the ~15 V8 can
//    keep in registers (6x8 and 4x12 spill and measured 15-30% slower).
//  - driver: NC/KC/MC cache blocking, edge tiles through a small tile buffer.
//  - few rows skip packing, which would cost as much as the arithmetic; B
//    streams through once: M = 1..4 with B stored [N,K] transposes 4x4
//    blocks of B rows in registers (gemm_f32_4x4t__simd, gemm_f32_1x8t__simd
//    for one row); with B stored
//    [K,N], M = 1 is a gemv over 32-column strips (gemm_f32_1x32__simd) and
//    M = 2..4 accumulates rows of B into an L1 block (gemm_f32_4x512_axpy__simd).
//
// Determinism: for each C element the products are summed in ascending k
// inside each KC block, the block sums are added to C in ascending block
// order, and C starts from (old C (+ bias)) or bias or the first block sum.
// The order depends only on K, never on the runtime, the tile or the path
// the driver takes for it: that is what makes tiles bit-identical.

// @ts-ignore: decorator
@inline const MR: i32 = 4;
// @ts-ignore: decorator
@inline const NR: i32 = 8;
// @ts-ignore: decorator
@inline const KC: i32 = 256;
// @ts-ignore: decorator
@inline const MC: i32 = 128;
// @ts-ignore: decorator
@inline const NC: i32 = 512;
// Column strip of the few-rows axpy path: R x 512 floats stay in L1.
// @ts-ignore: decorator
@inline const AXPY_NC: i32 = 512;

@inline function roundUp(x: i32, m: i32): i32 {
  return (x + m - 1) / m * m;
}

@inline function packedABytes(M: i32, K: i32): i32 {
  return min(roundUp(M, MR), MC) * min(K, KC) * 4;
}

@inline function packedBBytes(N: i32, K: i32): i32 {
  return min(roundUp(N, NR), NC) * min(K, KC) * 4;
}

@inline function axpyStride(N: i32): i32 {
  return min(AXPY_NC, roundUp(N, 4));
}

export function gemm_f32_workspace_bytes(M: i32, N: i32, K: i32): i32 {
  if (M <= 1) return 16;
  // packed A block + packed B block + one MRxNR edge tile; a tile of 2..4
  // rows with B stored [K,N] may take the axpy path instead
  const packed = packedABytes(M, K) + packedBBytes(N, K) + MR * NR * 4;
  return max(packed, MR * axpyStride(N) * 4);
}

// 4x4 transpose of 32-bit lanes: out[i] lane j = in[j] lane i.
@inline function tr0(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<i32>(v128.shuffle<i32>(r0, r1, 0, 4, 1, 5), v128.shuffle<i32>(r2, r3, 0, 4, 1, 5), 0, 1, 4, 5);
}
@inline function tr1(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<i32>(v128.shuffle<i32>(r0, r1, 0, 4, 1, 5), v128.shuffle<i32>(r2, r3, 0, 4, 1, 5), 2, 3, 6, 7);
}
@inline function tr2(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<i32>(v128.shuffle<i32>(r0, r1, 2, 6, 3, 7), v128.shuffle<i32>(r2, r3, 2, 6, 3, 7), 0, 1, 4, 5);
}
@inline function tr3(r0: v128, r1: v128, r2: v128, r3: v128): v128 {
  return v128.shuffle<i32>(v128.shuffle<i32>(r0, r1, 2, 6, 3, 7), v128.shuffle<i32>(r2, r3, 2, 6, 3, 7), 2, 3, 6, 7);
}

// ---- packing ---------------------------------------------------------------
// The packing routines and the microkernel are exported for assembly/vq.ts
// (nearest code on the GEMM path) and so benchmarks can time them alone.

// Rows [i0, i0+mc) x k-range [p0, p0+kc) of op(A) -> ceil(mc/MR) panels [kc][MR];
// A's stored rows are lda elements apart.
export function gemm_f32_pack_a_4(mc: i32, kc: i32, a: usize, lda: i32, transA: i32, i0: i32, p0: i32, out: usize): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    const panel = out + (<usize>(ir * kc) << 2);
    const row = i0 + ir;
    if (transA) {
      // A is [K, M]: the MR values of one k are contiguous.
      let src = a + (<usize>p0 * <usize>lda + <usize>row << 2);
      const stride = <usize>lda << 2;
      if (mr == MR) {
        for (let k = 0; k < kc; k++) {
          v128.store(panel + (<usize>k << 4), v128.load(src));
          src += stride;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          const dst = panel + (<usize>k << 4);
          v128.store(dst, f32x4.splat(0));
          for (let i = 0; i < mr; i++) store<f32>(dst + (<usize>i << 2), load<f32>(src + (<usize>i << 2)));
          src += stride;
        }
      }
    } else {
      // A is [M, K]: transpose 4x4 blocks of 4 rows x 4 k.
      const stride = <usize>lda << 2;
      const r0 = a + (<usize>row * <usize>lda + <usize>p0 << 2);
      if (mr == MR) {
        const r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride;
        let k = 0;
        for (; k + 4 <= kc; k += 4) {
          const o = <usize>k << 2;
          const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
          const dst = panel + (<usize>k << 4);
          v128.store(dst, tr0(x0, x1, x2, x3));
          v128.store(dst, tr1(x0, x1, x2, x3), 16);
          v128.store(dst, tr2(x0, x1, x2, x3), 32);
          v128.store(dst, tr3(x0, x1, x2, x3), 48);
        }
        for (; k < kc; k++) {
          const o = <usize>k << 2;
          const dst = panel + (<usize>k << 4);
          store<f32>(dst, load<f32>(r0 + o));
          store<f32>(dst, load<f32>(r1 + o), 4);
          store<f32>(dst, load<f32>(r2 + o), 8);
          store<f32>(dst, load<f32>(r3 + o), 12);
        }
      } else {
        for (let k = 0; k < kc; k++) {
          const dst = panel + (<usize>k << 4);
          v128.store(dst, f32x4.splat(0));
          for (let i = 0; i < mr; i++) store<f32>(dst + (<usize>i << 2), load<f32>(r0 + <usize>i * stride + (<usize>k << 2)));
        }
      }
    }
  }
}

// Columns [j0, j0+nc) x k-range [p0, p0+kc) of op(B) -> ceil(nc/NR) panels [kc][NR];
// B's stored rows are ldb elements apart.
export function gemm_f32_pack_b_8(nc: i32, kc: i32, b: usize, ldb: i32, transB: i32, j0: i32, p0: i32, out: usize): void {
  for (let jr = 0; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    const panel = out + (<usize>(jr * kc) << 2);
    const col = j0 + jr;
    if (!transB) {
      // B is [K, N]: the NR values of one k are contiguous.
      let src = b + (<usize>p0 * <usize>ldb + <usize>col << 2);
      const stride = <usize>ldb << 2;
      if (nr == NR) {
        for (let k = 0; k < kc; k++) {
          const dst = panel + (<usize>k << 5);
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
          src += stride;
        }
      } else {
        for (let k = 0; k < kc; k++) {
          const dst = panel + (<usize>k << 5);
          v128.store(dst, f32x4.splat(0));
          v128.store(dst, f32x4.splat(0), 16);
          for (let j = 0; j < nr; j++) store<f32>(dst + (<usize>j << 2), load<f32>(src + (<usize>j << 2)));
          src += stride;
        }
      }
    } else {
      // B is [N, K]: two 4x4 transposes per 4 k.
      const stride = <usize>ldb << 2;
      const r0 = b + (<usize>col * <usize>ldb + <usize>p0 << 2);
      if (nr == NR) {
        const r1 = r0 + stride, r2 = r1 + stride, r3 = r2 + stride;
        const r4 = r3 + stride, r5 = r4 + stride, r6 = r5 + stride, r7 = r6 + stride;
        let k = 0;
        for (; k + 4 <= kc; k += 4) {
          const o = <usize>k << 2;
          const dst = panel + (<usize>k << 5);
          const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
          v128.store(dst, tr0(x0, x1, x2, x3));
          v128.store(dst, tr1(x0, x1, x2, x3), 32);
          v128.store(dst, tr2(x0, x1, x2, x3), 64);
          v128.store(dst, tr3(x0, x1, x2, x3), 96);
          const y0 = v128.load(r4 + o), y1 = v128.load(r5 + o), y2 = v128.load(r6 + o), y3 = v128.load(r7 + o);
          v128.store(dst, tr0(y0, y1, y2, y3), 16);
          v128.store(dst, tr1(y0, y1, y2, y3), 48);
          v128.store(dst, tr2(y0, y1, y2, y3), 80);
          v128.store(dst, tr3(y0, y1, y2, y3), 112);
        }
        for (; k < kc; k++) {
          const dst = panel + (<usize>k << 5);
          for (let j = 0; j < NR; j++) store<f32>(dst + (<usize>j << 2), load<f32>(r0 + <usize>j * stride + (<usize>k << 2)));
        }
      } else {
        for (let k = 0; k < kc; k++) {
          const dst = panel + (<usize>k << 5);
          v128.store(dst, f32x4.splat(0));
          v128.store(dst, f32x4.splat(0), 16);
          for (let j = 0; j < nr; j++) store<f32>(dst + (<usize>j << 2), load<f32>(r0 + <usize>j * stride + (<usize>k << 2)));
        }
      }
    }
  }
}

// ---- microkernel -----------------------------------------------------------

// C[4,8] (=|+=) Σ_k a[k][0..4] ⊗ b[k][0..8] over packed panels; ldc in bytes.
export function gemm_f32_4x8__simd(kc: i32, a: usize, b: usize, c: usize, ldc: usize, add: i32): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
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
  if (add) {
    c00 = f32x4.add(v128.load(c), c00); c01 = f32x4.add(v128.load(c, 16), c01);
    v128.store(c, c00); v128.store(c, c01, 16);
    c += ldc;
    c10 = f32x4.add(v128.load(c), c10); c11 = f32x4.add(v128.load(c, 16), c11);
    v128.store(c, c10); v128.store(c, c11, 16);
    c += ldc;
    c20 = f32x4.add(v128.load(c), c20); c21 = f32x4.add(v128.load(c, 16), c21);
    v128.store(c, c20); v128.store(c, c21, 16);
    c += ldc;
    c30 = f32x4.add(v128.load(c), c30); c31 = f32x4.add(v128.load(c, 16), c31);
    v128.store(c, c30); v128.store(c, c31, 16);
  } else {
    v128.store(c, c00); v128.store(c, c01, 16);
    c += ldc;
    v128.store(c, c10); v128.store(c, c11, 16);
    c += ldc;
    v128.store(c, c20); v128.store(c, c21, 16);
    c += ldc;
    v128.store(c, c30); v128.store(c, c31, 16);
  }
}

// ---- gemv (M = 1) ------------------------------------------------------------

// c[0,N] (=|+=) a·B over a k-range of kc with B stored [K, N] (rows ldb
// bytes apart; step k of a at a + k·sak): streams rows of B once, 32 columns
// at a time (8 accumulators).
function gemm_f32_1x32__simd(N: i32, kc: i32, a: usize, sak: usize, b: usize, ldb: usize, c: usize, add: i32): void {
  let j = 0;
  for (; j + 32 <= N; j += 32) {
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let s4 = f32x4.splat(0), s5 = f32x4.splat(0), s6 = f32x4.splat(0), s7 = f32x4.splat(0);
    let bp = b + (<usize>j << 2);
    let ap = a;
    for (let k = 0; k < kc; k++) {
      const av = v128.load32_splat(ap);
      ap += sak;
      s0 = f32x4.add(s0, f32x4.mul(av, v128.load(bp)));
      s1 = f32x4.add(s1, f32x4.mul(av, v128.load(bp, 16)));
      s2 = f32x4.add(s2, f32x4.mul(av, v128.load(bp, 32)));
      s3 = f32x4.add(s3, f32x4.mul(av, v128.load(bp, 48)));
      s4 = f32x4.add(s4, f32x4.mul(av, v128.load(bp, 64)));
      s5 = f32x4.add(s5, f32x4.mul(av, v128.load(bp, 80)));
      s6 = f32x4.add(s6, f32x4.mul(av, v128.load(bp, 96)));
      s7 = f32x4.add(s7, f32x4.mul(av, v128.load(bp, 112)));
      bp += ldb;
    }
    const cp = c + (<usize>j << 2);
    if (add) {
      s0 = f32x4.add(v128.load(cp), s0); s1 = f32x4.add(v128.load(cp, 16), s1);
      s2 = f32x4.add(v128.load(cp, 32), s2); s3 = f32x4.add(v128.load(cp, 48), s3);
      s4 = f32x4.add(v128.load(cp, 64), s4); s5 = f32x4.add(v128.load(cp, 80), s5);
      s6 = f32x4.add(v128.load(cp, 96), s6); s7 = f32x4.add(v128.load(cp, 112), s7);
    }
    v128.store(cp, s0); v128.store(cp, s1, 16); v128.store(cp, s2, 32); v128.store(cp, s3, 48);
    v128.store(cp, s4, 64); v128.store(cp, s5, 80); v128.store(cp, s6, 96); v128.store(cp, s7, 112);
  }
  for (; j + 4 <= N; j += 4) {
    let s = f32x4.splat(0);
    let bp = b + (<usize>j << 2);
    for (let k = 0; k < kc; k++) {
      s = f32x4.add(s, f32x4.mul(v128.load32_splat(a + <usize>k * sak), v128.load(bp)));
      bp += ldb;
    }
    const cp = c + (<usize>j << 2);
    v128.store(cp, add ? f32x4.add(v128.load(cp), s) : s);
  }
  for (; j < N; j++) {
    let s: f32 = 0;
    let bp = b + (<usize>j << 2);
    for (let k = 0; k < kc; k++) {
      s += load<f32>(a + <usize>k * sak) * load<f32>(bp);
      bp += ldb;
    }
    const cp = c + (<usize>j << 2);
    store<f32>(cp, add ? load<f32>(cp) + s : s);
  }
}

// ---- few rows, B stored [N, K] ----------------------------------------------------

// C[R, 4] tile per 4 rows of B: the rows are read along k and transposed in
// registers, so each lane still sums in ascending k from 0 (the microkernel's
// order) while B streams through once, row-contiguous, without packing.
// A row r, step k is at a + r·lda + k·sak (both layouts of A); rows of B
// are ldb bytes apart.
@inline function dotRowsT(R: i32, N: i32, kc: i32, a: usize, lda: usize, sak: usize, b: usize, ldb: usize, c: usize, ldc: usize, add: bool): void {
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    const r0 = b + <usize>j * ldb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
    let k = 0;
    for (; k + 4 <= kc; k += 4) {
      const o = <usize>k << 2;
      const x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
      const t0 = tr0(x0, x1, x2, x3), t1 = tr1(x0, x1, x2, x3), t2 = tr2(x0, x1, x2, x3), t3 = tr3(x0, x1, x2, x3);
      const ak = a + <usize>k * sak;
      s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(ak), t0));
      s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(ak + sak), t1));
      s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(ak + 2 * sak), t2));
      s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(ak + 3 * sak), t3));
      if (R > 1) {
        const a1 = ak + lda;
        s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(a1), t0));
        s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(a1 + sak), t1));
        s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(a1 + 2 * sak), t2));
        s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(a1 + 3 * sak), t3));
      }
      if (R > 2) {
        const a2 = ak + 2 * lda;
        s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(a2), t0));
        s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(a2 + sak), t1));
        s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(a2 + 2 * sak), t2));
        s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(a2 + 3 * sak), t3));
      }
      if (R > 3) {
        const a3 = ak + 3 * lda;
        s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(a3), t0));
        s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(a3 + sak), t1));
        s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(a3 + 2 * sak), t2));
        s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(a3 + 3 * sak), t3));
      }
    }
    for (; k < kc; k++) {
      const o = <usize>k << 2;
      let col = f32x4.splat(load<f32>(r0 + o));
      col = f32x4.replace_lane(col, 1, load<f32>(r1 + o));
      col = f32x4.replace_lane(col, 2, load<f32>(r2 + o));
      col = f32x4.replace_lane(col, 3, load<f32>(r3 + o));
      const ak = a + <usize>k * sak;
      s0 = f32x4.add(s0, f32x4.mul(v128.load32_splat(ak), col));
      if (R > 1) s1 = f32x4.add(s1, f32x4.mul(v128.load32_splat(ak + lda), col));
      if (R > 2) s2 = f32x4.add(s2, f32x4.mul(v128.load32_splat(ak + 2 * lda), col));
      if (R > 3) s3 = f32x4.add(s3, f32x4.mul(v128.load32_splat(ak + 3 * lda), col));
    }
    const cp = c + (<usize>j << 2);
    v128.store(cp, add ? f32x4.add(v128.load(cp), s0) : s0);
    if (R > 1) v128.store(cp + ldc, add ? f32x4.add(v128.load(cp + ldc), s1) : s1);
    if (R > 2) v128.store(cp + 2 * ldc, add ? f32x4.add(v128.load(cp + 2 * ldc), s2) : s2);
    if (R > 3) v128.store(cp + 3 * ldc, add ? f32x4.add(v128.load(cp + 3 * ldc), s3) : s3);
  }
  for (; j < N; j++) {
    const rj = b + <usize>j * ldb;
    for (let r = 0; r < R; r++) {
      const ar = a + <usize>r * lda;
      let s: f32 = 0;
      for (let k = 0; k < kc; k++) s += load<f32>(ar + <usize>k * sak) * load<f32>(rj + (<usize>k << 2));
      const cp = c + <usize>r * ldc + (<usize>j << 2);
      store<f32>(cp, add ? load<f32>(cp) + s : s);
    }
  }
}

// For one row of A the tile above is bound by the latency of its chained
// adds; this variant takes 8 rows of B per pass (two independent
// accumulators), same order per lane. Returns the number of columns done.
function gemm_f32_1x8t__simd(N: i32, kc: i32, a: usize, sak: usize, b: usize, ldb: usize, c: usize, add: bool): i32 {
  let j = 0;
  for (; j + 8 <= N; j += 8) {
    const r0 = b + <usize>j * ldb, r1 = r0 + ldb, r2 = r1 + ldb, r3 = r2 + ldb;
    const r4 = r3 + ldb, r5 = r4 + ldb, r6 = r5 + ldb, r7 = r6 + ldb;
    let s = f32x4.splat(0), t = f32x4.splat(0);
    let k = 0;
    for (; k + 4 <= kc; k += 4) {
      const o = <usize>k << 2;
      const ak = a + <usize>k * sak;
      const a0 = v128.load32_splat(ak), a1 = v128.load32_splat(ak + sak);
      const a2 = v128.load32_splat(ak + 2 * sak), a3 = v128.load32_splat(ak + 3 * sak);
      let x0 = v128.load(r0 + o), x1 = v128.load(r1 + o), x2 = v128.load(r2 + o), x3 = v128.load(r3 + o);
      s = f32x4.add(s, f32x4.mul(a0, tr0(x0, x1, x2, x3)));
      s = f32x4.add(s, f32x4.mul(a1, tr1(x0, x1, x2, x3)));
      s = f32x4.add(s, f32x4.mul(a2, tr2(x0, x1, x2, x3)));
      s = f32x4.add(s, f32x4.mul(a3, tr3(x0, x1, x2, x3)));
      x0 = v128.load(r4 + o); x1 = v128.load(r5 + o); x2 = v128.load(r6 + o); x3 = v128.load(r7 + o);
      t = f32x4.add(t, f32x4.mul(a0, tr0(x0, x1, x2, x3)));
      t = f32x4.add(t, f32x4.mul(a1, tr1(x0, x1, x2, x3)));
      t = f32x4.add(t, f32x4.mul(a2, tr2(x0, x1, x2, x3)));
      t = f32x4.add(t, f32x4.mul(a3, tr3(x0, x1, x2, x3)));
    }
    for (; k < kc; k++) {
      const o = <usize>k << 2;
      let lo = f32x4.splat(load<f32>(r0 + o));
      lo = f32x4.replace_lane(lo, 1, load<f32>(r1 + o));
      lo = f32x4.replace_lane(lo, 2, load<f32>(r2 + o));
      lo = f32x4.replace_lane(lo, 3, load<f32>(r3 + o));
      let hi = f32x4.splat(load<f32>(r4 + o));
      hi = f32x4.replace_lane(hi, 1, load<f32>(r5 + o));
      hi = f32x4.replace_lane(hi, 2, load<f32>(r6 + o));
      hi = f32x4.replace_lane(hi, 3, load<f32>(r7 + o));
      const av = v128.load32_splat(a + <usize>k * sak);
      s = f32x4.add(s, f32x4.mul(av, lo));
      t = f32x4.add(t, f32x4.mul(av, hi));
    }
    const cp = c + (<usize>j << 2);
    v128.store(cp, add ? f32x4.add(v128.load(cp), s) : s);
    v128.store(cp, add ? f32x4.add(v128.load(cp, 16), t) : t, 16);
  }
  return j;
}

// C[M, N] (=|+=) op(A)·Bᵀ for M = 1..4 with B stored [N, K], one K block at
// a time; A row r, step k at a + r·ra + k·sak, all strides in bytes.
function gemm_f32_4x4t__simd(M: i32, N: i32, K: i32, a: usize, ra: usize, sak: usize, b: usize, ldb: usize,
                             c: usize, ldc: usize, preinit: bool): void {
  for (let p0 = 0; p0 < K; p0 += KC) {
    const kc = min(KC, K - p0);
    const add = preinit || p0 > 0;
    const ap = a + <usize>p0 * sak;
    const bp = b + (<usize>p0 << 2);
    if (M == 1) {
      // 8-row passes, then the last N % 8 columns with the 4-row tile
      const done = gemm_f32_1x8t__simd(N, kc, ap, sak, bp, ldb, c, add);
      dotRowsT(1, N - done, kc, ap, ra, sak, bp + <usize>done * ldb, ldb, c + (<usize>done << 2), ldc, add);
    } else if (M == 2) dotRowsT(2, N, kc, ap, ra, sak, bp, ldb, c, ldc, add);
    else if (M == 3) dotRowsT(3, N, kc, ap, ra, sak, bp, ldb, c, ldc, add);
    else dotRowsT(4, N, kc, ap, ra, sak, bp, ldb, c, ldc, add);
  }
}

// ---- few rows, B stored [K, N] -----------------------------------------------------

// t[r][0..nc) = Σ_k a_r[k]·b[k][0..nc) for R rows, ascending k from 0 (nc a
// multiple of 4; t rows are ldt bytes apart). A row r, step k is at
// a + r·lda + k·sak, which covers both layouts of A.
@inline function axpyRows(R: i32, nc: i32, kc: i32, a: usize, lda: usize, sak: usize, b: usize, ldb: usize, t: usize, ldt: usize): void {
  for (let r = 0; r < R; r++) memory.fill(t + <usize>r * ldt, 0, <usize>nc << 2);
  let k = 0;
  // two k per pass: t is loaded and stored once for two products, which
  // are still added one after the other (the order of the 4x8 microkernel)
  for (; k + 2 <= kc; k += 2) {
    const ak = a + <usize>k * sak;
    const a0 = v128.load32_splat(ak), a0n = v128.load32_splat(ak + sak);
    const a1 = R > 1 ? v128.load32_splat(ak + lda) : a0, a1n = R > 1 ? v128.load32_splat(ak + lda + sak) : a0;
    const a2 = R > 2 ? v128.load32_splat(ak + 2 * lda) : a0, a2n = R > 2 ? v128.load32_splat(ak + 2 * lda + sak) : a0;
    const a3 = R > 3 ? v128.load32_splat(ak + 3 * lda) : a0, a3n = R > 3 ? v128.load32_splat(ak + 3 * lda + sak) : a0;
    const brow = b + <usize>k * ldb;
    const brown = brow + ldb;
    for (let j = 0; j < nc; j += 4) {
      const o = <usize>j << 2;
      const bv = v128.load(brow + o), bn = v128.load(brown + o);
      v128.store(t + o, f32x4.add(f32x4.add(v128.load(t + o), f32x4.mul(a0, bv)), f32x4.mul(a0n, bn)));
      if (R > 1) v128.store(t + ldt + o, f32x4.add(f32x4.add(v128.load(t + ldt + o), f32x4.mul(a1, bv)), f32x4.mul(a1n, bn)));
      if (R > 2) v128.store(t + 2 * ldt + o, f32x4.add(f32x4.add(v128.load(t + 2 * ldt + o), f32x4.mul(a2, bv)), f32x4.mul(a2n, bn)));
      if (R > 3) v128.store(t + 3 * ldt + o, f32x4.add(f32x4.add(v128.load(t + 3 * ldt + o), f32x4.mul(a3, bv)), f32x4.mul(a3n, bn)));
    }
  }
  for (; k < kc; k++) {
    const ak = a + <usize>k * sak;
    const a0 = v128.load32_splat(ak);
    const a1 = R > 1 ? v128.load32_splat(ak + lda) : a0;
    const a2 = R > 2 ? v128.load32_splat(ak + 2 * lda) : a0;
    const a3 = R > 3 ? v128.load32_splat(ak + 3 * lda) : a0;
    const brow = b + <usize>k * ldb;
    for (let j = 0; j < nc; j += 4) {
      const o = <usize>j << 2;
      const bv = v128.load(brow + o);
      v128.store(t + o, f32x4.add(v128.load(t + o), f32x4.mul(a0, bv)));
      if (R > 1) v128.store(t + ldt + o, f32x4.add(v128.load(t + ldt + o), f32x4.mul(a1, bv)));
      if (R > 2) v128.store(t + 2 * ldt + o, f32x4.add(v128.load(t + 2 * ldt + o), f32x4.mul(a2, bv)));
      if (R > 3) v128.store(t + 3 * ldt + o, f32x4.add(v128.load(t + 3 * ldt + o), f32x4.mul(a3, bv)));
    }
  }
}

// C[R, nc] (=|+=) rows of A · B[k-block, strip] for R = 2..4, through the
// block t. The sums have the same order as the 4x8 microkernel, so a row's
// bits do not depend on how many rows are computed with it.
// A row r, step k at a + r·lda + k·sak; strides in bytes.
function gemm_f32_4x512_axpy__simd(M: i32, N: i32, K: i32, a: usize, lda: usize, sak: usize, b: usize, ldb: usize,
                                   c: usize, ldc: usize, preinit: bool, t: usize): void {
  const ldt = <usize>axpyStride(N) << 2;
  for (let j0 = 0; j0 < N; j0 += AXPY_NC) {
    const nc = min(AXPY_NC, N - j0);
    const ncv = nc & ~3;
    for (let p0 = 0; p0 < K; p0 += KC) {
      const kc = min(KC, K - p0);
      const ap = a + <usize>p0 * sak;
      const bp = b + <usize>p0 * ldb + (<usize>j0 << 2);
      if (M == 2) axpyRows(2, ncv, kc, ap, lda, sak, bp, ldb, t, ldt);
      else if (M == 3) axpyRows(3, ncv, kc, ap, lda, sak, bp, ldb, t, ldt);
      else axpyRows(4, ncv, kc, ap, lda, sak, bp, ldb, t, ldt);
      const add = preinit || p0 > 0;
      for (let r = 0; r < M; r++) {
        const crow = c + <usize>r * ldc + (<usize>j0 << 2);
        const trow = t + <usize>r * ldt;
        let j = 0;
        for (; j < ncv; j += 4) {
          const o = <usize>j << 2;
          v128.store(crow + o, add ? f32x4.add(v128.load(crow + o), v128.load(trow + o)) : v128.load(trow + o));
        }
        // columns past the last full vector: same ascending-k sum, scalar
        for (; j < nc; j++) {
          let s: f32 = 0;
          for (let k = 0; k < kc; k++) s += load<f32>(ap + <usize>r * lda + <usize>k * sak) * load<f32>(bp + <usize>k * ldb + (<usize>j << 2));
          const o = <usize>j << 2;
          store<f32>(crow + o, add ? load<f32>(crow + o) + s : s);
        }
      }
    }
  }
}

// ---- driver ------------------------------------------------------------------

// Starts C from bias / old C so every K block can be added in place.
function gemm_f32_init_c(M: i32, N: i32, c: usize, ldc: usize, bias: usize, accumulate: i32): void {
  const rowBytes = <usize>N << 2;
  for (let i = 0; i < M; i++) {
    const crow = c + <usize>i * ldc;
    if (!accumulate) {
      if (bias) memory.copy(crow, bias, rowBytes);
      else memory.fill(crow, 0, rowBytes);
    } else if (bias) {
      let j = 0;
      for (; j + 4 <= N; j += 4) {
        const o = <usize>j << 2;
        v128.store(crow + o, f32x4.add(v128.load(crow + o), v128.load(bias + o)));
      }
      for (; j < N; j++) {
        const o = <usize>j << 2;
        store<f32>(crow + o, load<f32>(crow + o) + load<f32>(bias + o));
      }
    }
  }
}

// One product's tile C[M,N] (pointers at the tile's origin; ld in elements).
// The path depends on the tile's shape, the bits do not (see the header).
function gemm_f32_tile(M: i32, N: i32, K: i32, a: usize, lda: i32, transA: i32, b: usize, ldb: i32, transB: i32,
                       c: usize, ldc: i32, bias: usize, accumulate: i32, work: usize): void {
  const preinit = bias != 0 || accumulate != 0 || K == 0;
  const ldcb = <usize>ldc << 2;
  const ldbb = <usize>ldb << 2;
  if (preinit) gemm_f32_init_c(M, N, c, ldcb, bias, accumulate);
  if (K == 0) return;
  // op(A) row i, step k at a + i·ra + k·sak (bytes), for both layouts of A
  const ra: usize = transA ? 4 : <usize>lda << 2;
  const sak: usize = transA ? <usize>lda << 2 : 4;

  if (M <= MR && transB) {
    gemm_f32_4x4t__simd(M, N, K, a, ra, sak, b, ldbb, c, ldcb, preinit);
    return;
  }
  if (M == 1) {
    for (let p0 = 0; p0 < K; p0 += KC) {
      const kc = min(KC, K - p0);
      const add = preinit || p0 > 0 ? 1 : 0;
      gemm_f32_1x32__simd(N, kc, a + <usize>p0 * sak, sak, b + <usize>p0 * ldbb, ldbb, c, add);
    }
    return;
  }

  // (narrow C goes to the packed path: there the B copy is small and the
  // axpy path's scalar column tail would dominate)
  if (M <= MR && !transB && N >= 32) {
    gemm_f32_4x512_axpy__simd(M, N, K, a, ra, sak, b, ldbb, c, ldcb, preinit, work);
    return;
  }

  const wa = work;
  const wb = work + <usize>packedABytes(M, K);
  const tile = wb + <usize>packedBBytes(N, K);
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = min(NC, N - j0);
    for (let p0 = 0; p0 < K; p0 += KC) {
      const kc = min(KC, K - p0);
      const add = preinit || p0 > 0 ? 1 : 0;
      gemm_f32_pack_b_8(nc, kc, b, ldb, transB, j0, p0, wb);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = min(MC, M - i0);
        gemm_f32_pack_a_4(mc, kc, a, lda, transA, i0, p0, wa);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = wb + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const ap = wa + (<usize>(ir * kc) << 2);
            const cp = c + <usize>(i0 + ir) * ldcb + (<usize>(j0 + jr) << 2);
            if (mr == MR && nr == NR) {
              gemm_f32_4x8__simd(kc, ap, bp, cp, ldcb, add);
            } else {
              gemm_f32_4x8__simd(kc, ap, bp, tile, NR << 2, 0);
              for (let i = 0; i < mr; i++) {
                const crow = cp + <usize>i * ldcb;
                const trow = tile + (<usize>(i * NR) << 2);
                for (let j = 0; j < nr; j++) {
                  const o = <usize>j << 2;
                  const v = load<f32>(trow + o);
                  store<f32>(crow + o, add ? load<f32>(crow + o) + v : v);
                }
              }
            }
          }
        }
      }
    }
  }
}

/**
 * Driver: rows [m0, m1) x columns [n0, n1) of C = op(A)·op(B) (+ bias) (+ C)
 * for each of `batch` products (see the header for the layouts). The host
 * checks the ranges, leading dimensions and strides against the buffers.
 */
export function gemm_f32(K: i32, a: usize, lda: i32, transA: i32, b: usize, ldb: i32, transB: i32,
                         c: usize, ldc: i32, bias: usize, accumulate: i32,
                         batch: i32, strideA: i32, strideB: i32, strideC: i32,
                         m0: i32, m1: i32, n0: i32, n1: i32, work: usize): void {
  if (m1 <= m0 || n1 <= n0) return;
  // the tile's origin in each operand, in elements
  const aOrigin = transA ? <usize>m0 : <usize>m0 * <usize>lda;
  const bOrigin = transB ? <usize>n0 * <usize>ldb : <usize>n0;
  const cOrigin = <usize>m0 * <usize>ldc + <usize>n0;
  const biasT = bias ? bias + (<usize>n0 << 2) : 0;
  for (let i = 0; i < batch; i++) {
    gemm_f32_tile(m1 - m0, n1 - n0, K,
                  a + (<usize>i * <usize>strideA + aOrigin << 2), lda, transA,
                  b + (<usize>i * <usize>strideB + bOrigin << 2), ldb, transB,
                  c + (<usize>i * <usize>strideC + cOrigin << 2), ldc, biasT, accumulate, work);
  }
}
