// Stochastic estimators and the diagnostics harness: every sample is a valid draw (one-hot rows,
// {0, 1}), reproducible by seed; every surrogate gradient matches its float64 formula; the exact
// gradient of a linear loss matches its closed form; hostile options are clear errors.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { finiteF32, floatTensor, hostileOption, make, optionBag, plainF32, shape, tensorOf } from './arbitraries.js';
import { expectClose, expectShape, free, prop, runCase, useRuntime } from './oracle.js';

useRuntime();

const isObj = (o: unknown): o is Record<string, any> => o !== null && typeof o === 'object' && !Array.isArray(o);
const F32_MAX = 3.4028234663852886e38;
const posF32 = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 2 ** -126 && v <= F32_MAX;
const seedOk = (v: unknown): boolean => v === undefined || v === null || (Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 2 ** 32 - 1);

function softmax64(row: number[], tau = 1): number[] {
  const m = Math.max(...row.map((v) => v / tau));
  const e = row.map((v) => Math.exp(v / tau - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}
const jvp = (p: number[], dy: number[]): number[] => {
  const dot = p.reduce((s, v, i) => s + v * dy[i], 0);
  return p.map((v, i) => v * (dy[i] - dot));
};
/** A fixed, non-constant upstream gradient. */
const dyOf = (n: number): number[] => Array.from({ length: n }, (_, i) => ((i * 7) % 5) - 2 + 0.25);

describe('stochastic straight-through ops', () => {
  prop(['sg.ste.categorical', 'sg.ste.reinmax'], 'one-hot samples, the same for one seed across both ops; gradients are softmax(x/tau)/tau\'s and 2J(π1) − J(π0)/2; NaN and bad tau/seed are clear errors', fc.record({
    op: fc.constantFrom('categorical', 'reinmax'),
    x: floatTensor({ minRank: 1, maxRank: 3, maxDim: 5 }, fc.oneof({ weight: 8, arbitrary: plainF32 }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, 1e6) })),
    grad: fc.boolean(),
    options: optionBag({ tau: fc.oneof(fc.double({ min: 0.2, max: 4, noNaN: true }), fc.constantFrom(0, -1, 1e-39)), seed: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(-1, 2 ** 32, 0.5)) }),
  }), async ({ op, x, grad, options }) => {
    const t = make(x, grad);
    const o = options as Record<string, any> | null | undefined;
    const c = x.shape[x.shape.length - 1];
    const hasNaN = x.data.some((v) => Number.isNaN(v));
    const optsOk = o == null || (isObj(o) && (o.tau == null || posF32(o.tau)) && seedOk(o.seed));
    const fn = (sg.ste as any)[op] as (v: sg.Tensor, o: unknown) => sg.Tensor;
    const dy = dyOf(x.data.length);
    await runCase(() => {
      const y = fn(t, o);
      if (grad) {
        const d = sg.tensor(dy, [...y.shape]);
        try { sg.backward(y, d); } catch (e) { y.dispose(); throw e; } finally { d.dispose(); }
      }
      return y;
    }, {
      fn: `ste.${op}`, expect: c === 0 || hasNaN ? 'error' : optsOk ? 'ok' : isObj(o) || o == null ? 'error' : 'either', state: [t], mutates: grad, kept: () => [t.grad],
      check: (y) => {
        expectShape(y, x.shape, 'float32', op);
        const ys = Array.from(y.dataSync());
        for (let r = 0; r < ys.length / c; r++) {
          const row = ys.slice(r * c, (r + 1) * c);
          if (row.filter((v) => v === 1).length !== 1 || row.filter((v) => v === 0).length !== c - 1) throw new Error(`${op}: row ${r} is not one-hot: ${row}`);
          const xr = Array.from(Float32Array.from(x.data.slice(r * c, (r + 1) * c)));
          const k = row.indexOf(1);
          // A +Infinity logit is always drawn; a -Infinity one never is (unless the whole row is -Infinity).
          if (xr.includes(Infinity) && xr[k] !== Infinity) throw new Error(`${op}: row ${r} drew ${k} past a +Infinity logit`);
          if (xr[k] === -Infinity && xr.some((v) => v > -Infinity)) throw new Error(`${op}: row ${r} drew a -Infinity logit`);
        }
        if (isObj(o) && Number.isInteger(o.seed)) {
          const other = op === 'categorical' ? 'reinmax' : 'categorical';
          const again = sg.noGrad(() => (sg.ste as any)[other](t, o) as sg.Tensor);
          const same = Array.from(again.dataSync()).every((v, i) => v === ys[i]);
          again.dispose();
          if (!same) throw new Error(`${op} and ${other} drew different samples for one seed`);
        }
        if (!grad) return;
        const tau = isObj(o) && o.tau != null ? Math.fround(o.tau) : 1;
        const got = t.grad!.dataSync();
        for (let r = 0; r < ys.length / c; r++) {
          const xr = Array.from(Float32Array.from(x.data.slice(r * c, (r + 1) * c)));
          if (xr.some((v) => !Number.isFinite(v))) continue;
          const d = dy.slice(r * c, (r + 1) * c);
          let want: number[];
          if (op === 'categorical') want = jvp(softmax64(xr, tau), d).map((v) => v / tau);
          else {
            const pi1 = softmax64(xr, tau).map((v, i) => (ys[r * c + i] + v) / 2);
            const a = jvp(pi1, d);
            const b = jvp(softmax64(xr), d);
            want = a.map((v, i) => 2 * v - 0.5 * b[i]);
          }
          expectClose(got.subarray(r * c, (r + 1) * c), want, `${op} grad row ${r}`, { abs: 1e-5 * (1 + (op === 'categorical' ? 1 / tau : 0)) });
        }
      },
    });
    free(t);
  }, 2);

  prop(['sg.ste.gumbelRao'], 'gumbelRao: the categorical\'s one-hot sample for one seed; the gradient of an average of softmaxes sums to 0 per row; non-finite logits and bad tau/samples/seed are clear errors', fc.record({
    x: floatTensor({ minRank: 1, maxRank: 3, maxDim: 5 }, fc.oneof({ weight: 8, arbitrary: plainF32 }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) })),
    grad: fc.boolean(),
    options: optionBag({ tau: fc.oneof(fc.double({ min: 0.2, max: 4, noNaN: true }), fc.constantFrom(0, -1)), samples: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constantFrom(0, 1.5, 2000)), seed: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(-1, 0.5)) }),
  }), async ({ x, grad, options }) => {
    const t = make(x, grad);
    const o = options as Record<string, any> | null | undefined;
    const c = x.shape[x.shape.length - 1];
    const finite = x.data.every((v) => Number.isFinite(v));
    const samplesOk = (v: unknown) => v == null || (Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 1024);
    const optsOk = o == null || (isObj(o) && (o.tau == null || posF32(o.tau)) && samplesOk(o.samples) && seedOk(o.seed));
    const dy = dyOf(x.data.length);
    await runCase(() => {
      const y = sg.ste.gumbelRao(t, o as any);
      if (grad) {
        const d = sg.tensor(dy, [...y.shape]);
        try { sg.backward(y, d); } catch (e) { y.dispose(); throw e; } finally { d.dispose(); }
      }
      return y;
    }, {
      fn: 'ste.gumbelRao', expect: c === 0 || !finite ? 'error' : optsOk ? 'ok' : isObj(o) ? 'error' : 'either', state: [t], mutates: grad, kept: () => [t.grad],
      check: (y) => {
        expectShape(y, x.shape, 'float32', 'gumbelRao');
        const ys = Array.from(y.dataSync());
        for (let r = 0; r < ys.length / c; r++) {
          const row = ys.slice(r * c, (r + 1) * c);
          if (row.filter((v) => v === 1).length !== 1 || row.filter((v) => v === 0).length !== c - 1) throw new Error(`gumbelRao: row ${r} is not one-hot: ${row}`);
        }
        if (isObj(o) && Number.isInteger(o.seed)) {
          const again = sg.noGrad(() => sg.ste.categorical(t, { seed: o.seed }));
          const same = Array.from(again.dataSync()).every((v, i) => v === ys[i]);
          again.dispose();
          if (!same) throw new Error('gumbelRao and categorical drew different samples for one seed');
        }
        if (!grad) return;
        const g = t.grad!.dataSync();
        const tau = isObj(o) && o.tau != null ? Math.fround(o.tau) : 1;
        for (let r = 0; r < ys.length / c; r++) {
          const row = Array.from(g.subarray(r * c, (r + 1) * c));
          if (!row.every(Number.isFinite)) throw new Error(`gumbelRao grad row ${r} is not finite: ${row}`);
          // |J(p)·dy| <= 2·max|dy| per entry, divided by tau; the row sums to 0 up to float32 rounding.
          const bound = (2 * Math.max(...dy.map(Math.abs))) / tau;
          if (row.some((v) => Math.abs(v) > bound * (1 + 1e-5))) throw new Error(`gumbelRao grad row ${r} exceeds ${bound}: ${row}`);
          expectClose([row.reduce((s2, v) => s2 + v, 0)], [0], `gumbelRao grad row ${r} sum`, { abs: 1e-5 * bound * c });
        }
      },
    });
    free(t);
  });

  prop(['sg.ste.bernoulli'], 'samples in {0, 1} (1 at +Infinity, 0 at -Infinity), reproducible by seed; sigmoid or identity surrogate; NaN and bad options are clear errors', fc.record({
    x: floatTensor({ maxRank: 3, maxDim: 6 }, fc.oneof({ weight: 8, arbitrary: finiteF32 }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity) })),
    grad: fc.boolean(),
    options: optionBag({ grad: fc.constantFrom<unknown>('sigmoid', 'identity', 'tanh'), seed: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(-1, 0.5)) }),
  }), async ({ x, grad, options }) => {
    const t = make(x, grad);
    const o = options as Record<string, any> | null | undefined;
    const hasNaN = x.data.some((v) => Number.isNaN(v));
    const optsOk = o == null || (isObj(o) && (o.grad == null || o.grad === 'sigmoid' || o.grad === 'identity') && seedOk(o.seed));
    const dy = dyOf(x.data.length);
    await runCase(() => {
      const y = sg.ste.bernoulli(t, o as any);
      if (grad) {
        const d = sg.tensor(dy, [...y.shape]);
        try { sg.backward(y, d); } catch (e) { y.dispose(); throw e; } finally { d.dispose(); }
      }
      return y;
    }, {
      fn: 'ste.bernoulli', expect: hasNaN ? 'error' : optsOk ? 'ok' : isObj(o) ? 'error' : 'either', state: [t], mutates: grad, kept: () => [t.grad],
      check: (y) => {
        expectShape(y, x.shape, 'float32', 'bernoulli');
        const ys = y.dataSync();
        const xs = Float32Array.from(x.data);
        for (let i = 0; i < ys.length; i++) {
          if (ys[i] !== 0 && ys[i] !== 1) throw new Error(`bernoulli[${i}] = ${ys[i]}`);
          if (xs[i] === Infinity && ys[i] !== 1) throw new Error(`bernoulli[${i}] = 0 at +Infinity`);
          if (xs[i] === -Infinity && ys[i] !== 0) throw new Error(`bernoulli[${i}] = 1 at -Infinity`);
        }
        if (isObj(o) && Number.isInteger(o.seed)) {
          const again = sg.noGrad(() => sg.ste.bernoulli(t, o as any));
          const same = Array.from(again.dataSync()).every((v, i) => v === ys[i]);
          again.dispose();
          if (!same) throw new Error('bernoulli: the same seed gave different samples');
        }
        if (!grad) return;
        const identity = isObj(o) && o.grad === 'identity';
        const want = Array.from(xs, (v, i) => {
          if (identity) return dy[i];
          const s = 1 / (1 + Math.exp(-v));
          return dy[i] * s * (1 - s);
        });
        expectClose(t.grad!.dataSync(), want, 'bernoulli grad', { abs: 1e-6 });
      },
    });
    free(t);
  });
});

