// assembly/shape.ts (copy_strided, transpose_32, gather_rows,
// f32_scatter_add_rows) against src/reference/shape.ts. Data movement is
// exact; the scatter-add adds in index order, so it is exact too.
import { beforeAll, describe, test } from 'vitest';
import { collapseAxes } from '../../src/kernels/internal/strided.js';
import {
  bincountRef, copyStridedRef, f32OneHotRef, f32ScatterAddAlongRef, f32ScatterAddAxisRef, f32TopkRowsRef, gatherAxisRef, gatherRowsRef,
  f32ScatterAddRowsRef, transpose32Ref,
} from '../../src/reference/shape.js';
import { init } from '../../src/runtime/loader.js';
import { expectExact, kernels, Prng, SIZES, stridesOf, withArena } from '../support/kernel-harness.js';

beforeAll(async () => {
  await init();
});

interface CopyCase {
  dims: number[];
  srcLen: number; srcBase: number; srcStrides: number[];
  dstLen: number; dstBase: number; dstStrides: number[];
}

/**
 * A random index space of rank 1-5; the source is a slice (offset start) of a
 * larger parent, read through a random axis permutation (a transpose) with
 * some axes broadcast (stride 0); the destination is a slice of another
 * parent, possibly permuted too (a concat slot or a transposed write).
 */
function randomCopy(rng: Prng): CopyCase {
  for (;;) {
    const rank = rng.int(1, 6);
    const dims = Array.from({ length: rank }, () => rng.pick([0, 1, 1, 2, 3, 4, 5, 7, 8, 9, 13, 17]));
    if (dims.reduce((p, d) => p * d, 1) > 4000) continue;
    const side = (allowBroadcast: boolean) => {
      const perm = Array.from({ length: rank }, (_, i) => i);
      if (rng.bool(0.6)) for (let i = rank - 1; i > 0; i--) { const j = rng.int(0, i + 1); [perm[i], perm[j]] = [perm[j], perm[i]]; }
      const start = dims.map(() => (rng.bool(0.4) ? rng.int(0, 3) : 0));
      const parent = new Array(rank);
      dims.forEach((d, i) => (parent[perm[i]] = d + start[i] + (rng.bool(0.4) ? rng.int(0, 3) : 0)));
      const ps = stridesOf(parent);
      const strides = dims.map((_, i) => (allowBroadcast && rng.bool(0.2) ? 0 : ps[perm[i]]));
      const base = start.reduce((acc, s, i) => acc + s * ps[perm[i]], 0);
      return { len: parent.reduce((p: number, d: number) => p * d, 1), base, strides };
    };
    const s = side(true);
    const d = side(false);
    return { dims, srcLen: s.len, srcBase: s.base, srcStrides: s.strides, dstLen: d.len, dstBase: d.base, dstStrides: d.strides };
  }
}

function runCopy(c: CopyCase, elemBytes: 1 | 4, src: Uint8Array | Uint32Array, dst0: Uint8Array | Uint32Array,
                 dims: number[], ss: number[], ds: number[]): Uint8Array | Uint32Array {
  return withArena((a) => {
    const ps = a.put(src);
    const pd = a.put(dst0);
    kernels().copy_strided(ps + c.srcBase * elemBytes, a.i32(ss), pd + c.dstBase * elemBytes, a.i32(ds), elemBytes, dims.length, a.i32(dims));
    return elemBytes === 4 ? a.read(Uint32Array, pd, c.dstLen) : a.read(Uint8Array, pd, c.dstLen);
  });
}

describe('copy_strided', () => {
  for (const elemBytes of [1, 4] as const) {
    test(`${elemBytes}-byte elements: 300 random transposes, slices, broadcasts and destination strides`, () => {
      const rng = new Prng(10 + elemBytes);
      for (let k = 0; k < 300; k++) {
        const c = randomCopy(rng);
        const fill = (n: number) => (elemBytes === 4
          ? Uint32Array.from({ length: n }, () => rng.int(0, 2 ** 32))
          : Uint8Array.from({ length: n }, () => rng.int(0, 256)));
        const src = fill(c.srcLen);
        const dst0 = fill(c.dstLen);
        const want = dst0.slice();
        copyStridedRef(src, c.srcBase, c.srcStrides, want, c.dstBase, c.dstStrides, c.dims);
        const what = `copy_strided ${elemBytes}B dims [${c.dims}] src strides [${c.srcStrides}] +${c.srcBase} dst strides [${c.dstStrides}] +${c.dstBase}`;
        expectExact(runCopy(c, elemBytes, src, dst0, c.dims, c.srcStrides, c.dstStrides), want, what);
        const col = collapseAxes(c.dims, [c.srcStrides, c.dstStrides]);
        if (col.dims.every((d) => d > 0)) {
          expectExact(runCopy(c, elemBytes, src, dst0, col.dims, col.strides[0], col.strides[1]), want, `${what} (collapsed)`);
        }
      }
    });
  }

  test('4-byte copies move bits: NaN payloads and -0 survive', () => {
    const src = new Uint32Array([0x7fc00001, 0xffa00000, 0x80000000, 0x7f800000, 1, 0xdeadbeef]);
    const c: CopyCase = { dims: [3, 2], srcLen: 6, srcBase: 0, srcStrides: [1, 3], dstLen: 6, dstBase: 0, dstStrides: [2, 1] };
    const want = new Uint32Array(6);
    copyStridedRef(src, 0, c.srcStrides, want, 0, c.dstStrides, c.dims);
    expectExact(runCopy(c, 4, src, new Uint32Array(6), c.dims, c.srcStrides, c.dstStrides), want, 'bit copy');
  });
});

