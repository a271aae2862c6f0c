// uint8 x binary GEMM (assembly/gemm_u8b1.ts) against src/reference/gemm_u8b1.ts
// and against plain integer dot products of the ±1 weights; exact equality.
// The driver's leading dimensions, batch strides and tile ranges are checked
// on the raw exports against the twin with canary-guarded buffers.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { packBitsRef, packedWordsRef } from '../../src/reference/bitpack.js';
import { gemmU8B1Ref, uint8BinaryMatmulRef, type GemmU8B1RefArgs } from '../../src/reference/gemm_u8b1.js';
import { uint8BinaryMatmulF32 } from '../../src/kernels/gemm_u8b1.js';
import { i32View } from '../../src/runtime/views.js';
import { expectExact, kernels, Prng, withArena, type Arena, gridTiles, type Tile } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

// N covers every tail of the 16-channel blocks (staged partial blocks), K every
// tail of the 16-input steps and 4-input groups, word and 128-bit row
// boundaries, and the 4096-input u16 block boundary (several blocks).
const MS = [0, 1, 2, 3, 5];
const NS = [0, 1, 2, 3, 15, 16, 17, 31, 33];
const KS = [0, 1, 3, 4, 5, 15, 16, 17, 31, 32, 33, 100, 127, 128, 129, 784, 4095, 4096, 4097, 8200];

function bytes(rng: Prng, n: number): Uint8Array {
  // A quarter of the values are the extremes, which fill the byte and u16 lanes.
  return Uint8Array.from({ length: n }, () => {
    const r = rng.next();
    return r < 0.125 ? 0 : r < 0.25 ? 255 : Math.floor(rng.next() * 256);
  });
}

function plainDot(x: Uint8Array, M: number, K: number, w: Float32Array, N: number): Int32Array {
  const out = new Int32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * (w[n * K + k] < 0 ? -1 : 1);
      out[m * N + n] = s;
    }
  }
  return out;
}

