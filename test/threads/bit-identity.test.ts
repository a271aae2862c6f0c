// Every parallel kernel gives the same bits at 1, 2, 3 and 4 threads, on
// shapes that break naive tilings (primes, 1-sized, tails of every register
// tile, K not a multiple of 32/128), and the bits of its scalar twin. Every
// call is split (minParallelCost 0), and the pool's counters show that the
// workers ran tiles.
import { describe, expect, test } from 'vitest';
import * as sg from '../../src/index.js';
import { rt } from '../../src/runtime/context.js';
import { gemmF32 } from '../../src/kernels/gemm_f32.js';
import { adamUpdate, bopUpdate } from '../../src/kernels/optim.js';
import { bnBackwardTrain, bnForwardEval, bnForwardTrain } from '../../src/kernels/batchnorm.js';
import { f32Hard, f32RangeMaskBackward } from '../../src/kernels/hard.js';
import { f32FakeQuant, f32FakeQuantBackward, f32Ternarize } from '../../src/kernels/quant.js';
import { thresholdPackF32 } from '../../src/kernels/threshold.js';
import { thresholdPackRef } from '../../src/reference/threshold.js';
import { bnBackwardTrainRef, bnForwardTrainRef } from '../../src/reference/batchnorm.js';
import { gemmF32Ref } from '../../src/reference/gemm_f32.js';
import { binaryMatmulRef, binaryMatmulScaledRef, binaryWeightsMatmulRef } from '../../src/reference/gemm_b1.js';
import { int8MatmulRef } from '../../src/reference/gemm_s8.js';
import { uint8BinaryMatmulRef } from '../../src/reference/gemm_u8b1.js';
import { vqNearestRef } from '../../src/reference/vq.js';
import { adamUpdateRef, bopUpdateRef } from '../../src/reference/optim.js';
import { atEveryThreadCount, expectSameBits, useThreadSweep, values } from '../support/threads.js';

useThreadSweep();

describe('the pool', () => {
  test('runs with 2+ threads here, and the workers take tiles', async () => {
    expect(sg.info().build).toBe('simd128-threads');
    await sg.setThreads(2, { minParallelCost: 0 });
    const stats = rt().pool!.stats;
    const before = { ...stats };
    sg.tidy(() => {
      const a = sg.tensor(values(256 * 300, 1), [256, 300]);
      const b = sg.tensor(values(300 * 256, 2), [300, 256]);
      for (let i = 0; i < 20; i++) sg.matmul(a, b);
    });
    expect(stats.jobs - before.jobs).toBeGreaterThanOrEqual(20);
    expect(stats.tiles - before.tiles - (stats.callerTiles - before.callerTiles), 'worker tiles').toBeGreaterThan(0);
  });
});

