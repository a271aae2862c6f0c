// ste.vq / nn.VectorQuantizer options: the rotation trick (Fifty et al. 2025)
// against its closed form in 2-D and a float64 D×D reference, finite
// differences of the frozen rotation map, cosine codebooks, stochastic code
// sampling (τ → 0 is the nearest code; frequencies follow the softmax).
import { describe, expect, test } from 'vitest';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();

/** dL/de for L = w·zq under the rotation trick, with R built as a full float64 matrix (the reference the kernel avoids). */
function rotatedGrad64(e: number[], q: number[], w: number[]): number[] {
  const D = e.length;
  const en = Math.hypot(...e);
  const qn = Math.hypot(...q);
  const eh = e.map((v) => v / en);
  const qh = q.map((v) => v / qn);
  const rs = eh.map((v, i) => v + qh[i]);
  // q̂ = −ê: r is taken as 0 (R = I − 2êêᵀ), as the layer documents.
  const rn = Math.hypot(...rs);
  const r = rs.map((v) => (rn > 1e-12 ? v / rn : 0));
  const R = Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => (i === j ? 1 : 0) - 2 * r[i] * r[j] + 2 * qh[i] * eh[j]));
  // R takes ê to q̂ and is orthogonal.
  for (let i = 0; i < D; i++) expect(R[i].reduce((s, v, j) => s + v * eh[j], 0)).toBeCloseTo(qh[i], 12);
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) expect(R.reduce((s, row) => s + row[i] * row[j], 0)).toBeCloseTo(i === j ? 1 : 0, 12);
  const s = qn / en;
  return Array.from({ length: D }, (_, j) => s * R.reduce((acc, row, i) => acc + row[j] * w[i], 0));
}

function gradOf(e: number[][], codebook: number[][], w: number[][], options: object = {}): { zq: number[]; grad: number[]; indices: number[] } {
  return sg.tidy(() => {
    const z = sg.tensor(e.flat(), [e.length, e[0].length], { requiresGrad: true });
    const r = sg.ste.vq(z, sg.tensor(codebook.flat(), [codebook.length, codebook[0].length]), { rotationTrick: true, ...options });
    sg.sum(sg.mul(r.zq, sg.tensor(w.flat(), [w.length, w[0].length]))).backward();
    return { zq: Array.from(r.zq.dataSync()), grad: Array.from(z.grad!.dataSync()), indices: Array.from(r.indices.dataSync()) };
  });
}