describe('uint8BinaryMatmul', () => {
  test('equals the twin and integer ±1 dot products for every M, N, K tail; uint8 and float32 inputs agree', () => {
    let t = 0;
    for (const M of MS) {
      for (const N of NS) {
        for (const K of KS) {
          if (M * N * K > 300_000) continue;
          const rng = new Prng(3000 + t++);
          const xd = bytes(rng, M * K);
          const wd = rng.f32WithSpecials(N * K, -1, 1, [0, -0], 0.05);
          const x = sg.tensor(xd, [M, K], { dtype: 'uint8' });
          const xf = sg.tensor(Float32Array.from(xd), [M, K]);
          const w = sg.tensor(wd, [N, K]);
          const wb = sg.packBits(w);
          const what = `M=${M} N=${N} K=${K}`;
          const c = sg.uint8BinaryMatmul(x, wb);
          expect(c.shape).toEqual([M, N]);
          expect(c.dtype).toBe('int32');
          const want = uint8BinaryMatmulRef(xd, M, K, packBitsRef(wd, N, K), N, packedWordsRef(K));
          expectExact(c.dataSync(), want, what);
          expectExact(want, plainDot(xd, M, K, wd, N), `twin vs plain dot ${what}`);
          const cf = sg.uint8BinaryMatmul(xf, wb);
          expectExact(cf.dataSync(), want, `float32 x ${what}`);
          const f = uint8BinaryMatmulF32(x, wb);
          expect(f.dtype).toBe('float32');
          expectExact(f.dataSync(), Float32Array.from(want), `float32 output ${what}`);
          for (const v of [x, xf, w, wb, c, cf, f]) v.dispose();
        }
      }
    }
  });

  test('the largest sums: all 255 against alternating -1 / +1 channels, across u16 blocks', () => {
    for (const K of [4096, 4097, 10000]) {
      const x = sg.tensor(new Uint8Array(3 * K).fill(255), [3, K], { dtype: 'uint8' });
      const w = sg.tensor(Float32Array.from({ length: 17 * K }, (_, i) => (Math.floor(i / K) % 2 ? 1 : -1)), [17, K]);
      const wb = sg.packBits(w);
      const c = sg.uint8BinaryMatmul(x, wb);
      const row = Array.from({ length: 17 }, (_, n) => (n % 2 ? 255 * K : -255 * K));
      expect(Array.from(c.dataSync())).toEqual([...row, ...row, ...row]);
      for (const v of [x, w, wb, c]) v.dispose();
    }
  });

  test('scratch memory does not grow with M: 20000 rows need the input, the output and O(K) more', () => {
    const [M, K, N] = [20000, 784, 16];
    const x = sg.tensor(Uint8Array.from({ length: M * K }, (_, i) => (i * 131) & 255), [M, K], { dtype: 'uint8' });
    const wb = sg.tidy(() => sg.packBits(sg.randn([N, K], { seed: 8 })));
    const before = sg.memoryStats().memoryBytes;
    const c = sg.uint8BinaryMatmul(x, wb);
    // Tables for every row at once would take 32 bytes per 4 inputs: M·K·8 = 125 MB.
    expect(sg.memoryStats().memoryBytes - before).toBeLessThanOrEqual(32 * 2 ** 20); // growth comes in steps of several MiB
    const last = c.dataSync().subarray((M - 1) * N);
    const xd = x.dataSync().subarray((M - 1) * K);
    expectExact(last, uint8BinaryMatmulRef(xd, 1, K, wb.dataSync(), N, packedWordsRef(K)), 'last row');
    for (const v of [x, wb, c]) v.dispose();
  });

  test('the weight patterns are cached with wBits and rebuilt after markModified', () => {
    const K = 40;
    const x = sg.tensor(Uint8Array.from({ length: K }, (_, i) => i), [1, K], { dtype: 'uint8' });
    const wb = sg.tidy(() => sg.packBits(sg.ones([2, K])));
    const sum = (K * (K - 1)) / 2;
    const before = sg.uint8BinaryMatmul(x, wb);
    expect(Array.from(before.dataSync())).toEqual([sum, sum]);
    // Make channel 1's weight 5 negative (bit 5 of its first word), in place.
    i32View(wb.offset, wb.size)[packedWordsRef(K)] |= 1 << 5;
    sg.markModified(wb);
    const after = sg.uint8BinaryMatmul(x, wb);
    expect(Array.from(after.dataSync())).toEqual([sum, sum - 2 * 5]);
    for (const v of [x, wb, before, after]) v.dispose();
  });

  test('errors: dtype, rank, word count, padding bits, non-integer or out-of-range floats, disposed', () => {
    const wb = sg.tidy(() => sg.packBits(sg.randn([3, 20], { seed: 4 })));
    const x = sg.tensor(new Uint8Array(40), [2, 20], { dtype: 'uint8' });
    const xi = sg.tensor(new Int32Array(40), [2, 20], { dtype: 'int32' });
    expect(() => sg.uint8BinaryMatmul(xi, wb)).toThrow(/uint8BinaryMatmul: x must be uint8 or float32, got int32/);
    const x1 = sg.tensor(new Uint8Array(20), [20], { dtype: 'uint8' });
    expect(() => sg.uint8BinaryMatmul(x1, wb)).toThrow(/uint8BinaryMatmul: x must be 2-D/);
    const x200 = sg.tensor(new Uint8Array(400), [2, 200], { dtype: 'uint8' });
    expect(() => sg.uint8BinaryMatmul(x200, wb)).toThrow(/uint8BinaryMatmul: wBits must have ceil\(k\/128\)\*4 = 8 words per row for k = 200, got shape \[3,4\]/);
    // K = 10 keeps 4 words, but elements 10..19 of the weight rows may be 1 bits.
    const x10 = sg.tensor(new Uint8Array(20), [2, 10], { dtype: 'uint8' });
    expect(() => sg.uint8BinaryMatmul(x10, wb)).toThrow(/uint8BinaryMatmul: wBits has \d+ rows? with 1 bits past k = 10; padding bits must be 0/);
    expect(() => sg.uint8BinaryMatmul(x, x)).toThrow(/uint8BinaryMatmul: wBits must be int32, got uint8/);
    sg.uint8BinaryMatmul(x, wb).dispose(); // builds the cached patterns
    const before = sg.memoryStats().bytesInUse;
    for (const bad of [0.5, 256, -1, NaN, Infinity, -Infinity]) {
      const data = new Float32Array(2 * 20).fill(7);
      data[3] = bad; // in the SIMD body
      data[37] = bad; // in the scalar tail (20 = 16 + 4)
      const xf = sg.tensor(data, [2, 20]);
      expect(() => sg.uint8BinaryMatmul(xf, wb)).toThrow(/uint8BinaryMatmul: x must hold integers in \[0, 255\] \(e\.g\. raw pixels\); 2 values are not/);
      xf.dispose();
    }
    const quarter = sg.tensor(new Float32Array(40).fill(0.25), [2, 20]);
    expect(() => sg.uint8BinaryMatmul(quarter, wb)).toThrow(/40 values are not/);
    quarter.dispose();
    // Failed calls free their output and workspace.
    expect(sg.memoryStats().bytesInUse).toBe(before);
    const d = sg.tensor(new Uint8Array(20), [1, 20], { dtype: 'uint8' });
    d.dispose();
    expect(() => sg.uint8BinaryMatmul(d, wb)).toThrow(/uint8BinaryMatmul: x .*disposed/);
    for (const v of [wb, x, xi, x1, x200, x10]) v.dispose();
  });
});

