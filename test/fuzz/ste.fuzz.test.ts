// Straight-through estimators: each forward against its declared rule, each
// surrogate gradient against its twin, hostile options rejected clearly.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { f32ApproxSignBackwardRef as approxSignBackwardRef, f32RangeMaskBackwardRef as rangeMaskBackwardRef, f32SwishSignBackwardRef as swishSignBackwardRef, roundHalfEven } from '../../src/reference/hard.js';
import { f32FakeQuantBackwardRef as fakeQuantBackwardRef, f32FakeQuantRef as fakeQuantRef } from '../../src/reference/quant.js';
import { anyF32, dim, finiteF32, floatTensor, hostile, make, matrix, numberOption, optionBag, shape, tensorOf, type TensorSpec } from './arbitraries.js';
import { expectClose, expectNoLeakSince, expectShape, f32, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

const isObj = (o: unknown): o is Record<string, any> => o !== null && typeof o === 'object' && !Array.isArray(o);
const fin = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const GRADS = ['identity', 'clipped', 'approx', 'swish'] as const;

/** Runs op forward and backward (dy = 1) on a fresh leaf; returns the output; x.grad is kept by the case. */
function forwardBackward(x: sg.Tensor, op: (x: sg.Tensor) => sg.Tensor): sg.Tensor {
  const y = op(x);
  if (!(y instanceof sg.Tensor) || !y.requiresGrad) return y;
  const dy = sg.ones([...y.shape]);
  try {
    sg.backward(y, dy);
  } catch (e) {
    y.dispose();
    throw e;
  } finally {
    dy.dispose();
  }
  return y;
}

const F32_MAX = 3.4028234663852886e38;
/** A finite positive value that stays a normal float32 (what checkNumber's { positive, f32 } accepts). */
const posF32 = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 2 ** -126 && v <= F32_MAX;

const surrogate = (grad: string, x: Float32Array, clipValue: number, beta: number): Float32Array => {
  const dy = new Float32Array(x.length).fill(1);
  const dx = new Float32Array(x.length);
  if (grad === 'identity') return dy;
  if (grad === 'clipped') rangeMaskBackwardRef(x, dy, dx, -clipValue, clipValue);
  else if (grad === 'approx') approxSignBackwardRef(x, dy, dx);
  else swishSignBackwardRef(x, dy, dx, beta);
  return dx;
};

describe('sign family', () => {
  prop(['sg.ste.sign', 'sg.ste.binarize', 'sg.nn.Sign', 'sg.nn.Sign#apply', 'sg.nn.Binarize', 'sg.nn.Binarize#apply'], 'forward sign/binarize and every surrogate gradient; NaN and bad options are clear errors', fc.record({
    op: fc.constantFrom('sign', 'binarize'), asLayer: fc.boolean(), x: floatTensor({ maxRank: 3 }),
    options: optionBag({ grad: fc.constantFrom<unknown>(...GRADS, 'relu'), clipValue: fc.oneof(fc.double({ min: 0.1, max: 3, noNaN: true }), fc.constantFrom(0, -1)), beta: fc.oneof(fc.double({ min: 0.5, max: 10, noNaN: true }), fc.constantFrom(0, -2)) }),
  }), async ({ op, asLayer, x, options }) => {
    const t = make(x, true);
    const o = options as Record<string, any> | null | undefined;
    const hasNaN = x.data.some((v) => Number.isNaN(v));
    // Null options/fields mean the defaults; clipValue and beta are used in float32, so they must be normal positive float32 values.
    const optsOk = o == null || (isObj(o) && (o.grad == null || GRADS.includes(o.grad)) && (o.clipValue == null || posF32(o.clipValue)) && (o.beta == null || posF32(o.beta)));
    const certainBad = isObj(o) && !optsOk;
    const name = op === 'sign' ? (asLayer ? ['sign', 'Sign'] : ['sign']) : asLayer ? ['binarize', 'Binarize'] : ['binarize'];
    await runCase(() => {
      const fn = asLayer ? (() => { const L = op === 'sign' ? new sg.nn.Sign(o as any) : new sg.nn.Binarize(o as any); return (v: sg.Tensor) => L.forward(v); })() : (v: sg.Tensor) => (sg.ste as any)[op](v, o);
      return forwardBackward(t, fn);
    }, {
      fn: name, expect: hasNaN && optsOk ? 'error' : optsOk ? 'ok' : certainBad || hasNaN ? 'error' : 'either', state: [t], mutates: true, kept: () => [t.grad],
      check: (y) => {
        expectShape(y, x.shape, 'float32', op);
        const xs = Float32Array.from(x.data);
        expectClose(y.dataSync(), Array.from(xs, (v) => (op === 'sign' ? (v > 0 ? 1 : v < 0 ? -1 : 0) : v < 0 ? -1 : 1)), op);
        const g = isObj(o) && o.grad != null ? o.grad : 'identity';
        const beta = isObj(o) && o.beta != null ? o.beta : 5;
        const want = surrogate(g, xs, isObj(o) && o.clipValue != null ? o.clipValue : 1, beta);
        const got = t.grad!.dataSync();
        if (g !== 'swish') expectClose(got, want, `${op} grad (${g})`, { ulps: 4 });
        else {
          // Swish's 2 - bx·tanh(bx/2) cancels near |bx| = 2.4: the kernel's tanh/cosh (not the engine's) may differ by an
          // ulp there, which the cancellation magnifies. Allow 16 ulps plus a few ulps of the cancelled term.
          for (let i = 0; i < xs.length; i++) {
            const bx = f32(beta) * xs[i];
            const term = Math.abs((f32(beta) * bx * Math.tanh(bx / 2)) / (1 + Math.cosh(bx)));
            expectClose([got[i]], [want[i]], `${op} grad (swish)[${i}]`, { ulps: 16, abs: 8 * 2 ** -24 * (Number.isFinite(term) ? term : 0) });
          }
        }
      },
    });
    free(t);
  }, 2);

  prop(['sg.ste.ternarize'], 'ternarize: -1/0/+1 around the threshold, surrogate gradient; NaN and bad thresholds are clear errors', fc.record({
    x: floatTensor({ maxRank: 3 }), options: optionBag({ threshold: fc.oneof(fc.double({ min: 0, max: 2, noNaN: true }), fc.constantFrom(-0.1)), grad: fc.constantFrom<unknown>('identity', 'clipped', 'approx'), clipValue: fc.double({ min: 0.1, max: 3, noNaN: true }) }),
  }), async ({ x, options }) => {
    const t = make(x, true);
    const o = options as Record<string, any> | null | undefined;
    const hasNaN = x.data.some((v) => Number.isNaN(v));
    const optsOk = o == null || (isObj(o) && (o.threshold == null || (fin(o.threshold) && o.threshold >= 0 && o.threshold <= F32_MAX)) && (o.grad == null || o.grad === 'identity' || o.grad === 'clipped') && (o.clipValue == null || posF32(o.clipValue)));
    await runCase(() => forwardBackward(t, (v) => sg.ste.ternarize(v, o as any)), {
      fn: 'ternarize', expect: optsOk && !hasNaN ? 'ok' : isObj(o) || hasNaN ? 'error' : 'either', state: [t], mutates: true, kept: () => [t.grad],
      check: (y) => {
        const th = f32(isObj(o) && o.threshold != null ? o.threshold : 0.05);
        const xs = Float32Array.from(x.data);
        expectClose(y.dataSync(), Array.from(xs, (v) => (v > th ? 1 : v < -th ? -1 : 0)), 'ternarize');
        expectClose(t.grad!.dataSync(), surrogate(isObj(o) && o.grad ? o.grad : 'identity', xs, isObj(o) && o.clipValue != null ? o.clipValue : 1, 5), 'ternarize grad');
      },
    });
    free(t);
  });
});

describe('rounding and quantization', () => {
  prop(['sg.ste.round', 'sg.ste.floor'], 'round half to even / floor forward, identity gradient', fc.record({ op: fc.constantFrom('round', 'floor'), x: floatTensor({ maxRank: 3 }), bad: hostile, hostileArg: fc.boolean() }), async ({ op, x, bad, hostileArg }) => {
    const t = make(x, true);
    await runCase(() => (hostileArg ? (sg.ste as any)[op](bad) : forwardBackward(t, (v) => (sg.ste as any)[op](v))), {
      fn: op, expect: hostileArg ? 'error' : 'ok', args: ['x'], state: [t], mutates: true, kept: () => [t.grad],
      check: (y: sg.Tensor) => {
        expectClose(y.dataSync(), x.data.map((v) => (op === 'round' ? roundHalfEven(f32(v)) : Math.floor(f32(v)))), op);
        expectClose(t.grad!.dataSync(), new Array(x.data.length).fill(1), `${op} grad`);
      },
    });
    free(t);
  });

  prop(['sg.ste.quantize'], 'fake quantization matches the twin with the float32 scale; scales that vanish or overflow in float32 are rejected; NaN rejected', fc.record({
    x: floatTensor({ maxRank: 3 }, fc.oneof(finiteF32, fc.constantFrom(NaN, Infinity, -Infinity, 3.4e38))),
    options: optionBag({ bits: fc.integer({ min: 0, max: 18 }), scale: fc.oneof(fc.double({ min: 1e-3, max: 4, noNaN: true }), fc.constantFrom(1e-46, 1e-40, 1e39, 3e38)), zeroPoint: fc.integer({ min: -200, max: 300 }), signed: fc.boolean() }),
  }), async ({ x, options }) => {
    const t = make(x, true);
    const o = options as Record<string, any> | null | undefined;
    // Null option fields mean the default (the one options rule).
    const signed = isObj(o) ? o.signed ?? true : true;
    const bits = isObj(o) && Number.isInteger(o.bits) ? o.bits : NaN;
    const qmin = signed ? -(2 ** (bits - 1)) : 0;
    const qmax = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    const zp = isObj(o) ? o.zeroPoint ?? 0 : 0;
    const scale = isObj(o) ? o.scale : undefined;
    // The outer level times the float32 scale must stay finite in float32, or some inputs would come out as ±Infinity.
    const reach = Number.isInteger(zp) ? Math.max(zp - qmin, qmax - zp) : 0;
    // A subnormal scale (1e-40) would lose precision in float32: the scale must be a normal float32.
    const scaleOk = posF32(scale) && f32(scale) * reach <= F32_MAX;
    const ok = isObj(o) && typeof signed === 'boolean' && Number.isInteger(bits) && bits >= (signed ? 2 : 1) && bits <= 16 && scaleOk && Number.isInteger(zp) && zp >= qmin && zp <= qmax && !x.data.some(Number.isNaN);
    await runCase(() => forwardBackward(t, (v) => sg.ste.quantize(v, o as any)), {
      fn: 'quantize', expect: ok ? 'ok' : isObj(o) && (typeof signed === 'boolean') ? 'error' : 'either', state: [t], mutates: true, kept: () => [t.grad],
      check: (y) => {
        const xs = Float32Array.from(x.data);
        const want = new Float32Array(xs.length);
        fakeQuantRef(xs, want, f32(scale), zp, qmin, qmax);
        expectClose(y.dataSync(), want, 'quantize');
        if (Array.from(y.dataSync()).some((v) => !Number.isFinite(v)) && Array.from(want).every(Number.isFinite)) throw new Error('quantize produced non-finite values');
        const dx = new Float32Array(xs.length);
        fakeQuantBackwardRef(xs, new Float32Array(xs.length).fill(1), dx, f32(scale), zp, qmin, qmax);
        expectClose(t.grad!.dataSync(), dx, 'quantize grad');
      },
    });
    free(t);
  }, 2);

  prop(['sg.ste.dorefa'], 'DoReFa activations/weights forward rule (1-bit weights: sign(w)·E|w| or a clear rejection); empty and NaN inputs are clear errors, no leaks', fc.record({
    x: floatTensor({ maxRank: 2, maxDim: 6 }, fc.oneof(finiteF32, fc.constant(0))), options: optionBag({ bits: fc.integer({ min: 0, max: 17 }), mode: fc.constantFrom<unknown>('activations', 'weights', 'both') }), grad: fc.boolean(),
  }), async ({ x, options, grad }) => {
    const t = make(x, grad);
    const o = options as Record<string, any> | null | undefined;
    const bits = isObj(o) && Number.isInteger(o.bits) ? o.bits : NaN;
    const mode = isObj(o) && o.mode != null ? o.mode : 'activations';
    const ok = isObj(o) && Number.isInteger(bits) && bits >= 1 && bits <= 16 && (mode === 'activations' || mode === 'weights');
    const n = x.data.length;
    await runCase(() => (grad ? forwardBackward(t, (v) => sg.ste.dorefa(v, o as any)) : sg.ste.dorefa(t, o as any)), {
      fn: 'dorefa', expect: ok ? (n === 0 || (mode === 'weights' && bits === 1) ? 'either' : 'ok') : isObj(o) ? 'error' : 'either', state: [t], mutates: grad, kept: () => [t.grad],
      check: (y) => {
        expectShape(y, x.shape, 'float32', 'dorefa');
        const xs = Array.from(Float32Array.from(x.data));
        const L = 2 ** bits - 1;
        let want: number[];
        if (mode === 'activations') want = xs.map((v) => Math.round(Math.min(Math.max(v, 0), 1) * L) / L);
        else if (bits === 1) { const e = xs.reduce((s, v) => s + Math.abs(v), 0) / Math.max(n, 1); want = xs.map((v) => (v > 0 ? e : v < 0 ? -e : 0)); }
        else {
          const th = xs.map(Math.tanh);
          const m = Math.max(0, ...th.map(Math.abs));
          want = th.map((v) => 2 * (Math.round((m === 0 ? 0.5 : v / (2 * m) + 0.5) * L) / L) - 1);
        }
        // Rounding can land on either side of a level boundary within float32 error: allow one level step there.
        const got = y.dataSync();
        for (let i = 0; i < n; i++) {
          const step = mode === 'weights' ? 2 / L : 1 / L;
          // 1-bit weights are ±E|w|, any magnitude: the float32 mean is within a relative 1e-5 of the float64 one.
          const tol = 1e-5 * Math.max(1, Math.abs(want[i]));
          if (!(Math.abs(got[i] - want[i]) <= tol || (bits > 1 && Math.abs(Math.abs(got[i] - want[i]) - step) <= 1e-5))) throw new Error(`dorefa[${i}] (${mode}, bits ${bits}): got ${got[i]}, want ${want[i]} for x = ${xs[i]}`);
        }
      },
    });
    free(t);
  });
});

describe('choices', () => {
  prop(['sg.ste.argmaxOneHot'], 'one-hot of the first row maximum; backward is softmax\'s; leaves nothing behind', fc.record({ x: floatTensor({ minRank: 1, maxRank: 3, maxDim: 6 }, anyF32), grad: fc.boolean() }), async ({ x, grad }) => {
    const t = make(x, grad);
    const c = x.shape[x.shape.length - 1];
    await runCase(() => (grad ? forwardBackward(t, (v) => sg.ste.argmaxOneHot(v)) : sg.ste.argmaxOneHot(t)), {
      fn: 'argmaxOneHot', expect: c > 0 ? 'ok' : 'error', state: [t], mutates: grad, kept: () => [t.grad],
      check: (y) => {
        const xs = Float32Array.from(x.data);
        const want = new Array(xs.length).fill(0);
        for (let r = 0; r < xs.length / c; r++) {
          let best = NaN; let k = 0;
          for (let j = 0; j < c; j++) { const v = xs[r * c + j]; if (v > best || (best !== best && v === v)) { best = v; k = j; } }
          want[r * c + k] = 1;
        }
        expectClose(y.dataSync(), want, 'argmaxOneHot');
        if (grad) expectClose(t.grad!.dataSync(), new Array(xs.length).fill(0).map((_, i) => (Number.isNaN(t.grad!.dataSync()[i]) ? NaN : 0)), 'argmaxOneHot grad (dy = 1: softmax grad sums to 0 per row)', { abs: 1e-5 });
      },
    });
    free(t);
  });

  prop(['sg.ste.gumbelSoftmax'], 'gumbel-softmax rows are distributions (one-hot when hard), reproducible by seed; bad tau/seed are clear errors', fc.record({
    x: floatTensor({ minRank: 1, maxRank: 2, maxDim: 6 }, finiteF32), grad: fc.boolean(),
    options: optionBag({ tau: fc.oneof(fc.double({ min: 0.1, max: 5, noNaN: true }), fc.constantFrom(0, -1, 1e-30)), hard: fc.boolean(), seed: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(-1, 2 ** 32, 0.5)) }),
  }), async ({ x, grad, options }) => {
    const t = make(x, grad);
    const o = options as Record<string, any> | null | undefined;
    const c = x.shape[x.shape.length - 1];
    const tauOk = !isObj(o) || o.tau == null || posF32(o.tau);
    const seedOk = !isObj(o) || o.seed === undefined || (Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 2 ** 32 - 1);
    const hardOk = !isObj(o) || o.hard === undefined || typeof o.hard === 'boolean';
    const ok = c > 0 && tauOk && seedOk && hardOk && (o === undefined || isObj(o));
    await runCase(() => (grad ? forwardBackward(t, (v) => sg.ste.gumbelSoftmax(v, o as any)) : sg.ste.gumbelSoftmax(t, o as any)), {
      fn: 'gumbelSoftmax', expect: ok ? 'ok' : c === 0 || (isObj(o) && (!tauOk || !seedOk)) ? 'error' : 'either', state: [t], mutates: grad, kept: () => [t.grad],
      check: (y) => {
        const ys = y.dataSync();
        const tiny = isObj(o) && typeof o.tau === 'number' && o.tau < 1e-3;
        for (let r = 0; r < ys.length / c; r++) {
          const row = Array.from(ys.subarray(r * c, (r + 1) * c));
          if (row.some((v) => !(v >= 0 && v <= 1)) && !tiny) throw new Error(`gumbelSoftmax row ${r} is not in [0, 1]: ${row}`);
          if (!tiny) expectClose([row.reduce((s, v) => s + v, 0)], [1], `gumbelSoftmax row ${r} sum`, { abs: 1e-5 });
          if (isObj(o) && o.hard === true && row.filter((v) => v === 1).length !== 1) throw new Error(`hard gumbelSoftmax row ${r} is not one-hot: ${row}`);
        }
        if (isObj(o) && Number.isInteger(o.seed)) {
          const again = sg.noGrad(() => sg.ste.gumbelSoftmax(t, o as any));
          const same = Array.from(again.dataSync()).every((v, i) => Object.is(v, ys[i]));
          again.dispose();
          if (!same) throw new Error('gumbelSoftmax: the same seed gave different samples');
        }
      },
    });
    free(t);
  });

  prop(['sg.ste.straightThrough'], 'straightThrough: forward = hardFn(x) exactly, identity gradient; hardFn returning junk, throwing or aliasing is handled clearly', fc.record({
    x: floatTensor({ maxRank: 2 }, finiteF32), fnKind: fc.constantFrom('round', 'identity', 'junk', 'wrongShape', 'throws', 'int'), bad: hostile,
  }), async ({ x, fnKind, bad }) => {
    const t = make(x, true);
    const fns: Record<string, (v: sg.Tensor) => unknown> = {
      round: (v) => sg.round(v), identity: (v) => v, junk: () => bad, wrongShape: () => sg.zeros([x.data.length + 1]),
      throws: () => { throw new Error('straightThrough: hardFn failed (user)'); }, int: (v) => sg.cast(v, 'int32'),
    };
    await runCase(() => forwardBackward(t, (v) => sg.ste.straightThrough(v, fns[fnKind] as any)), {
      fn: 'straightThrough', expect: fnKind === 'round' || fnKind === 'identity' ? 'ok' : fnKind === 'junk' && bad instanceof sg.Tensor ? 'either' : 'error', state: [t], mutates: true, kept: () => [t.grad],
      check: (y) => {
        expectClose(y.dataSync(), x.data.map((v) => (fnKind === 'round' ? roundHalfEven(f32(v)) : f32(v))), 'straightThrough', { signedZero: true });
        expectClose(t.grad!.dataSync(), new Array(x.data.length).fill(1), 'straightThrough grad');
      },
    });
    free(t);
  });
});

