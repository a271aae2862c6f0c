// The default random generator's state (seed, rngState, setRngState), the
// batchNorm op (eval and training, against float64) and pow (against
// Math.pow on random broadcasts and special values), with hostile arguments.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { ulpDistance } from '../support/kernel-harness.js';
import { anyF32, hostile, hostileOption, shape, valuesFor } from './arbitraries.js';
import { bytesOf, expectNoLeakSince, expectShape, f32, free, prop, runCase, stats, sourceIndex, useRuntime } from './oracle.js';

useRuntime();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

// ---- the default generator ------------------------------------------------------

type Draw = { op: 'randn' | 'rand' | 'randint' | 'seeded'; shape: number[] };
const drawArb: fc.Arbitrary<Draw> = fc.record({ op: fc.constantFrom('randn' as const, 'rand' as const, 'randint' as const, 'seeded' as const), shape: shape({ maxRank: 2, maxDim: 5 }) });

/** One random call's bits, its tensor freed. Seeded calls ({ seed }) never touch the default generator. */
function draw(d: Draw): string {
  const t = d.op === 'randn' ? sg.randn(d.shape) : d.op === 'rand' ? sg.rand(d.shape) : d.op === 'randint' ? sg.randint(d.shape, -5, 5) : sg.randn(d.shape, { seed: 9 });
  const bits = Array.from(bytesOf(t)).join(',');
  t.dispose();
  return bits;
}

const sameState = (a: sg.RngState, b: sg.RngState) => a.seed === b.seed && a.counter === b.counter;

