import { beforeAll, describe, expect, it } from 'vitest';
import { init } from '../../src/runtime/loader.js';
import { rt } from '../../src/runtime/context.js';
import { f32View } from '../../src/runtime/views.js';
import { gemmF32 } from '../../src/kernels/gemm_f32.js';
import { gemmF32Ref } from '../../src/reference/gemm_f32.js';

// Tolerance. The kernel sums each C element in f32: ascending k inside each
// 256-long block, then block sums into C, with bias and the old C added first.
// Every element therefore goes through at most K + 3 f32 roundings (one per
// product, one per add), and the standard bound for recursive summation gives
//   |C_kernel - C_exact| <= (K + 3) · u · (Σ_k |a_ik·b_kj| + |bias_j| + |C_old|),  u = 2^-24.
// The reference is exact up to its final rounding to f32 (float64 sums of
// f32 products, which are exact in float64), so we allow that bound plus one
// more ulp-sized term for the reference's own rounding.
const U = 2 ** -24;

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}

function randomArray(n: number, next: () => number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = next() * 2 - 1;
  return out;
}

function put(data: Float32Array): number {
  const off = rt().allocator.alloc(Math.max(data.length * 4, 4));
  f32View(off, data.length).set(data);
  return off;
}

function abs(x: Float32Array): Float32Array {
  return x.map(Math.abs);
}

interface Case { M: number; N: number; K: number; transA: boolean; transB: boolean; bias: boolean; accumulate: boolean }

function runCase(c: Case, seed: number): void {
  const next = rng(seed);
  const { M, N, K, transA, transB } = c;
  const A = randomArray(M * K, next);
  const B = randomArray(K * N, next);
  const bias = c.bias ? randomArray(N, next) : null;
  const C0 = randomArray(M * N, next);
  const pa = put(A), pb = put(B), pc = put(C0), pbias = bias ? put(bias) : 0;
  try {
    gemmF32(M, N, K, pa, pb, pc, { transA, transB, bias: pbias, accumulate: c.accumulate });
    const got = f32View(pc, M * N).slice();
    const want = C0.slice();
    gemmF32Ref(M, N, K, A, transA, B, transB, bias, want, c.accumulate);
    const mag = abs(C0);
    gemmF32Ref(M, N, K, abs(A), transA, abs(B), transB, bias ? abs(bias) : null, mag, c.accumulate);
    for (let i = 0; i < M * N; i++) {
      const bound = (K + 4) * U * mag[i] + 1e-30;
      const err = Math.abs(got[i] - want[i]);
      if (!(err <= bound)) {
        throw new Error(`${JSON.stringify(c)} seed ${seed}: C[${Math.floor(i / N)},${i % N}] = ${got[i]}, want ${want[i]} (err ${err} > bound ${bound})`);
      }
    }
  } finally {
    for (const p of [pa, pb, pc, pbias]) if (p) rt().allocator.free(p);
  }
}

const FORMS: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

beforeAll(async () => {
  await init();
});

describe('gemm_f32 against gemmF32Ref', () => {
  it('edge dims (0, 1, primes, around MR=4 / NR=8) in all four forms with and without bias/accumulate', () => {
    const dims = [0, 1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31];
    const next = rng(7);
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (let t = 0; t < 60; t++) {
        const pick = () => dims[Math.floor(next() * dims.length)];
        const c = { M: pick(), N: pick(), K: pick(), transA, transB, bias: next() < 0.5, accumulate: next() < 0.5 };
        runCase(c, 1000 + n++);
      }
    }
    expect(n).toBe(240);
  });

  it('random shapes with primes and sizes around KC=256, MC=128, NC=512', () => {
    const dims = [1, 2, 7, 13, 31, 61, 63, 64, 65, 127, 128, 129, 255, 256, 257];
    const next = rng(11);
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (let t = 0; t < 30; t++) {
        const pick = () => dims[Math.floor(next() * dims.length)];
        let M = pick(), N = pick(), K = pick();
        while (M * N * K > 1_500_000) { M = pick(); N = pick(); K = pick(); }
        runCase({ M, N, K, transA, transB, bias: next() < 0.5, accumulate: next() < 0.5 }, 5000 + n++);
      }
    }
    expect(n).toBe(120);
  });

  it('shapes crossing every cache block (K > 2·KC, M > MC, N > NC)', () => {
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (const [M, N, K] of [[131, 521, 515], [1, 1031, 769], [5, 9, 1031], [129, 517, 3]]) {
        runCase({ M, N, K, transA, transB, bias: n % 2 === 0, accumulate: n % 3 === 0 }, 9000 + n++);
      }
    }
    expect(n).toBe(16);
  });

  it('M = 1 (gemv path) for every N tail and K crossing a block', () => {
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (const N of [1, 3, 4, 5, 31, 32, 33, 67]) {
        for (const K of [1, 5, 257]) runCase({ M: 1, N, K, transA, transB, bias: n % 2 === 1, accumulate: n % 4 === 0 }, 12000 + n++);
      }
    }
    expect(n).toBe(96);
  });

  it('M = 2..4 (axpy path for B stored [K,N]) across column strips, vector tails and K blocks', () => {
    let n = 0;
    for (const [transA, transB] of FORMS) {
      for (const M of [2, 3, 4]) {
        for (const N of [31, 32, 35, 513, 1027]) {
          for (const K of [1, 257]) runCase({ M, N, K, transA, transB, bias: n % 2 === 0, accumulate: n % 3 === 1 }, 15000 + n++);
        }
      }
    }
    expect(n).toBe(120);
  });

  it('gives the same bits for a row whatever M is (batch invariance) and across repeated calls', () => {
    const next = rng(3);
    const K = 300, N = 37, M = 9;
    for (const [transA, transB] of FORMS) {
      const A = randomArray(M * K, next), B = randomArray(K * N, next);
      const pa = put(A), pb = put(B), pc = put(new Float32Array(M * N)), p1 = put(new Float32Array(N));
      const row = new Float32Array(K);
      for (let k = 0; k < K; k++) row[k] = transA ? A[k * M + 4] : A[4 * K + k];
      const pr = put(row);
      gemmF32(M, N, K, pa, pb, pc, { transA, transB });
      gemmF32(1, N, K, pr, pb, p1, { transA, transB });
      const full = f32View(pc, M * N).slice(4 * N, 5 * N);
      expect(Array.from(f32View(p1, N))).toEqual(Array.from(full));
      // rows 3..5 alone (the few-rows path for B stored [K,N])
      const three = new Float32Array(3 * K);
      for (let r = 0; r < 3; r++) for (let k = 0; k < K; k++) three[transA ? k * 3 + r : r * K + k] = transA ? A[k * M + 3 + r] : A[(3 + r) * K + k];
      const p3 = put(three), pc3 = put(new Float32Array(3 * N));
      gemmF32(3, N, K, p3, pb, pc3, { transA, transB });
      expect(Array.from(f32View(pc3, 3 * N).slice(N, 2 * N))).toEqual(Array.from(full));
      rt().allocator.free(p3);
      rt().allocator.free(pc3);
      gemmF32(M, N, K, pa, pb, pc, { transA, transB });
      expect(Array.from(f32View(pc, M * N).slice(4 * N, 5 * N))).toEqual(Array.from(full));
      for (const p of [pa, pb, pc, p1, pr]) rt().allocator.free(p);
    }
  });
});
