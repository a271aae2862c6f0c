// Binary GEMMs (assembly/gemm_b1.ts) against src/reference/gemm_b1.ts and
// against plain float dot products of the ±1 matrices; exact equality. The
// drivers' leading dimensions, batch strides and tile ranges are checked on
// the raw exports against the twins with canary-guarded buffers.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { packBitsRef, packedWordsRef } from '../../src/reference/bitpack.js';
import { binaryMatmulRef, binaryMatmulScaledRef, binaryWeightsMatmulRef, gemmB1Ref, gemmB1wF32Ref, type GemmB1Mode, type GemmB1RefArgs } from '../../src/reference/gemm_b1.js';
import { binaryMatmulF32 } from '../../src/kernels/gemm_b1.js';
import { expectExact, kernels, Prng, withArena, type Arena, gridTiles, type Tile } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const DIMS = [0, 1, 2, 3, 5, 7, 11, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 257];
const KS = [1, 2, 3, 5, 7, 31, 32, 33, 63, 64, 65, 97, 127, 128, 129, 255, 256, 257, 384, 509, 4000, 4096, 4099, 8200];

/** Random shapes with M·N·K bounded so the plain-JS oracles stay fast. */
function shapes(seed: number, count: number): [number, number, number][] {
  const rng = new Prng(seed);
  const out: [number, number, number][] = [];
  while (out.length < count) {
    const M = rng.pick(DIMS), N = rng.pick(DIMS), K = rng.pick(KS);
    if (M * N * K <= 3e6) out.push([M, N, K]);
  }
  return out;
}

/** packBits of a seeded randn matrix (the float matrix is freed). */
function randomBits(shape: number[], seed: number) {
  const x = sg.randn(shape, { seed });
  try {
    return sg.packBits(x);
  } finally {
    x.dispose();
  }
}

function signMatrix(data: Float32Array): Float32Array {
  return data.map((v) => (v < 0 ? -1 : 1));
}

