// where, the comparisons (uint8 masks), softplus/logSigmoid and the losses
// bceWithLogits/klCategorical: against plain JS/float64 on random N-D
// broadcasts and special values, their gradients in float64, hostile arguments.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { anyF32, finiteF32, hostile, shape, valuesFor } from './arbitraries.js';
import { expectClose, expectNoLeakSince, expectShape, f32, free, prop, runCase, stats, sourceIndex, useRuntime } from './oracle.js';

useRuntime();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Operand shapes that broadcast together: each drops leading axes of one shape and sets some to 1. */
const broadcastShapes = (n: number) => shape({ minRank: 0, maxRank: 4, maxDim: 6, maxSize: 200 }).chain((s) =>
  fc.array(fc.tuple(fc.integer({ min: 0, max: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length })), { minLength: n, maxLength: n })
    .map((specs) => specs.map(([drop, ones]) => s.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)))));

function jointShape(shapes: readonly (readonly number[])[]): number[] {
  const n = Math.max(0, ...shapes.map((s) => s.length));
  return Array.from({ length: n }, (_, i) => {
    const dims = shapes.map((s) => s[s.length - n + i] ?? 1);
    return dims.find((d) => d !== 1) ?? 1;
  });
}


const COMPARISONS = {
  gt: (a: number, b: number) => a > b, ge: (a: number, b: number) => a >= b, lt: (a: number, b: number) => a < b,
  le: (a: number, b: number) => a <= b, eq: (a: number, b: number) => a === b, ne: (a: number, b: number) => a !== b,
} as const;
type CompareName = keyof typeof COMPARISONS;
const compareName = fc.constantFrom(...(Object.keys(COMPARISONS) as CompareName[]));
// A small pool mixed in so that ties (eq, ge, le) and NaN pairs occur.
const tieF32 = fc.oneof({ weight: 3, arbitrary: anyF32 }, { weight: 2, arbitrary: fc.constantFrom(0, -0, 1, NaN, Infinity, -2.5) });

describe('comparisons', () => {
  prop(['sg.gt', 'sg.ge', 'sg.lt', 'sg.le', 'sg.eq', 'sg.ne', 'sg.Tensor#gt', 'sg.Tensor#ge', 'sg.Tensor#lt', 'sg.Tensor#le', 'sg.Tensor#eq', 'sg.Tensor#ne'],
    'a op b is the IEEE comparison as a uint8 0/1 mask of the broadcast shape (NaN false except under ne), for tensors and number operands on either side; x.op(b) gives the same mask',
    broadcastShapes(2).chain(([sa, sb]) => fc.record({
      sa: fc.constant(sa), sb: fc.constant(sb), a: valuesFor('float32', size(sa), tieF32.map(f32)), b: valuesFor('float32', size(sb), tieF32.map(f32)),
      name: compareName, form: fc.constantFrom('tensors', 'tensors', 'numberB', 'numberA'), n: tieF32,
    })), async ({ sa, sb, a, b, name, form, n }) => {
      const A = sg.tensor(a, sa);
      const B = sg.tensor(b, sb);
      const out = form === 'tensors' ? jointShape([sa, sb]) : form === 'numberB' ? sa : sb;
      const want = Array.from({ length: size(out) }, (_, i) => {
        const x = form === 'numberA' ? f32(n) : a[sourceIndex(i, out, sa)];
        const y = form === 'numberB' ? f32(n) : b[sourceIndex(i, out, sb)];
        return COMPARISONS[name](x, y) ? 1 : 0;
      });
      const check = (y: sg.Tensor) => {
        expectShape(y, out, 'uint8', name);
        const got = y.dataSync();
        want.forEach((w, i) => { if (got[i] !== w) throw new Error(`${name}[${i}]: got ${got[i]}, want ${w}`); });
      };
      // A number operand is rounded to float32 like a tensor value would be (n is drawn from float32 values, so exact).
      await runCase(() => (form === 'tensors' ? sg[name](A, B) : form === 'numberB' ? sg[name](A, f32(n)) : sg[name](f32(n), B)), { fn: name, expect: 'ok', state: [A, B], check });
      if (form !== 'numberA') await runCase(() => A[name](form === 'tensors' ? B : f32(n)), { fn: name, expect: 'ok', state: [A, B], check });
      free(A, B);
    }, 2);

  prop(['sg.gt', 'sg.ge', 'sg.lt', 'sg.le', 'sg.eq', 'sg.ne', 'sg.Tensor#gt', 'sg.Tensor#ne'],
    'hostile operands (non-tensors, int32 tensors, disposed tensors, shapes that do not broadcast, two numbers) are clear errors naming the comparison',
    fc.record({ name: compareName, which: fc.constantFrom('a', 'b'), form: fc.constantFrom('hostile', 'int32', 'disposed', 'shape', 'numbers'), bad: hostile, method: fc.boolean() }),
    async ({ name, which, form, bad, method }) => {
      const x = sg.tensor([1, 2, 3], [3]);
      const it = sg.tensor([1, 2, 3], [3], { dtype: 'int32' });
      const gone = sg.tensor([1, 2, 3]); gone.dispose();
      const other = sg.tensor([1, 2], [2]);
      const badArg: unknown = form === 'hostile' ? bad : form === 'int32' ? it : form === 'disposed' ? gone : other;
      const ok = form === 'hostile' && typeof bad === 'number';
      const call = form === 'numbers'
        ? () => (sg[name] as (a: unknown, b: unknown) => sg.Tensor)(1, 2)
        : method && which === 'b'
          ? () => (x[name] as (b: unknown) => sg.Tensor)(badArg)
          : () => (sg[name] as (a: unknown, b: unknown) => sg.Tensor)(which === 'a' ? badArg : x, which === 'a' ? x : badArg);
      await runCase(call, { fn: name, expect: ok ? 'ok' : 'error', args: form === 'shape' || form === 'numbers' ? undefined : [which], state: [x, it, other] });
      free(x, it, other);
    });
});