describe('random state', () => {
  prop(['sg.seed', 'sg.rngState', 'sg.setRngState'],
    'seed(n) restarts the generator at { seed: n, counter: 0 }; each unseeded call (and no seeded one) advances the counter by one; setRngState(rngState()) replays the unseeded calls that followed bit for bit, also at huge counters',
    fc.record({
      s: fc.oneof(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.constantFrom(0, 1, 2 ** 32 - 1)), before: fc.array(drawArb, { maxLength: 4 }), after: fc.array(drawArb, { minLength: 1, maxLength: 4 }),
      counter: fc.oneof(fc.constant(undefined), fc.constantFrom(2 ** 32 - 1, 2 ** 32, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER - 5)),
    }), async ({ s, before, after, counter }) => {
      const since = stats();
      await runCase(() => sg.seed(s), { fn: 'seed', expect: 'ok' });
      const st0 = sg.rngState();
      if (!sameState(st0, { seed: s, counter: 0 })) throw new Error(`rngState after seed(${s}) is ${JSON.stringify(st0)}`);
      const first = before.map(draw);
      const unseeded = before.filter((d) => d.op !== 'seeded').length;
      if (sg.rngState().counter !== unseeded) throw new Error(`rngState().counter is ${sg.rngState().counter} after ${unseeded} unseeded calls`);
      if (counter !== undefined) await runCase(() => sg.setRngState({ seed: s, counter }), { fn: 'setRngState', expect: 'ok' });
      const st = sg.rngState();
      // The snapshot is a copy: writing to it does not move the generator.
      const probe = sg.rngState();
      probe.counter += 5;
      probe.seed = (probe.seed + 1) >>> 0;
      if (!sameState(sg.rngState(), st)) throw new Error('writing to an rngState() object changed the generator');
      const a = after.map(draw);
      await runCase(() => sg.setRngState(st), { fn: 'setRngState', expect: 'ok' });
      const b = after.map(draw);
      a.forEach((bits, i) => { if (bits !== b[i]) throw new Error(`call ${i} after setRngState(rngState()) gave other bits (${after[i].op} [${after[i].shape}], counter ${st.counter})`); });
      // Different calls draw different streams: two unseeded randn of >= 4 values in a row never repeat.
      const big = after.filter((d) => d.op === 'randn' && size(d.shape) >= 4);
      if (big.length >= 2) {
        const bits = after.map((d, i) => (d.op === 'randn' && size(d.shape) >= 4 ? a[i] : null)).filter((x) => x !== null);
        if (new Set(bits.map((x) => x!.slice(0, 40))).size !== bits.length) throw new Error('two unseeded randn calls drew the same values');
      }
      sg.seed(s);
      const again = before.map(draw);
      first.forEach((bits, i) => { if (bits !== again[i]) throw new Error(`seed(${s}) did not replay call ${i}`); });
      expectNoLeakSince(since, 'random calls');
    });

  prop(['sg.seed', 'sg.setRngState', 'sg.rngState'],
    'hostile seeds and states (wrong types, NaN, fractions, negatives, >= 2^32, counters past 2^53, missing fields) are clear errors that leave the state unchanged; a failed random call does not advance the counter',
    fc.record({
      which: fc.constantFrom('seed', 'setRngState', 'randn'),
      bad: hostile, field: fc.constantFrom('seed', 'counter', 'both', 'whole'),
      badNumber: fc.constantFrom(-1, 1.5, NaN, Infinity, -Infinity, 2 ** 32, 2 ** 53, -0.5, '3', null, undefined),
    }), async ({ which, bad, field, badNumber }) => {
      sg.seed(77);
      sg.randn([2]).dispose();
      const before = sg.rngState();
      const inRange = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
      if (which === 'seed') {
        await runCase(() => sg.seed(bad as number), { fn: 'seed', expect: inRange(bad, 2 ** 32 - 1) ? 'ok' : 'error', args: ['n'] });
        if (!inRange(bad, 2 ** 32 - 1) && !sameState(sg.rngState(), before)) throw new Error(`seed(${String(bad)}) was rejected but changed the state to ${JSON.stringify(sg.rngState())}`);
      } else if (which === 'setRngState') {
        const state: unknown = field === 'whole' ? bad : field === 'seed' ? { seed: badNumber, counter: 3 } : field === 'counter' ? { seed: 5, counter: badNumber } : { seed: badNumber, counter: badNumber };
        const ok = state !== null && typeof state === 'object' && inRange((state as any).seed, 2 ** 32 - 1) && inRange((state as any).counter, Number.MAX_SAFE_INTEGER);
        await runCase(() => sg.setRngState(state as sg.RngState), { fn: 'setRngState', expect: ok ? 'ok' : 'error', args: field === 'whole' ? ['state'] : [`state.${field === 'both' ? 'seed' : field}`] });
        if (!ok && !sameState(sg.rngState(), before)) throw new Error(`setRngState(${fc.stringify(state)}) was rejected but changed the state`);
      } else {
        const shapeArg = field === 'whole' ? bad : [2, badNumber];
        const valid = Array.isArray(shapeArg) && shapeArg.every((d) => Number.isInteger(d) && d >= 0) && shapeArg.length <= 8;
        // A valid shape too large for wasm memory is refused by the allocator ("out of memory: ..."), which does not name randn.
        await runCase(() => sg.randn(shapeArg as number[]), { fn: valid ? ['randn', 'out of memory'] : 'randn', expect: valid ? 'either' : 'error' });
        if (!valid && !sameState(sg.rngState(), before)) throw new Error('a rejected randn advanced the default generator');
      }
    });
});

// ---- batchNorm ------------------------------------------------------------------

const bnCase = fc.record({
  lead: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }).filter((l) => size(l) <= 40),
  C: fc.integer({ min: 1, max: 9 }), affine: fc.boolean(), training: fc.boolean(), stats: fc.boolean(),
  eps: fc.constantFrom(1e-5, 1e-3, 1, undefined), momentum: fc.constantFrom(0, 0.1, 0.5, 1, undefined), salt: fc.integer({ min: 0, max: 999 }),
  hostileKey: fc.option(fc.constantFrom('momentum', 'eps', 'training', 'weight', 'bias', 'runningMean', 'runningVar', 'options', 'x', 'alias', 'nan', 'shape', 'disposed', 'intStats'), { nil: undefined, freq: 3 }),
  bad: hostileOption, badNumber: fc.constantFrom(-0.1, 1.1, NaN, Infinity, -1, 0, '0.1'),
});

function wave(n: number, salt: number, scale: number, offset = 0): number[] {
  return Array.from({ length: n }, (_, i) => f32(Math.sin(i * 1.7 + salt) * scale + Math.cos(i * 0.37 * salt) * scale * 0.5 + offset));
}