describe('binaryMatmul', () => {
  test('equals the twin and the float ±1 dot products on 250 random shapes', () => {
    let t = 0;
    for (const [M, N, K] of shapes(21, 250)) {
      const rng = new Prng(1000 + t++);
      const ad = rng.f32WithSpecials(M * K, -1, 1, [0, -0], 0.05);
      const bd = rng.f32WithSpecials(N * K, -1, 1, [0, -0], 0.05);
      const a = sg.tensor(ad, [M, K]), b = sg.tensor(bd, [N, K]);
      const ab = sg.packBits(a), bb = sg.packBits(b);
      const c = sg.binaryMatmul(ab, bb, K);
      expect(c.shape).toEqual([M, N]);
      expect(c.dtype).toBe('int32');
      const got = c.dataSync();
      const words = packedWordsRef(K);
      expectExact(got, binaryMatmulRef(packBitsRef(ad, M, K), packBitsRef(bd, N, K), M, N, K, words), `M=${M} N=${N} K=${K}`);
      const sa = signMatrix(ad), sb = signMatrix(bd);
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let dot = 0;
          for (let k = 0; k < K; k++) dot += sa[m * K + k] * sb[n * K + k];
          if (got[m * N + n] !== dot) expect.fail(`M=${M} N=${N} K=${K}: C[${m}, ${n}] = ${got[m * N + n]}, float dot ${dot}`);
        }
      }
      for (const x of [a, b, ab, bb, c]) x.dispose();
    }
  });

  test('k = 0 with empty rows gives zeros; all-equal and all-opposite rows give ±k', () => {
    const e = sg.zeros([3, 0]);
    const eb = sg.packBits(e);
    const z = sg.binaryMatmul(eb, eb, 0);
    expect(z.toArray()).toEqual([[0, 0, 0], [0, 0, 0], [0, 0, 0]]);
    const K = 4096;
    const pos = sg.ones([4, K]), neg = sg.full([5, K], -1);
    const pb = sg.packBits(pos), nb = sg.packBits(neg);
    const c1 = sg.binaryMatmul(pb, pb, K), c2 = sg.binaryMatmul(pb, nb, K);
    expect(Array.from(c1.dataSync())).toEqual(new Array(16).fill(K));
    expect(Array.from(c2.dataSync())).toEqual(new Array(20).fill(-K));
    for (const x of [e, eb, z, pos, neg, pb, nb, c1, c2]) x.dispose();
  });

  test('errors: dtype, rank, word count, k range, padding bits, disposed', () => {
    const a = randomBits([3, 100], 1);
    const b = randomBits([2, 100], 2);
    const f = sg.zeros([3, 4]);
    expect(() => sg.binaryMatmul(f, b, 100)).toThrow(/binaryMatmul: aBits must be int32, got float32/);
    expect(() => sg.binaryMatmul(a, f, 100)).toThrow(/binaryMatmul: bBits must be int32/);
    expect(() => sg.binaryMatmul(a, b, 129)).toThrow(/binaryMatmul: aBits must have ceil\(k\/128\)\*4 = 8 words per row for k = 129, got shape \[3,4\]/);
    expect(() => sg.binaryMatmul(a, b, 129)).toThrow(/aBits/);
    expect(() => sg.binaryMatmul(a, b, -1)).toThrow(/binaryMatmul: k must be >= 0/);
    expect(() => sg.binaryMatmul(a, b, 1.5)).toThrow(/binaryMatmul: k must be an integer/);
    expect(() => sg.binaryMatmul(a, b, NaN)).toThrow(/binaryMatmul: k must be a number/);
    expect(() => sg.binaryMatmul(a, b, '100' as any)).toThrow(/binaryMatmul: k must be a number/);
    // k = 90 keeps 4 words, but elements 90..99 of the rows may be 1 bits.
    expect(() => sg.binaryMatmul(a, b, 90)).toThrow(/binaryMatmul: aBits has \d+ rows? with 1 bits past k = 90; padding bits must be 0/);
    const wrongWords = sg.tensor(new Int32Array(2 * 8), [2, 8], { dtype: 'int32' });
    expect(() => sg.binaryMatmul(a, wrongWords, 100)).toThrow(/bBits must have ceil\(k\/128\)\*4 = 4 words per row/);
    const r1 = sg.tensor(new Int32Array(4), [4], { dtype: 'int32' });
    expect(() => sg.binaryMatmul(r1, b, 100)).toThrow(/binaryMatmul: aBits must be 2-D/);
    const d = randomBits([1, 100], 3);
    d.dispose();
    expect(() => sg.binaryMatmul(d, b, 100)).toThrow(/binaryMatmul: aBits .*disposed/);
    for (const x of [a, b, f, wrongWords, r1]) x.dispose();
  });
});