describe('where', () => {
  prop(['sg.where'],
    'where(cond, a, b) picks a where cond is nonzero (uint8 masks, or float32 with NaN and -0), b elsewhere, over the three-way broadcast, number operands included',
    broadcastShapes(3).chain(([sc, sa, sb]) => fc.record({
      sc: fc.constant(sc), sa: fc.constant(sa), sb: fc.constant(sb),
      c: valuesFor('float32', size(sc), fc.constantFrom(0, -0, 1, 255, NaN, -0.5, 3)), a: valuesFor('float32', size(sa), anyF32.map(f32)), b: valuesFor('float32', size(sb), anyF32.map(f32)),
      uint8: fc.boolean(), form: fc.constantFrom('tensors', 'tensors', 'numberA', 'numberB'), n: finiteF32.map(f32),
    })), async ({ sc, sa, sb, c, a, b, uint8, form, n }) => {
      const cond = uint8 ? c.map((v) => (v !== v ? 1 : Math.abs(v) >= 1 ? Math.abs(v) : v === 0 ? 0 : 1)) : c;
      const C = sg.tensor(cond, sc, { dtype: uint8 ? 'uint8' : 'float32' });
      const A = sg.tensor(a, sa);
      const B = sg.tensor(b, sb);
      const out = jointShape(form === 'tensors' ? [sc, sa, sb] : form === 'numberA' ? [sc, sb] : [sc, sa]);
      const want = Array.from({ length: size(out) }, (_, i) => {
        const pick = cond[sourceIndex(i, out, sc)] !== 0;
        if (pick) return form === 'numberA' ? n : a[sourceIndex(i, out, sa)];
        return form === 'numberB' ? n : b[sourceIndex(i, out, sb)];
      });
      await runCase(() => sg.where(C, form === 'numberA' ? n : A, form === 'numberB' ? n : B), {
        fn: 'where', expect: 'ok', state: [C, A, B],
        check: (y) => {
          expectShape(y, out, 'float32', 'where');
          const got = y.dataSync();
          want.forEach((w, i) => { if (!Object.is(got[i], w) && !(w !== w && got[i] !== got[i])) throw new Error(`where[${i}]: got ${got[i]}, want ${w}`); });
        },
      });
      free(C, A, B);
    }, 2);

  prop(['sg.where'],
    'gradients: dy to a where cond holds and to b elsewhere, summed over broadcast axes (exact counts); backward leaves only the two gradients',
    broadcastShapes(3).chain(([sc, sa, sb]) => fc.record({
      sc: fc.constant(sc), sa: fc.constant(sa), sb: fc.constant(sb), c: valuesFor('uint8', size(sc)),
    })), async ({ sc, sa, sb, c }) => {
      const since = stats();
      const C = sg.tensor(c, sc, { dtype: 'uint8' });
      const A = sg.zeros(sa, { requiresGrad: true });
      const B = sg.zeros(sb, { requiresGrad: true });
      const out = jointShape([sc, sa, sb]);
      const ga = new Array(size(sa)).fill(0);
      const gb = new Array(size(sb)).fill(0);
      for (let i = 0; i < size(out); i++) {
        if (c[sourceIndex(i, out, sc)] !== 0) ga[sourceIndex(i, out, sa)]++;
        else gb[sourceIndex(i, out, sb)]++;
      }
      sg.tidy(() => sg.sum(sg.where(C, A, B)).backward());
      for (const [g, want, what, s] of [[A.grad, ga, 'a', sa], [B.grad, gb, 'b', sb]] as const) {
        if (!(g instanceof sg.Tensor)) throw new Error(`where: no gradient for ${what}`);
        expectShape(g, s, 'float32', `where grad ${what}`);
        expectClose(g.dataSync(), want, `where grad ${what}`, { ulps: 0 });
      }
      free(C, A, B);
      expectNoLeakSince(since, 'where backward');
    });

  prop(['sg.where'],
    'hostile arguments (non-tensor or int32/int8 cond, disposed tensors, hostile a/b, shapes that do not broadcast) are clear errors naming where',
    fc.record({ which: fc.constantFrom('cond', 'a', 'b'), form: fc.constantFrom('hostile', 'int32', 'disposed', 'shape'), bad: hostile }),
    async ({ which, form, bad }) => {
      const x = sg.tensor([1, 2, 3], [3]);
      const m = sg.tensor([1, 0, 1], [3], { dtype: 'uint8' });
      const it = sg.tensor([1, 2, 3], [3], { dtype: which === 'cond' ? 'int8' : 'int32' });
      const gone = sg.tensor([1, 2, 3]); gone.dispose();
      const other = sg.tensor([1, 2], [2]);
      const badArg: unknown = form === 'hostile' ? bad : form === 'int32' ? it : form === 'disposed' ? gone : other;
      const ok = form === 'hostile' && typeof bad === 'number' && which !== 'cond';
      const args = [which === 'cond' ? badArg : m, which === 'a' ? badArg : x, which === 'b' ? badArg : x];
      await runCase(() => (sg.where as (...v: unknown[]) => sg.Tensor)(...args), { fn: 'where', expect: ok ? 'ok' : 'error', args: form === 'shape' ? undefined : [which], state: [x, m, it, other] });
      free(x, m, it, other);
    });
});

