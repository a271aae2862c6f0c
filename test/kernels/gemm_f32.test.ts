// f32 GEMM driver (assembly/gemm_f32.ts, through the gemmF32 binding) against
// its scalar twin src/reference/gemm_f32.ts, which sums in the kernel's
// order, so every comparison is bit for bit. Buffers are canary guarded: a
// write outside C's tile (or past any buffer) fails the test. The twin itself
// is checked against float64 sums with the recursive-summation error bound.
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { init } from '../../src/runtime/loader.js';
import { gemmF32, gemmF32Layout, type GemmF32Desc, type GemmTile } from '../../src/kernels/gemm_f32.js';
import { gemmF32Ref } from '../../src/reference/gemm_f32.js';
import { expectExact, Prng, withArena, type Arena } from '../support/kernel-harness.js';
import { gradcheck, matmul, mul, tensor, tidy, zeros } from '../../src/index.js';

beforeAll(async () => {
  await init();
});

interface Case {
  M: number; N: number; K: number; transA: boolean; transB: boolean;
  /** extra elements per stored row of A, B, C beyond the row length */
  padA?: number; padB?: number; padC?: number;
  batch?: number;
  /** broadcast A or B over the batch (stride 0) */
  bcastA?: boolean; bcastB?: boolean;
  bias?: boolean; accumulate?: boolean;
  /** elements before the first operand (so loads are not 16-byte aligned) */
  lead?: number;
}

interface Built { desc: GemmF32Desc; A: Float32Array; B: Float32Array; C: Float32Array; bias: Float32Array | null; lead: number }

/** Random operands laid out as the case says (element offset `lead` into each array). */
function build(c: Case, rng: Prng): Built {
  const { M, N, K, transA, transB } = c;
  const lead = c.lead ?? 0;
  const batch = c.batch ?? 1;
  const lda = (transA ? M : K) + (c.padA ?? 0) || 1;
  const ldb = (transB ? K : N) + (c.padB ?? 0) || 1;
  const ldc = N + (c.padC ?? 0) || 1;
  const rowsA = transA ? K : M, rowsB = transB ? N : K;
  const strideA = c.bcastA ? 0 : lda * rowsA + 3;
  const strideB = c.bcastB ? 0 : ldb * rowsB + 1;
  const strideC = ldc * M + 2;
  const span = (stride: number, rows: number, ld: number) => lead + (batch - 1) * stride + rows * ld;
  const A = rng.f32Array(Math.max(span(strideA, rowsA, lda), 1));
  const B = rng.f32Array(Math.max(span(strideB, rowsB, ldb), 1));
  const C = rng.f32Array(Math.max(span(strideC, M, ldc), 1));
  const bias = c.bias ? rng.f32Array(N + lead) : null;
  const desc: GemmF32Desc = {
    M, N, K, transA, transB, a: lead, b: lead, c: lead, lda, ldb, ldc,
    batch, strideA, strideB, strideC, accumulate: !!c.accumulate,
  };
  return { desc, A, B, C, bias, lead };
}

/** Runs the kernel on the built operands (offsets become byte offsets in an arena); returns the whole C buffer. */
function runKernel(arena: Arena, x: Built, tiles: (GemmTile | undefined)[], cStart?: Float32Array): Float32Array {
  const pa = arena.put(x.A), pb = arena.put(x.B), pc = arena.put(cStart ?? x.C);
  const pbias = x.bias ? arena.put(x.bias) + x.lead * 4 : 0;
  for (const tile of tiles) {
    gemmF32({ ...x.desc, a: pa + x.lead * 4, b: pb + x.lead * 4, c: pc + x.lead * 4, bias: pbias, tile });
  }
  arena.checkGuards();
  return arena.readF32(pc, x.C.length);
}

function runTwin(x: Built, tile?: GemmTile): Float32Array {
  const l = gemmF32Layout({ ...x.desc, tile });
  const C = x.C.slice();
  gemmF32Ref({ ...l, ...l.tile, a: x.lead, b: x.lead, c: x.lead, biasOffset: x.lead, accumulate: !!x.desc.accumulate }, x.A, x.B, C, x.bias);
  return C;
}