// ---- the driver contract, on the raw exports ----------------------------------


interface U8Case { M: number; N: number; K: number; f32: boolean; out: 'int32' | 'float32'; padA?: number; padB?: number; padC?: number; batch?: number; bcastA?: boolean; bcastB?: boolean; lead?: number }
interface U8Built { c: U8Case; args: GemmU8B1RefArgs; words: number; X: Uint8Array | Float32Array; B: Int32Array; C: Int32Array | Float32Array }

function buildU8(c: U8Case, rng: Prng): U8Built {
  const { M, N, K } = c;
  const words = packedWordsRef(K);
  const lead = c.lead ?? 0, batch = c.batch ?? 1;
  const lda = K + (c.padA ?? 0) || 1, ldb = words + (c.padB ?? 0) || 1, ldc = N + (c.padC ?? 0) || 1;
  const strideA = c.bcastA ? 0 : lda * M + 3, strideB = c.bcastB ? 0 : ldb * N + 5, strideC = ldc * M + 1;
  const span = (stride: number, rows: number, ld: number) => Math.max(lead + (batch - 1) * stride + rows * ld, 1);
  const nX = span(strideA, M, lda);
  const pixels = Array.from({ length: nX }, () => (rng.bool(0.2) ? rng.pick([0, 255]) : rng.int(0, 256)));
  const X = c.f32 ? Float32Array.from(pixels) : Uint8Array.from(pixels);
  const B = Int32Array.from({ length: span(strideB, N, ldb) }, () => rng.int(-(2 ** 31), 2 ** 31));
  const nC = span(strideC, M, ldc);
  const C = c.out === 'int32' ? Int32Array.from({ length: nC }, () => rng.int(-1e6, 1e6)) : rng.f32Array(nC);
  return { c, words, X, B, C, args: { a: lead, lda, b: lead, ldb, c: lead, ldc, batch, strideA, strideB, strideC, m0: 0, m1: M, n0: 0, n1: N } };
}

function runU8(arena: Arena, x: U8Built, tiles: Tile[]): U8Built['C'] {
  const k = kernels();
  const { N, K } = x.c;
  const { args } = x;
  const px = arena.put(x.X), pb = arena.put(x.B), pc = arena.put(x.C);
  const bytes = k.gemm_u8b1_packed_w_bytes(N, K), nb = x.c.bcastB ? 1 : args.batch;
  const w = arena.alloc(Math.max(bytes * nb, 1));
  for (let t = 0; t < nb; t++) k.gemm_u8b1_pack_w(pb + (args.b + t * args.strideB) * 4, N, args.ldb, K, w + t * bytes);
  const work = arena.alloc(k.gemm_u8b1_workspace_bytes(K));
  const elem = x.c.f32 ? 4 : 1;
  const run = x.c.out === 'int32' ? k.gemm_u8b1 : k.gemm_u8b1_f32;
  for (const { m0, m1, n0, n1 } of tiles) {
    run(K, px + args.a * elem, args.lda, x.c.f32 ? 1 : 0, w, pc + args.c * 4, args.ldc,
        args.batch, args.strideA, x.c.bcastB ? 0 : bytes, args.strideC, m0, m1, n0, n1, work);
  }
  arena.checkGuards();
  return arena.read(x.C.constructor as any, pc, x.C.length);
}