const smoothF32 = fc.oneof({ weight: 5, arbitrary: anyF32 }, { weight: 2, arbitrary: fc.float({ min: -100, max: 100, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(1e4, -1e4, 88, -88, 89, -104, 20, -20) });

describe('softplus and logSigmoid', () => {
  prop(['sg.softplus', 'sg.logSigmoid', 'sg.Tensor#softplus', 'sg.Tensor#logSigmoid'],
    'softplus(x) = log(1 + e^x) and logSigmoid(x) = −log(1 + e^−x) in float64 within 4 ulps (or 1e-37 absolute near 0), never overflowing; x.op() gives the same bits; gradients σ(x) and σ(−x) in float64',
    shape({ maxRank: 4, maxDim: 6, maxSize: 200 }).chain((s) => fc.record({ s: fc.constant(s), x: valuesFor('float32', size(s), smoothF32.map(f32)), name: fc.constantFrom('softplus' as const, 'logSigmoid' as const) })),
    async ({ s, x, name }) => {
      // Stable float64 forms: log1p for the tail, the linear part exactly.
      const sp = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));
      const want = x.map((v) => f32(name === 'softplus' ? sp(v) : -sp(-v)));
      const X = sg.tensor(x, s, { requiresGrad: true });
      let bits: number[] = [];
      await runCase(() => sg[name](X), {
        fn: name, expect: 'ok', state: [X],
        check: (y) => { expectShape(y, s, 'float32', name); bits = Array.from(y.dataSync()); expectClose(bits, want, name, { ulps: 4, abs: 1e-37 }); },
      });
      await runCase(() => X[name](), {
        fn: name, expect: 'ok', state: [X],
        check: (y) => { const g = y.dataSync(); bits.forEach((v, i) => { if (!Object.is(v, g[i])) throw new Error(`x.${name}()[${i}] = ${g[i]}, ${name}(x) = ${v}`); }); },
      });
      const since = stats();
      sg.tidy(() => sg.sum(sg[name](X)).backward());
      const sig = (v: number) => 1 / (1 + Math.exp(-v));
      const gw = x.map((v) => (name === 'softplus' ? sig(v) : sig(-v)));
      if (!(X.grad instanceof sg.Tensor)) throw new Error(`${name}: no gradient`);
      expectClose(X.grad.dataSync(), gw, `${name} grad`, { ulps: 4, abs: 1e-37 });
      X.grad.dispose();
      X.grad = null;
      expectNoLeakSince(since, `${name} backward`);
      free(X);
    });

  prop(['sg.softplus', 'sg.logSigmoid', 'sg.Tensor#softplus'],
    'hostile inputs (non-tensors, integer tensors, disposed tensors) are clear errors naming the op',
    fc.record({ name: fc.constantFrom('softplus' as const, 'logSigmoid' as const), form: fc.constantFrom('hostile', 'int32', 'uint8', 'disposed'), bad: hostile }),
    async ({ name, form, bad }) => {
      const gone = sg.tensor([1, 2]); gone.dispose();
      const t = form === 'int32' || form === 'uint8' ? sg.tensor([1, 2], [2], { dtype: form }) : null;
      const arg: unknown = form === 'hostile' ? bad : form === 'disposed' ? gone : t;
      await runCase(() => (sg[name] as (x: unknown) => sg.Tensor)(arg), { fn: name, expect: 'error', args: ['x'], state: [t] });
      free(t);
    });
});