describe('transpose_32', () => {
  test('every rows x cols in {0,1,7,8,9,63,65}^2', () => {
    const rng = new Prng(20);
    const sizes = [0, 1, 7, 8, 9, 63, 65];
    for (const rows of sizes) {
      for (const cols of sizes) {
        const src = Uint32Array.from({ length: rows * cols }, () => rng.int(0, 2 ** 32));
        const want = new Uint32Array(rows * cols);
        transpose32Ref(src, want, rows, cols);
        const got = withArena((a) => {
          const pd = a.alloc(4 * rows * cols);
          kernels().transpose_32(a.put(src), pd, rows, cols);
          return a.read(Uint32Array, pd, rows * cols);
        });
        expectExact(got, want, `transpose_32 ${rows}x${cols}`);
      }
    }
  });
});

describe('gather_rows and f32_scatter_add_rows', () => {
  test('gather_rows: 200 random cases, any row byte size, repeated indices', () => {
    const rng = new Prng(30);
    for (let k = 0; k < 200; k++) {
      const srcRows = rng.int(1, 40);
      const rowBytes = rng.pick([0, 1, 3, 4, 7, 16, 17, 64, 129]);
      const count = rng.pick([0, 1, 2, 5, 33, 100]);
      const src = Uint8Array.from({ length: srcRows * rowBytes }, () => rng.int(0, 256));
      const idx = Int32Array.from({ length: count }, () => (rng.bool(0.3) ? 0 : rng.int(0, srcRows)));
      const want = new Uint8Array(count * rowBytes);
      gatherRowsRef(src, idx, want, rowBytes);
      const got = withArena((a) => {
        const pd = a.alloc(count * rowBytes);
        kernels().gather_rows(a.put(src), a.put(idx), pd, count, rowBytes);
        return a.read(Uint8Array, pd, count * rowBytes);
      });
      expectExact(got, want, `gather_rows ${count} rows of ${rowBytes} bytes from ${srcRows}`);
    }
  });

  test('f32_scatter_add_rows: every row length, repeated indices accumulate in order', () => {
    const rng = new Prng(31);
    for (const n of SIZES) {
      for (let rep = 0; rep < 6; rep++) {
        const dstRows = rng.int(1, 6);
        const count = rng.pick([0, 1, 3, 8, 17]);
        const idx = Int32Array.from({ length: count }, () => rng.int(0, dstRows));
        const src = rng.f32Array(count * n, -10, 10).map((v) => v * 10 ** rng.int(-4, 5));
        const dst0 = rng.f32Array(dstRows * n, -1, 1);
        const want = dst0.slice();
        f32ScatterAddRowsRef(src, idx, want, n);
        const got = withArena((a) => {
          const pd = a.put(dst0);
          kernels().f32_scatter_add_rows(a.put(src), a.put(idx), pd, count, n);
          return a.readF32(pd, dstRows * n);
        });
        expectExact(got, want, `f32_scatter_add_rows n=${n} count=${count} into ${dstRows} rows, idx [${idx}]`);
      }
    }
  });
});