describe('small M and tails (the 1x4 single-row kernel)', () => {
  // Odd M sends its last row through gemm_b1_1x4__i64 (all of A when M = 1);
  // N covers every column tail of both tiles, K every word count parity.
  test('binaryMatmul and binaryMatmulScaled equal the twin for M in {1, 2, 3, 5}', () => {
    const Ns = [1, 2, 3, 4, 5, 6, 7, 9, 10, 33];
    const Ks = [1, 31, 32, 33, 127, 128, 129, 255, 256, 257, 784, 1024, 1025];
    let t = 0;
    for (const M of [1, 2, 3, 5]) {
      for (const N of Ns) {
        for (const K of Ks) {
          const rng = new Prng(7000 + t++);
          const ad = rng.f32Array(M * K), bd = rng.f32Array(N * K);
          const a = sg.tensor(ad, [M, K]), b = sg.tensor(bd, [N, K]);
          const ab = sg.packBits(a), bb = sg.packBits(b);
          const pa = packBitsRef(ad, M, K), pb = packBitsRef(bd, N, K), words = packedWordsRef(K);
          const c = sg.binaryMatmul(ab, bb, K);
          const want = binaryMatmulRef(pa, pb, M, N, K, words);
          expectExact(c.dataSync(), want, `M=${M} N=${N} K=${K}`);
          const cf = binaryMatmulF32(ab, bb, K);
          expect(cf.dtype).toBe('float32');
          expectExact(cf.dataSync(), Float32Array.from(want), `float32 M=${M} N=${N} K=${K}`);
          cf.dispose();
          const scale = rng.f32Array(N, 0.01, 2), bias = rng.f32Array(N, -3, 3);
          const s = sg.binaryMatmulScaled(ab, bb, K, { scale, bias });
          expectExact(s.dataSync(), binaryMatmulScaledRef(pa, pb, M, N, K, words, scale, bias), `scaled M=${M} N=${N} K=${K}`);
          for (const x of [a, b, ab, bb, c, s]) x.dispose();
        }
      }
    }
  });

  test('binaryWeightsMatmul equals the twin bit for bit for M in {1, 5} (the 1x8 single-row kernel)', () => {
    let t = 0;
    for (const M of [1, 5]) {
      for (const N of [1, 3, 7, 8, 9, 17]) {
        for (const K of [1, 31, 32, 33, 100, 784]) {
          const rng = new Prng(8000 + t++);
          const xd = rng.f32WithSpecials(M * K, -2, 2, [0, -0, 1e-40, 3e38], 0.05), wd = rng.f32Array(N * K);
          const scale = rng.f32Array(N, 0.1, 2), bias = rng.f32Array(N, -1, 1);
          const x = sg.tensor(xd, [M, K]), w = sg.tensor(wd, [N, K]);
          const wb = sg.packBits(w);
          const c = sg.binaryWeightsMatmul(x, wb, { scale, bias });
          expectExact(c.dataSync(), binaryWeightsMatmulRef(xd, M, K, packBitsRef(wd, N, K), N, packedWordsRef(K), scale, bias), `M=${M} N=${N} K=${K}`);
          for (const v of [x, w, wb, c]) v.dispose();
        }
      }
    }
  });
});

describe('binaryMatmulScaled (XNOR-Net)', () => {
  test('equals the twin on 120 random shapes, per-channel and per-tensor scale/bias', () => {
    let t = 0;
    for (const [M, N, K] of shapes(31, 120)) {
      const rng = new Prng(2000 + t++);
      const ad = rng.f32Array(M * K), bd = rng.f32Array(N * K);
      const perChannel = t % 2 === 0;
      const scale = perChannel ? rng.f32Array(N, 0.01, 2) : Float32Array.of(rng.float(0.01, 2));
      const bias = perChannel ? rng.f32Array(N, -3, 3) : Float32Array.of(rng.float(-3, 3));
      const a = sg.tensor(ad, [M, K]), b = sg.tensor(bd, [N, K]);
      const ab = sg.packBits(a), bb = sg.packBits(b);
      const c = sg.binaryMatmulScaled(ab, bb, K, { scale: perChannel ? scale : scale[0], bias: perChannel ? Array.from(bias) : bias[0] });
      expect(c.dtype).toBe('float32');
      const full = (v: Float32Array) => (v.length === N ? v : new Float32Array(N).fill(v[0]));
      expectExact(c.dataSync(), binaryMatmulScaledRef(packBitsRef(ad, M, K), packBitsRef(bd, N, K), M, N, K, packedWordsRef(K), full(scale), full(bias)), `M=${M} N=${N} K=${K}`);
      for (const x of [a, b, ab, bb, c]) x.dispose();
    }
  });

  test('errors: scale length, NaN scale', () => {
    const a = randomBits([2, 10], 4);
    expect(() => sg.binaryMatmulScaled(a, a, 10, { scale: [1, 2, 3] })).toThrow(/binaryMatmulScaled: scale must have 1 value \(per tensor\) or 2 \(one per channel\), got 3/);
    expect(() => sg.binaryMatmulScaled(a, a, 10, { bias: NaN })).toThrow(/binaryMatmulScaled: bias\[0\] must be a finite number/);
    a.dispose();
  });
});

