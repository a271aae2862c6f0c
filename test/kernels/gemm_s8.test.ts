// int8 GEMM (assembly/gemm_s8.ts) against src/reference/gemm_s8.ts: exact
// int32 sums in both B layouts, requantize/dequantize outputs, extremes
// (-128·-128 over K = 4096), round-half-even ties and errors; the driver's
// leading dimensions, batch strides and tile ranges against the twin, with
// canary-guarded buffers (a write outside C's tile fails).
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { rt } from '../../src/runtime/context.js';
import { affineRef, gemmS8Ref, int8MatmulRef, requantizeRef, type GemmS8Mode, type GemmS8RefArgs } from '../../src/reference/gemm_s8.js';
import { expectExact, kernels, Prng, withArena, type Arena, gridTiles, type Tile } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const DIMS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 257];

function shapes(seed: number, count: number): [number, number, number, boolean][] {
  const rng = new Prng(seed);
  const out: [number, number, number, boolean][] = [];
  while (out.length < count) {
    const M = rng.pick(DIMS), N = rng.pick(DIMS), K = rng.pick(DIMS);
    if (M * N * K <= 1.5e6) out.push([M, N, K, out.length % 2 === 1]);
  }
  return out;
}

function int8s(rng: Prng, n: number): Int8Array {
  const out = new Int8Array(n);
  // A share of the extremes so -128 and 127 meet in many products.
  for (let i = 0; i < n; i++) out[i] = rng.bool(0.15) ? rng.pick([-128, 127, -127, 0]) : rng.int(-128, 128);
  return out;
}

function full(v: Float32Array, N: number): Float32Array {
  return v.length === N ? v : new Float32Array(N).fill(v[0]);
}

describe('int8Matmul', () => {
  test('equals the twin on 300 random shapes, b as [K, N] and as [N, K]', () => {
    let t = 0;
    for (const [M, N, K, tb] of shapes(51, 300)) {
      const rng = new Prng(5000 + t++);
      const ad = int8s(rng, M * K), bd = int8s(rng, K * N);
      const a = sg.tensor(ad, [M, K], { dtype: 'int8' });
      const b = sg.tensor(bd, tb ? [N, K] : [K, N], { dtype: 'int8' });
      const c = sg.int8Matmul(a, b, { transposeB: tb });
      expect(c.shape).toEqual([M, N]);
      expect(c.dtype).toBe('int32');
      expectExact(c.dataSync(), int8MatmulRef(ad, bd, M, N, K, tb), `M=${M} N=${N} K=${K} transposeB=${tb}`);
      for (const x of [a, b, c]) x.dispose();
    }
  });

  test('K = 4096 of -128·-128 (and -128·127) accumulates exactly in int32', () => {
    const K = 4096;
    for (const [va, vb] of [[-128, -128], [-128, 127], [127, 127]]) {
      const a = sg.full([5, K], va, { dtype: 'int8' });
      const b = sg.full([9, K], vb, { dtype: 'int8' });
      const c = sg.int8Matmul(a, b, { transposeB: true });
      expect(Array.from(c.dataSync())).toEqual(new Array(45).fill(va * vb * K));
      const bt = sg.full([K, 9], vb, { dtype: 'int8' });
      const c2 = sg.int8Matmul(a, bt);
      expect(Array.from(c2.dataSync())).toEqual(new Array(45).fill(va * vb * K));
      for (const x of [a, b, c, bt, c2]) x.dispose();
    }
  });

  test('the packed weights are cached and rebuilt after markModified', () => {
    const a = sg.tensor([[1, 2, 3]], [1, 3], { dtype: 'int8' });
    const b = sg.tensor([[1, 1, 1], [2, 0, -1]], [2, 3], { dtype: 'int8' });
    const c1 = sg.int8Matmul(a, b, { transposeB: true });
    expect(c1.toArray()).toEqual([[6, -1]]);
    // Write the weights in place, then tell the derived-data cache.
    new Int8Array(rt().memory.buffer, b.offset, 6).set([1, 1, 1, 0, 0, 1]);
    sg.markModified(b);
    const c2 = sg.int8Matmul(a, b, { transposeB: true });
    expect(c2.toArray()).toEqual([[6, 3]]);
    for (const x of [a, b, c1, c2]) x.dispose();
  });

  test('errors: dtype, rank, inner dimension, disposed, options', () => {
    const a = sg.zeros([2, 3], { dtype: 'int8' });
    const b = sg.zeros([3, 4], { dtype: 'int8' });
    const f = sg.zeros([3, 4]);
    expect(() => sg.int8Matmul(f, b)).toThrow(/int8Matmul: a must be int8, got float32/);
    expect(() => sg.int8Matmul(a, f)).toThrow(/int8Matmul: b must be int8, got float32/);
    expect(() => sg.int8Matmul(a, b, { transposeB: true })).toThrow(/int8Matmul: inner dimensions differ: a is \[2, 3\] but bᵀ is \[4, 3\]/);
    const v = sg.zeros([3], { dtype: 'int8' });
    expect(() => sg.int8Matmul(a, v)).toThrow(/int8Matmul: b must be 2-D/);
    expect(() => sg.int8Matmul(a, b, 5 as any)).toThrow(/int8Matmul: options must be an object/);
    const d = sg.zeros([3, 4], { dtype: 'int8' });
    d.dispose();
    expect(() => sg.int8Matmul(a, d)).toThrow(/int8Matmul: b .*disposed/);
    const big = sg.zeros([1, 131072], { dtype: 'int8' });
    const bigB = sg.zeros([1, 131072], { dtype: 'int8' });
    expect(() => sg.int8Matmul(big, bigB, { transposeB: true })).toThrow(/int8Matmul: K = 131072 is too large/);
    for (const x of [a, b, f, v, big, bigB]) x.dispose();
  });
});