describe('batchNorm', () => {
  prop(['sg.batchNorm'],
    'eval equals ((x - mean) / sqrt(var + eps)) * w + b in float64; training normalizes with the batch statistics and moves the running ones by momentum (variance unbiased); hostile options, missing running statistics in eval, wrong shapes and a non-finite training batch are clear errors that leave the running statistics untouched',
    bnCase, async ({ lead, C, affine, training, stats: withStats, eps, momentum, salt, hostileKey, bad, badNumber }) => {
      const since = stats();
      const R = size(lead);
      const xs = wave(R * C, salt, 3, 0.5);
      const rm0 = wave(C, salt + 1, 1);
      const rv0 = wave(C, salt + 2, 1).map((v) => f32(Math.abs(v) * 2));
      const w0 = wave(C, salt + 3, 1.5);
      const b0 = wave(C, salt + 4, 1);
      if (hostileKey === 'nan' && xs.length > 0) xs[salt % xs.length] = salt % 2 ? NaN : Infinity;
      const x = sg.tensor(xs, [...lead, C]);
      const rm = sg.tensor(rm0);
      const rv = sg.tensor(rv0);
      const w = sg.tensor(w0);
      const b = sg.tensor(b0);
      const xInt = sg.tensor(xs.map((v) => (Number.isFinite(v) ? Math.round(v) : 0)), [...lead, C], { dtype: 'int32' });
      const wrong = sg.tensor(wave(C + 1, salt, 1));
      const gone = sg.tensor(rm0); gone.dispose();
      const rmInt = sg.tensor(rm0.map(Math.round), undefined, { dtype: 'int32' });
      const useStats = withStats || !training;
      const opts: Record<string, unknown> = { training };
      if (useStats) { opts.runningMean = rm; opts.runningVar = rv; }
      if (affine) { opts.weight = w; opts.bias = b; }
      if (eps !== undefined) opts.eps = eps;
      if (momentum !== undefined) opts.momentum = momentum;
      let X: unknown = x;
      let options: unknown = opts;
      let args: string[] | undefined;
      let expectKind: 'ok' | 'error' | 'either' = 'ok';
      const numeric = typeof bad === 'number' ? badNumber : bad;
      switch (hostileKey) {
        case undefined: break;
        case 'momentum': opts.momentum = numeric; args = ['momentum']; expectKind = typeof numeric === 'number' && numeric >= 0 && numeric <= 1 ? 'ok' : 'error'; break;
        case 'eps': opts.eps = numeric; args = ['eps']; expectKind = typeof numeric === 'number' && numeric > 0 && Number.isFinite(numeric) ? 'ok' : 'error'; break;
        case 'training': opts.training = bad; args = ['training']; expectKind = typeof bad === 'boolean' ? 'either' : 'error'; break;
        case 'weight': opts.weight = bad; opts.bias = b; args = ['weight']; expectKind = 'error'; break;
        case 'bias': opts.weight = w; opts.bias = wrong; args = ['bias']; expectKind = 'error'; break;
        case 'runningMean': delete opts.runningMean; opts.runningVar = rv; args = ['runningMean']; expectKind = 'error'; break;
        case 'runningVar': opts.runningMean = rm; opts.runningVar = bad; args = ['runningVar']; expectKind = 'error'; break;
        case 'options': options = bad; args = ['options']; expectKind = bad !== null && typeof bad === 'object' ? 'either' : 'error'; break;
        case 'x': X = typeof bad === 'object' ? xInt : bad; args = ['x']; expectKind = 'error'; break;
        case 'alias': opts.runningMean = rm; opts.runningVar = rm; args = ['runningMean', 'runningVar']; expectKind = 'error'; break;
        case 'nan': expectKind = training && R >= 2 && xs.length > 0 ? 'error' : 'ok'; args = ['x']; break;
        case 'shape': opts.runningMean = wrong; opts.runningVar = rv; args = ['runningMean']; expectKind = 'error'; break;
        case 'disposed': opts.runningMean = rm; opts.runningVar = gone; args = ['runningVar', 'disposed']; expectKind = 'error'; break;
        case 'intStats': opts.runningMean = rmInt; opts.runningVar = rv; args = ['runningMean']; expectKind = 'error'; break;
      }
      const o = (options ?? {}) as Record<string, any>;
      const trainingNow = o.training === true;
      if (expectKind !== 'error' && trainingNow && R < 2) { expectKind = 'error'; args = ['training', 'rows', 'batch']; }
      const runningGiven = o.runningMean instanceof sg.Tensor && o.runningVar instanceof sg.Tensor;
      if (expectKind !== 'error' && !trainingNow && !runningGiven) { expectKind = 'error'; args = ['runningMean']; }
      if (hostileKey === 'training' || hostileKey === 'options') args = undefined;
      const epsV = typeof o.eps === 'number' ? o.eps : 1e-5;
      const mom = typeof o.momentum === 'number' ? o.momentum : 0.1;
      const aff = o.weight === w && o.bias === b;
      await runCase(() => sg.batchNorm(X as sg.Tensor, options as sg.BatchNormOpOptions), {
        fn: 'batchNorm', expect: expectKind, args, state: [x, rm, rv, w, b], mutates: trainingNow,
        check: (y) => {
          expectShape(y, [...lead, C], 'float32', 'batchNorm');
          const got = y.dataSync();
          const mean = new Float64Array(C); const vr = new Float64Array(C);
          if (trainingNow) {
            for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) mean[c] += xs[r * C + c] / R;
            for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) vr[c] += (xs[r * C + c] - mean[c]) ** 2 / R;
          } else {
            rm0.forEach((v, c) => (mean[c] = v));
            rv0.forEach((v, c) => (vr[c] = v));
          }
          // In training the float32 batch mean is off by a few ulps of the channel's largest |x|: centered values carry
          // that absolute error, amplified by 1 / sqrt(var + eps) (and through the variance, once more by |xhat|).
          const maxAbs = new Float64Array(C);
          for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) maxAbs[c] = Math.max(maxAbs[c], Math.abs(xs[r * C + c]));
          for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) {
            const i = r * C + c;
            const std = Math.sqrt(vr[c] + epsV);
            const xhat = (xs[i] - mean[c]) / std;
            const want = aff ? xhat * w0[c] + b0[c] : xhat;
            const scale = aff ? Math.abs(w0[c]) : 1;
            const centered = trainingNow ? (4 * 2 ** -24 * maxAbs[c] / std) * (1 + Math.abs(xhat)) ** 2 : 0;
            // float32 rounding of each op, relative to the terms' sizes.
            const tol = (2e-6 * (Math.abs(xhat) + (trainingNow ? 1 : 0)) + centered) * scale + 2e-6 * (aff ? Math.abs(b0[c]) : 0) + 1e-30;
            if (got[i] !== want && !(Number.isNaN(got[i]) && Number.isNaN(want)) && !(Math.abs(got[i] - want) <= tol)) throw new Error(`batchNorm (${trainingNow ? 'training' : 'eval'}) [${r}, ${c}]: got ${got[i]}, want ${want} (tolerance ${tol})`);
          }
          if (trainingNow && runningGiven) {
            const RM = rm.dataSync(); const RV = rv.dataSync();
            for (let c = 0; c < C; c++) {
              const wm = (1 - mom) * rm0[c] + mom * mean[c];
              const wv = (1 - mom) * rv0[c] + (mom * vr[c] * R) / (R - 1);
              if (Math.abs(RM[c] - wm) > 1e-5 * (Math.abs(rm0[c]) + Math.abs(mean[c]) + 1)) throw new Error(`batchNorm runningMean[${c}]: got ${RM[c]}, want ${wm}`);
              if (Math.abs(RV[c] - wv) > 2e-5 * (Math.abs(rv0[c]) + (vr[c] * R) / (R - 1) + 1)) throw new Error(`batchNorm runningVar[${c}]: got ${RV[c]}, want ${wv}`);
            }
          }
        },
      });
      free(x, rm, rv, w, b, xInt, wrong, rmInt);
      expectNoLeakSince(since, 'batchNorm');
    }, 2);
});