function check(c: Case, seed: number, tile?: GemmTile): void {
  const x = build(c, new Prng(seed));
  withArena((arena) => {
    const got = runKernel(arena, x, [tile]);
    expectExact(got, runTwin(x, tile), `${JSON.stringify(c)} tile ${JSON.stringify(tile)} seed ${seed}`);
  });
}

const FORMS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

describe('gemm_f32 driver against its twin, bit for bit', () => {
  it('edge dims (0, 1, primes, around MR = 4 / NR = 8) in all four forms, with bias/accumulate', () => {
    const dims = [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33];
    const rng = new Prng(7);
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (let t = 0; t < 50; t++) {
        check({ M: rng.pick(dims), N: rng.pick(dims), K: rng.pick(dims), transA, transB, bias: rng.bool(), accumulate: rng.bool() }, 1000 + n++);
      }
    }
    expect(n).toBe(200);
  });

  it('K not a multiple of 4/16/32/128 and crossing KC = 256, on every path (gemv, 4x4t, axpy, packed)', () => {
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (const [M, N] of [[1, 67], [1, 5], [2, 35], [3, 513], [4, 9], [5, 37], [131, 521]]) {
        for (const K of [1, 3, 15, 33, 127, 257, 515]) {
          if (M * N * K > 3e6) continue;
          check({ M, N, K, transA, transB, bias: n % 2 === 0, accumulate: n % 3 === 0 }, 3000 + n++);
        }
      }
    }
    expect(n).toBeGreaterThan(150);
  });

  it('leading dimensions larger than the rows, unaligned offsets, and rows between tiles left untouched', () => {
    const rng = new Prng(11);
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (let t = 0; t < 25; t++) {
        const dims = [1, 2, 3, 4, 5, 8, 13, 32, 37, 64, 67];
        check({
          M: rng.pick(dims), N: rng.pick(dims), K: rng.pick([1, 4, 7, 31, 100, 260]), transA, transB,
          padA: rng.int(0, 6), padB: rng.int(0, 6), padC: rng.int(0, 6), lead: rng.int(0, 4),
          bias: rng.bool(), accumulate: rng.bool(),
        }, 5000 + n++);
      }
    }
    expect(n).toBe(100);
  });

  it('batches with strides, and stride 0 broadcasting A or B', () => {
    const rng = new Prng(13);
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (let t = 0; t < 20; t++) {
        const dims = [1, 2, 3, 4, 5, 9, 33, 40];
        check({
          M: rng.pick(dims), N: rng.pick(dims), K: rng.pick([0, 1, 5, 64, 257]), transA, transB,
          batch: rng.int(0, 5), bcastA: t % 3 === 1, bcastB: t % 3 === 2,
          padA: rng.int(0, 3), padC: rng.int(0, 3), lead: 1, bias: rng.bool(), accumulate: rng.bool(),
        }, 7000 + n++);
      }
    }
    expect(n).toBe(80);
  });

  it('every tile range of small products, including empty ones and ones not aligned to the 4x8 tile', () => {
    let n = 0;
    for (const [transA, transB] of FORMS) {
      const M = 6, N = 10, K = 19;
      for (let m0 = 0; m0 <= M; m0++) {
        for (let m1 = m0; m1 <= M; m1++) {
          for (const [n0, n1] of [[0, 0], [0, 10], [3, 3], [1, 9], [2, 10], [0, 1], [9, 10], [5, 7]]) {
            check({ M, N, K, transA, transB, padC: 2, batch: 2, bias: n % 2 === 0, accumulate: n % 3 === 0 }, 9000 + n++, { m0, m1, n0, n1 });
          }
        }
      }
    }
    expect(n).toBe(4 * 28 * 8);
  });

  it('tiles of a large product take every path and still give the bits of one full call (union of disjoint tiles)', () => {
    // Cut points split rows and columns into pieces; each rectangle of the grid is one call.
    const arb = fc.record({
      form: fc.constantFrom(...FORMS),
      M: fc.integer({ min: 1, max: 40 }),
      N: fc.integer({ min: 1, max: 70 }),
      K: fc.constantFrom(1, 3, 17, 64, 257, 300),
      rowCuts: fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 5 }),
      colCuts: fc.array(fc.integer({ min: 0, max: 70 }), { maxLength: 5 }),
      order: fc.integer({ min: 0, max: 1000 }),
      bias: fc.boolean(),
      accumulate: fc.boolean(),
      batch: fc.integer({ min: 1, max: 3 }),
      seed: fc.integer({ min: 1, max: 1e6 }),
    });
    fc.assert(fc.property(arb, (p) => {
      const [transA, transB] = p.form;
      const x = build({ M: p.M, N: p.N, K: p.K, transA, transB, padC: 1, batch: p.batch, bias: p.bias, accumulate: p.accumulate, lead: 1 }, new Prng(p.seed));
      const cuts = (xs: number[], max: number) => [0, ...[...new Set(xs.filter((v) => v < max))].sort((a, b) => a - b), max].filter((v, i, a) => i === 0 || v !== a[i - 1]);
      const rows = cuts(p.rowCuts, p.M), cols = cuts(p.colCuts, p.N);
      const tiles: GemmTile[] = [];
      for (let i = 0; i + 1 < rows.length; i++) for (let j = 0; j + 1 < cols.length; j++) tiles.push({ m0: rows[i], m1: rows[i + 1], n0: cols[j], n1: cols[j + 1] });
      // a deterministic shuffle: tile order must not matter either
      const rng = new Prng(p.order);
      for (let i = tiles.length - 1; i > 0; i--) { const k = rng.int(0, i + 1); [tiles[i], tiles[k]] = [tiles[k], tiles[i]]; }
      withArena((arena) => {
        const whole = runKernel(arena, x, [undefined]);
        const pieces = runKernel(arena, x, tiles);
        expectExact(pieces, whole, `tiles ${JSON.stringify(tiles)} of ${JSON.stringify({ ...p, rowCuts: rows, colCuts: cols })}`);
        expectExact(whole, runTwin(x), 'full call vs twin');
      });
    }), { numRuns: 150, seed: 42 });
  });

  it('rejects inconsistent layouts with a clear error', () => {
    expect(() => gemmF32({ M: 2, N: 3, K: 4, a: 0, b: 0, c: 0, lda: 3 })).toThrow(/gemmF32: lda must be an integer >= 4/);
    expect(() => gemmF32({ M: 2, N: 3, K: 4, a: 0, b: 0, c: 0, transB: true, ldb: 2 })).toThrow(/ldb must be an integer >= 4/);
    expect(() => gemmF32({ M: 2, N: 3, K: 4, a: 0, b: 0, c: 0, tile: { m0: 1, m1: 3, n0: 0, n1: 3 } })).toThrow(/tile must satisfy/);
    expect(() => gemmF32({ M: 2, N: 3, K: 4, a: 0, b: 0, c: 0, batch: -1 })).toThrow(/batch must be a non-negative integer/);
  });
});