describe('binaryWeightsMatmul (BinaryConnect)', () => {
  test('equals the twin bit for bit on 200 random shapes', () => {
    let t = 0;
    for (const [M, N, K] of shapes(41, 200)) {
      const rng = new Prng(3000 + t++);
      const xd = rng.f32WithSpecials(M * K, -2, 2, [0, -0, 1e-40, 3e38], 0.05);
      const wd = rng.f32Array(N * K);
      const withScale = t % 3 !== 0;
      const scale = rng.f32Array(N, 0.1, 2), bias = rng.f32Array(N, -1, 1);
      const x = sg.tensor(xd, [M, K]), w = sg.tensor(wd, [N, K]);
      const wb = sg.packBits(w);
      const c = withScale ? sg.binaryWeightsMatmul(x, wb, { scale, bias }) : sg.binaryWeightsMatmul(x, wb);
      expect(c.shape).toEqual([M, N]);
      const ones = new Float32Array(N).fill(1), zeros = new Float32Array(N);
      const want = binaryWeightsMatmulRef(xd, M, K, packBitsRef(wd, N, K), N, packedWordsRef(K), withScale ? scale : ones, withScale ? bias : zeros);
      expectExact(c.dataSync(), want, `M=${M} N=${N} K=${K}`);
      // A second call reuses the cached panels.
      const again = withScale ? sg.binaryWeightsMatmul(x, wb, { scale, bias }) : sg.binaryWeightsMatmul(x, wb);
      expectExact(again.dataSync(), want, `cached M=${M} N=${N} K=${K}`);
      for (const v of [x, w, wb, c, again]) v.dispose();
    }
  });

  test('integer-valued inputs give the exact signed sums', () => {
    const x = sg.tensor([[1, 2, 3, 4, 5], [-1, 0, 1, 0, -1]]);
    const w = sg.tensor([[1, -1, 1, -1, 1], [-1, -1, -1, -1, -1], [1, 1, 1, 1, 1]]);
    const wb = sg.packBits(w);
    const c = sg.binaryWeightsMatmul(x, wb);
    expect(c.toArray()).toEqual([[3, -15, 15], [-1, 1, -1]]);
    for (const v of [x, w, wb, c]) v.dispose();
  });

  test('errors: x dtype, K mismatch with the word count, padding bits', () => {
    const w = randomBits([3, 200], 5);
    const xi = sg.tensor(new Int32Array(2 * 200), [2, 200], { dtype: 'int32' });
    expect(() => sg.binaryWeightsMatmul(xi, w)).toThrow(/binaryWeightsMatmul: x must be float32/);
    const x1 = sg.zeros([2, 100]);
    expect(() => sg.binaryWeightsMatmul(x1, w)).toThrow(/binaryWeightsMatmul: wBits must have ceil\(k\/128\)\*4 = 4 words per row for k = 100, got shape \[3,8\]/);
    const x2 = sg.zeros([2, 190]);
    expect(() => sg.binaryWeightsMatmul(x2, w)).toThrow(/binaryWeightsMatmul: wBits has \d+ rows? with 1 bits past k = 190/);
    for (const v of [w, xi, x1, x2]) v.dispose();
  });
});

// ---- the driver contract, on the raw exports ----------------------------------

type B1Op = GemmB1Mode | 'b1w';

interface B1Case { op: B1Op; M: number; N: number; K: number; padA?: number; padB?: number; padC?: number; batch?: number; bcastA?: boolean; bcastB?: boolean; lead?: number }
interface B1Built { c: B1Case; args: GemmB1RefArgs; words: number; A: Int32Array | Float32Array; B: Int32Array; C: Int32Array | Float32Array; scale: Float32Array; bias: Float32Array }