describe('bit-identical at 1-4 threads and equal to the scalar twin', () => {
  const gemmShapes: [number, number, number][] = [[1, 1000, 37], [3, 129, 300], [7, 13, 513], [67, 45, 5], [129, 257, 130], [128, 64, 0]];
  for (const [M, N, K] of gemmShapes) {
    for (const [transA, transB] of [[false, false], [true, false], [false, true], [true, true]]) {
      test(`gemm_f32 ${M}x${N}x${K} transA ${transA} transB ${transB}, batch 2, bias, accumulate`, async () => {
        const A = values(2 * M * K, M + 1), B = values(2 * K * N, N + 2), bias = values(N, 3), C0 = values(2 * M * N, 4);
        const runs = await atEveryThreadCount(() => sg.tidy(() => {
          const a = sg.tensor(A), b = sg.tensor(B), c = sg.tensor(C0), bt = sg.tensor(bias);
          gemmF32({ M, N, K, transA, transB, a: a.offset, b: b.offset, c: c.offset, bias: bt.offset, accumulate: true, batch: 2 });
          return [c.dataSync()];
        }));
        expectSameBits(runs);
        const C = C0.slice();
        gemmF32Ref({ M, N, K, transA, transB, a: 0, lda: Math.max(transA ? M : K, 1), b: 0, ldb: Math.max(transB ? K : N, 1), c: 0, ldc: Math.max(N, 1),
          batch: 2, strideA: M * K, strideB: K * N, strideC: M * N, biasOffset: 0, accumulate: true, m0: 0, m1: M, n0: 0, n1: N }, A, B, C, bias);
        expect(Buffer.from(runs[0][0]).equals(Buffer.from(new Uint8Array(C.buffer)))).toBe(true);
      });
    }
  }

  for (const [M, N, K] of [[1, 33, 200], [5, 17, 1], [70, 41, 257], [131, 130, 64]] as const) {
    test(`int8 matmul (plain, dequantize, requantize) ${M}x${N}x${K}, and its packing`, async () => {
      const A = values(M * K, 5, -128, 127, true), B = values(N * K, 6, -128, 127, true);
      const scaleB = values(N, 7, 0.001, 0.01);
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const a = sg.tensor(A, [M, K], { dtype: 'int8' }), b = sg.tensor(B, [N, K], { dtype: 'int8' });
        return [
          sg.int8Matmul(a, b, { transposeB: true }).dataSync(),
          sg.int8MatmulDequantize(a, b, { transposeB: true, scaleA: 0.05, scaleB: [...scaleB], bias: 0.5 }).dataSync(),
          sg.int8MatmulRequantize(a, b, { transposeB: true, scaleA: 0.05, scaleB: [...scaleB], scaleOut: 2 }).dataSync(),
        ];
      }));
      expectSameBits(runs);
      expect(new Int32Array(runs[0][0].buffer)).toEqual(int8MatmulRef(Int8Array.from(A), Int8Array.from(B), M, N, K, true));
    });
  }

  for (const [M, N, k] of [[1, 40, 100], [9, 3, 129], [37, 70, 500], [130, 66, 1000]] as const) {
    test(`binary matmuls (int32, f32, scaled, BinaryConnect) ${M}x${N}, k ${k}, and the weight packing`, async () => {
      const X = values(M * k, 8), W = values(N * k, 9), scale = values(N, 10, 0.1, 1), bias = values(N, 11);
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const x = sg.tensor(X, [M, k]), w = sg.tensor(W, [N, k]);
        const xb = sg.packBits(x), wb = sg.packBits(w);
        return [
          sg.binaryMatmul(xb, wb, k).dataSync(),
          sg.binaryMatmulScaled(xb, wb, k, { scale: [...scale], bias: [...bias] }).dataSync(),
          sg.binaryWeightsMatmul(x, wb, { scale: [...scale], bias: [...bias] }).dataSync(),
          xb.dataSync(), wb.dataSync(),
        ];
      }));
      expectSameBits(runs);
      const words = Math.ceil(k / 128) * 4;
      const xb = new Uint32Array(runs[0][3].buffer), wb = new Uint32Array(runs[0][4].buffer);
      expect(new Int32Array(runs[0][0].buffer)).toEqual(binaryMatmulRef(xb, wb, M, N, k, words));
      expect(new Float32Array(runs[0][1].buffer)).toEqual(binaryMatmulScaledRef(xb, wb, M, N, k, words, scale, bias));
      expect(new Float32Array(runs[0][2].buffer)).toEqual(binaryWeightsMatmulRef(X, M, k, wb, N, words, scale, bias));
    });
  }

  for (const [M, N, K] of [[1, 50, 784], [3, 17, 33], [40, 100, 100], [15, 1030, 7]] as const) {
    test(`uint8 x binary matmul ${M}x${N}x${K} (rows or channels split), and its pattern packing`, async () => {
      const X = values(M * K, 12, 0, 255, true), W = values(N * K, 13);
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const x = sg.tensor(X, [M, K], { dtype: 'uint8' }), wb = sg.packBits(sg.tensor(W, [N, K]));
        return [sg.uint8BinaryMatmul(x, wb).dataSync(), wb.dataSync()];
      }));
      expectSameBits(runs);
      expect(new Int32Array(runs[0][0].buffer)).toEqual(uint8BinaryMatmulRef(X, M, K, new Uint32Array(runs[0][1].buffer), N, Math.ceil(K / 128) * 4));
    });
  }

  for (const [N, K, D] of [[1, 5, 3], [7, 300, 17], [130, 64, 64], [1001, 33, 9]] as const) {
    test(`vqNearest ${N} rows, ${K} codes of dimension ${D}`, async () => {
      const Z = values(N * D, 14), CB = values(K * D, 15);
      const runs = await atEveryThreadCount(() => sg.tidy(() => [sg.vqNearest(sg.tensor(Z, [N, D]), sg.tensor(CB, [K, D])).dataSync()]), N > 4);
      expectSameBits(runs);
      expect(new Int32Array(runs[0][0].buffer)).toEqual(vqNearestRef(Z, N, CB, K, D));
    });
  }

  for (const [B, F] of [[1, 1], [3, 5], [17, 131], [128, 1024]] as const) {
    test(`batch norm statistics, forward (train, eval) and backward over ${B} x ${F}, split over features`, async () => {
      const X = values(B * F, 21), DY = values(B * F, 22), gamma = values(F, 23, 0.5, 2), beta = values(F, 24);
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const x = sg.tensor(X, [B, F]), g = sg.tensor(gamma), b = sg.tensor(beta);
        const f = bnForwardTrain(x, g, b, 1e-5);
        const bw = bnBackwardTrain(sg.tensor(DY, [B, F]), f.xhat, f.invstd, g);
        const ev = bnForwardEval(x, f.mean, f.variance, g, b, 1e-5);
        return [f.y, f.xhat, f.mean, f.variance, f.invstd, bw.dx, bw.dgamma, bw.dbeta, ev].map((t) => t.dataSync());
      }), F > 4);
      expectSameBits(runs);
      const ref = bnForwardTrainRef(X, B, F, 1e-5, gamma, beta);
      expect(new Float32Array(runs[0][0].buffer)).toEqual(ref.y);
      expect(new Float32Array(runs[0][2].buffer)).toEqual(ref.mean);
      const back = bnBackwardTrainRef(DY, ref.xhat, ref.invstd, gamma, B, F);
      expect(new Float32Array(runs[0][5].buffer)).toEqual(back.dx);
      expect(new Float32Array(runs[0][6].buffer)).toEqual(back.dgamma);
    });
  }

  for (const [M, N] of [[1, 1], [7, 129], [130, 300]] as const) {
    test(`threshold packing (frozen batch norm + binarize) of ${M} x ${N}, split over rows`, async () => {
      const Y = values(M * N, 25), thr = values(N, 26, -0.5, 0.5), dir = Int32Array.from(values(N, 27), (v) => (v < 0 ? -1 : 1));
      const runs = await atEveryThreadCount(() => sg.tidy(() => [thresholdPackF32(sg.tensor(Y, [M, N]), sg.tensor(thr), sg.tensor(dir, [N], { dtype: 'int32' })).dataSync()]), M > 1);
      expectSameBits(runs);
      expect(new Int32Array(runs[0][0].buffer)).toEqual(new Int32Array(thresholdPackRef(Y, thr, dir, M, N).buffer));
    });
  }

  for (const n of [1, 63, 64, 1000, 4099]) {
    test(`Adam and Bop updates on ${n} parameters, and elementwise passes`, async () => {
      const P = values(n, 16), G = values(n, 17), M = values(n, 18, -0.1, 0.1), V = values(n, 19, 0, 0.01);
      const step = { b1: 0.9, c1: 0.1, b2: 0.999, c2: 0.001, stepSize: 0.01, bc2Sqrt: 0.5, eps: 1e-8, shrink: 1, l2: 0.01, clip: 0.9 };
      const W = values(n, 20).map((v) => (v < 0 ? -1 : 1));
      const fq = { scale: 0.05, zeroPoint: 3, qmin: -8, qmax: 7 };
      const runs = await atEveryThreadCount(() => sg.tidy(() => {
        const p = sg.tensor(P), g = sg.tensor(G), m = sg.tensor(M), v = sg.tensor(V);
        adamUpdate(p, g, m, v, step);
        const w = sg.tensor(W), bm = sg.tensor(M);
        const flips = bopUpdate(w, g, bm, 0.1, 0.05);
        const x = sg.tensor(P);
        return [p.dataSync(), m.dataSync(), v.dataSync(), w.dataSync(), bm.dataSync(), Int32Array.of(flips),
          sg.exp(x).dataSync(), sg.tanh(x).dataSync(), sg.relu(x).dataSync(), sg.clip(x, -0.5, 0.25).dataSync(), sg.mul(x, 3).dataSync(),
          f32Hard('sign', x).y.dataSync(), f32Hard('round', sg.mul(x, 3)).y.dataSync(), f32RangeMaskBackward(x, g, -0.5, 0.5).dataSync(),
          f32Ternarize(x, 0.3).dataSync(), f32FakeQuant(x, fq).dataSync(), f32FakeQuantBackward(x, g, fq).dataSync()];
      }), n > 64);
      expectSameBits(runs);
      const p = P.slice(), m = M.slice(), v = V.slice();
      adamUpdateRef(p, G, m, v, step.b1, step.c1, step.b2, step.c2, step.stepSize, step.bc2Sqrt, step.eps, step.shrink, step.l2, -step.clip, step.clip);
      expect(new Float32Array(runs[0][0].buffer)).toEqual(p);
      const w = W.slice(), bm = M.slice();
      expect(new Int32Array(runs[0][5].buffer)[0]).toBe(bopUpdateRef(w, G, bm, 0.1, 0.05));
      expect(new Float32Array(runs[0][3].buffer)).toEqual(w);
    });
  }
});