describe('estimators', () => {
  const logitsArb = tensorOf(shape({ minRank: 1, maxRank: 3, maxDim: 4 }), 'float32', fc.oneof({ weight: 9, arbitrary: plainF32 }, { weight: 1, arbitrary: fc.constant(NaN) }));
  prop(['sg.estimators.reinforce', 'sg.estimators.emaBaseline'], 'reinforce: the value is the mean of f over the samples f saw, the gradient is the score-function formula; bad samples, baselines and f are clear errors and leave the EMA state alone', fc.record({
    x: logitsArb,
    samples: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.constantFrom<unknown>(0, 1.5, 5000, 'x')),
    baseline: fc.constantFrom<unknown>('none', 'loo', 'ema', 'bad', undefined),
    decay: fc.oneof(fc.double({ min: 0, max: 0.99, noNaN: true }), fc.constantFrom(1, -0.1, NaN)),
    fKind: fc.constantFrom('linear', 'junk', 'wrongShape', 'nan'),
    seed: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom<unknown>(undefined, -1)),
  }), async ({ x, samples, baseline, decay, fKind, seed }) => {
    const t = make(x, true);
    const c = x.shape[x.shape.length - 1];
    const decayOk = Number.isFinite(decay) && decay >= 0 && decay < 1;
    let ema: sg.estimators.EmaBaseline | null = null;
    if (baseline === 'ema') {
      try { ema = sg.estimators.emaBaseline(decay); } catch (e) {
        if (decayOk) throw e;
        if (!String((e as Error).message).includes('estimators.emaBaseline')) throw e;
      }
      if (!decayOk && ema !== null) throw new Error(`emaBaseline accepted decay ${decay}`);
    }
    const w = dyOf(x.data.length);
    const seen: number[][] = [];
    const fvals: number[] = [];
    const wt = sg.tensor(w, [...x.shape]);
    const f = (z: sg.Tensor): sg.Tensor => {
      if (fKind === 'junk') return 3 as unknown as sg.Tensor;
      if (fKind === 'wrongShape') return sg.concat([sg.reshape(z, [-1]), sg.reshape(z, [-1])]);
      const v = sg.sum(sg.mul(z, wt));
      seen.push(Array.from(z.dataSync()));
      fvals.push(v.item());
      return fKind === 'nan' ? sg.log(sg.mul(v, -0)) : v;
    };
    const K = samples;
    // A rejected emaBaseline leaves null: a null option means the default ('loo').
    const b = baseline === 'ema' ? ema ?? undefined : baseline;
    const kOk = Number.isInteger(K) && (K as number) >= 1 && (K as number) <= 4096;
    const bOk = b === 'none' || b === 'loo' || b === undefined || (b !== null && typeof b === 'object');
    const ok = c > 0 && x.data.length > 0 && x.data.every((v) => !Number.isNaN(v)) && kOk && bOk && !((b === 'loo' || b === undefined) && K === 1) && seedOk(seed) && fKind === 'linear';
    const before = ema?.value ?? null;
    await runCase(() => {
      const loss = sg.estimators.reinforce(t, f, { samples: K as number, baseline: b as any, seed: seed as number });
      try { loss.backward(); } catch (e) { loss.dispose(); throw e; }
      return loss;
    }, {
      fn: 'estimators.reinforce', expect: ok ? 'ok' : 'error', state: [t], mutates: true, kept: () => [t.grad],
      check: (loss) => {
        expectShape(loss, [], 'float32', 'reinforce');
        const k = K as number;
        if (seen.length !== k) throw new Error(`reinforce called f ${seen.length} times, want ${k}`);
        const mean = fvals.reduce((s, v) => s + v, 0) / k;
        expectClose([loss.item()], [mean], 'reinforce value', { abs: 1e-5 * (1 + Math.abs(mean)), rel: 1e-5 });
        const pi: number[] = [];
        const xs = Array.from(Float32Array.from(x.data));
        for (let r = 0; r < xs.length / c; r++) pi.push(...softmax64(xs.slice(r * c, (r + 1) * c)));
        const total = fvals.reduce((s, v) => s + v, 0);
        const want = pi.map(() => 0);
        seen.forEach((z, j) => {
          const base = b === 'none' ? 0 : b === 'loo' || b === undefined ? (total - fvals[j]) / (k - 1) : before ?? 0;
          // f is linear: its pathwise gradient in the logits is 0 (z is a constant), so only the score term remains.
          for (let i = 0; i < z.length; i++) want[i] += ((fvals[j] - base) * (z[i] - pi[i])) / k;
        });
        const scale = 1 + Math.max(...fvals.map(Math.abs));
        expectClose(t.grad!.dataSync(), want, 'reinforce grad', { abs: 1e-5 * scale });
        if (ema !== null) {
          const after = before === null ? mean : ema.decay * before + (1 - ema.decay) * mean;
          expectClose([ema.value!], [after], 'ema value', { abs: 1e-6 * scale });
        }
      },
    });
    if (ema !== null && !ok && ema.value !== before) throw new Error('a rejected reinforce call changed the EMA baseline');
    free(t, wt);
  });

  prop(['sg.estimators.exactGradient', 'sg.estimators.compare'], 'the exact gradient of a linear loss is J(π_l)·w_l per latent; compare reports every estimator with finite numbers; spaces past 16384 and bad options are clear errors', fc.record({
    L: fc.integer({ min: 0, max: 4 }), C: fc.integer({ min: 0, max: 5 }), big: fc.boolean(),
    vals: fc.array(plainF32, { minLength: 40, maxLength: 40 }),
    estimators: fc.oneof(fc.subarray(['st', 'st-gumbel', 'gumbel-softmax', 'gumbel-rao', 'reinmax', 'reinforce-loo', 'reinforce-none'] as unknown[], { minLength: 1 }), fc.constantFrom<unknown>([], ['bad'], 'st', [{ name: 'reinforce', samples: 1 }], [{ name: 'st', tau: 0 }])),
    samples: fc.oneof(fc.integer({ min: 2, max: 40 }), fc.constantFrom<unknown>(1, 0.5, 'x', hostileOption)),
    batched: fc.boolean(),
    seed: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom<unknown>(-1)),
    referenceSamples: fc.oneof({ weight: 3, arbitrary: fc.constant<unknown>(undefined) }, { weight: 2, arbitrary: fc.integer({ min: 2, max: 12 }) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(1, 2.5, 'x') }),
  }), async ({ L: L0, C, big, vals, estimators, samples, batched, seed, referenceSamples }) => {
    const L = big ? 15 : L0;
    const Cc = big ? 2 : C;
    const theta = sg.tensor(Array.from({ length: L * Cc }, (_, i) => vals[i % 40]), [L, Cc]);
    const w = Array.from({ length: L * Cc }, (_, i) => vals[(i + 7) % 40]);
    const wt = sg.tensor(w, [L, Cc]);
    const f = batched ? (z: sg.Tensor) => sg.sum(sg.mul(z, wt), { axis: [1, 2] }) : (z: sg.Tensor) => sg.sum(sg.mul(z, wt));
    const shapeOk = L >= 1 && Cc >= 1 && Cc ** L <= 16384;
    const estOk = Array.isArray(estimators) && estimators.length > 0 && estimators.every((e) => typeof e === 'string' && e !== 'bad');
    const nOk = Number.isInteger(samples) && (samples as number) >= 2;
    const refOk = referenceSamples === undefined || (Number.isInteger(referenceSamples) && (referenceSamples as number) >= 2);
    // With a sampled reference, any non-empty [L, C] is measurable.
    const compareShapeOk = referenceSamples === undefined ? shapeOk : L >= 1 && Cc >= 1;
    await runCase(() => sg.estimators.exactGradient(theta, f, { batched }), {
      fn: 'estimators.exactGradient', expect: shapeOk ? 'ok' : 'error', state: [theta],
      check: (r) => {
        const xs = Array.from(theta.dataSync());
        for (let l = 0; l < L; l++) {
          const want = jvp(softmax64(xs.slice(l * Cc, (l + 1) * Cc)), w.slice(l * Cc, (l + 1) * Cc).map(Math.fround));
          // f sums float32 products: its values carry float32 rounding, scaled by the weights.
          expectClose(r.gradient.subarray(l * Cc, (l + 1) * Cc), want, `exact gradient latent ${l}`, { abs: 1e-5 * (1 + L * Math.max(...w.map(Math.abs))) });
        }
        if (r.configurations !== Cc ** L) throw new Error(`configurations ${r.configurations}, want ${Cc ** L}`);
      },
    });
    await runCase(() => sg.estimators.compare(theta, f, { estimators: estimators as any, samples: samples as number, seed: seed as number, batched, referenceSamples: referenceSamples as number }), {
      fn: 'estimators.compare', expect: compareShapeOk && refOk && estOk && nOk && seedOk(seed) ? 'ok' : !compareShapeOk || !refOk || !nOk || !seedOk(seed) || (Array.isArray(estimators) && estimators.length === 0) ? 'error' : 'either', state: [theta],
      check: (r) => {
        if (r.reference !== (referenceSamples === undefined ? 'exact' : 'sampled')) throw new Error(`compare reference ${r.reference}`);
        if (r.reference === 'sampled') {
          // A linear loss: every local-expectation gradient equals the exact one, J(π_l)·w_l.
          const xs = Array.from(theta.dataSync());
          for (let l = 0; l < L; l++) {
            const want = jvp(softmax64(xs.slice(l * Cc, (l + 1) * Cc)), w.slice(l * Cc, (l + 1) * Cc).map(Math.fround));
            expectClose(r.gradient.subarray(l * Cc, (l + 1) * Cc), want, `sampled reference latent ${l}`, { abs: 1e-5 * (1 + L * Math.max(...w.map(Math.abs))) });
          }
        }
        const names = (estimators as unknown[]).map((e) => (typeof e === 'string' ? e : (e as { name: string }).name));
        if (r.estimators.map((e) => e.label).join() !== names.join()) throw new Error(`compare labels ${r.estimators.map((e) => e.label)}, want ${names}`);
        for (const e of r.estimators) {
          if (e.samples !== samples) throw new Error(`${e.label}: samples ${e.samples}`);
          if (r.gradientNorm > 0 && ![e.bias, e.std, e.cosine].every(Number.isFinite)) throw new Error(`${e.label}: non-finite report ${JSON.stringify([e.bias, e.std, e.cosine])}`);
          if (e.cosine < -1 - 1e-9 || e.cosine > 1 + 1e-9) throw new Error(`${e.label}: cosine ${e.cosine}`);
        }
      },
    });
    free(theta, wt);
  });

  prop(['sg.estimators.temperature'], "max(tauMin, tau0·exp(−rate·step)); bad step and options are clear errors", fc.record({
    step: fc.oneof(fc.integer({ min: 0, max: 1e7 }), fc.constantFrom<unknown>(-1, NaN, Infinity, 'x')),
    options: optionBag({ tau0: fc.double({ min: 0.1, max: 10, noNaN: true }), tauMin: fc.oneof(fc.double({ min: 0.01, max: 1, noNaN: true }), fc.constant(0)), rate: fc.oneof(fc.double({ min: 0, max: 1e-2, noNaN: true }), fc.constant(-1)) }),
  }), async ({ step, options }) => {
    const o = options as Record<string, any> | null | undefined;
    const stepOk = typeof step === 'number' && Number.isFinite(step) && step >= 0;
    const optsOk = o == null || (isObj(o) && (o.tau0 == null || posF32(o.tau0)) && (o.tauMin == null || posF32(o.tauMin)) && (o.rate == null || (typeof o.rate === 'number' && Number.isFinite(o.rate) && o.rate >= 0)));
    await runCase(() => sg.estimators.temperature(step as number, o as any), {
      fn: 'estimators.temperature', expect: stepOk && optsOk ? 'ok' : !stepOk || isObj(o) ? 'error' : 'either',
      check: (tau) => {
        const tau0 = isObj(o) && o.tau0 != null ? o.tau0 : 1;
        const tauMin = isObj(o) && o.tauMin != null ? o.tauMin : 0.5;
        const rate = isObj(o) && o.rate != null ? o.rate : 1e-4;
        const want = Math.max(tauMin, tau0 * Math.exp(-rate * (step as number)));
        expectClose([tau], [want], 'temperature', { rel: 1e-6, abs: 1e-7 });
      },
    });
  });
});