describe('small M (the 1x8 single-row kernel)', () => {
  // M % 4 == 1 sends one row through gemm_s8_1x8__simd: odd and even k-pair
  // counts (its loop takes two at a time), every channel tail and all outputs.
  test('int32, dequantize and requantize equal the twin for M in {1, 5, 9}', () => {
    const Ns = [1, 3, 7, 8, 9, 16, 17, 40];
    const Ks = [1, 2, 3, 4, 5, 6, 7, 31, 32, 33, 64, 65, 255, 784];
    let t = 0;
    for (const M of [1, 5, 9]) {
      for (const N of Ns) {
        for (const K of Ks) {
          const tb = t % 2 === 0;
          const rng = new Prng(9000 + t++);
          const ad = int8s(rng, M * K), bd = int8s(rng, K * N);
          const a = sg.tensor(ad, [M, K], { dtype: 'int8' });
          const b = sg.tensor(bd, tb ? [N, K] : [K, N], { dtype: 'int8' });
          const acc = int8MatmulRef(ad, bd, M, N, K, tb);
          const c = sg.int8Matmul(a, b, { transposeB: tb });
          expectExact(c.dataSync(), acc, `int32 M=${M} N=${N} K=${K}`);
          const scaleB = rng.f32Array(N, 0.001, 0.1), bias = rng.f32Array(N, -2, 2);
          const scaleA = rng.float(0.001, 0.1), scaleOut = rng.float(0.05, 0.5);
          const mult = scaleB.map((s) => Math.fround(Math.fround(scaleA) * s));
          const deq = sg.int8MatmulDequantize(a, b, { transposeB: tb, scaleA, scaleB, bias });
          expectExact(deq.dataSync(), affineRef(acc, M, N, mult, bias), `dequantize M=${M} N=${N} K=${K}`);
          const rq = sg.int8MatmulRequantize(a, b, { transposeB: tb, scaleA, scaleB, bias, scaleOut });
          const so = Math.fround(scaleOut);
          const rmult = mult.map((m) => Math.fround(m / so)), radd = bias.map((v) => Math.fround(v / so));
          expectExact(rq.dataSync(), requantizeRef(acc, M, N, rmult, radd), `requantize M=${M} N=${N} K=${K}`);
          for (const x of [a, b, c, deq, rq]) x.dispose();
        }
      }
    }
  });
});

