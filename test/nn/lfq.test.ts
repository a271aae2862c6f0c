// nn.LFQ (MAGVIT-v2 lookup-free quantization): codes and bit indices by hand,
// the straight-through gradient, the entropy loss against a float64
// enumeration and finite differences, bad input, memory, freeze/summary.
import { describe, expect, test } from 'vitest';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();

/** Per-sample and codebook entropies of softmax(−‖z − c‖²/τ) over {−1, 1}^D, in float64. */
function entropies64(z: Float32Array, N: number, D: number, tau: number): { perSample: number; codebook: number } {
  const K = 2 ** D;
  const avg = new Float64Array(K);
  let perSample = 0;
  for (let n = 0; n < N; n++) {
    const logits = new Float64Array(K);
    for (let k = 0; k < K; k++) {
      let d2 = 0;
      for (let i = 0; i < D; i++) d2 += (z[n * D + i] - ((k >> i) & 1 ? 1 : -1)) ** 2;
      logits[k] = -d2 / tau;
    }
    const m = Math.max(...logits);
    const lse = m + Math.log(logits.reduce((s, l) => s + Math.exp(l - m), 0));
    for (let k = 0; k < K; k++) {
      const p = Math.exp(logits[k] - lse);
      if (p > 0) perSample -= (p * (logits[k] - lse)) / N;
      avg[k] += p / N;
    }
  }
  let codebook = 0;
  for (const p of avg) if (p > 0) codebook -= p * Math.log(p);
  return { perSample, codebook };
}