// ---- pow ----------------------------------------------------------------------------

/** Shapes a and b that broadcast: b drops leading axes of a and sets some to 1 (or the roles swap). */
const broadcastPair = shape({ minRank: 0, maxRank: 4, maxDim: 6, maxSize: 200 }).chain((s) =>
  fc.tuple(fc.constant(s), fc.integer({ min: 0, max: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }), fc.boolean()).map(([a, drop, ones, swap]) => {
    const b = a.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d));
    return swap ? [b, a] : [a, b];
  }));

const exponent = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: -4, max: 4 }) },
  { weight: 2, arbitrary: fc.constantFrom(0.5, -0.5, 1 / 3, 2.5, -1.5, 30, -30, 127, 0.1) },
  { weight: 3, arbitrary: anyF32 },
);
const base = fc.oneof({ weight: 5, arbitrary: anyF32 }, { weight: 1, arbitrary: fc.constantFrom(1, -1, 0, -0, 2, 0.5, 1.0000001, 0.9999999) });

function broadcastShape(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  return Array.from({ length: n }, (_, i) => {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    return da === 1 ? db : da;
  });
}


function expectUlps(got: ArrayLike<number>, want: ArrayLike<number>, what: string, ulps: number, inputs: (i: number) => string): void {
  if (got.length !== want.length) throw new Error(`${what}: ${got.length} values, want ${want.length}`);
  for (let i = 0; i < got.length; i++) {
    if (ulpDistance(got[i], want[i]) > ulps) throw new Error(`${what}[${i}] ${inputs(i)}: got ${got[i]}, Math.pow gives ${want[i]} (${ulpDistance(got[i], want[i])} ulps)`);
  }
}