function buildB1(c: B1Case, rng: Prng): B1Built {
  const { M, N, K } = c;
  const words = packedWordsRef(K);
  const lead = c.lead ?? 0, batch = c.batch ?? 1;
  // A is bits [M, words] (x float32 [M, K] for b1w), B is bits [N, words]
  const rowA = c.op === 'b1w' ? K : words;
  const lda = rowA + (c.padA ?? 0) || 1, ldb = words + (c.padB ?? 0) || 1, ldc = N + (c.padC ?? 0) || 1;
  const strideA = c.bcastA ? 0 : lda * M + 3, strideB = c.bcastB ? 0 : ldb * N + 5, strideC = ldc * M + 1;
  const span = (stride: number, rows: number, ld: number) => Math.max(lead + (batch - 1) * stride + rows * ld, 1);
  const bitsOf = (n: number) => Int32Array.from({ length: n }, () => rng.int(-(2 ** 31), 2 ** 31));
  const A = c.op === 'b1w' ? rng.f32Array(span(strideA, M, lda), -4, 4) : bitsOf(span(strideA, M, lda));
  const B = bitsOf(span(strideB, N, ldb));
  const nC = span(strideC, M, ldc);
  const C = c.op === 'int32' ? bitsOf(nC) : rng.f32Array(nC);
  const args = { a: lead, lda, b: lead, ldb, c: lead, ldc, batch, strideA, strideB, strideC, m0: 0, m1: M, n0: 0, n1: N };
  return { c, args, words, A, B, C, scale: rng.f32Array(N, 0.1, 2), bias: rng.f32Array(N) };
}

function runB1(arena: Arena, x: B1Built, tiles: Tile[]): B1Built['C'] {
  const k = kernels();
  const { op, N, K } = x.c;
  const { args, words } = x;
  const pa = arena.put(x.A), pb = arena.put(x.B), pc = arena.put(x.C), ps = arena.f32(x.scale), pd = arena.f32(x.bias);
  let packed = 0, strideP = 0;
  if (op === 'b1w') {
    const bytes = k.gemm_b1w_packed_bytes(N, K), nb = x.c.bcastB ? 1 : args.batch;
    packed = arena.alloc(Math.max(bytes * nb, 1));
    for (let t = 0; t < nb; t++) k.gemm_b1w_pack(pb + (args.b + t * args.strideB) * 4, N, args.ldb, K, packed + t * bytes);
    strideP = x.c.bcastB ? 0 : bytes;
  }
  for (const { m0, m1, n0, n1 } of tiles) {
    if (op === 'b1w') {
      k.gemm_b1w_f32(K, pa + args.a * 4, args.lda, packed, pc + args.c * 4, args.ldc, args.batch, args.strideA, strideP, args.strideC, m0, m1, n0, n1, ps, pd);
      continue;
    }
    const common = [K, words, pa + args.a * 4, args.lda, pb + args.b * 4, args.ldb, pc + args.c * 4, args.ldc,
                    args.batch, args.strideA, args.strideB, args.strideC, m0, m1, n0, n1] as const;
    if (op === 'int32') k.gemm_b1(...common);
    else if (op === 'float32') k.gemm_b1_f32(...common);
    else k.gemm_b1_scaled(...common, ps, pd);
  }
  arena.checkGuards();
  return arena.read(x.C.constructor as any, pc, x.C.length);
}

function twinB1(x: B1Built, tile: Tile): B1Built['C'] {
  const C = x.C.slice();
  const p = { ...x.args, ...tile };
  if (x.c.op === 'b1w') gemmB1wF32Ref(p, x.c.K, x.A, x.B, C, x.scale, x.bias);
  else gemmB1Ref(p, x.c.K, x.words, x.A, x.B, C, x.c.op, x.scale, x.bias);
  return C;
}