describe('vector quantization', () => {
  const vqInputs = fc.record({ n: dim(6), k: dim(5), d: fc.integer({ min: 1, max: 5 }), scale: fc.constantFrom(1, 1, 1e19, 1e-20) })
    .chain(({ n, k, d, scale }) => fc.tuple(matrix(fc.constant(n), fc.constant(d), finiteF32.map((v) => v * scale)), matrix(fc.constant(k), fc.constant(d), finiteF32.map((v) => v * scale))));
  prop(['sg.ste.vq'], 'vq: each index attains the true (float64) minimum distance, zq = chosen rows, losses are the mean squared distances; empty batches and NaN are clear errors', fc.record({
    io: vqInputs, beta: numberOption(fc.double({ min: 0, max: 2, noNaN: true })), grad: fc.boolean(), aliasCodebook: fc.boolean(),
  }), async ({ io: [z, cb], beta, grad, aliasCodebook }) => {
    const since = stats();
    const tz = make(z, grad);
    const tc = aliasCodebook && z.shape[1] === cb.shape[1] ? tz : make(cb);
    const cbSpec: TensorSpec = tc === tz ? z : cb;
    const [N, D] = z.shape;
    const K = cbSpec.shape[0];
    // beta is used in float32: 0, or a normal float32 value (one past the range or below the normal range is rejected, like every scale).
    const betaOk = beta == null || beta === 0 || posF32(beta);
    const ok = betaOk && K > 0 && N > 0;
    await runCase(() => sg.ste.vq(tz, tc, { beta: beta as number }), {
      // The codebook's row norms are cached with its storage (as for vqNearest): bytes are checked once the inputs are freed.
      fn: 'vq', caches: true, expect: ok ? 'ok' : !betaOk ? 'error' : K === 0 && N > 0 ? 'error' : N === 0 ? 'either' : 'error', state: [tz, tc],
      check: (r) => {
        const zs = Array.from(tz.dataSync());
        const cs = Array.from(tc.dataSync());
        const idx = Array.from(r.indices.dataSync());
        let sq = 0;
        for (let i = 0; i < N; i++) {
          const dist = (kk: number) => { let s = 0; for (let j = 0; j < D; j++) s += (zs[i * D + j] - cs[kk * D + j]) ** 2; return s; };
          const best = Math.min(...Array.from({ length: K }, (_, kk) => dist(kk)));
          const mag = zs.slice(i * D, (i + 1) * D).reduce((s, v) => s + v * v, 0) + Math.max(...Array.from({ length: K }, (_, kk) => cs.slice(kk * D, (kk + 1) * D).reduce((s, v) => s + v * v, 0)));
          if (!(idx[i] >= 0 && idx[i] < K) || dist(idx[i]) > best + 1e-5 * mag + 1e-37) throw new Error(`vq: row ${i} got code ${idx[i]} at distance ${dist(idx[i])}, the nearest is at ${best}`);
          sq += dist(idx[i]);
        }
        expectClose(r.zq.dataSync(), idx.flatMap((kk) => cs.slice(kk * D, (kk + 1) * D)), 'zq');
        const mse = sq / (N * D);
        if (Number.isFinite(mse) && mse < 1e37) {
          expectClose([r.codebookLoss.item()], [mse], 'codebookLoss', { abs: 1e-5 * mse + 1e-30, rel: 1e-4 });
          const commitment = ((beta as number | null | undefined) ?? 0.25) * mse;
          // beta · mse past float32's range is +Infinity in float32 (IEEE overflow), not a wrong answer.
          if (commitment > 3.4e38) {
            if (!(r.commitmentLoss.item() >= 3.4e38)) throw new Error(`commitmentLoss: got ${r.commitmentLoss.item()}, want ${commitment} (beyond float32: Infinity)`);
          } else {
            // A mean of subnormal squares is exact only to float32's subnormal step (2^-149) per operation; beta scales that error too.
            const b = (beta as number | null | undefined) ?? 0.25;
            expectClose([r.commitmentLoss.item()], [commitment], 'commitmentLoss', { abs: 1e-5 * commitment + 1e-30 + b * 2 ** -146, rel: 1e-4 });
          }
        }
      },
    });
    free(tz, tc);
    expectNoLeakSince(since, 'vq');
  }, 2);
});
