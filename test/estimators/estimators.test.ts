// The estimator zoo and its diagnostics harness, against independent references: float64
// enumeration and finite differences, gradcheck, the paper's ReinMax algorithm written literally
// with stopGradient on the tape, hand-computed score-function gradients, sample frequencies.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

function softmax64(row: ArrayLike<number>, tau = 1): number[] {
  const m = Math.max(...Array.from(row, (v) => v / tau));
  const e = Array.from(row, (v) => Math.exp(v / tau - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** J(p)·dy = p ⊙ (dy − ⟨p, dy⟩). */
function jvp(p: number[], dy: number[]): number[] {
  const dot = p.reduce((s, v, i) => s + v * dy[i], 0);
  return p.map((v, i) => v * (dy[i] - dot));
}

// A nonlinear loss of the one-hot sample, batched: z [M, L, C] -> [M].
const W = [0.9, -1.3, 0.4, 1.1, -0.2, 0.7, -0.8, 1.5, 0.3, -1.0, 0.6, -0.5, 1.2, -0.9, 0.2, 0.8, -1.4, 0.5];
function lossOf(L: number, C: number) {
  // No tidy inside: the harness differentiates through f, so its intermediates must live until backward.
  return (z: Tensor) => {
    const w = sg.tensor(W.slice(0, L * C * 2), [L * C, 2]);
    const h = sg.tanh(sg.matmul(sg.reshape(z, [z.shape[0], L * C]), w));
    return sg.sum(sg.square(sg.sub(h, sg.tensor([0.3, -0.6]))), { axis: 1 });
  };
}

describe('estimators.exactGradient', () => {
  test('matches float64 finite differences of an independent enumeration, and gradcheck of the enumerated objective on the tape', () => {
    const L = 3;
    const C = 3;
    // float32-exact values, so the float64 reference sees the logits the tensor holds.
    const thetaVals = [0.4, -0.2, 1.0, -0.7, 0.3, 0.1, 0.9, -1.1, 0.2].map(Math.fround);
    const f = lossOf(L, C);
    // f of every configuration, by recursion over the latents (not the harness's digit order).
    const configs: number[][] = [];
    const rec = (prefix: number[]) => {
      if (prefix.length === L) configs.push(prefix);
      else for (let c = 0; c < C; c++) rec([...prefix, c]);
    };
    rec([]);
    const fvals = configs.map((cfg) => sg.tidy(() => {
      const z = new Float32Array(L * C);
      cfg.forEach((c, l) => (z[l * C + c] = 1));
      return f(sg.tensor(z, [1, L, C])).item();
    }));
    const J = (th: number[]) => {
      const p = [0, 1, 2].map((l) => softmax64(th.slice(l * C, l * C + C)));
      return configs.reduce((s, cfg, m) => s + cfg.reduce((q, c, l) => q * p[l][c], 1) * fvals[m], 0);
    };
    const fd = thetaVals.map((_, i) => {
      const h = 1e-5;
      const up = [...thetaVals];
      const dn = [...thetaVals];
      up[i] += h;
      dn[i] -= h;
      return (J(up) - J(dn)) / (2 * h);
    });
    const theta = sg.tensor(thetaVals, [L, C]);
    const ex = sg.estimators.exactGradient(theta, f, { batched: true });
    expect(ex.configurations).toBe(27);
    expect(ex.value).toBeCloseTo(J(thetaVals), 10);
    const norm = Math.sqrt(fd.reduce((s, v) => s + v * v, 0));
    expect(norm).toBeGreaterThan(0.05);
    for (let i = 0; i < fd.length; i++) expect(Math.abs(ex.gradient[i] - fd[i])).toBeLessThan(1e-7 * Math.max(1, norm));
    // The same objective built from snapgrad ops (log p(z) = Σ_l log softmax(θ_l)[z_l]), checked by gradcheck,
    // and its tape gradient against the harness.
    const Z = sg.tensor(configs.map((cfg) => Array.from({ length: L * C }, (_, j) => (cfg[Math.floor(j / C)] === j % C ? 1 : 0))));
    const F = sg.tensor(fvals, [configs.length, 1]);
    const objective = (t: Tensor) => sg.sum(sg.mul(sg.exp(sg.matmul(Z, sg.reshape(sg.logSoftmax(t), [L * C, 1]))), F));
    const leaf = sg.tensor(thetaVals, [L, C], { requiresGrad: true });
    const gc = sg.gradcheck(objective, [leaf], { eps: 1e-2, atol: 1e-3, rtol: 1e-2 });
    expect(gc.ok, JSON.stringify(gc.worst)).toBe(true);
    sg.tidy(() => objective(leaf).backward());
    const tape = leaf.grad!.dataSync();
    for (let i = 0; i < fd.length; i++) expect(Math.abs(tape[i] - ex.gradient[i])).toBeLessThan(1e-5);
    for (const t of [theta, Z, F, leaf, leaf.grad!]) t.dispose();
  });

  test('the unbatched call shape (f of one [L, C] sample returning a scalar) gives the same gradient', () => {
    const theta = sg.tensor([[0.2, -0.5], [1.0, 0.1], [-0.3, 0.4]]);
    const fb = lossOf(3, 2);
    const a = sg.estimators.exactGradient(theta, fb, { batched: true });
    const b = sg.estimators.exactGradient(theta, (z) => sg.reshape(fb(sg.reshape(z, [1, 3, 2])), []));
    expect(Array.from(b.gradient)).toEqual(Array.from(a.gradient));
    expect(b.value).toBe(a.value);
    theta.dispose();
  });

  test('rejects spaces past 16384 configurations, non-finite logits and a wrong f', () => {
    const big = sg.zeros([15, 2]);
    expect(() => sg.estimators.exactGradient(big, (z) => sg.sum(z))).toThrow(/estimators\.exactGradient: the latent space has C\^L = 2\^15 = 32768 configurations/);
    const bad = sg.tensor([[0, NaN]]);
    expect(() => sg.estimators.exactGradient(bad, (z) => sg.sum(z))).toThrow(/logits\[1\] = NaN/);
    const ok = sg.zeros([2, 2]);
    expect(() => sg.estimators.exactGradient(ok, (z) => sg.sum(z), { batched: true })).toThrow(/f must return one value per sample, shape \[4\]/);
    expect(() => sg.estimators.exactGradient(ok, 3 as never)).toThrow(/f must be a function/);
    for (const t of [big, bad, ok]) t.dispose();
  });
});

describe('estimators.compare', () => {
  test("REINFORCE's relative bias falls like 1/sqrt(N) toward zero; ST's levels off at its bias", () => {
    const theta = sg.tensor([[0.6, -0.4, 0.1], [-0.2, 0.8, -0.9]]);
    const f = lossOf(2, 3);
    // One measured bias is the norm of a noisy 6-vector: its root mean square over 16 seeds is the steady number.
    const seeds = Array.from({ length: 16 }, (_, i) => i + 1);
    const rms: Record<string, number[]> = { 'reinforce-loo': [], st: [] };
    const stds: number[] = [];
    for (const N of [100, 1600, 25600]) {
      const sq = { 'reinforce-loo': 0, st: 0 };
      let std = 0;
      for (const seed of seeds) {
        const r = sg.estimators.compare(theta, f, { estimators: ['reinforce-loo', 'st'], samples: N, seed, batched: true });
        sq['reinforce-loo'] += r.estimators[0].bias ** 2 / seeds.length;
        sq.st += r.estimators[1].bias ** 2 / seeds.length;
        std += r.estimators[0].std / seeds.length;
      }
      rms['reinforce-loo'].push(Math.sqrt(sq['reinforce-loo']));
      rms.st.push(Math.sqrt(sq.st));
      stds.push(std);
      // An unbiased estimator's bias is its standard error: E‖mean − g‖² = tr(Σ)/N, i.e. rms bias = std/sqrt(N).
      const ratio = Math.sqrt(sq['reinforce-loo']) / (std / Math.sqrt(N));
      console.log(`N = ${N}: rms bias / (std / sqrt(N)) = ${ratio.toFixed(3)}`);
      expect(ratio).toBeGreaterThan(0.7);
      expect(ratio).toBeLessThan(1.45);
    }
    const [b0, b1, b2] = rms['reinforce-loo'];
    console.log(`rms relative bias over 16 seeds at N = 100, 1600, 25600: reinforce-loo ${rms['reinforce-loo'].map((v) => v.toFixed(4)).join(', ')}; st ${rms.st.map((v) => v.toFixed(4)).join(', ')}`);
    // 16x the samples: 4x smaller bias, in a band that allows the sampling spread of the measurement.
    expect(b0 / b1).toBeGreaterThan(2.8);
    expect(b0 / b1).toBeLessThan(5.7);
    expect(b1 / b2).toBeGreaterThan(2.8);
    expect(b1 / b2).toBeLessThan(5.7);
    expect(b2).toBeLessThan(0.03);
    // The spread of one estimate does not depend on N.
    expect(Math.max(...stds) / Math.min(...stds)).toBeLessThan(1.2);
    // ST's bias is a property of the estimator, not of N: it stays above a floor and barely moves.
    for (const b of rms.st) expect(b).toBeGreaterThan(0.4);
    expect(rms.st[1] / rms.st[2]).toBeLessThan(1.1);
    expect(rms.st[2]).toBeGreaterThan(20 * b2);
    theta.dispose();
  });

  test('Gumbel-softmax: lower temperature, lower bias of the relaxed estimator but higher variance; ST-Gumbel at small tau samples what Gumbel-softmax does', () => {
    const theta = sg.tensor([[0.6, -0.4, 0.1], [-0.2, 0.8, -0.9]]);
    const f = lossOf(2, 3);
    const r = sg.estimators.compare(theta, f, {
      estimators: [{ name: 'gumbel-softmax', tau: 2, label: 'gs2' }, { name: 'gumbel-softmax', tau: 0.3, label: 'gs03' }, { name: 'st-gumbel', tau: 0.3 }],
      samples: 4000, seed: 3, batched: true,
    });
    const [gs2, gs03, stg] = r.estimators;
    expect(gs2.label).toBe('gs2');
    expect(gs03.bias).toBeLessThan(gs2.bias);
    expect(gs03.std).toBeGreaterThan(gs2.std);
    expect(stg.cosine).toBeGreaterThan(0);
    // At tau = 0.01 the relaxed sample is (numerically) the one-hot of the same Gumbel-max draw.
    sg.tidy(() => {
      const soft = sg.ste.gumbelSoftmax(theta, { tau: 0.01, seed: 11 }).dataSync();
      const hard = sg.ste.gumbelSoftmax(theta, { tau: 0.01, seed: 11, hard: true }).dataSync();
      const st = sg.ste.categorical(theta, { seed: 11 }).dataSync();
      for (let i = 0; i < soft.length; i++) expect(Math.abs(soft[i] - hard[i])).toBeLessThan(1e-3);
      expect(Array.from(st)).toEqual(Array.from(hard));
    });
    theta.dispose();
  });

  test('reports every estimator with N estimates and the evaluations spent; a constant f has no direction (NaN relative numbers)', () => {
    const theta = sg.tensor([[0.1, 0.2, -0.3]]);
    const r = sg.estimators.compare(theta, lossOf(1, 3), { estimators: ['st', 'st-gumbel', 'gumbel-softmax', 'reinmax', { name: 'reinforce', samples: 4, baseline: 'none' }], samples: 50, batched: true });
    expect(r.estimators.map((e) => e.label)).toEqual(['st', 'st-gumbel', 'gumbel-softmax', 'reinmax', 'reinforce-none']);
    expect(r.estimators.map((e) => e.evaluations)).toEqual([50, 50, 50, 50, 200]);
    for (const e of r.estimators) {
      expect(e.mean.length).toBe(3);
      expect(e.cosine).toBeGreaterThanOrEqual(-1);
      expect(e.cosine).toBeLessThanOrEqual(1);
      expect(Number.isFinite(e.std)).toBe(true);
    }
    expect(r.estimators[0].estimates).toBeNull();
    // keepEstimates returns the N estimates the summary numbers come from.
    const kept = sg.estimators.compare(theta, lossOf(1, 3), { estimators: ['reinmax'], samples: 30, seed: 2, batched: true, keepEstimates: true }).estimators[0];
    const est = kept.estimates!;
    expect(est.length).toBe(90);
    for (let d = 0; d < 3; d++) {
      let m = 0;
      for (let n = 0; n < 30; n++) m += est[n * 3 + d] / 30;
      expect(m).toBeCloseTo(kept.mean[d], 12);
    }
    const flat = sg.estimators.compare(theta, (z) => sg.mul(sg.sum(z, { axis: [1, 2] }), 0), { estimators: ['st'], samples: 4, batched: true });
    expect(flat.gradientNorm).toBe(0);
    expect(flat.estimators[0].bias).toBeNaN();
    expect(() => sg.estimators.compare(theta, lossOf(1, 3), { estimators: ['nope' as never] })).toThrow(/estimators\.compare: estimators\[0\] must be one of/);
    expect(() => sg.estimators.compare(theta, lossOf(1, 3), { estimators: [] })).toThrow(/non-empty array/);
    expect(() => sg.estimators.compare(theta, lossOf(1, 3), { estimators: ['st'], samples: 1 })).toThrow(/samples must be >= 2/);
    expect(() => sg.estimators.compare(theta, lossOf(1, 3), { estimators: [{ name: 'reinforce', samples: 1 }] })).toThrow(/'loo' needs samples >= 2/);
    theta.dispose();
  });
  test("f may use model parameters: compare leaves their .grad as it was (null stays null, a gradient keeps its values)", () => {
    const theta = sg.tensor([[0.3, -0.1], [0.2, 0.5]]);
    const w = sg.tensor([[1, -1], [0.5, 2]], undefined, { requiresGrad: true });
    const v = sg.tensor([0.7, -0.4], undefined, { requiresGrad: true });
    v.grad = sg.tensor([9, 8]);
    const f = (z: Tensor) => sg.add(sg.sum(sg.mul(z, w), { axis: [1, 2] }), sg.sum(v));
    const r = sg.estimators.compare(theta, f, { estimators: ['st', 'reinmax', 'reinforce-loo', 'gumbel-softmax'], samples: 20, batched: true });
    expect(r.estimators.length).toBe(4);
    expect(w.grad).toBeNull();
    expect(Array.from(v.grad!.dataSync())).toEqual([9, 8]);
    for (const t of [theta, w, v.grad!, v]) t.dispose();
  });
});

describe('estimators.compare with a sampled reference', () => {
  test('the local-expectation reference agrees with the enumeration within its stated error, and serves spaces past 16384', () => {
    const theta = sg.tensor([[0.6, -0.4, 0.1], [-0.2, 0.8, -0.9]]);
    const f = lossOf(2, 3);
    const exact = sg.estimators.exactGradient(theta, f, { batched: true });
    const r = sg.estimators.compare(theta, f, { estimators: ['st', 'reinforce-loo'], samples: 4000, seed: 2, batched: true, referenceSamples: 2000 });
    expect(r.reference).toBe('sampled');
    expect(r.referenceError).toBeGreaterThan(0);
    expect(r.referenceError).toBeLessThan(0.05);
    const norm = Math.hypot(...exact.gradient);
    const dist = Math.hypot(...Array.from(r.gradient, (v, d) => v - exact.gradient[d])) / norm;
    expect(dist).toBeLessThan(3 * r.referenceError);
    expect(Math.abs(r.value - exact.value)).toBeLessThan(0.05 * Math.abs(exact.value));
    // The same conclusions as against the exact gradient: ST biased, REINFORCE not (within both errors).
    const e = sg.estimators.compare(theta, f, { estimators: ['st', 'reinforce-loo'], samples: 4000, seed: 2, batched: true });
    expect(e.reference).toBe('exact');
    expect(e.referenceError).toBe(0);
    expect(Math.abs(r.estimators[0].bias - e.estimators[0].bias)).toBeLessThan(0.05);
    expect(r.estimators[1].bias).toBeLessThan(3 * (r.referenceError + r.estimators[1].std / Math.sqrt(4000)));
    // 4^8 = 65536 configurations: no enumeration, but a sampled reference.
    const big = sg.tensor(Array.from({ length: 8 }, (_, l) => [0.3 * l - 1, 0.2, -0.1 * l, 0.5]));
    const w = sg.tensor(Array.from({ length: 32 }, (_, i) => [0.4 * Math.sin(i), 0.4 * Math.cos(2 * i)]));
    const target = sg.tensor([1, -0.5]);
    const fb = (z: Tensor) => sg.sum(sg.square(sg.sub(sg.matmul(sg.reshape(z, [z.shape[0], 32]), w), target)), { axis: 1 });
    expect(() => sg.estimators.compare(big, fb, { estimators: ['st'], batched: true })).toThrow(/exact enumeration is limited to 16384; pass referenceSamples/);
    const rb = sg.estimators.compare(big, fb, { estimators: ['st', 'reinforce-loo'], samples: 2000, seed: 1, batched: true, referenceSamples: 500 });
    console.log(`4^8 space: reference error ${rb.referenceError.toFixed(4)}, ‖g‖ ${rb.gradientNorm.toFixed(4)}; st bias ${rb.estimators[0].bias.toFixed(3)}, reinforce-loo bias ${rb.estimators[1].bias.toFixed(3)} std ${rb.estimators[1].std.toFixed(2)}`);
    expect(rb.configurations).toBe(65536);
    expect(rb.referenceError).toBeLessThan(0.1);
    expect(rb.estimators[0].bias).toBeGreaterThan(2 * rb.referenceError);
    expect(rb.estimators[1].bias).toBeLessThan(3 * (rb.referenceError + rb.estimators[1].std / Math.sqrt(2000)));
    expect(() => sg.estimators.compare(theta, f, { estimators: ['st'], referenceSamples: 1 })).toThrow(/referenceSamples must be >= 2/);
    for (const t of [theta, big, w, target]) t.dispose();
  });
});

describe('ste.reinmax', () => {
  test("the closed form 2·J(π1)·dy − ½·J(π0)·dy equals the paper's algorithm run literally on the tape, and a hand computation on 1×3", () => {
    const thetaVals = [0.5, -0.3, 1.2];
    const dy = [1, -2, 0.5];
    const tau = 2;
    for (const seed of [1, 2, 3, 4, 5]) {
      sg.tidy(() => {
        const theta = sg.tensor([thetaVals], undefined, { requiresGrad: true });
        const y = sg.ste.reinmax(theta, { tau, seed });
        const D = Array.from(y.dataSync());
        expect(D.filter((v) => v === 1).length).toBe(1);
        expect(D.filter((v) => v === 0).length).toBe(2);
        y.backward(sg.tensor([dy]));
        const got = Array.from(theta.grad!.dataSync());
        // By hand, in float64.
        const pi0 = softmax64(thetaVals);
        const pi1 = softmax64(thetaVals, tau).map((v, i) => (D[i] + v) / 2);
        const a = jvp(pi1, dy);
        const b = jvp(pi0, dy);
        const want = a.map((v, i) => 2 * v - 0.5 * b[i]);
        for (let i = 0; i < 3; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(1e-6);
        // Liu et al. 2023, Algorithm 2, with stopGradient: π1' = softmax(sg(ln π1 − θ) + θ), π2 = 2π1' − π0/2.
        const t2 = sg.tensor([thetaVals], undefined, { requiresGrad: true });
        const p1 = sg.tensor([pi1]);
        const pi1p = sg.softmax(sg.add(sg.stopGradient(sg.sub(sg.log(p1), t2)), t2));
        const pi2 = sg.sub(sg.mul(pi1p, 2), sg.mul(sg.softmax(t2), 0.5));
        pi2.backward(sg.tensor([dy]));
        const literal = Array.from(t2.grad!.dataSync());
        for (let i = 0; i < 3; i++) expect(Math.abs(got[i] - literal[i])).toBeLessThan(1e-6);
        // The forward value of π2 − sg(π2) + D is D; the sample is the categorical's for the same seed.
        const st = sg.ste.categorical(sg.tensor([thetaVals]), { seed });
        expect(Array.from(st.dataSync())).toEqual(D);
        theta.grad!.dispose();
        t2.grad!.dispose();
      });
    }
  });

  test('ReinMax is unbiased where the trapezoid rule is exact (a quadratic loss of one latent) and ST is not: by hand, then measured', () => {
    const row = [0.6, -0.4, 0.1];
    const w = [1, -2, 0.5];
    const fOf = (z: number[]) => (z.reduce((s, v, i) => s + v * w[i], 0) - 0.4) ** 2;
    const dfOf = (z: number[]) => w.map((v) => 2 * (z.reduce((s, u, i) => s + u * w[i], 0) - 0.4) * v);
    // Exact expectations over D of each estimator (tau = 1), in float64.
    const pi = softmax64(row);
    const e = (i: number) => [0, 1, 2].map((j) => (j === i ? 1 : 0));
    const truth = jvp(pi, [0, 1, 2].map((i) => fOf(e(i))));
    const stMean = [0, 0, 0];
    const rmMean = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      const a = jvp(pi, dfOf(e(i)));
      const b = jvp(e(i).map((v, k) => (v + pi[k]) / 2), dfOf(e(i)));
      for (let k = 0; k < 3; k++) {
        stMean[k] += pi[i] * a[k];
        rmMean[k] += pi[i] * (2 * b[k] - 0.5 * a[k]);
      }
    }
    for (let k = 0; k < 3; k++) expect(Math.abs(rmMean[k] - truth[k])).toBeLessThan(1e-12);
    const norm = Math.hypot(...truth);
    const stBias = Math.hypot(...stMean.map((v, k) => v - truth[k])) / norm;
    expect(stBias).toBeGreaterThan(0.5);
    // The harness sees the same: ReinMax's bias is its standard error, ST's is stBias.
    const theta = sg.tensor([row]);
    const wt = sg.tensor(w.map((v) => [v]));
    const f = (z: Tensor) => sg.reshape(sg.square(sg.sub(sg.matmul(sg.reshape(z, [z.shape[0], 3]), wt), 0.4)), [z.shape[0]]);
    const r = sg.estimators.compare(theta, f, { estimators: ['st', 'reinmax'], samples: 16000, seed: 4, batched: true });
    const [st, rm] = r.estimators;
    expect(Math.abs(st.bias - stBias)).toBeLessThan(0.05);
    expect(rm.bias).toBeLessThan(3 * rm.std / Math.sqrt(16000));
    expect(rm.bias).toBeLessThan(0.1 * st.bias);
    theta.dispose();
    wt.dispose();
  });
});

describe('ste.gumbelRao', () => {
  test('Rao-Blackwellized ST-Gumbel: the same expected gradient as ST-Gumbel (the conditional noise has the right law), lower variance; the sample is the categorical\'s', () => {
    const theta = sg.tensor([[0.6, -0.4, 0.1], [-0.2, 0.8, -0.9]]);
    const N = 20000;
    const r = sg.estimators.compare(theta, lossOf(2, 3), {
      estimators: [{ name: 'st-gumbel', tau: 0.5 }, { name: 'gumbel-rao', tau: 0.5, samples: 32 }], samples: N, seed: 12, batched: true,
    });
    const [stg, gr] = r.estimators;
    const diff = Math.hypot(...Array.from(stg.mean, (v, d) => v - gr.mean[d])) / r.gradientNorm;
    console.log(`st-gumbel bias ${stg.bias.toFixed(4)} std ${stg.std.toFixed(3)}; gumbel-rao bias ${gr.bias.toFixed(4)} std ${gr.std.toFixed(3)}; |mean difference| ${diff.toFixed(4)}`);
    // Two means, each within its standard error of the common expectation.
    expect(diff).toBeLessThan(3 * Math.hypot(stg.std, gr.std) / Math.sqrt(N));
    expect(stg.bias).toBeGreaterThan(10 * Math.hypot(stg.std, gr.std) / Math.sqrt(N));
    expect(gr.std).toBeLessThan(0.8 * stg.std);
    sg.tidy(() => {
      const a = sg.ste.gumbelRao(theta, { seed: 5, samples: 3 }).dataSync();
      const b = sg.ste.categorical(theta, { seed: 5 }).dataSync();
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(() => sg.ste.gumbelRao(sg.tensor([[0, Infinity]]))).toThrow(/ste\.gumbelRao: logits\[1\] = Infinity/);
      expect(() => sg.ste.gumbelRao(theta, { samples: 0 })).toThrow(/ste\.gumbelRao: samples must be >= 1/);
    });
    theta.dispose();
  });
});

describe('ste.categorical and ste.bernoulli', () => {
  test('categorical samples follow softmax(logits) (tau only changes the gradient); its gradient is softmax(logits / tau)\'s', () => {
    const row = [1.0, 0.0, -0.5, 0.3];
    const n = 20000;
    sg.tidy(() => {
      const logits = sg.tensor(Array.from({ length: n }, () => row));
      const z = sg.ste.categorical(logits, { seed: 9, tau: 3 }).dataSync();
      const counts = [0, 0, 0, 0];
      for (let i = 0; i < n; i++) for (let c = 0; c < 4; c++) counts[c] += z[i * 4 + c];
      const p = softmax64(row);
      for (let c = 0; c < 4; c++) expect(Math.abs(counts[c] / n - p[c])).toBeLessThan(4 * Math.sqrt(p[c] * (1 - p[c]) / n));
      const x = sg.tensor([row], undefined, { requiresGrad: true });
      const dy = [0.5, -1, 2, 0];
      sg.ste.categorical(x, { tau: 3, seed: 1 }).backward(sg.tensor([dy]));
      // d softmax(x / tau) / dx = J(softmax(x / tau)) / tau.
      const want = jvp(softmax64(row, 3), dy).map((v) => v / 3);
      const got = x.grad!.dataSync();
      for (let c = 0; c < 4; c++) expect(Math.abs(got[c] - want[c])).toBeLessThan(1e-6);
      x.grad!.dispose();
    });
  });

  test('bernoulli: z in {0, 1} with frequency sigmoid(logits); gradient dy·σ\'(x) (sigmoid) or dy (identity)', () => {
    const xs = [-2, -0.5, 0, 0.7, 3];
    const n = 10000;
    sg.tidy(() => {
      const x = sg.tensor(Array.from({ length: n }, () => xs));
      const z = sg.ste.bernoulli(x, { seed: 4 }).dataSync();
      for (let j = 0; j < xs.length; j++) {
        let ones = 0;
        for (let i = 0; i < n; i++) {
          const v = z[i * xs.length + j];
          expect(v === 0 || v === 1).toBe(true);
          ones += v;
        }
        const p = 1 / (1 + Math.exp(-xs[j]));
        expect(Math.abs(ones / n - p)).toBeLessThan(4 * Math.sqrt(p * (1 - p) / n) + 1e-9);
      }
      const again = sg.ste.bernoulli(x, { seed: 4 }).dataSync();
      expect(Array.from(again)).toEqual(Array.from(z));
      for (const grad of ['sigmoid', 'identity'] as const) {
        const leaf = sg.tensor(xs, undefined, { requiresGrad: true });
        const dy = [1, 2, -1, 0.5, 3];
        sg.ste.bernoulli(leaf, { grad, seed: 2 }).backward(sg.tensor(dy));
        const got = leaf.grad!.dataSync();
        xs.forEach((v, i) => {
          const s = 1 / (1 + Math.exp(-v));
          expect(Math.abs(got[i] - (grad === 'identity' ? dy[i] : dy[i] * s * (1 - s)))).toBeLessThan(1e-6);
        });
        leaf.grad!.dispose();
      }
      expect(() => sg.ste.bernoulli(x, { grad: 'tanh' as never })).toThrow(/ste\.bernoulli: grad must be 'sigmoid' or 'identity'/);
      expect(() => sg.ste.bernoulli(sg.tensor([NaN]))).toThrow(/ste\.bernoulli: logits\[0\] is NaN/);
    });
  });
});

describe('estimators.reinforce', () => {
  test('value is the mean of f; the logits get mean_k (f_k − b_k)(z_k − π) by hand, for every baseline; f\'s parameters get the pathwise gradient', () => {
    const row = [0.3, -0.2, 0.5];
    const pi = softmax64(row);
    for (const baseline of ['none', 'loo', 'ema'] as const) {
      sg.tidy(() => {
        const logits = sg.tensor([row], undefined, { requiresGrad: true });
        const w = sg.tensor([[1.5], [-0.5], [2.0]], undefined, { requiresGrad: true });
        const seen: number[][] = [];
        const fvals: number[] = [];
        const f = (z: Tensor) => {
          seen.push(Array.from(z.dataSync()));
          const v = sg.square(sg.matmul(z, w));
          fvals.push(v.dataSync()[0]);
          return sg.reshape(v, []);
        };
        const ema = sg.estimators.emaBaseline(0.5);
        ema.value = 1.25;
        const K = 5;
        const loss = sg.estimators.reinforce(logits, f, { samples: K, baseline: baseline === 'ema' ? ema : baseline, seed: 3 });
        expect(seen.length).toBe(K);
        const mean = fvals.reduce((a, b) => a + b, 0) / K;
        expect(loss.item()).toBeCloseTo(mean, 5);
        loss.backward();
        const total = fvals.reduce((a, b) => a + b, 0);
        const want = [0, 0, 0];
        const wantW = [0, 0, 0];
        const wv = [1.5, -0.5, 2.0];
        seen.forEach((z, k) => {
          const b = baseline === 'none' ? 0 : baseline === 'loo' ? (total - fvals[k]) / (K - 1) : 1.25;
          for (let c = 0; c < 3; c++) want[c] += ((fvals[k] - b) * (z[c] - pi[c])) / K;
          const h = z.reduce((s, v, c) => s + v * wv[c], 0);
          for (let c = 0; c < 3; c++) wantW[c] += (2 * h * z[c]) / K;
        });
        const got = logits.grad!.dataSync();
        for (let c = 0; c < 3; c++) expect(Math.abs(got[c] - want[c])).toBeLessThan(1e-5);
        const gw = w.grad!.dataSync();
        for (let c = 0; c < 3; c++) expect(Math.abs(gw[c] - wantW[c])).toBeLessThan(1e-5);
        if (baseline === 'ema') expect(ema.value).toBeCloseTo(0.5 * 1.25 + 0.5 * mean, 5);
        logits.grad!.dispose();
        w.grad!.dispose();
      });
    }
  });

  test('per-row f ([B] values) gives each row its own leave-one-out baseline; bad options are clear errors and change nothing', () => {
    sg.tidy(() => {
      const logits = sg.tensor([[[0.1, 0.4]], [[-0.3, 0.2]]], undefined, { requiresGrad: true });
      const f = (z: Tensor) => sg.sum(sg.mul(z, sg.tensor([[[1, 3]], [[-2, 5]]])), { axis: [1, 2] });
      const loss = sg.estimators.reinforce(logits, f, { samples: 3, seed: 1 });
      expect(loss.shape).toEqual([]);
      loss.backward();
      expect(logits.grad!.shape).toEqual([2, 1, 2]);
      logits.grad!.dispose();
      const ema = sg.estimators.emaBaseline(0.9);
      expect(() => sg.estimators.reinforce(logits, f, { samples: 1, baseline: 'loo' })).toThrow(/estimators\.reinforce: baseline 'loo' needs samples >= 2/);
      expect(() => sg.estimators.reinforce(logits, f, { baseline: 'ema' as never })).toThrow(/baseline must be 'none', 'loo' or estimators\.emaBaseline/);
      expect(() => sg.estimators.reinforce(logits, (z) => sg.sum(z, { axis: 2 }), { samples: 2, baseline: ema })).toThrow(/f must return a scalar or one value per row/);
      expect(ema.value).toBeNull();
      expect(() => sg.estimators.reinforce(logits, (z) => sg.log(sg.mul(sg.sum(z, { axis: [1, 2] }), 0)))).toThrow(/non-finite/);
      expect(() => sg.estimators.emaBaseline(1)).toThrow(/estimators\.emaBaseline: decay must be < 1/);
    });
  });
});

describe('estimators.temperature', () => {
  test("Jang et al.'s schedule max(tauMin, tau0·exp(−r·step))", () => {
    expect(sg.estimators.temperature(0)).toBe(1);
    expect(sg.estimators.temperature(1000, { rate: 1e-3, tauMin: 0.1 })).toBeCloseTo(Math.exp(-1), 6);
    expect(sg.estimators.temperature(1e6)).toBe(0.5);
    expect(sg.estimators.temperature(500, { tau0: 2, tauMin: 0.1, rate: 2e-3 })).toBeCloseTo(2 * Math.exp(-1), 6);
    expect(() => sg.estimators.temperature(-1)).toThrow(/estimators\.temperature: step must be >= 0/);
    expect(() => sg.estimators.temperature(1, { tauMin: 0 })).toThrow(/tauMin must be > 0/);
  });
});

describe('freeze traces the stochastic ops', () => {
  test('a model sampling with ste.categorical / ste.reinmax / ste.bernoulli under a fixed seed freezes to the same predictions, also after a save/load round trip', () => {
    class Sampler extends sg.nn.Module {
      readonly lin = this.registerModule('lin', new sg.nn.Linear(6, 8, { seed: 5 }));
      forward(x: Tensor): Tensor {
        const h = this.lin.forward(x);
        const a = sg.ste.categorical(sg.reshape(h, [x.shape[0], 2, 4]), { seed: 1, tau: 2 });
        const b = sg.ste.reinmax(sg.reshape(h, [x.shape[0], 4, 2]), { seed: 2 });
        const c = sg.ste.bernoulli(h, { seed: 3, grad: 'identity' });
        const d = sg.ste.gumbelRao(sg.reshape(h, [x.shape[0], 2, 4]), { seed: 4, samples: 3 });
        return sg.add(sg.add(sg.add(sg.reshape(a, [x.shape[0], 8]), sg.reshape(b, [x.shape[0], 8])), c), sg.reshape(d, [x.shape[0], 8]));
      }
    }
    const net = new Sampler();
    const frozen = sg.tidy(() => sg.freeze(net, { example: sg.randn([2, 6], { seed: 1 }) }));
    const ops = frozen.stages.map((s: any) => (s.type === 'op' ? s.config.op : s.type));
    expect(ops).toContain('ste.categorical');
    expect(ops).toContain('ste.reinmax');
    expect(ops).toContain('ste.bernoulli');
    expect(ops).toContain('ste.gumbelRao');
    const { tensors, metadata } = frozen.state();
    const loaded = sg.io.parseSafetensors(sg.io.saveSafetensors(tensors, metadata));
    const again = sg.FrozenModel.fromState(loaded.tensors, loaded.metadata);
    sg.tidy(() => {
      const x = sg.randn([5, 6], { seed: 4 });
      const want = sg.noGrad(() => net.forward(x)).toArray();
      expect(frozen.predict(x).toArray()).toEqual(want);
      expect(again.predict(x).toArray()).toEqual(want);
    });
    again.dispose();
    frozen.dispose();
    net.dispose();
  });
});