describe('pow', () => {
  prop(['sg.pow', 'sg.Tensor#pow'],
    'pow(a, b) is Math.pow rounded to float32 within 2 ulps on random broadcasts, special values (NaN, ±Infinity, ±0, denormals, negative bases) and number operands; x.pow(b) gives the same bits',
    broadcastPair.chain(([sa, sb]) => fc.record({
      sa: fc.constant(sa), sb: fc.constant(sb), a: valuesFor('float32', size(sa), base.map(f32)), b: valuesFor('float32', size(sb), exponent.map(f32)),
      form: fc.constantFrom('tensors', 'tensors', 'tensors', 'numberExp', 'numberBase'), n: fc.oneof(exponent, fc.constantFrom(2, 0.5, -1)).map(f32),
    })), async ({ sa, sb, a, b, form, n }) => {
      const A = sg.tensor(a, sa);
      const B = sg.tensor(b, sb);
      const out = form === 'tensors' ? broadcastShape(sa, sb) : form === 'numberExp' ? sa : sb;
      const want = Array.from({ length: size(out) }, (_, i) => {
        const x = form === 'numberBase' ? n : a[sourceIndex(i, out, sa)];
        const y = form === 'numberExp' ? n : b[sourceIndex(i, out, sb)];
        return f32(Math.pow(x, y));
      });
      const describeAt = (i: number) => `(pow(${form === 'numberBase' ? n : a[sourceIndex(i, out, sa)]}, ${form === 'numberExp' ? n : b[sourceIndex(i, out, sb)]}))`;
      // A non-finite number operand may be refused (scalar operands must be finite) or used.
      const expectKind = form !== 'tensors' && !Number.isFinite(n) ? 'either' : 'ok';
      let bits: number[] = [];
      await runCase(() => (form === 'tensors' ? sg.pow(A, B) : form === 'numberExp' ? sg.pow(A, n) : sg.pow(n, B)), {
        fn: 'pow', expect: expectKind, state: [A, B],
        check: (y) => {
          expectShape(y, out, 'float32', 'pow');
          bits = Array.from(y.dataSync());
          expectUlps(bits, want, 'pow', 2, describeAt);
        },
      });
      if (form !== 'numberBase' && bits.length === want.length) {
        await runCase(() => A.pow(form === 'tensors' ? B : n), {
          fn: 'pow', expect: 'ok', state: [A, B],
          check: (y) => { const g = y.dataSync(); bits.forEach((v, i) => { if (!Object.is(v, g[i])) throw new Error(`x.pow(b)[${i}] = ${g[i]}, pow(x, b) = ${v}`); }); },
        });
      }
      free(A, B);
    }, 2);

  prop(['sg.pow'],
    'gradients on random broadcasts are the documented ones in float64, summed over broadcast axes: b·a^(b−1) (0 where b = 0) for a, a^b·ln a (0 where a = 0 and a^b is finite) for b; backward leaves only the two gradients',
    broadcastPair.chain(([sa, sb]) => fc.record({
      sa: fc.constant(sa), sb: fc.constant(sb),
      a: valuesFor('float32', size(sa), fc.oneof({ weight: 4, arbitrary: fc.float({ min: Math.fround(0.1), max: 4, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(0, -2, -0.5, 1) }).map(f32)),
      b: valuesFor('float32', size(sb), fc.oneof(fc.integer({ min: -2, max: 3 }), fc.constantFrom(0.5, -0.5, 1.5)).map(f32)),
    })), async ({ sa, sb, a, b }) => {
      const since = stats();
      const A = sg.tensor(a, sa, { requiresGrad: true });
      const B = sg.tensor(b, sb, { requiresGrad: true });
      const out = broadcastShape(sa, sb);
      const ga = new Float64Array(a.length); const gaMag = new Float64Array(a.length);
      const gb = new Float64Array(b.length); const gbMag = new Float64Array(b.length);
      for (let i = 0; i < size(out); i++) {
        const ia = sourceIndex(i, out, sa); const ib = sourceIndex(i, out, sb);
        const x = a[ia]; const e = b[ib];
        const y = Math.pow(x, e);
        const da = e === 0 ? 0 : e * Math.pow(x, e - 1);
        const db = x === 0 && Number.isFinite(y) ? 0 : y * Math.log(x);
        ga[ia] += da; gaMag[ia] += Math.abs(da);
        gb[ib] += db; gbMag[ib] += Math.abs(db);
      }
      sg.tidy(() => sg.sum(sg.pow(A, B)).backward());
      const cmp = (g: sg.Tensor | null, want: Float64Array, mag: Float64Array, what: string) => {
        if (!(g instanceof sg.Tensor)) throw new Error(`pow: no gradient for ${what}`);
        expectShape(g, what === 'a' ? sa : sb, 'float32', `pow grad ${what}`);
        const got = g.dataSync();
        want.forEach((w, i) => {
          const ok = Number.isFinite(w) ? Math.abs(got[i] - w) <= 2e-5 * mag[i] + 1e-30 : Object.is(got[i], w) || (Number.isNaN(got[i]) && Number.isNaN(w));
          if (!ok) throw new Error(`pow grad ${what}[${i}]: got ${got[i]}, float64 ${w}`);
        });
      };
      cmp(A.grad, ga, gaMag, 'a');
      cmp(B.grad, gb, gbMag, 'b');
      free(A, B);
      expectNoLeakSince(since, 'pow backward');
    });

  prop(['sg.pow', 'sg.Tensor#pow'],
    'hostile operands (non-tensors, int32 tensors, disposed tensors, shapes that do not broadcast) are clear errors naming pow',
    fc.record({ which: fc.constantFrom('a', 'b'), form: fc.constantFrom('hostile', 'int32', 'disposed', 'shape'), bad: hostile, method: fc.boolean() }),
    async ({ which, form, bad, method }) => {
      const x = sg.tensor([1, 2, 3], [3]);
      const it = sg.tensor([1, 2, 3], [3], { dtype: 'int32' });
      const gone = sg.tensor([1, 2, 3]); gone.dispose();
      const other = sg.tensor([1, 2], [2]);
      const badArg: unknown = form === 'hostile' ? bad : form === 'int32' ? it : form === 'disposed' ? gone : other;
      const numberOk = typeof badArg === 'number' && Number.isFinite(badArg);
      const expectKind = numberOk ? 'ok' : typeof badArg === 'number' ? 'either' : 'error';
      const useMethod = method && which === 'b';
      await runCase(() => (useMethod ? x.pow(badArg as sg.Tensor) : which === 'a' ? sg.pow(badArg as sg.Tensor, x) : sg.pow(x, badArg as sg.Tensor)), {
        fn: 'pow', expect: expectKind, state: [x, it], args: expectKind === 'error' && form !== 'shape' ? [which, 'exponent', 'disposed'] : undefined,
      });
      free(x, it, other);
    });
});
