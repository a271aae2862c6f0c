// nn.ResidualVQ: residual bookkeeping against a float64 JS reference (stage s
// quantizes z − Σ_{j<s} q_j), summed losses and their gradients, indices both
// ways, learning, memory, bad input, summary/freeze.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { f32View } from '../../src/runtime/views.js';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();

function write(t: Tensor, data: ArrayLike<number>): void {
  f32View(t.offset, t.size).set(data);
  sg.markModified(t);
}

function nearestRow(z: ArrayLike<number>, C: ArrayLike<number>, K: number, D: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < K; k++) {
    let d2 = 0;
    for (let d = 0; d < D; d++) d2 += (z[d] - C[k * D + d]) ** 2;
    if (d2 < bestD) [best, bestD] = [k, d2];
  }
  return best;
}

describe('nn.ResidualVQ', () => {
  test('residual bookkeeping, summed losses and their gradients against a JS reference (gradient codebooks)', () => {
    const [S, K, D, N, beta] = [3, 5, 4, 9, 0.3];
    const rvq = own(new sg.nn.ResidualVQ(S, K, D, { beta, ema: false, kmeansInit: false, seed: 1 }));
    const books = rvq.stages.map((_, s) => seededArray(K * D, 10 + s, -2 / (s + 1), 2 / (s + 1)));
    rvq.stages.forEach((q, s) => write(q.codebook, books[s]));
    const zs = seededArray(N * D, 3, -2, 2);
    const w = seededArray(N * D, 4, -1, 1);
    // Reference: float32 residuals as the layer computes them (sub in float32), float64 losses.
    const residual = Float32Array.from(zs);
    const wantIdx: number[][] = [];
    const wantSum = new Float32Array(N * D);
    let commit = 0;
    let book = 0;
    const dBooks = books.map(() => new Float64Array(K * D));
    const dz = new Float64Array(N * D);
    for (let s = 0; s < S; s++) {
      const idx = Array.from({ length: N }, (_, n) => nearestRow(residual.subarray(n * D, (n + 1) * D), books[s], K, D));
      wantIdx.push(idx);
      for (let n = 0; n < N; n++) {
        for (let d = 0; d < D; d++) {
          const q = books[s][idx[n] * D + d];
          const diff = residual[n * D + d] - q;
          commit += (beta * diff * diff) / (N * D);
          book += (diff * diff) / (N * D);
          dBooks[s][idx[n] * D + d] += (-2 * diff) / (N * D);
          // Each stage's commitment term reaches z through its residual (the earlier codes are constants).
          dz[n * D + d] += (2 * beta * diff) / (N * D) + w[n * D + d];
          wantSum[n * D + d] = Math.fround(s === 0 ? q : wantSum[n * D + d] + q);
          residual[n * D + d] = Math.fround(residual[n * D + d] - q);
        }
      }
    }
    sg.tidy(() => {
      const z = sg.tensor(zs, [N, D], { requiresGrad: true });
      const r = rvq.quantize(z);
      expect(r.indices.shape).toEqual([N, S]);
      const gotIdx = r.indices.dataSync();
      for (let s = 0; s < S; s++) expect(Array.from({ length: N }, (_, n) => gotIdx[n * S + s]), `stage ${s}`).toEqual(wantIdx[s]);
      expect(Array.from(r.zq.dataSync())).toEqual(Array.from(wantSum));
      expect(r.commitmentLoss.item()).toBeCloseTo(commit, 5);
      expect(r.codebookLoss.item()).toBeCloseTo(book, 5);
      expect(r.loss.item()).toBeCloseTo(commit + book, 5);
      expect(r.perplexity).toHaveLength(S);
      expect(Array.from(rvq.indicesToCodes(r.indices).dataSync())).toEqual(Array.from(wantSum));
      sg.add(sg.sum(sg.mul(r.zq, sg.tensor(w, [N, D]))), r.loss).backward();
      const g = z.grad!.dataSync();
      dz.forEach((v, i) => expect(Math.abs(g[i] - v), `dz[${i}]`).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(v))));
      rvq.stages.forEach((q, s) => {
        const gb = q.codebook.grad!.dataSync();
        dBooks[s].forEach((v, i) => expect(Math.abs(gb[i] - v), `stage ${s} dC[${i}]`).toBeLessThanOrEqual(1e-6));
      });
    });
    for (const q of rvq.stages) {
      q.codebook.grad?.dispose();
      q.codebook.grad = null;
    }
  });

  test('more stages quantize finer: after EMA training, the error of 1, 2, 4 stages falls; memory stays flat', () => {
    const z = own(sg.keep(sg.tensor(seededArray(256 * 3, 7, -1, 1), [256, 3])));
    const errors: number[] = [];
    for (const S of [1, 2, 4]) {
      const rvq = own(new sg.nn.ResidualVQ(S, 8, 3, { seed: 2, decay: 0.8 }));
      let alive = 0;
      for (let step = 0; step < 15; step++) {
        sg.tidy(() => {
          rvq.quantize(z);
        });
        if (step === 2) alive = sg.memoryStats().tensorsAlive;
      }
      expect(sg.memoryStats().tensorsAlive).toBe(alive);
      rvq.eval();
      errors.push(sg.tidy(() => sg.mse(rvq.forward(z), z).item()));
    }
    expect(errors[1]).toBeLessThan(0.7 * errors[0]);
    expect(errors[2]).toBeLessThan(0.7 * errors[1]);
  });

  test('the shared options reach every stage (rotation trick, cosine), each stage with its own seed', () => {
    const rvq = own(new sg.nn.ResidualVQ(2, 4, 2, { rotationTrick: true, cosine: true, seed: 5 }));
    expect(rvq.stages.map((q) => [q.rotationTrick, q.cosine])).toEqual([[true, true], [true, true]]);
    expect(Array.from(rvq.stages[0].codebook.dataSync())).not.toEqual(Array.from(rvq.stages[1].codebook.dataSync()));
    sg.tidy(() => {
      const z = sg.tensor(seededArray(10 * 2, 9, -1, 1), [10, 2], { requiresGrad: true });
      const r = rvq.quantize(z);
      sg.add(sg.sum(r.zq), r.loss).backward();
      expect(z.grad!.dataSync().every(Number.isFinite)).toBe(true);
    });
  });

  test('bad input names ResidualVQ, the argument and the expectation; summary counts every stage; freeze refuses it', () => {
    expect(() => new sg.nn.ResidualVQ(0, 4, 2)).toThrow(/ResidualVQ: numStages must be >= 1, got 0/);
    expect(() => new sg.nn.ResidualVQ(2, 0, 2)).toThrow(/ResidualVQ: VectorQuantizer: numCodes must be >= 1, got 0/);
    expect(() => new sg.nn.ResidualVQ(2, 4, 2, { decay: 2 })).toThrow(/ResidualVQ: VectorQuantizer: decay must be <= 1, got 2/);
    const rvq = own(new sg.nn.ResidualVQ(3, 4, 2, { seed: 1 }));
    sg.tidy(() => {
      expect(() => rvq.quantize(sg.tensor([1, 2, 3], [1, 3]))).toThrow(/ResidualVQ: z must have shape \[N, 2\], got \[1,3\]/);
      expect(() => rvq.quantize(sg.tensor([], [0, 2]))).toThrow(/ResidualVQ: z must have at least one row/);
      expect(() => rvq.indicesToCodes(sg.tensor([0, 1], [1, 2], { dtype: 'int32' }))).toThrow(/ResidualVQ\.indicesToCodes: indices must have shape \[N, 3\] \(one column per stage\), got \[1,2\]/);
      expect(() => rvq.indicesToCodes(sg.tensor([0, 1, 4], [1, 3], { dtype: 'int32' }))).toThrow(/ResidualVQ\.indicesToCodes: indices\[0, 2\] = 4 is outside \[0, 4\)/);
      expect(() => rvq.quantize(sg.tensor([NaN, 0], [1, 2]))).toThrow(/VectorQuantizer: z must be finite/);
    });
    const model = own(new sg.nn.Sequential(new sg.nn.Linear(3, 2, { seed: 1 }), new sg.nn.ResidualVQ(3, 4, 2, { seed: 2 })));
    const layer = sg.summary(model).layers.find((l) => l.type === 'ResidualVQ')!;
    expect(layer.macs.float).toBe(3 * 4 * 2);
    expect(() => sg.freeze(model)).toThrow(/freeze: layer .*ResidualVQ.* has no frozen form/);
  });
});