describe('int8MatmulDequantize / int8MatmulRequantize', () => {
  test('equal the twin on 150 random shapes with per-tensor and per-channel scales and bias', () => {
    let t = 0;
    for (const [M, N, K, tb] of shapes(61, 150)) {
      const rng = new Prng(6000 + t++);
      const ad = int8s(rng, M * K), bd = int8s(rng, K * N);
      const a = sg.tensor(ad, [M, K], { dtype: 'int8' });
      const b = sg.tensor(bd, tb ? [N, K] : [K, N], { dtype: 'int8' });
      const perChannel = t % 2 === 0;
      const scaleA = rng.float(0.001, 0.1);
      const scaleB = perChannel ? rng.f32Array(N, 0.001, 0.1) : Float32Array.of(rng.float(0.001, 0.1));
      const bias = rng.f32Array(N, -2, 2);
      const scaleOut = rng.float(0.5, 4);
      const acc = int8MatmulRef(ad, bd, M, N, K, tb);
      const mult = full(scaleB, N).map((s) => Math.fround(Math.fround(scaleA) * s));
      const deq = sg.int8MatmulDequantize(a, b, { transposeB: tb, scaleA, scaleB: perChannel ? scaleB : scaleB[0], bias });
      expect(deq.dtype).toBe('float32');
      expectExact(deq.dataSync(), affineRef(acc, M, N, mult, bias), `dequantize M=${M} N=${N} K=${K}`);
      const rq = sg.int8MatmulRequantize(a, b, { transposeB: tb, scaleA, scaleB: perChannel ? scaleB : scaleB[0], bias, scaleOut });
      expect(rq.dtype).toBe('int8');
      const so = Math.fround(scaleOut);
      const rmult = mult.map((m) => Math.fround(m / so));
      const radd = bias.map((v) => Math.fround(v / so));
      expectExact(rq.dataSync(), requantizeRef(acc, M, N, rmult, radd), `requantize M=${M} N=${N} K=${K}`);
      for (const x of [a, b, deq, rq]) x.dispose();
    }
  });

  test('requantize rounds half to even and saturates symmetrically to [-127, 127]', () => {
    // acc = b[n] (K = 1, a = 1); mult = 0.5 puts ties at odd acc.
    const bvals = [1, 3, 5, 7, -1, -3, -5, 127, -128, 0, 2];
    const a = sg.tensor([[1]], [1, 1], { dtype: 'int8' });
    const b = sg.tensor([bvals], [1, bvals.length], { dtype: 'int8' });
    const half = sg.int8MatmulRequantize(a, b, { scaleA: 1, scaleB: 0.5, scaleOut: 1 });
    expect(half.toArray()).toEqual([[0, 2, 2, 4, 0, -2, -2, 64, -64, 0, 1]]);
    const sat = sg.int8MatmulRequantize(a, b, { scaleA: 1, scaleB: 4, scaleOut: 1 });
    expect(sat.toArray()).toEqual([[4, 12, 20, 28, -4, -12, -20, 127, -127, 0, 8]]);
    const ties = sg.tensor([[1, 3, -5]], [1, 3], { dtype: 'int8' });
    const withBias = sg.int8MatmulRequantize(a, ties, { scaleA: 1, scaleB: 1, scaleOut: 2, bias: [0, 2, 0] });
    // 1/2 = 0.5 -> 0; (3 + 2)/2 = 2.5 -> 2; -5/2 = -2.5 -> -2
    expect(withBias.toArray()).toEqual([[0, 2, -2]]);
    for (const x of [a, b, half, sat, ties, withBias]) x.dispose();
  });

  test('errors: missing, non-positive, NaN and wrongly sized scales', () => {
    const a = sg.zeros([2, 3], { dtype: 'int8' });
    const b = sg.zeros([4, 3], { dtype: 'int8' });
    const o = { transposeB: true };
    expect(() => sg.int8MatmulDequantize(a, b, { ...o, scaleB: 1 } as any)).toThrow(/int8MatmulDequantize: scaleA is required/);
    expect(() => sg.int8MatmulDequantize(a, b, { ...o, scaleA: 0, scaleB: 1 })).toThrow(/int8MatmulDequantize: scaleA\[0\] must be > 0, got 0/);
    expect(() => sg.int8MatmulDequantize(a, b, { ...o, scaleA: 1, scaleB: [1, 2] })).toThrow(/scaleB must have 1 value \(per tensor\) or 4 \(one per channel\), got 2/);
    expect(() => sg.int8MatmulRequantize(a, b, { ...o, scaleA: 1, scaleB: 1, scaleOut: NaN })).toThrow(/int8MatmulRequantize: scaleOut\[0\] must be a finite number/);
    expect(() => sg.int8MatmulRequantize(a, b, { ...o, scaleA: 1, scaleB: -1, scaleOut: 1 })).toThrow(/scaleB\[0\] must be > 0/);
    for (const x of [a, b]) x.dispose();
  });
});