function twinU8(x: U8Built, tile: Tile): U8Built['C'] {
  const C = x.C.slice();
  gemmU8B1Ref({ ...x.args, ...tile }, x.c.K, x.X, x.B, C);
  return C;
}

function checkU8(c: U8Case, seed: number, tile?: Tile): void {
  const x = buildU8(c, new Prng(seed));
  const t = tile ?? { m0: 0, m1: c.M, n0: 0, n1: c.N };
  withArena((arena) => expectExact(runU8(arena, x, [t]), twinU8(x, t), `${JSON.stringify(c)} tile ${JSON.stringify(t)} seed ${seed}`));
}


describe('gemm_u8b1 driver: leading dimensions, batches, tiles', () => {
  test('edge dims, K not a multiple of 4/16/32/128, ld past the rows, unaligned offsets, uint8 and float32 x', () => {
    const rng = new Prng(81);
    const dims = [0, 1, 2, 3, 5, 15, 16, 17, 33];
    for (let t = 0; t < 120; t++) {
      checkU8({ M: rng.pick(dims), N: rng.pick(dims), K: rng.pick([0, 1, 3, 5, 15, 17, 33, 127, 129, 300]), f32: rng.bool(), out: rng.bool() ? 'int32' : 'float32',
                padA: rng.int(0, 5), padB: rng.int(0, 5), padC: rng.int(0, 5), lead: rng.int(0, 4) }, 40000 + t);
    }
  });

  test('batches with strides, and stride 0 broadcasting x or the weights', () => {
    const rng = new Prng(82);
    for (let t = 0; t < 48; t++) {
      checkU8({ M: rng.pick([1, 2, 5]), N: rng.pick([1, 16, 19, 40]), K: rng.pick([0, 1, 40, 130]), f32: t % 2 === 0, out: 'int32',
                batch: rng.int(0, 5), bcastA: t % 3 === 1, bcastB: t % 3 === 2, padC: rng.int(0, 3), lead: 1 }, 41000 + t);
    }
  });

  test('every column range of a product (partial 16-channel blocks), every row range, and K past one carry block', () => {
    let n = 0;
    const N = 37;
    for (let n0 = 0; n0 <= N; n0 += 3) {
      for (let n1 = n0; n1 <= N; n1 += 5) {
        for (const [m0, m1] of [[0, 3], [1, 2], [2, 2]]) checkU8({ M: 3, N, K: 45, f32: n % 2 === 0, out: 'int32', padC: 2, batch: 2, lead: 1 }, 42000 + n++, { m0, m1, n0, n1 });
      }
    }
    for (const [n0, n1] of [[0, 37], [3, 20], [17, 31], [16, 32], [30, 37]]) {
      checkU8({ M: 2, N, K: 4100, f32: false, out: 'float32', padC: 1 }, 43000 + n++, { m0: 0, m1: 2, n0, n1 });
    }
    expect(n).toBe(176);
  });

  test('a union of disjoint tiles gives exactly the bits of one full call', () => {
    fc.assert(fc.property(fc.record({
      f32: fc.boolean(), M: fc.integer({ min: 1, max: 9 }), N: fc.integer({ min: 1, max: 50 }), K: fc.constantFrom(1, 31, 129, 260),
      rowCuts: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }), colCuts: fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 5 }),
      batch: fc.integer({ min: 1, max: 3 }), seed: fc.integer({ min: 1, max: 1e6 }),
    }), (p) => {
      const x = buildU8({ M: p.M, N: p.N, K: p.K, f32: p.f32, out: 'int32', batch: p.batch, padC: 2, lead: 1 }, new Prng(p.seed));
      const tiles = gridTiles(p.M, p.N, p.rowCuts, p.colCuts, p.seed);
      withArena((arena) => {
        const full = { m0: 0, m1: p.M, n0: 0, n1: p.N };
        const whole = runU8(arena, x, [full]);
        expectExact(runU8(arena, x, tiles), whole, `tiles ${JSON.stringify(tiles)}`);
        expectExact(whole, twinU8(x, full), 'full call vs twin');
      });
    }), { numRuns: 100, seed: 3 });
  });
});