describe('nn.LFQ', () => {
  test('codes are ±1 (0 -> +1), indices are the bits; both ways round trip', () => {
    const lfq = own(new sg.nn.LFQ(3));
    sg.tidy(() => {
      const q = lfq.quantize(sg.tensor([0.3, -0.1, 0, -2, -0.5, -1e-8, 4, 5, 6], [3, 3]));
      expect(Array.from(q.codes.dataSync())).toEqual([1, -1, 1, -1, -1, -1, 1, 1, 1]);
      expect(Array.from(q.indices.dataSync())).toEqual([1 + 4, 0, 7]);
      expect(q.usage).toBe(3 / 8);
      expect(q.perplexity).toBeCloseTo(3, 12);
      const all = sg.tensor(Array.from({ length: 8 }, (_, i) => i), [2, 4], { dtype: 'int32' });
      const codes = lfq.indicesToCodes(all);
      expect(codes.shape).toEqual([2, 4, 3]);
      expect(Array.from(codes.dataSync().subarray(6 * 3, 7 * 3))).toEqual([-1, 1, 1]);
      expect(Array.from(lfq.codesToIndices(codes).dataSync())).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });
  });

  test('the codes pass the gradient straight through (dz = dy exactly); commitment loss and its gradient by hand', () => {
    const lfq = own(new sg.nn.LFQ(4, { entropyLossWeight: 0, commitmentWeight: 0.5 }));
    const N = 5;
    const zs = seededArray(N * 4, 1, -2, 2);
    const w = seededArray(N * 4, 2, -1, 1);
    sg.tidy(() => {
      const z = sg.tensor(zs, [N, 4], { requiresGrad: true });
      sg.sum(sg.mul(lfq.forward(z), sg.tensor(w, [N, 4]))).backward();
      expect(Array.from(z.grad!.dataSync())).toEqual(Array.from(w));
    });
    sg.tidy(() => {
      const z = sg.tensor(zs, [N, 4], { requiresGrad: true });
      const q = lfq.quantize(z);
      expect(q.entropyLoss).toBeNull();
      const c = Array.from(zs, (v) => (v >= 0 ? 1 : -1));
      const want = (0.5 * zs.reduce((s, v, i) => s + (v - c[i]) ** 2, 0)) / (N * 4);
      expect(q.loss.item()).toBeCloseTo(want, 6);
      q.loss.backward();
      const grad = z.grad!.dataSync();
      zs.forEach((v, i) => expect(grad[i]).toBeCloseTo((0.5 * 2 * (v - c[i])) / (N * 4), 7));
    });
  });

  test('entropy loss: per-sample and codebook entropies match a float64 enumeration; loss = w·(H_sample − γ·H_codebook) + commitment', () => {
    for (const [D, tau, gamma] of [[1, 1, 1], [3, 0.5, 1], [5, 0.05, 0.7]] as const) {
      const lfq = new sg.nn.LFQ(D, { temperature: tau, diversityGamma: gamma, entropyLossWeight: 0.3, commitmentWeight: 0.25 });
      const N = 13;
      const zs = seededArray(N * D, 7 + D, -1.5, 1.5);
      const ref = entropies64(zs, N, D, tau);
      sg.tidy(() => {
        const q = lfq.quantize(sg.tensor(zs, [N, D]));
        expect(q.perSampleEntropy!.item(), `D ${D} per sample`).toBeCloseTo(ref.perSample, 4);
        expect(q.codebookEntropy!.item(), `D ${D} codebook`).toBeCloseTo(ref.codebook, 4);
        expect(q.entropyLoss!.item()).toBeCloseTo(ref.perSample - gamma * ref.codebook, 4);
        expect(q.loss.item()).toBeCloseTo(0.3 * (ref.perSample - gamma * ref.codebook) + q.commitmentLoss.item(), 5);
      });
      lfq.dispose();
    }
  });

  test('finite differences: the entropy loss gradient (smooth in z) passes gradcheck', () => {
    const lfq = own(new sg.nn.LFQ(3, { temperature: 1, diversityGamma: 0.8 }));
    const z = own(sg.tensor(seededArray(6 * 3, 21, -1, 1), [6, 3], { requiresGrad: true }));
    const r = sg.gradcheck((x) => lfq.quantize(x).entropyLoss!, [z], { eps: 1e-2, atol: 1e-3, rtol: 2e-2 });
    expect(r.ok, JSON.stringify(r.worst)).toBe(true);
    const rs = sg.gradcheck((x) => lfq.quantize(x).perSampleEntropy!, [z], { eps: 1e-2, atol: 1e-3, rtol: 2e-2 });
    expect(rs.ok, JSON.stringify(rs.worst)).toBe(true);
  });

  test('bad input: errors name the layer, the argument and what was expected', () => {
    expect(() => new sg.nn.LFQ(0)).toThrow(/LFQ: codeDim must be >= 1, got 0/);
    expect(() => new sg.nn.LFQ(31, { entropyLossWeight: 0 })).toThrow(/LFQ: codeDim must be <= 30, got 31/);
    expect(() => new sg.nn.LFQ(15)).toThrow(/LFQ: the entropy loss enumerates all 2\^codeDim codes, so it needs codeDim <= 14, got 15; pass entropyLossWeight: 0/);
    expect(() => new sg.nn.LFQ(4, { temperature: 0 })).toThrow(/LFQ: temperature must be > 0, got 0/);
    expect(() => new sg.nn.LFQ(4, { diversityGamma: -1 })).toThrow(/LFQ: diversityGamma must be >= 0, got -1/);
    const big = own(new sg.nn.LFQ(20, { entropyLossWeight: 0 }));
    expect(big.codebookSize).toBe(2 ** 20);
    const lfq = own(new sg.nn.LFQ(2));
    sg.tidy(() => {
      expect(() => lfq.quantize(sg.tensor([1, 2, 3], [1, 3]))).toThrow(/LFQ\.quantize: z must have shape \[\.\.\., 2\] \(codeDim channels\), got \[1,3\]/);
      expect(() => lfq.forward(sg.tensor([NaN, 1], [1, 2]))).toThrow(/NaN/);
      expect(() => lfq.quantize(sg.tensor([], [0, 2]))).toThrow(/LFQ\.quantize: z has no rows/);
      expect(() => lfq.quantize(sg.tensor([Infinity, 0], [1, 2]))).toThrow(/LFQ\.quantize: z element 0 is Infinity; with the entropy loss \(temperature 0\.01, codeDim 2\) \|z\| must be <= 7\.50e\+35/);
      expect(() => lfq.codesToIndices(sg.tensor([1, 0.5], [1, 2]))).toThrow(/LFQ\.codesToIndices: codes element 1 is 0\.5; LFQ codes are -1 or 1/);
      expect(() => lfq.indicesToCodes(sg.tensor([4], [1], { dtype: 'int32' }))).toThrow(/LFQ\.indicesToCodes: indices\[0\] = 4 is outside \[0, 2\^2\)/);
    });
  });

  test('memory is flat over training steps, and an LFQ autoencoder with the entropy loss learns and spreads its codes', () => {
    const enc = own(new sg.nn.Linear(8, 6, { seed: 1 }));
    const lfq = own(new sg.nn.LFQ(6, { temperature: 0.1 }));
    const dec = own(new sg.nn.Linear(6, 8, { seed: 2 }));
    const opt = new sg.optim.Adam([...enc.parameters(), ...dec.parameters()], { lr: 0.01 });
    const x = own(sg.keep(sg.tensor(seededArray(128 * 8, 5, -1, 1), [128, 8])));
    const recon: number[] = [];
    let alive = 0;
    let usage = 0;
    for (let step = 0; step < 120; step++) {
      sg.tidy(() => {
        opt.zeroGrad();
        const q = lfq.quantize(enc.forward(x));
        const r = sg.mse(dec.forward(q.codes), x);
        sg.add(r, q.loss).backward();
        opt.step();
        recon.push(r.item());
        usage = q.usage;
      });
      if (step === 10) alive = sg.memoryStats().tensorsAlive;
    }
    expect(sg.memoryStats().tensorsAlive).toBe(alive);
    expect(recon[119]).toBeLessThan(0.85 * recon[0]);
    expect(usage).toBeGreaterThan(0.5);
    opt.dispose?.();
  });

  test('freeze gives a binarize stage with the eval forward\'s bits; summary counts no MACs for it', () => {
    const model = own(new sg.nn.Sequential(new sg.nn.Linear(5, 4, { seed: 3 }), new sg.nn.LFQ(4)));
    model.eval();
    const frozen = own(sg.freeze(model));
    sg.tidy(() => {
      const x = sg.tensor(seededArray(7 * 5, 6, -2, 2), [7, 5]);
      expect(Array.from(frozen.predict(x).dataSync())).toEqual(Array.from(model.forward(x).dataSync()));
    });
    const layer = sg.summary(model).layers.find((l) => l.type === 'LFQ')!;
    expect(layer.macs).toEqual({ binary: 0, binaryWeights: 0, int8: 0, float: 0 });
  });
});