// ---- the driver contract, on the raw exports ----------------------------------

interface S8Case {
  M: number; N: number; K: number; transB: boolean; mode: GemmS8Mode;
  padA?: number; padB?: number; padC?: number; batch?: number; bcastA?: boolean; bcastB?: boolean; lead?: number;
}
interface S8Built { c: S8Case; args: GemmS8RefArgs; A: Int8Array; B: Int8Array; C: Int32Array | Float32Array | Int8Array; mult: Float32Array; add: Float32Array }

function buildS8(c: S8Case, rng: Prng): S8Built {
  const { M, N, K, transB } = c;
  const lead = c.lead ?? 0, batch = c.batch ?? 1;
  const lda = K + (c.padA ?? 0) || 1, ldb = (transB ? K : N) + (c.padB ?? 0) || 1, ldc = N + (c.padC ?? 0) || 1;
  const rowsB = transB ? N : K;
  const strideA = c.bcastA ? 0 : lda * M + 5, strideB = c.bcastB ? 0 : ldb * rowsB + 3, strideC = ldc * M + 1;
  const span = (stride: number, rows: number, ld: number) => Math.max(lead + (batch - 1) * stride + rows * ld, 1);
  const A = int8s(rng, span(strideA, M, lda)), B = int8s(rng, span(strideB, rowsB, ldb));
  const nC = span(strideC, M, ldc);
  const C = c.mode === 'int32' ? Int32Array.from({ length: nC }, () => rng.int(-1e6, 1e6))
    : c.mode === 'float32' ? rng.f32Array(nC) : Int8Array.from({ length: nC }, () => rng.int(-128, 128));
  const mult = Float32Array.from({ length: N }, () => rng.float(1e-4, 0.05)), add = rng.f32Array(N, -3, 3);
  const args = { K, transB, a: lead, lda, b: lead, ldb, c: lead, ldc, batch, strideA, strideB, strideC, m0: 0, m1: M, n0: 0, n1: N };
  return { c, args, A, B, C, mult, add };
}


/** Packs each B of the batch, then runs one call per tile, each with a workspace of exactly its rows. */
function runS8(arena: Arena, x: S8Built, tiles: Tile[]): S8Built['C'] {
  const k = kernels();
  const { N, K, transB, mode } = x.c;
  const { args } = x;
  const pa = arena.put(x.A), pb = arena.put(x.B), pc = arena.put(x.C);
  const bytes = k.gemm_s8_packed_b_bytes(N, K), nb = x.c.bcastB ? 1 : args.batch;
  const packed = arena.alloc(Math.max(bytes * nb, 1));
  for (let t = 0; t < nb; t++) k.gemm_s8_pack_b(pb + args.b + t * args.strideB, args.ldb, N, K, transB ? 1 : 0, packed + t * bytes);
  const pm = arena.f32(x.mult), pd = arena.f32(x.add);
  const elem = mode === 'int8' ? 1 : 4;
  for (const { m0, m1, n0, n1 } of tiles) {
    const work = arena.alloc(Math.max(k.gemm_s8_workspace_bytes(m1 - m0, K), 1));
    const common = [K, pa + args.a, args.lda, packed, pc + args.c * elem, args.ldc, args.batch, args.strideA, x.c.bcastB ? 0 : bytes, args.strideC, m0, m1, n0, n1, work] as const;
    if (mode === 'int32') k.gemm_s8(...common);
    else if (mode === 'float32') k.gemm_s8_dequant(...common, pm, pd);
    else k.gemm_s8_requant(...common, pm, pd);
  }
  arena.checkGuards();
  return arena.read(x.C.constructor as any, pc, x.C.length);
}

function twinS8(x: S8Built, tile: Tile): S8Built['C'] {
  const C = x.C.slice();
  gemmS8Ref({ ...x.args, ...tile }, x.A, x.B, C, x.c.mode, x.mult, x.add);
  return C;
}