describe('rotation trick', () => {
  test('2-D closed form: e = (1, 0) -> q = (0, 2) is a 90° turn and a scale of 2; e = (3, 4) -> q = (1, 0) turns back by atan2(4, 3) and scales by 1/5', () => {
    // Rᵀ dy, times ‖q‖/‖e‖: dy = (1, 0) -> 2·(0, −1); dy = (0, 1) -> 2·(1, 0).
    const a = gradOf([[1, 0], [1, 0]], [[0, 2]], [[1, 0], [0, 1]]);
    expect(a.zq).toEqual([0, 2, 0, 2]);
    a.grad.forEach((g, i) => expect(g).toBeCloseTo([0, -2, 2, 0][i], 6));
    // Rᵀ turns by +θ (cos θ = 0.6, sin θ = 0.8): (1, 0) -> (0.6, 0.8)/5, (0, 1) -> (−0.8, 0.6)/5.
    const b = gradOf([[3, 4], [3, 4]], [[1, 0], [-50, -50]], [[1, 0], [0, 1]]);
    expect(b.zq).toEqual([1, 0, 1, 0]);
    b.grad.forEach((g, i) => expect(g).toBeCloseTo([0.12, 0.16, -0.16, 0.12][i], 6));
  });

  test('forward equals the code bitwise; the gradient equals s·Rᵀ·dy of a float64 D×D reference (D = 1, 7, 33)', () => {
    for (const [N, D, K] of [[3, 1, 2], [11, 7, 5], [4, 33, 3]]) {
      const zs = seededArray(N * D, D, -2, 2);
      const cs = seededArray(K * D, D + 1, -2, 2);
      const ws = seededArray(N * D, D + 2, -1, 1);
      const rows = (a: Float32Array, n: number): number[][] => Array.from({ length: n }, (_, i) => Array.from(a.subarray(i * D, (i + 1) * D)));
      const e = rows(zs, N);
      const C = rows(cs, K);
      const w = rows(ws, N);
      const got = gradOf(e, C, w);
      for (let n = 0; n < N; n++) {
        const q = C[got.indices[n]];
        expect(got.zq.slice(n * D, (n + 1) * D), 'forward is the code, bit for bit').toEqual(q.map(Math.fround));
        // D = 1: ê and q̂ are ±1; R is the identity or the reflection −1.
        const want = rotatedGrad64(e[n], q, w[n]);
        want.forEach((v, d) => expect(Math.abs(got.grad[n * D + d] - v), `row ${n} dim ${d}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
      }
    }
  });

  test('finite differences (float64) of the rotation map with R and s frozen at e0 give the same gradient', () => {
    const e0 = [0.7, -1.2, 0.4, 2.1, -0.3];
    const q = [1.5, 0.2, -0.9, 0.6, 1.1];
    const w = [0.3, -0.8, 0.5, 0.1, -0.6];
    // Frozen map e -> s0·R0·e, R0 and s0 from e0 (what sg(...) means), differentiated numerically.
    const D = 5;
    const en = Math.hypot(...e0), qn = Math.hypot(...q);
    const eh = e0.map((v) => v / en), qh = q.map((v) => v / qn);
    const rs = eh.map((v, i) => v + qh[i]);
    const r = rs.map((v) => v / Math.hypot(...rs));
    const map = (e: number[]): number => {
      const re = r.reduce((s, v, i) => s + v * e[i], 0);
      const ee = eh.reduce((s, v, i) => s + v * e[i], 0);
      return e.reduce((s, v, i) => s + w[i] * (qn / en) * (v - 2 * r[i] * re + 2 * qh[i] * ee), 0);
    };
    expect(map(e0)).toBeCloseTo(w.reduce((s, v, i) => s + v * q[i], 0), 12);
    const h = 1e-6;
    const fd = e0.map((_, i) => (map(e0.map((v, j) => (j === i ? v + h : v))) - map(e0.map((v, j) => (j === i ? v - h : v)))) / (2 * h));
    const got = gradOf([e0], [q], [w]);
    fd.forEach((v, i) => expect(Math.abs(got.grad[i] - v)).toBeLessThanOrEqual(1e-5));
    expect(D).toBe(e0.length);
  });

  test('degenerate rows: e = 0, or e so small that ‖q‖/‖e‖ exceeds 1e12, passes the gradient straight through; q = −e reflects it (R = I − 2êêᵀ)', () => {
    const zero = gradOf([[0, 0, 0]], [[1, 2, 3]], [[0.5, -1, 2]]);
    expect(zero.grad).toEqual([0.5, -1, 2]);
    // e = (1, 0), q = (−2, 0): s = 2, Rᵀdy = (−dy0, dy1).
    const flip = gradOf([[1, 0]], [[-2, 0]], [[0.25, 0.75]]);
    flip.grad.forEach((g, i) => expect(g).toBeCloseTo([-0.5, 1.5][i], 6));
    // e tiny against q = 8 (s = ‖q‖/‖e‖ above 1e12: subnormal rows, or 3.3e-29 giving s ≈ 2.4e29) goes straight
    // through (fuzz seed 20261204 found infinite gradients); e = 1e-11 (s = 8e11) is still rotated: Rᵀ turns x̂ back to ŷ, s·(−dy1, dy0, dy2).
    const tiny = gradOf([[2.8e-45, 4.2e-45, 2.4e-44], [0, 3.3e-29, 0], [0, 1e-11, 0]], [[8, 0, 0]], [[0.5, -1, 2], [1, 1, 1], [0.5, 0.25, 1]]);
    expect(tiny.grad.slice(0, 6)).toEqual([0.5, -1, 2, 1, 1, 1]);
    const s = 8 / Math.fround(1e-11);
    tiny.grad.slice(6).forEach((g, i) => expect(g / s).toBeCloseTo([-0.25, 0.5, 1][i], 5));
  });

  test('nn.VectorQuantizer({ rotationTrick: true }) trains, keeps memory flat, and its codes equal the plain quantizer\'s', () => {
    const make = (rotationTrick: boolean) => own(new sg.nn.VectorQuantizer(8, 4, { rotationTrick, seed: 3, ema: false, kmeansInit: false }));
    const plain = make(false);
    const rot = make(true);
    const enc = own(new sg.nn.Linear(6, 4, { seed: 4 }));
    const x = own(sg.keep(sg.tensor(seededArray(32 * 6, 8, -1, 1), [32, 6])));
    sg.tidy(() => {
      const z = enc.forward(x);
      const a = plain.quantize(z);
      const b = rot.quantize(z);
      expect(Array.from(b.zq.dataSync())).toEqual(Array.from(a.zq.dataSync()));
      expect(Array.from(b.indices.dataSync())).toEqual(Array.from(a.indices.dataSync()));
      expect(b.loss.item()).toBe(a.loss.item());
    });
    const opt = new sg.optim.Adam([...enc.parameters(), ...rot.parameters()], { lr: 0.01 });
    let alive = 0;
    const losses: number[] = [];
    for (let step = 0; step < 60; step++) {
      sg.tidy(() => {
        opt.zeroGrad();
        const q = rot.quantize(enc.forward(x));
        const loss = sg.add(sg.mse(q.zq, sg.slice(x, [0, 0], [32, 4])), q.loss);
        loss.backward();
        opt.step();
        losses.push(loss.item());
      });
      if (step === 5) alive = sg.memoryStats().tensorsAlive;
    }
    expect(sg.memoryStats().tensorsAlive).toBe(alive);
    expect(losses[59]).toBeLessThan(0.7 * losses[0]);
    opt.dispose();
  });
});

describe('cosine codebooks', () => {
  test('nearest by cosine, not by distance; codes, losses and the gradient are those of the unit rows', () => {
    sg.tidy(() => {
      const z = sg.tensor([10, 1], [1, 2], { requiresGrad: true });
      // c0 points the way z does but is far (L2 would pick c1).
      const C = sg.tensor([0.1, 0.01, 8, 3], [2, 2], { requiresGrad: true });
      expect(Array.from(sg.ste.vq(z, C).indices.dataSync())).toEqual([1]);
      const r = sg.ste.vq(z, C, { cosine: true, beta: 0.5 });
      expect(Array.from(r.indices.dataSync())).toEqual([0]);
      const u = [10 / Math.hypot(10, 1), 1 / Math.hypot(10, 1)];
      const zq = r.zq.dataSync();
      u.forEach((v, i) => expect(zq[i]).toBeCloseTo(v, 6));
      // z and c0 are parallel: both losses are 0.
      expect(r.commitmentLoss.item()).toBeCloseTo(0, 7);
      expect(r.codebookLoss.item()).toBeCloseTo(0, 7);
      // Straight through the code, then through the normalization: dz = (I − ûûᵀ)/‖z‖ · dy.
      sg.sum(sg.mul(r.zq, sg.tensor([1, 0], [1, 2]))).backward();
      const n = Math.hypot(10, 1);
      const want = [(1 - u[0] * u[0]) / n, (-u[0] * u[1]) / n];
      const g = z.grad!.dataSync();
      want.forEach((v, i) => expect(g[i]).toBeCloseTo(v, 6));
      expect(C.grad).toBeNull();
    });
  });

  test('nn.VectorQuantizer({ cosine: true }) with EMA: k-means and EMA on unit rows; outputs are unit vectors', () => {
    const vq = own(new sg.nn.VectorQuantizer(4, 3, { cosine: true, seed: 2 }));
    sg.tidy(() => {
      const z = sg.tensor(seededArray(40 * 3, 12, -3, 3), [40, 3]);
      for (let i = 0; i < 3; i++) {
        const q = vq.quantize(z);
        const v = q.zq.dataSync();
        for (let n = 0; n < 40; n++) expect(Math.hypot(v[3 * n], v[3 * n + 1], v[3 * n + 2])).toBeCloseTo(1, 5);
      }
    });
  });
});

describe('stochastic code sampling', () => {
  test('τ → 0 gives the nearest code (vqNearest) on random data', () => {
    sg.tidy(() => {
      const z = sg.tensor(seededArray(200 * 5, 1, -2, 2), [200, 5]);
      const C = sg.tensor(seededArray(17 * 5, 2, -2, 2), [17, 5]);
      const r = sg.ste.vq(z, C, { temperature: 1e-6, seed: 4 });
      expect(Array.from(r.indices.dataSync())).toEqual(Array.from(sg.vqNearest(z, C).dataSync()));
    });
  });

  test('sampling frequencies match softmax(−‖z − c‖²/τ) within 4.5 standard errors; a seed replays its draws', () => {
    const N = 20000;
    const D = 2;
    const C = [0, 0, 1, 0, 0, 1.5, -1, -1];
    const zrow = [0.3, 0.2];
    for (const tau of [0.5, 2]) {
      const d2 = [0, 1, 2, 3].map((k) => (zrow[0] - C[2 * k]) ** 2 + (zrow[1] - C[2 * k + 1]) ** 2);
      const ex = d2.map((d) => Math.exp(-d / tau));
      const p = ex.map((v) => v / ex.reduce((a, b) => a + b, 0));
      sg.tidy(() => {
        const z = sg.broadcastTo(sg.tensor(zrow, [1, D]), [N, D]);
        const book = sg.tensor(C, [4, D]);
        const idx = sg.ste.vq(z, book, { temperature: tau, seed: 11 }).indices.dataSync();
        const counts = [0, 0, 0, 0];
        for (const k of idx) counts[k]++;
        p.forEach((pk, k) => expect(Math.abs(counts[k] / N - pk), `τ ${tau} code ${k}`).toBeLessThanOrEqual(4.5 * Math.sqrt((pk * (1 - pk)) / N)));
        expect(Array.from(sg.ste.vq(z, book, { temperature: tau, seed: 11 }).indices.dataSync())).toEqual(Array.from(idx));
        expect(Array.from(sg.ste.vq(z, book, { temperature: tau, seed: 12 }).indices.dataSync())).not.toEqual(Array.from(idx));
      });
    }
  });

  test('over 3000 seeds, one row\'s sampled code follows the softmax within 4.5 standard errors', () => {
    const M = 3000;
    const C = [0, 0, 1, 1, -1, 0.5];
    const zrow = [0.2, 0.4];
    const d2 = [0, 1, 2].map((k) => (zrow[0] - C[2 * k]) ** 2 + (zrow[1] - C[2 * k + 1]) ** 2);
    const ex = d2.map((d) => Math.exp(-d / 0.7));
    const p = ex.map((v) => v / ex.reduce((a, b) => a + b, 0));
    const counts = [0, 0, 0];
    sg.tidy(() => {
      const z = sg.tensor(zrow, [1, 2]);
      const book = sg.tensor(C, [3, 2]);
      for (let s = 0; s < M; s++) sg.tidy(() => { counts[sg.ste.vq(z, book, { temperature: 0.7, seed: s }).indices.dataSync()[0]]++; });
    });
    p.forEach((pk, k) => expect(Math.abs(counts[k] / M - pk), `code ${k}`).toBeLessThanOrEqual(4.5 * Math.sqrt((pk * (1 - pk)) / M)));
  });

  test('nn.VectorQuantizer samples only in training; eval takes the nearest code', () => {
    const vq = own(new sg.nn.VectorQuantizer(6, 2, { temperature: 50, seed: 5, kmeansInit: false, ema: false }));
    sg.tidy(() => {
      const z = sg.tensor(seededArray(300 * 2, 3, -2, 2), [300, 2]);
      const nearest = Array.from(sg.vqNearest(z, vq.codebook).dataSync());
      expect(Array.from(vq.quantize(z).indices.dataSync())).not.toEqual(nearest);
      vq.eval();
      expect(Array.from(vq.quantize(z).indices.dataSync())).toEqual(nearest);
    });
  });

  test('bad options name ste.vq / VectorQuantizer, the argument and the expectation', () => {
    sg.tidy(() => {
      const z = sg.tensor([1, 2], [1, 2]);
      const C = sg.tensor([0, 0], [1, 2]);
      expect(() => sg.ste.vq(z, C, { temperature: -1 })).toThrow(/ste\.vq: temperature must be >= 0, got -1/);
      expect(() => sg.ste.vq(z, C, { temperature: 1e-40 })).toThrow(/ste\.vq: temperature = 1e-40 must be 0 \(nearest code\) or a normal float32 value/);
      expect(() => sg.ste.vq(z, C, { seed: 3 })).toThrow(/ste\.vq: seed is only used to sample codes; pass temperature > 0/);
      expect(() => sg.ste.vq(z, C, { rotationTrick: 1 as never })).toThrow(/ste\.vq: rotationTrick must be true or false/);
      expect(() => sg.ste.vq(z, C, { cosine: 'yes' as never })).toThrow(/ste\.vq: cosine must be true or false/);
      expect(() => sg.ste.vq(sg.tensor([3e38, 3e38], [1, 2]), sg.tensor([-3e38, -3e38], [1, 2]), { temperature: 1 })).toThrow(/ste\.vq: the squared distance of z row 0 to code 0 overflows float32/);
    });
    expect(() => new sg.nn.VectorQuantizer(4, 2, { temperature: -0.5 })).toThrow(/VectorQuantizer: temperature must be >= 0, got -0\.5/);
    expect(() => new sg.nn.VectorQuantizer(4, 2, { cosine: 0 as never })).toThrow(/VectorQuantizer: cosine must be true or false/);
  });
});