describe('the twin is a matrix product', () => {
  it('stays within the recursive-summation bound of float64 sums', () => {
    const rng = new Prng(5);
    for (let t = 0; t < 40; t++) {
      const M = rng.int(1, 9), N = rng.int(1, 9), K = rng.pick([1, 7, 255, 256, 257, 600]);
      const A = rng.f32Array(M * K), B = rng.f32Array(K * N), C = new Float32Array(M * N);
      gemmF32Ref({ M, N, K, transA: false, transB: false, a: 0, lda: K, b: 0, ldb: N, c: 0, ldc: N, batch: 1, strideA: 0, strideB: 0, strideC: 0,
                   accumulate: false, m0: 0, m1: M, n0: 0, n1: N }, A, B, C);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let exact = 0, mag = 0;
          for (let k = 0; k < K; k++) { exact += A[i * K + k] * B[k * N + j]; mag += Math.abs(A[i * K + k] * B[k * N + j]); }
          expect(Math.abs(C[i * N + j] - exact)).toBeLessThanOrEqual((K + 2) * 2 ** -24 * mag + 1e-30);
        }
      }
    }
  });
});

describe('matmul broadcasts batch dimensions through the batched driver', () => {
  const matrixOf = (data: Float32Array, shape: number[], batchIndex: number[]) => {
    // the [r, c] matrix of `data` at a batch index (broadcast axes of size 1 read index 0)
    const r = shape[shape.length - 2], c = shape[shape.length - 1];
    const lead = shape.slice(0, -2);
    let off = 0;
    const pad = batchIndex.length - lead.length;
    lead.forEach((d, i) => { off = off * d + (d === 1 ? 0 : batchIndex[pad + i]); });
    return data.slice(off * r * c, (off + 1) * r * c);
  };

  it('equals the 2-D matmul of each broadcast pair of matrices, bit for bit, in all four forms', () => {
    const rng = new Prng(17);
    const cases: [number[], number[]][] = [[[3], [3]], [[2, 1], [4]], [[1], [5]], [[], [2, 3]], [[4, 2], []], [[2, 1, 3], [1, 2, 1]], [[0], [1]]];
    for (const [ta, tb] of FORMS) {
      for (const [ba, bb] of cases) {
        const M = rng.int(1, 7), N = rng.int(1, 40), K = rng.pick([1, 9, 260]);
        const sa = [...ba, ...(ta ? [K, M] : [M, K])], sb = [...bb, ...(tb ? [N, K] : [K, N])];
        const da = rng.f32Array(sa.reduce((p, d) => p * d, 1)), db = rng.f32Array(sb.reduce((p, d) => p * d, 1));
        tidy(() => {
          const c = matmul(tensor(da, sa), tensor(db, sb), { transposeA: ta, transposeB: tb });
          const batch = c.shape.slice(0, -2);
          expect(c.shape).toEqual([...batch, M, N]);
          const got = c.dataSync() as Float32Array;
          const count = batch.reduce((p, d) => p * d, 1);
          for (let i = 0; i < count; i++) {
            const idx: number[] = [];
            let rest = i;
            for (let d = batch.length - 1; d >= 0; d--) { idx.unshift(rest % batch[d]); rest = Math.floor(rest / batch[d]); }
            const x = tensor(matrixOf(da, sa, idx), sa.slice(-2)), y = tensor(matrixOf(db, sb, idx), sb.slice(-2));
            const want = matmul(x, y, { transposeA: ta, transposeB: tb }).dataSync();
            expectExact(got.subarray(i * M * N, (i + 1) * M * N), want, `batch ${idx} of [${sa}] x [${sb}] ta=${ta} tb=${tb}`);
          }
        });
      }
    }
  });

  it('has the right gradients (gradcheck), broadcast batch axes included', () => {
    let seed = 1;
    const leaf = (shape: number[]) => tensor(new Prng(seed++).f32Array(shape.reduce((p, d) => p * d, 1)), shape, { requiresGrad: true });
    for (const [ta, tb] of FORMS) {
      for (const [ba, bb] of [[[2], [2]], [[3, 1], [2]], [[], [2]], [[2, 1], [1, 1]]] as [number[], number[]][]) {
        const M = 3, N = 2, K = 4;
        const a = leaf([...ba, ...(ta ? [K, M] : [M, K])]), b = leaf([...bb, ...(tb ? [N, K] : [K, N])]);
        tidy(() => {
          const w = tensor(new Prng(99).f32Array(matmul(a, b, { transposeA: ta, transposeB: tb }).size, 0.5, 1.5));
          const r = gradcheck((x, y) => mul(matmul(x, y, { transposeA: ta, transposeB: tb }).reshape([-1]), w), [a, b]);
          expect(r.ok, `[${a.shape}] x [${b.shape}] ta=${ta} tb=${tb}: ${JSON.stringify(r)}`).toBe(true);
        });
        a.dispose(); b.dispose();
      }
    }
  });

  it('errors name the operand and the batch shapes', () => {
    tidy(() => {
      expect(() => matmul(zeros([3]), zeros([3, 2]))).toThrow(/^matmul: a must have at least 2 dimensions \(a matrix \[M, K\], or a batch of them \[\.\.\., M, K\]\), got shape \[3\]/);
      expect(() => matmul(zeros([2, 3, 4]), zeros([3, 4, 5]))).toThrow(/matmul \(batch dimensions\): shapes \[2\] and \[3\] cannot be broadcast/);
      expect(() => matmul(zeros([2, 3, 4]), zeros([2, 5, 5]))).toThrow(/matmul: inner dimensions differ/);
    });
  });
});