function checkB1(c: B1Case, seed: number, tile?: Tile): void {
  const x = buildB1(c, new Prng(seed));
  const t = tile ?? { m0: 0, m1: c.M, n0: 0, n1: c.N };
  withArena((arena) => expectExact(runB1(arena, x, [t]), twinB1(x, t), `${JSON.stringify(c)} tile ${JSON.stringify(t)} seed ${seed}`));
}


const OPS: B1Op[] = ['int32', 'float32', 'scaled', 'b1w'];

describe('binary GEMM drivers: leading dimensions, batches, tiles', () => {
  test('edge dims, K not a multiple of 32/128, lda/ldb/ldc past the rows, unaligned offsets', () => {
    const rng = new Prng(71);
    const dims = [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 17, 33];
    let n = 0;
    for (const op of OPS) {
      for (let t = 0; t < 50; t++) {
        checkB1({ op, M: rng.pick(dims), N: rng.pick(dims), K: rng.pick([0, 1, 5, 31, 33, 127, 129, 300]),
                  padA: rng.int(0, 5), padB: rng.int(0, 5), padC: rng.int(0, 5), lead: rng.int(0, 4) }, 30000 + n++);
      }
    }
    expect(n).toBe(200);
  });

  test('batches with strides, and stride 0 broadcasting A or B', () => {
    const rng = new Prng(72);
    let n = 0;
    for (const op of OPS) {
      for (let t = 0; t < 24; t++) {
        checkB1({ op, M: rng.pick([1, 2, 5, 9]), N: rng.pick([1, 7, 8, 19]), K: rng.pick([0, 1, 40, 130]),
                  batch: rng.int(0, 5), bcastA: t % 3 === 1, bcastB: t % 3 === 2, padC: rng.int(0, 3), lead: 1 }, 31000 + n++);
      }
    }
    expect(n).toBe(96);
  });

  test('every tile range of a small product, including empty ones and ones not aligned to the kernel tiles', () => {
    let n = 0;
    for (const op of OPS) {
      const M = 5, N = 19, K = 45;
      for (let m0 = 0; m0 <= M; m0++) {
        for (let m1 = m0; m1 <= M; m1++) {
          for (const [n0, n1] of [[0, 0], [0, 19], [4, 4], [1, 7], [3, 12], [7, 9], [8, 16], [15, 19], [18, 19]]) {
            checkB1({ op, M, N, K, padC: 3, batch: 2, lead: 1 }, 32000 + n++, { m0, m1, n0, n1 });
          }
        }
      }
    }
    expect(n).toBe(4 * 21 * 9);
  });

  test('a union of disjoint tiles gives exactly the bits of one full call', () => {
    fc.assert(fc.property(fc.record({
      op: fc.constantFrom(...OPS), M: fc.integer({ min: 1, max: 23 }), N: fc.integer({ min: 1, max: 41 }), K: fc.constantFrom(1, 31, 129, 260),
      rowCuts: fc.array(fc.integer({ min: 0, max: 23 }), { maxLength: 4 }), colCuts: fc.array(fc.integer({ min: 0, max: 41 }), { maxLength: 5 }),
      batch: fc.integer({ min: 1, max: 3 }), seed: fc.integer({ min: 1, max: 1e6 }),
    }), (p) => {
      const x = buildB1({ op: p.op, M: p.M, N: p.N, K: p.K, batch: p.batch, padC: 2, lead: 1 }, new Prng(p.seed));
      const tiles = gridTiles(p.M, p.N, p.rowCuts, p.colCuts, p.seed);
      withArena((arena) => {
        const full = { m0: 0, m1: p.M, n0: 0, n1: p.N };
        const whole = runB1(arena, x, [full]);
        expectExact(runB1(arena, x, tiles), whole, `tiles ${JSON.stringify(tiles)}`);
        expectExact(whole, twinB1(x, full), 'full call vs twin');
      });
    }), { numRuns: 120, seed: 5 });
  });
});