describe('gather_axis, f32_scatter_add_axis, f32_topk_rows, f32_scatter_add_along, f32_one_hot, bincount', () => {
  test('gather_axis and its scatter-add: random [outer, n, row] with 0/1/prime sizes and repeated indices', () => {
    const rng = new Prng(40);
    for (let k = 0; k < 150; k++) {
      const outer = rng.pick([0, 1, 2, 3, 7]);
      const n = rng.pick([1, 2, 5, 13]);
      const row = rng.pick([0, 1, 3, 4, 17, 33]);
      const count = rng.pick([0, 1, 2, 5, 9]);
      const idx = Int32Array.from({ length: count }, () => (rng.bool(0.3) ? n - 1 : rng.int(0, n)));
      const src = rng.f32Array(outer * n * row, -10, 10);
      const want = new Float32Array(outer * count * row);
      gatherAxisRef(src, idx, want, outer, n, row);
      const got = withArena((a) => {
        const pd = a.alloc(4 * want.length);
        kernels().gather_axis(a.put(src), a.put(idx), pd, outer, n, count, 4 * row);
        return a.readF32(pd, want.length);
      });
      expectExact(got, want, `gather_axis outer ${outer} n ${n} row ${row} idx [${idx}]`);
      const dy = rng.f32Array(outer * count * row, -10, 10).map((v) => v * 10 ** rng.int(-4, 5));
      const dst0 = rng.f32Array(outer * n * row, -1, 1);
      const wantDx = dst0.slice();
      f32ScatterAddAxisRef(dy, idx, wantDx, outer, n, row);
      const gotDx = withArena((a) => {
        const pd = a.put(dst0);
        kernels().f32_scatter_add_axis(a.put(dy), a.put(idx), pd, outer, n, count, row);
        return a.readF32(pd, dst0.length);
      });
      expectExact(gotDx, wantDx, `f32_scatter_add_axis outer ${outer} n ${n} row ${row} idx [${idx}]`);
    }
  });

  test('f32_topk_rows equals a stable descending sort (NaN first, ties by index) for every k, and its scatter-add', () => {
    const rng = new Prng(41);
    for (const n of [1, 2, 3, 7, 13, 31, 64]) {
      for (const rows of [0, 1, 3]) {
        const src = rng.f32Array(rows * n, -3, 3).map((v) => (rng.bool(0.3) ? Math.round(v) : v));
        for (let i = 0; i < src.length; i++) if (rng.bool(0.05)) src[i] = rng.pick([NaN, Infinity, -Infinity, -0]);
        for (const k of [0, 1, 2, Math.min(5, n), n].filter((v) => v <= n)) {
          const wv = new Float32Array(rows * k);
          const wi = new Int32Array(rows * k);
          f32TopkRowsRef(src, rows, n, k, wv, wi);
          const [gv, gi] = withArena((a) => {
            const pv = a.alloc(4 * rows * k);
            const pi = a.alloc(4 * rows * k);
            kernels().f32_topk_rows(a.put(src), rows, n, k, pv, pi);
            return [a.readF32(pv, rows * k), a.readI32(pi, rows * k)];
          });
          expectExact(gv, wv, `f32_topk_rows values rows ${rows} n ${n} k ${k}`);
          expectExact(gi, wi, `f32_topk_rows indices rows ${rows} n ${n} k ${k}`);
          const dy = rng.f32Array(rows * k, -2, 2);
          const want = new Float32Array(rows * n);
          f32ScatterAddAlongRef(dy, wi, want, rows, k, n);
          const got = withArena((a) => {
            const pd = a.put(new Float32Array(rows * n));
            kernels().f32_scatter_add_along(a.put(dy), a.put(wi), pd, rows, k, n);
            return a.readF32(pd, rows * n);
          });
          expectExact(got, want, `f32_scatter_add_along rows ${rows} n ${n} k ${k}`);
        }
      }
    }
  });

  test('f32_one_hot, i32_max_value and bincount (counts and weights, in index order) over 0/1/prime sizes', () => {
    const rng = new Prng(42);
    for (const count of [0, 1, 2, 7, 31, 100]) {
      for (const depth of [1, 2, 5, 17]) {
        const idx = Int32Array.from({ length: count }, () => rng.int(0, depth));
        const want = f32OneHotRef(idx, depth);
        const got = withArena((a) => {
          const pd = a.put(new Float32Array(count * depth).fill(7));
          kernels().f32_one_hot(a.put(idx), pd, count, depth);
          return a.readF32(pd, count * depth);
        });
        expectExact(got, want, `f32_one_hot count ${count} depth ${depth}`);
        const max = withArena((a) => kernels().i32_max_value(a.put(idx), count));
        expectExact(Int32Array.of(max), Int32Array.of(count === 0 ? -1 : Math.max(...idx)), `i32_max_value of [${idx}]`);
        const length = depth + rng.int(0, 3);
        const w = rng.f32Array(count, -5, 5).map((v) => v * 10 ** rng.int(-3, 4));
        const counts = withArena((a) => {
          const pd = a.put(new Int32Array(length).fill(9));
          kernels().bincount(a.put(idx), 0, count, pd, length);
          return a.readI32(pd, length);
        });
        expectExact(counts, bincountRef(idx, null, length) as Int32Array, `bincount counts of [${idx}] over ${length}`);
        const sums = withArena((a) => {
          const pd = a.put(new Float32Array(length).fill(9));
          kernels().bincount(a.put(idx), a.put(w), count, pd, length);
          return a.readF32(pd, length);
        });
        expectExact(sums, bincountRef(idx, w, length) as Float32Array, `bincount weights of [${idx}] over ${length}`);
      }
    }
  });
});