/** float64 log-softmax of row r (K wide) of v. */
function logSoftmax64(v: ArrayLike<number>, r: number, K: number): number[] {
  let m = -Infinity;
  for (let k = 0; k < K; k++) m = Math.max(m, v[r * K + k]);
  let s = 0;
  for (let k = 0; k < K; k++) s += Math.exp(v[r * K + k] - m);
  return Array.from({ length: K }, (_, k) => v[r * K + k] - m - Math.log(s));
}

describe('losses', () => {
  prop(['sg.bceWithLogits'],
    'bceWithLogits is the float64 mean of max(x,0) − x·t + log(1 + e^−|x|) (huge logits included); gradients (σ(x) − t)/n and −x/n in float64',
    shape({ minRank: 0, maxRank: 4, maxDim: 6, maxSize: 120 }).filter((s) => size(s) > 0).chain((s) => fc.record({
      s: fc.constant(s), x: valuesFor('float32', size(s), fc.oneof({ weight: 5, arbitrary: fc.float({ min: -30, max: 30, noNaN: true }) }, { weight: 1, arbitrary: fc.constantFrom(1e4, -1e4, 0, -0) }).map(f32)),
      t: valuesFor('float32', size(s), fc.oneof(fc.constantFrom(0, 1), fc.float({ min: 0, max: 1, noNaN: true })).map(f32)),
    })), async ({ s, x, t }) => {
      const n = x.length;
      const terms = x.map((v, i) => Math.max(v, 0) - v * t[i] + Math.log1p(Math.exp(-Math.abs(v))));
      const want = terms.reduce((p, v) => p + v, 0) / n;
      const mag = x.reduce((p, v, i) => p + Math.abs(v) * (1 + t[i]) + 1, 0) / n;
      const X = sg.tensor(x, s, { requiresGrad: true });
      const T = sg.tensor(t, s, { requiresGrad: true });
      await runCase(() => sg.bceWithLogits(X, T), {
        fn: 'bceWithLogits', expect: 'ok', state: [X, T],
        check: (y) => { expectShape(y, [], 'float32', 'bceWithLogits'); expectClose(y.dataSync(), [want], 'bceWithLogits', { abs: 4e-6 * mag }); },
      });
      const since = stats();
      sg.tidy(() => sg.bceWithLogits(X, T).backward());
      const sig = (v: number) => 1 / (1 + Math.exp(-v));
      expectClose(X.grad!.dataSync(), x.map((v, i) => (sig(v) - t[i]) / n), 'bceWithLogits grad logits', { abs: 1e-6 / n, rel: 1e-5 });
      expectClose(T.grad!.dataSync(), x.map((v) => -v / n), 'bceWithLogits grad targets', { abs: 1e-30, rel: 1e-5 });
      free(X.grad, T.grad);
      X.grad = null;
      T.grad = null;
      expectNoLeakSince(since, 'bceWithLogits backward');
      free(X, T);
    });

  prop(['sg.klCategorical'],
    'klCategorical is the float64 KL(softmax(l) ‖ softmax(p) or uniform) summed over the last axis and averaged over the leading ones, with full, row-broadcast and absent priors; its gradient to the logits is q ⊙ (log q − log p − KL_row) / rows in float64',
    fc.tuple(shape({ minRank: 0, maxRank: 3, maxDim: 5, maxSize: 60 }).filter((s) => size(s) > 0), fc.integer({ min: 1, max: 9 })).chain(([lead, K]) => fc.record({
      lead: fc.constant(lead), K: fc.constant(K), l: valuesFor('float32', size(lead) * K, fc.float({ min: -12, max: 12, noNaN: true }).map(f32)),
      p: valuesFor('float32', size(lead) * K, fc.float({ min: -12, max: 12, noNaN: true }).map(f32)), prior: fc.constantFrom('none', 'full', 'row'),
    })), async ({ lead, K, l, p, prior }) => {
      const rows = size(lead);
      const s = [...lead, K];
      const L = sg.tensor(l, s, { requiresGrad: true });
      const P = prior === 'none' ? null : prior === 'full' ? sg.tensor(p, s) : sg.tensor(p.slice(0, K), [K]);
      const logP = (r: number) => (prior === 'none' ? new Array(K).fill(-Math.log(K)) : logSoftmax64(p, prior === 'full' ? r : 0, K));
      let total = 0;
      const grad: number[] = [];
      // float32 rounds log q − log p at the scale of its largest entry, and the gradient cancels terms of that size.
      const gradTol: number[] = [];
      for (let r = 0; r < rows; r++) {
        const lq = logSoftmax64(l, r, K);
        const lp = logP(r);
        const kl = lq.reduce((acc, v, k) => acc + Math.exp(v) * (v - lp[k]), 0);
        const scale = Math.max(...lq.map((v, k) => Math.abs(v - lp[k])), Math.abs(kl));
        total += kl;
        for (let k = 0; k < K; k++) {
          grad.push((Math.exp(lq[k]) * (lq[k] - lp[k] - kl)) / rows);
          gradTol.push((2e-6 * (1 + scale)) / rows);
        }
      }
      await runCase(() => sg.klCategorical(L, P), {
        fn: 'klCategorical', expect: 'ok', state: [L, P],
        check: (y) => { expectShape(y, [], 'float32', 'klCategorical'); expectClose(y.dataSync(), [total / rows], 'klCategorical', { abs: 2e-5 * (1 + total / rows) }); },
      });
      const since = stats();
      sg.tidy(() => sg.klCategorical(L, P).backward());
      const got = L.grad!.dataSync();
      grad.forEach((w, i) => { if (!(Math.abs(got[i] - w) <= gradTol[i])) throw new Error(`klCategorical grad[${i}]: got ${got[i]}, float64 ${w} (tolerance ${gradTol[i]})`); });
      free(L.grad);
      L.grad = null;
      expectNoLeakSince(since, 'klCategorical backward');
      free(L, P);
    });

  prop(['sg.bceWithLogits', 'sg.klCategorical'],
    'hostile arguments (non-tensors, integer tensors, disposed tensors, mismatched or empty shapes) are clear errors naming the loss',
    fc.record({ fn: fc.constantFrom('bceWithLogits' as const, 'klCategorical' as const), which: fc.constantFrom(0, 1), form: fc.constantFrom('hostile', 'int32', 'disposed', 'shape', 'empty'), bad: hostile }),
    async ({ fn, which, form, bad }) => {
      const x = sg.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
      const it = sg.tensor([1, 2, 3], [3], { dtype: 'int32' });
      const gone = sg.tensor([1, 2, 3]); gone.dispose();
      const other = sg.tensor([1, 2, 3, 4], [4]);
      const empty = sg.zeros([0, 3]);
      const badArg: unknown = form === 'hostile' ? bad : form === 'int32' ? it : form === 'disposed' ? gone : form === 'shape' ? other : empty;
      const args = which === 0 ? [badArg, form === 'empty' ? empty : x] : [x, badArg];
      // klCategorical's prior is optional: null/undefined means uniform.
      const ok = fn === 'klCategorical' && which === 1 && (badArg === null || badArg === undefined);
      const names = fn === 'bceWithLogits' ? ['logits', 'targets'] : ['logits', 'priorLogits'];
      await runCase(() => (sg[fn] as (...v: unknown[]) => sg.Tensor)(...args), { fn, expect: ok ? 'ok' : 'error', args: form === 'shape' || form === 'empty' ? undefined : [names[which]], state: [x, it, other, empty] });
      free(x, it, other, empty);
    });
});