function checkS8(c: S8Case, seed: number, tile?: Tile): void {
  const x = buildS8(c, new Prng(seed));
  const t = tile ?? { m0: 0, m1: c.M, n0: 0, n1: c.N };
  withArena((arena) => expectExact(runS8(arena, x, [t]), twinS8(x, t), `${JSON.stringify(c)} tile ${JSON.stringify(t)} seed ${seed}`));
}

const MODES: GemmS8Mode[] = ['int32', 'float32', 'int8'];

describe('gemm_s8 driver: leading dimensions, batches, tiles', () => {
  test('edge dims, K not a multiple of 2/16/32/128, lda/ldb/ldc past the rows, unaligned offsets', () => {
    const rng = new Prng(91);
    const dims = [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33];
    let n = 0;
    for (const mode of MODES) {
      for (let t = 0; t < 60; t++) {
        checkS8({ M: rng.pick(dims), N: rng.pick(dims), K: rng.pick([0, 1, 2, 3, 15, 17, 33, 127, 129, 300]), transB: rng.bool(), mode,
                  padA: rng.int(0, 5), padB: rng.int(0, 5), padC: rng.int(0, 5), lead: rng.int(0, 4) }, 20000 + n++);
      }
    }
    expect(n).toBe(180);
  });

  test('batches with strides, and stride 0 broadcasting A or B', () => {
    const rng = new Prng(92);
    let n = 0;
    for (const mode of MODES) {
      for (let t = 0; t < 24; t++) {
        checkS8({ M: rng.pick([1, 2, 5, 9]), N: rng.pick([1, 7, 8, 19]), K: rng.pick([0, 1, 6, 35]), transB: rng.bool(), mode,
                  batch: rng.int(0, 5), bcastA: t % 3 === 1, bcastB: t % 3 === 2, padC: rng.int(0, 3), lead: 1 }, 21000 + n++);
      }
    }
    expect(n).toBe(72);
  });

  test('every tile range of a small product, including empty ones and ones not aligned to the 4x8 tile', () => {
    let n = 0;
    for (const mode of MODES) {
      const M = 6, N = 19, K = 13;
      for (let m0 = 0; m0 <= M; m0++) {
        for (let m1 = m0; m1 <= M; m1++) {
          for (const [n0, n1] of [[0, 0], [0, 19], [4, 4], [1, 7], [3, 12], [7, 9], [8, 16], [15, 19], [18, 19]]) {
            checkS8({ M, N, K, transB: n % 2 === 0, mode, padC: 3, batch: 2, lead: 1 }, 22000 + n++, { m0, m1, n0, n1 });
          }
        }
      }
    }
    expect(n).toBe(3 * 28 * 9);
  });

  test('a union of disjoint tiles gives exactly the bits of one full call', () => {
    fc.assert(fc.property(fc.record({
      mode: fc.constantFrom(...MODES), transB: fc.boolean(),
      M: fc.integer({ min: 1, max: 23 }), N: fc.integer({ min: 1, max: 41 }), K: fc.constantFrom(1, 2, 31, 130),
      rowCuts: fc.array(fc.integer({ min: 0, max: 23 }), { maxLength: 4 }), colCuts: fc.array(fc.integer({ min: 0, max: 41 }), { maxLength: 5 }),
      batch: fc.integer({ min: 1, max: 3 }), seed: fc.integer({ min: 1, max: 1e6 }),
    }), (p) => {
      const x = buildS8({ M: p.M, N: p.N, K: p.K, transB: p.transB, mode: p.mode, batch: p.batch, padC: 2, lead: 1 }, new Prng(p.seed));
      const tiles = gridTiles(p.M, p.N, p.rowCuts, p.colCuts, p.seed);
      withArena((arena) => {
        const whole = runS8(arena, x, [{ m0: 0, m1: p.M, n0: 0, n1: p.N }]);
        expectExact(runS8(arena, x, tiles), whole, `tiles ${JSON.stringify(tiles)}`);
        expectExact(whole, twinS8(x, { m0: 0, m1: p.M, n0: 0, n1: p.N }), 'full call vs twin');
      });
    }), { numRuns: 120, seed: 9 });
  });
});

