// VectorQuantizer against float64 JS references: k-means init, the EMA
// codebook update, dead-code replacement, usage statistics, losses and their
// gradients, eval mode.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { f32View } from '../../src/runtime/views.js';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const own = disposeAfterEach();

type VQ = InstanceType<typeof sg.nn.VectorQuantizer>;
const flat = (t: Tensor): Float32Array => t.dataSync() as Float32Array;

function write(t: Tensor, data: ArrayLike<number>): void {
  f32View(t.offset, t.size).set(data);
  sg.markModified(t);
}

function state(vq: VQ, name: string): Float32Array {
  return flat(vq.stateDict()[name]);
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label = ''): void {
  expect(got.length, `${label} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * Math.max(1, Math.abs(want[i])))) throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

/** Nearest code per row in float64 (squared L2, lowest index on ties). */
function nearest(z: ArrayLike<number>, N: number, C: ArrayLike<number>, K: number, D: number): number[] {
  return Array.from({ length: N }, (_, i) => {
    let best = Infinity, bi = 0;
    for (let k = 0; k < K; k++) {
      let d = 0;
      for (let j = 0; j < D; j++) d += (z[i * D + j] - C[k * D + j]) ** 2;
      if (d < best) { best = d; bi = k; }
    }
    return bi;
  });
}

/** Three well separated clusters of `per` points in 2-D; returns the points and each cluster's mean. */
function clusters(per: number, seed: number): { z: Float32Array; means: number[][]; label: number[] } {
  const centers = [[10, 0], [0, 10], [-10, -10]];
  const noise = seededArray(centers.length * per * 2, seed, -0.5, 0.5);
  const z = new Float32Array(centers.length * per * 2);
  const label: number[] = [];
  const means = centers.map(() => [0, 0]);
  // Interleaved, so the batch order does not reveal the clusters.
  for (let i = 0; i < centers.length * per; i++) {
    const c = i % centers.length;
    label.push(c);
    for (let d = 0; d < 2; d++) {
      z[i * 2 + d] = centers[c][d] + noise[i * 2 + d];
      means[c][d] += z[i * 2 + d] / per;
    }
  }
  return { z, means, label };
}

describe('k-means initialization', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    test(`the first training batch runs k-means: every code is the mean of the batch vectors nearest to it (seed ${seed})`, () => {
      const vq = own(new sg.nn.VectorQuantizer(3, 2, { seed }));
      const { z } = clusters(10, 40 + seed);
      expect(state(vq, 'initialized')[0]).toBe(0);
      sg.tidy(() => {
        const idx = Array.from(vq.quantize(sg.tensor(z, [30, 2])).indices.dataSync());
        const C = flat(vq.codebook);
        expect(idx).toEqual(nearest(z, 30, C, 3, 2));
        const counts = [0, 0, 0];
        const sums = [0, 0, 0, 0, 0, 0];
        idx.forEach((k, i) => { counts[k]++; sums[2 * k] += z[2 * i]; sums[2 * k + 1] += z[2 * i + 1]; });
        for (let k = 0; k < 3; k++) if (counts[k] > 0) expectClose(C.subarray(2 * k, 2 * k + 2), [sums[2 * k] / counts[k], sums[2 * k + 1] / counts[k]], 1e-4, `code ${k}`);
        // The EMA statistics start from the k-means clusters (the EMA step of the same batch keeps them).
        expectClose(state(vq, 'clusterSize'), counts, 1e-6, 'clusterSize');
      });
      expect(state(vq, 'initialized')[0]).toBe(1);
    });
  }

  test('clearly separated clusters each get their own code, whatever the seed (seeds 1..5)', () => {
    const outcome: string[] = [];
    for (const seed of [1, 2, 3, 4, 5]) {
      const vq = own(new sg.nn.VectorQuantizer(3, 2, { seed }));
      const { z, means, label } = clusters(10, 40 + seed);
      sg.tidy(() => {
        const r = vq.quantize(sg.tensor(z, [30, 2]));
        const idx = Array.from(r.indices.dataSync());
        const codeOf = [0, 1, 2].map((c) => idx[label.indexOf(c)]);
        const C = flat(vq.codebook);
        const separated = new Set(codeOf).size === 3 && idx.every((k, i) => k === codeOf[label[i]]) &&
          [0, 1, 2].every((c) => Math.abs(C[2 * codeOf[c]] - means[c][0]) < 1e-4 && Math.abs(C[2 * codeOf[c] + 1] - means[c][1]) < 1e-4);
        outcome.push(`seed ${seed}: ${separated ? 'ok' : `clusters -> codes [${codeOf}], perplexity ${r.perplexity.toFixed(3)}`}`);
      });
    }
    expect(outcome.join('; ')).toBe([1, 2, 3, 4, 5].map((s) => `seed ${s}: ok`).join('; '));
  });

  test('gradient mode (ema: false): the codebook parameter becomes the cluster means; a second batch does not re-run k-means', () => {
    const vq = own(new sg.nn.VectorQuantizer(3, 2, { ema: false, seed: 3 }));
    const { z, means, label } = clusters(7, 60);
    sg.tidy(() => {
      const idx = Array.from(vq.quantize(sg.tensor(z, [21, 2])).indices.dataSync());
      const C = flat(vq.codebook);
      for (let c = 0; c < 3; c++) {
        const k = idx[label.indexOf(c)];
        expectClose(C.subarray(k * 2, k * 2 + 2), means[c], 1e-6, `code of cluster ${c}`);
      }
      const before = flat(vq.codebook);
      vq.quantize(sg.tensor(z.map((v) => v + 3), [21, 2]));
      expect(Array.from(flat(vq.codebook))).toEqual(Array.from(before));
    });
  });
});

describe('EMA update', () => {
  test('clusterSize, embedSum and codebook follow the documented formula with decay and epsilon, over two steps', () => {
    const [K, D, decay, eps] = [4, 3, 0.8, 1e-3];
    const vq = own(new sg.nn.VectorQuantizer(K, D, { kmeansInit: false, deadCodeThreshold: 0, decay, epsilon: eps }));
    const C0 = [0, 0, 0, 4, 0, 0, 0, 4, 0, 0, 0, 40];
    let size = [2, 0.5, 3, 1];
    let embed = Array.from(seededArray(K * D, 7, -1, 1));
    write(vq.codebook, C0);
    write(vq.stateDict().clusterSize, size);
    write(vq.stateDict().embedSum, embed);
    let C = C0;
    for (const seed of [1, 2]) {
      const N = 9;
      const z = seededArray(N * D, 20 + seed, -1.5, 5);
      const idx = nearest(z, N, C, K, D);
      sg.tidy(() => {
        const r = vq.quantize(sg.tensor(z, [N, D]));
        expect(Array.from(r.indices.dataSync())).toEqual(idx);
      });
      const counts = new Array(K).fill(0);
      const sums = new Array(K * D).fill(0);
      idx.forEach((k, i) => { counts[k]++; for (let d = 0; d < D; d++) sums[k * D + d] += z[i * D + d]; });
      size = size.map((s, k) => decay * s + (1 - decay) * counts[k]);
      embed = embed.map((e, j) => decay * e + (1 - decay) * sums[j]);
      const n = size.reduce((a, b) => a + b, 0);
      C = embed.map((e, j) => e / (((size[Math.floor(j / D)] + eps) / (n + K * eps)) * n));
      expectClose(state(vq, 'clusterSize'), size, 1e-6, `clusterSize step ${seed}`);
      expectClose(state(vq, 'embedSum'), embed, 1e-5, `embedSum step ${seed}`);
      expectClose(flat(vq.codebook), C, 1e-5, `codebook step ${seed}`);
    }
  });

  test('a code never chosen is replaced by a batch vector once its EMA size falls below the threshold', () => {
    const [K, D] = [4, 2];
    const vq = own(new sg.nn.VectorQuantizer(K, D, { kmeansInit: false, decay: 0.5, deadCodeThreshold: 1, seed: 9 }));
    const C0 = [0, 0, 5, 5, -5, 5, 100, 100];
    write(vq.codebook, C0);
    write(vq.stateDict().clusterSize, [4, 4, 4, 4]);
    write(vq.stateDict().embedSum, C0.map((v) => 4 * v));
    const batch = (seed: number): Float32Array => {
      const noise = seededArray(9 * D, seed, -0.4, 0.4);
      return noise.map((v, j) => v + C0[(Math.floor(j / D) % 3) * D + (j % D)]);
    };
    const wantSize3 = [2, 1, 0.5];
    for (let step = 0; step < 3; step++) {
      const z = batch(50 + step);
      sg.tidy(() => {
        vq.quantize(sg.tensor(z, [9, D]));
      });
      const size = state(vq, 'clusterSize');
      const C = flat(vq.codebook);
      const row3 = Array.from(C.subarray(3 * D, 4 * D));
      const isBatchRow = (r: number[]): boolean => Array.from({ length: 9 }, (_, i) => i).some((i) => r.every((v, d) => v === z[i * D + d]));
      if (step < 2) {
        // 4 -> 2 -> 1: not below the threshold yet, so code 3 stays far away.
        expect(size[3]).toBe(wantSize3[step]);
        expectClose(row3, [100, 100], 1e-3, `code 3 after step ${step + 1}`);
      } else {
        // 1 -> 0.5 < 1: replaced by a vector of this batch, with statistics of size = threshold.
        expect(isBatchRow(row3), `code 3 = [${row3}] is a row of the batch`).toBe(true);
        expect(size[3]).toBe(1);
        expect(Array.from(state(vq, 'embedSum').subarray(3 * D, 4 * D))).toEqual(row3);
      }
      // The used codes are never replaced.
      for (let k = 0; k < 3; k++) expect(size[k]).toBeGreaterThan(1);
      expectClose(C.subarray(0, 3 * D), C0.slice(0, 3 * D), 0.3, 'used codes');
    }
  });
});

describe('statistics, losses, gradients, eval', () => {
  test('perplexity and usage on hand-made assignments', () => {
    const vq = own(new sg.nn.VectorQuantizer(4, 2, { seed: 1 }));
    vq.eval();
    write(vq.codebook, [0, 0, 10, 0, 0, 10, 10, 10]);
    sg.tidy(() => {
      const r1 = vq.quantize(sg.tensor([0.1, 0, -0.2, 0.1, 9, 0.5, 0.3, 11], [4, 2]));
      expect(Array.from(r1.indices.dataSync())).toEqual([0, 0, 1, 2]);
      // p = [1/2, 1/4, 1/4, 0]: entropy 1.5 ln 2, perplexity 2^1.5
      expect(r1.perplexity).toBeCloseTo(2 ** 1.5, 12);
      expect(r1.usage).toBe(0.75);
      const r2 = vq.quantize(sg.tensor([9, 9, 11, 10, 10, 12], [3, 2]));
      expect(r2.perplexity).toBeCloseTo(1, 12);
      expect(r2.usage).toBe(0.25);
      const r3 = vq.quantize(sg.tensor([0, 0, 10, 0, 0, 10, 10, 10, 1, 1, 9, 1, 1, 9, 9, 9], [8, 2]));
      expect(r3.perplexity).toBeCloseTo(4, 12);
      expect(r3.usage).toBe(1);
    });
  });

  test('EMA mode: loss is the commitment loss only; the codebook is a buffer and gets no gradient', () => {
    const [N, D, beta] = [5, 3, 0.4];
    const vq = own(new sg.nn.VectorQuantizer(2, D, { beta, kmeansInit: false, deadCodeThreshold: 0 }));
    expect(vq.parameters()).toEqual([]);
    expect(Object.keys(vq.stateDict())).toEqual(['codebook', 'clusterSize', 'embedSum', 'initialized']);
    const C = [1, 1, 1, -1, -1, -1];
    write(vq.codebook, C);
    sg.tidy(() => {
      const zs = seededArray(N * D, 11, -2, 2);
      const z = sg.tensor(zs, [N, D], { requiresGrad: true });
      const r = vq.quantize(z);
      const idx = nearest(zs, N, C, 2, D);
      let se = 0;
      zs.forEach((v, j) => { se += (v - C[idx[Math.floor(j / D)] * D + (j % D)]) ** 2; });
      expect(r.loss.item()).toBeCloseTo((beta * se) / (N * D), 6);
      expect(r.loss.item()).toBe(r.commitmentLoss.item());
      r.loss.backward();
      const want = Array.from(zs, (v, j) => (2 * beta * (v - C[idx[Math.floor(j / D)] * D + (j % D)])) / (N * D));
      expectClose(flat(z.grad!), want, 1e-6, 'dz');
      expect(vq.codebook.grad).toBeNull();
    });
  });

  test('gradient mode: loss = codebook + commitment; the codebook gets gradient only from the codebook loss', () => {
    const [N, D, beta, K] = [6, 2, 0.25, 3];
    const vq = own(new sg.nn.VectorQuantizer(K, D, { beta, ema: false, kmeansInit: false }));
    expect(vq.parameters()).toEqual([vq.codebook]);
    const C = [0, 0, 3, 3, -3, 3];
    write(vq.codebook, C);
    sg.tidy(() => {
      const zs = seededArray(N * D, 12, -3, 3);
      const idx = nearest(zs, N, C, K, D);
      const diff = Array.from(zs, (v, j) => v - C[idx[Math.floor(j / D)] * D + (j % D)]);
      const mseValue = diff.reduce((a, v) => a + v * v, 0) / (N * D);
      const z = sg.tensor(zs, [N, D], { requiresGrad: true });
      const r = vq.quantize(z);
      expect(r.loss.item()).toBeCloseTo((1 + beta) * mseValue, 5);
      expect(r.codebookLoss.item()).toBeCloseTo(mseValue, 5);
      r.loss.backward();
      const dC = new Array(K * D).fill(0);
      diff.forEach((v, j) => { dC[idx[Math.floor(j / D)] * D + (j % D)] += (-2 * v) / (N * D); });
      expectClose(flat(vq.codebook.grad!), dC, 1e-6, 'dCodebook');
      expectClose(flat(z.grad!), diff.map((v) => (2 * beta * v) / (N * D)), 1e-6, 'dz');
      // zq passes its gradient straight to z, never to the codebook.
      vq.codebook.grad!.dispose();
      vq.codebook.grad = null;
      const z2 = sg.tensor(zs, [N, D], { requiresGrad: true });
      const r2 = vq.quantize(z2);
      expectClose(flat(r2.zq), Array.from(zs, (_, j) => C[idx[Math.floor(j / D)] * D + (j % D)]), 0, 'zq');
      r2.zq.sum().backward();
      expect(vq.codebook.grad).toBeNull();
      expectClose(flat(z2.grad!), new Array(N * D).fill(1), 0, 'dz2');
    });
  });

  test('eval mode updates nothing (no k-means, no EMA, no dead-code replacement)', () => {
    const vq = own(new sg.nn.VectorQuantizer(4, 2, { seed: 5 }));
    vq.eval();
    const before = Object.fromEntries(Object.entries(vq.stateDict()).map(([k, t]) => [k, Array.from(flat(t))]));
    sg.tidy(() => {
      for (let i = 0; i < 3; i++) vq.quantize(sg.tensor(seededArray(16, 30 + i, -5, 5), [8, 2]));
      expect(vq.forward(sg.tensor(seededArray(6, 40), [3, 2])).shape).toEqual([3, 2]);
    });
    for (const [k, t] of Object.entries(vq.stateDict())) expect(Array.from(flat(t)), k).toEqual(before[k]);
    expect(before.initialized).toEqual([0]);
  });

  test('bad inputs and options are rejected naming the argument', () => {
    const vq = own(new sg.nn.VectorQuantizer(4, 3));
    sg.tidy(() => {
      expect(() => vq.quantize(sg.zeros([2, 2]))).toThrow(/VectorQuantizer: z must have shape \[N, 3\]/);
      expect(() => vq.quantize(sg.zeros([6]))).toThrow(/VectorQuantizer: z must have shape/);
      expect(() => vq.quantize(sg.tensor([1, 2, 3], [1, 3], { dtype: 'int32' }))).toThrow(/VectorQuantizer.*z/);
      expect(() => vq.quantize(sg.tensor([1, NaN, 3], [1, 3]))).toThrow(/NaN/);
    });
    expect(() => new sg.nn.VectorQuantizer(0, 3)).toThrow(/VectorQuantizer.*numCodes/);
    expect(() => new sg.nn.VectorQuantizer(4, 0)).toThrow(/VectorQuantizer.*dim/);
    expect(() => new sg.nn.VectorQuantizer(4, 3, { decay: 1.5 })).toThrow(/VectorQuantizer.*decay/);
    expect(() => new sg.nn.VectorQuantizer(4, 3, { epsilon: 0 })).toThrow(/VectorQuantizer.*epsilon/);
    expect(() => new sg.nn.VectorQuantizer(4, 3, { beta: -1 })).toThrow(/VectorQuantizer.*beta/);
    expect(() => new sg.nn.VectorQuantizer(4, 3, { deadCodeThreshold: -1 })).toThrow(/VectorQuantizer.*deadCodeThreshold/);
  });
});
