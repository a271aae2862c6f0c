// Elementwise, reductions, shape ops, losses, plain discrete ops, matmul and autograd.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { Binary, Unary } from '../../src/kernels/codes.generated.js';
import { binaryScalarRef, unaryScalarRef } from '../../src/reference/elementwise.js';
import { roundHalfEven } from '../../src/reference/hard.js';
import { f32MaxAxisRef as maxAxisRef, f32SoftmaxRowsRef as softmaxRowsRef } from '../../src/reference/reduce.js';
import { anyF32, anyRankShape, anyTensor, DTYPES, finiteF32, floatTensor, hostile, make, matrix, optionBag, shape, tensorOf, dim, type TensorSpec } from './arbitraries.js';
import { expectClose, expectShape, f32, free, prop, runCase, strides, ulpDistance, useRuntime } from './oracle.js';

useRuntime();

const sizeOf = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const isObj = (o: unknown): o is Record<string, unknown> => o !== null && typeof o === 'object' && !Array.isArray(o);
const UNARY = ['neg', 'relu', 'exp', 'log', 'tanh', 'sigmoid', 'square', 'sqrt', 'abs'] as const;
const ULPS: Record<string, number> = { exp: 2, log: 2, tanh: 3, sigmoid: 3 };
const BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const;

/** Calls op as sg.op(x, ...rest) or x.op(...rest): both forms are public. */
function call(method: boolean, op: string, x: unknown, ...rest: unknown[]): any {
  return method && x instanceof sg.Tensor ? (x as any)[op](...rest) : (sg as any)[op](x, ...rest);
}

/** Broadcast shape per NumPy rules, or null. */
function broadcast(a: readonly number[], b: readonly number[]): number[] | null {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

function readBroadcast(data: ArrayLike<number>, from: readonly number[], to: readonly number[]): number[] {
  const st = strides(from);
  const lead = to.length - from.length;
  const out: number[] = [];
  const idx = new Array(to.length).fill(0);
  for (let k = 0; k < sizeOf(to); k++) {
    let off = 0;
    for (let i = 0; i < from.length; i++) off += (from[i] === 1 ? 0 : idx[lead + i]) * st[i];
    out.push(data[off]);
    for (let i = to.length - 1; i >= 0; i--) { if (++idx[i] < to[i]) break; idx[i] = 0; }
  }
  return out;
}

/** Shapes that broadcast with s (sometimes not). */
const partnerShape = (s: number[]): fc.Arbitrary<number[]> => fc.oneof(
  fc.constant(s.slice()),
  fc.constant(s.slice(1)),
  fc.constant(s.map((d, i) => (i % 2 ? 1 : d))),
  fc.constant([] as number[]),
  shape({ maxRank: 3, maxDim: 4, maxSize: 64 }),
);

describe('elementwise', () => {
  prop(['sg.neg', 'sg.relu', 'sg.exp', 'sg.log', 'sg.tanh', 'sg.sigmoid', 'sg.square', 'sg.sqrt', 'sg.abs', 'sg.Tensor#neg', 'sg.Tensor#relu', 'sg.Tensor#exp', 'sg.Tensor#log', 'sg.Tensor#tanh', 'sg.Tensor#sigmoid', 'sg.Tensor#square', 'sg.Tensor#sqrt', 'sg.Tensor#abs'],
    'unary ops match the scalar twin on any values and dtypes', fc.record({ op: fc.constantFrom(...UNARY), x: fc.oneof({ weight: 5, arbitrary: floatTensor() }, { weight: 1, arbitrary: anyTensor() }), method: fc.boolean(), disposed: fc.boolean(), bad: fc.oneof(fc.constant(null), hostile) }),
    async ({ op, x, method, disposed, bad }) => {
      const t = make(x);
      if (disposed) t.dispose();
      const arg = x.dtype === 'float32' || bad === null ? t : bad;
      const ok = arg === t && x.dtype === 'float32' && !disposed;
      await runCase(() => call(method && arg === t, op, arg), {
        fn: op, expect: ok ? 'ok' : 'error', args: ['x'], state: disposed ? [] : [t],
        check: (y: sg.Tensor) => {
          expectShape(y, x.shape, 'float32', op);
          expectClose(y.dataSync(), x.data.map((v) => unaryScalarRef(Unary[op], f32(v))), op, { ulps: ULPS[op] ?? 0, signedZero: !(op in ULPS) });
        },
      });
      free(t);
    }, 2);

  prop(['sg.clip', 'sg.Tensor#clip'], 'clip matches clamp; bad bounds are clear errors', fc.record({ x: floatTensor(), lo: fc.oneof(anyF32, hostile), hi: fc.oneof(anyF32, hostile), method: fc.boolean() }), async ({ x, lo, hi, method }) => {
    const t = make(x);
    const ok = typeof lo === 'number' && typeof hi === 'number' && Number.isFinite(lo) && Number.isFinite(hi) && lo <= hi;
    await runCase(() => call(method, 'clip', t, lo, hi), {
      fn: 'clip', expect: ok ? 'ok' : typeof lo === 'number' && typeof hi === 'number' && !Number.isNaN(lo) && !Number.isNaN(hi) && lo <= hi ? 'either' : 'error', args: ['min', 'max'], state: [t],
      check: (y: sg.Tensor) => expectClose(y.dataSync(), x.data.map((v) => { const fv = f32(v); return fv !== fv ? NaN : Math.min(Math.max(fv, f32(lo as number)), f32(hi as number)); }), 'clip'),
    });
    free(t);
  });

  prop(['sg.add', 'sg.sub', 'sg.mul', 'sg.div', 'sg.maximum', 'sg.minimum', 'sg.Tensor#add', 'sg.Tensor#sub', 'sg.Tensor#mul', 'sg.Tensor#div', 'sg.Tensor#maximum', 'sg.Tensor#minimum'],
    'binary ops broadcast and match the scalar twin; scalars, aliasing and bad operands', fc.record({
      op: fc.constantFrom(...BINARY), a: floatTensor({ maxRank: 3, maxDim: 4, maxSize: 64 }), form: fc.constantFrom('tensor', 'tensor', 'scalarB', 'scalarA', 'alias', 'hostileB', 'intB'),
      s: anyF32, bad: hostile, method: fc.boolean(), seed: fc.integer(),
    }).chain((r) => partnerShape(r.a.shape).chain((bs) => tensorOf(fc.constant(bs), 'float32').map((b) => ({ ...r, b })))),
    async ({ op, a, b, form, s, bad, method }) => {
      const { ta, tb, A, B, shapeA, shapeB, dataA, dataB, out } = binaryOperands(a, b, form, s, bad, 1);
      const valid = out !== null && form !== 'hostileB' && form !== 'intB';
      // A scalar operand is any float: NaN and ±Infinity are values, not errors (either is accepted for them).
      const special = (typeof A === 'number' && !Number.isFinite(A)) || (typeof B === 'number' && !Number.isFinite(B));
      const useMethod = method && A instanceof sg.Tensor;
      await runCase(() => call(useMethod, op, A, B), {
        fn: op, expect: valid ? (special ? 'either' : 'ok') : form === 'hostileB' && typeof bad === 'number' ? 'either' : 'error', state: [ta, tb],
        check: (y: sg.Tensor) => {
          expectShape(y, out!, 'float32', op);
          const x1 = readBroadcast(dataA, shapeA, out!);
          const x2 = readBroadcast(dataB, shapeB, out!);
          expectClose(y.dataSync(), x1.map((v, i) => binaryScalarRef(Binary[op], f32(v), f32(x2[i]))), op, { signedZero: op === 'maximum' || op === 'minimum' });
        },
      });
      free(ta, tb);
    }, 3);

  prop(['sg.add', 'sg.sub', 'sg.mul', 'sg.div', 'sg.maximum', 'sg.minimum', 'sg.backward'],
    'backward through binary ops leaves exactly the leaves\' gradients alive, with the right values', fc.record({
      op: fc.constantFrom(...BINARY), a: floatTensor({ maxRank: 3, maxDim: 4, maxSize: 48 }, finiteF32), scalar: fc.constantFrom('none', 'a', 'b'), s: fc.double({ min: -4, max: 4, noNaN: true }).filter((v) => Math.abs(v) > 0.25),
    }).chain((r) => partnerShape(r.a.shape).filter((bs) => broadcast(r.a.shape, bs) !== null).chain((bs) => tensorOf(fc.constant(bs), 'float32', fc.double({ min: 0.5, max: 3, noNaN: true })).map((b) => ({ ...r, b })))),
    async ({ op, a, b, scalar, s }) => {
      const ta = make(a, true);
      const tb = make(b, true);
      const A = scalar === 'a' ? s : ta;
      const B = scalar === 'b' ? s : tb;
      await runCase(() => {
        const y = (sg as any)[op](A, B) as sg.Tensor;
        const l = sg.sum(y);
        sg.backward(l);
        return [y, l];
      }, {
        fn: op, expect: 'ok', mutates: true,
        kept: () => [ta.grad, tb.grad],
        check: () => {
          const usesA = A === ta;
          const usesB = B === tb;
          if (usesA !== (ta.grad !== null) || usesB !== (tb.grad !== null)) throw new Error(`${op}: gradients on the wrong leaves`);
          if (ta.grad) expectShape(ta.grad, a.shape, 'float32', `${op} da`);
          if (tb.grad) expectShape(tb.grad, b.shape, 'float32', `${op} db`);
          if (op === 'add' || op === 'sub') {
            const out = broadcast(a.shape, scalar === 'b' ? [] : b.shape)!;
            if (ta.grad && usesB) expectClose(ta.grad.dataSync(), new Array(a.data.length).fill(sizeOf(out) / a.data.length), `${op} da`);
          }
        },
      });
      free(ta, tb);
    }, 1.5);
});

describe('pow', () => {
  const base = fc.oneof({ weight: 4, arbitrary: anyF32 }, { weight: 2, arbitrary: fc.double({ min: -3, max: 3, noNaN: true }).map(f32) });
  const exponent = fc.oneof({ weight: 3, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }).map(f32) }, { weight: 3, arbitrary: fc.constantFrom(0, -0, 1, -1, 2, 3, 0.5, -0.5, 0.25, NaN, Infinity, -Infinity) }, { weight: 1, arbitrary: anyF32 });
  /** ulps between float32 values, NaN only matching NaN; ±Infinity is one ulp past ±3.4028235e38 (the rounding edge). */
  const expectPow = (got: ArrayLike<number>, want: ArrayLike<number>, what: string, ulps: number) => {
    for (let i = 0; i < want.length; i++) {
      if (ulpDistance(got[i], want[i]) > ulps) throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]} (±${ulps} ulps)`);
    }
  };
  prop(['sg.pow', 'sg.Tensor#pow'], 'pow broadcasts and matches float64 pow rounded to float32 (2 ulps, NaN for a negative base with a fractional exponent); scalars either side; bad operands are clear errors', fc.record({
    a: floatTensor({ maxRank: 3, maxDim: 4, maxSize: 48 }, base), form: fc.constantFrom('tensor', 'tensor', 'scalarB', 'scalarA', 'alias', 'hostileB', 'intB'),
    s: exponent, bad: hostile, method: fc.boolean(),
  }).chain((r) => partnerShape(r.a.shape).chain((bs) => tensorOf(fc.constant(bs), 'float32', exponent).map((b) => ({ ...r, b })))),
  async ({ a, b, form, s, bad, method }) => {
    const { ta, tb, A, B, shapeA, shapeB, dataA, dataB, out } = binaryOperands(a, b, form, s, bad, 2);
    const valid = out !== null && form !== 'hostileB' && form !== 'intB';
    const useMethod = method && A instanceof sg.Tensor;
    await runCase(() => call(useMethod, 'pow', A, B), {
      fn: 'pow', expect: valid ? 'ok' : form === 'hostileB' && typeof bad === 'number' ? 'either' : 'error', state: [ta, tb],
      check: (y: sg.Tensor) => {
        expectShape(y, out!, 'float32', 'pow');
        const x1 = readBroadcast(dataA, shapeA, out!);
        const x2 = readBroadcast(dataB, shapeB, out!);
        expectPow(y.dataSync(), x1.map((v, i) => f32(Math.pow(f32(v), f32(x2[i])))), 'pow', 2);
      },
    });
    free(ta, tb);
  }, 2);

  prop(['sg.pow', 'sg.Tensor#pow', 'sg.backward'], 'pow gradients: b·a^(b−1) to the base and a^b·ln a to the exponent (float64 references), and only the leaves\' gradients stay alive', fc.record({
    a: floatTensor({ maxRank: 2, maxDim: 4, maxSize: 16 }, fc.double({ min: 0.25, max: 3, noNaN: true })), expScalar: fc.boolean(), s: fc.double({ min: -3, max: 3, noNaN: true }),
  }).chain((r) => tensorOf(fc.constant(r.a.shape), 'float32', fc.double({ min: -3, max: 3, noNaN: true })).map((b) => ({ ...r, b }))),
  async ({ a, b, expScalar, s }) => {
    const ta = make(a, true);
    const tb = make(b, true);
    const B = expScalar ? f32(s) : tb;
    await runCase(() => {
      const y = (B === tb ? ta.pow(tb) : sg.pow(ta, B)) as sg.Tensor;
      const l = sg.sum(y);
      sg.backward(l);
      return [y, l];
    }, {
      fn: 'pow', expect: 'ok', mutates: true, kept: () => [ta.grad, tb.grad],
      check: () => {
        const A = a.data.map(f32);
        const E = expScalar ? A.map(() => f32(s)) : b.data.map(f32);
        expectShape(ta.grad!, a.shape, 'float32', 'pow da');
        expectClose(ta.grad!.dataSync(), A.map((v, i) => (E[i] === 0 ? 0 : E[i] * Math.pow(v, E[i] - 1))), 'pow da', { abs: 1e-6, rel: 1e-5 });
        if (expScalar) {
          if (tb.grad !== null) throw new Error('pow: a scalar exponent gave the exponent tensor a gradient');
        } else {
          expectClose(tb.grad!.dataSync(), A.map((v, i) => Math.pow(v, E[i]) * Math.log(v)), 'pow db', { abs: 1e-6, rel: 1e-5 });
        }
      },
    });
    free(ta, tb);
  }, 1);
});

describe('batchNorm', () => {
  const stat = fc.constantFrom('none', 'both', 'both', 'both', 'both', 'both', 'both', 'onlyMean', 'sameTensor', 'wrongShape', 'int32', 'aliasWeight');
  prop(['sg.batchNorm'], 'batchNorm over the last axis: eval is the float32 chain ((x - mean) / sqrt(var + eps)) * weight + bias bit for bit, training matches float64 batch statistics and updates the running ones; bad options, shapes and aliasing are clear errors that change nothing', fc.record({
    // Mostly batches with rows and channels (the edge shapes, 0- and 1-sized, come from floatTensor).
    x: fc.oneof(
      { weight: 3, arbitrary: tensorOf(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 2, maxLength: 3 }), 'float32', fc.double({ min: -8, max: 8, noNaN: true })) },
      { weight: 1, arbitrary: floatTensor({ minRank: 1, maxRank: 3, maxDim: 5, maxSize: 60 }, fc.double({ min: -8, max: 8, noNaN: true })) },
    ), grad: fc.boolean(),
    training: fc.oneof({ weight: 12, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom<unknown>(undefined, null, 'yes', 1) }),
    momentum: fc.oneof({ weight: 8, arbitrary: fc.constantFrom<unknown>(undefined, 0, 0.1, 1, 0.5) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(null, -0.1, 1.5, NaN, 'x') }),
    eps: fc.oneof({ weight: 8, arbitrary: fc.constantFrom<unknown>(undefined, 1e-5, 1e-3, 0.5) }, { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 0, -1, NaN, Infinity, 1e-50, 1e39, 'x') }),
    affine: fc.constantFrom('none', 'none', 'both', 'both', 'both', 'onlyWeight', 'wrongShape'), running: stat,
    form: fc.constantFrom('bag', 'bag', 'bag', 'bag', 'bag', 'bag', 'bag', 'bag', 'null', 'none', 'hostile'), bad: hostile, special: fc.constantFrom('none', 'none', 'none', 'none', 'none', 'none', 'inf'),
  }), async ({ x, grad, training, momentum, eps, affine, running, form, bad, special }) => {
    if (special === 'inf' && x.data.length) x.data[0] = Infinity;
    const C = x.shape[x.shape.length - 1];
    const R = x.shape.slice(0, -1).reduce((n, d) => n * d, 1);
    // With a gradient, eval runs the recorded op chain; without, the fused kernel: both must give the chain's bits.
    const tx = make(x, grad);
    const chan = (f: (c: number) => number) => sg.tensor(Array.from({ length: C }, (_, c) => f(c)), [C]);
    const w = affine === 'none' ? null : affine === 'wrongShape' ? sg.ones([C + 1]) : chan((c) => 0.5 + c / 3);
    const b = affine === 'both' || affine === 'wrongShape' ? chan((c) => c / 4 - 0.3) : null;
    const rm = running === 'none' ? null : running === 'aliasWeight' && w !== null ? w : running === 'wrongShape' ? sg.zeros([C + 2]) : running === 'int32' ? sg.zeros([C], { dtype: 'int32' }) : chan((c) => c / 5 - 0.2);
    const rv = running === 'none' || running === 'onlyMean' ? null : running === 'sameTensor' ? rm : chan((c) => 1 + c / 2);
    const opts: unknown = form === 'null' ? null : form === 'none' ? undefined : form === 'hostile' ? bad : { training, momentum, eps, weight: w, bias: b, runningMean: rm, runningVar: rv };
    const bag = form === 'bag';
    const tr = bag ? training ?? false : false;
    const mom = bag ? momentum ?? 0.1 : 0.1;
    const ep = bag ? eps ?? 1e-5 : 1e-5;
    const hostileBag = form === 'hostile' && bad !== null && bad !== undefined && (typeof bad !== 'object' || Array.isArray(bad) || ArrayBuffer.isView(bad) || bad instanceof Map || bad instanceof Set);
    const given = { w: bag ? w : null, b: bag ? b : null, rm: bag ? rm : null, rv: bag ? rv : null };
    const optsOk = !hostileBag && typeof tr === 'boolean' && typeof mom === 'number' && mom >= 0 && mom <= 1 && typeof ep === 'number' && Number.isFinite(ep) && ep >= 1.1754943508222875e-38 && ep <= 3.4028234663852886e38;
    const affineOk = (given.w === null) === (given.b === null) && (given.w === null || (affine === 'both'));
    const runOk = (given.rm === null) === (given.rv === null) && (given.rm === null || running === 'both' || (running === 'aliasWeight' && given.w === null));
    const ok = optsOk && affineOk && runOk && (tr ? R >= 2 && (special === 'none' || x.data.length === 0) : given.rm !== null);
    const users = [tx, w, b, rm, rv].filter((t): t is sg.Tensor => t !== null);
    const before = { rm: rm && rm.dtype === 'float32' ? Array.from(rm.dataSync()) : null, rv: rv && rv.dtype === 'float32' ? Array.from(rv.dataSync()) : null };
    await runCase(() => sg.batchNorm(tx, opts as any), {
      fn: 'batchNorm', expect: ok ? 'ok' : 'error', state: users, mutates: ok && tr && given.rm !== null,
      check: (y: sg.Tensor) => {
        expectShape(y, x.shape, 'float32', 'batchNorm');
        const X = Array.from(tx.dataSync());
        const W = given.w ? Array.from(given.w.dataSync()) : null;
        const B = given.b ? Array.from(given.b.dataSync()) : null;
        const got = y.dataSync();
        if (!tr) {
          // Eval: the float32 op chain, each op rounded, bit for bit.
          const M = before.rm!;
          const V = before.rv!;
          const want = X.map((v, i) => {
            const c = i % C;
            const xhat = f32(f32(v - M[c]) / f32(Math.sqrt(f32(V[c] + f32(ep as number)))));
            return W && B ? f32(f32(xhat * W[c]) + B[c]) : xhat;
          });
          expectClose(got, want, 'batchNorm eval');
          return;
        }
        for (let c = 0; c < C; c++) {
          let m = 0;
          for (let r = 0; r < R; r++) m += X[r * C + c];
          m /= R;
          let v = 0;
          for (let r = 0; r < R; r++) v += (X[r * C + c] - m) ** 2;
          v /= R;
          const inv = 1 / Math.sqrt(v + (ep as number));
          for (let r = 0; r < R; r++) {
            const xhat = (X[r * C + c] - m) * inv;
            const want = W && B ? xhat * W[c] + B[c] : xhat;
            // x - mean in float32 is off by an ulp of x, magnified by 1/sqrt(var + eps).
            expectClose([got[r * C + c]], [want], `batchNorm train [${r}, ${c}]`, { abs: 4e-6 * 8 * inv * (W ? Math.abs(W[c]) : 1) + 1e-5, rel: 1e-4 });
          }
          if (given.rm && given.rv) {
            const m2 = Array.from(given.rm.dataSync());
            const v2 = Array.from(given.rv.dataSync());
            expectClose([m2[c]], [(1 - (mom as number)) * before.rm![c] + (mom as number) * m], `runningMean[${c}]`, { abs: 1e-5, rel: 1e-4 });
            expectClose([v2[c]], [(1 - (mom as number)) * before.rv![c] + (mom as number) * v * R / (R - 1)], `runningVar[${c}]`, { abs: 1e-5, rel: 1e-4 });
          }
        }
      },
    });
    free(...users);
  }, 2);
});

describe('chains', () => {
  const step = fc.record({ op: fc.constantFrom(...BINARY, ...UNARY), a: fc.nat(), b: fc.nat() });
  prop(['sg.add', 'sg.mul', 'sg.neg', 'sg.Tensor#add', 'sg.Tensor#sub'], 'outputs fed back as inputs (the same tensor as both operands, results of results): every step matches the twins, and all intermediates are freed', fc.record({
    x: floatTensor({ maxRank: 3, maxDim: 4, maxSize: 48 }), steps: fc.array(step, { minLength: 1, maxLength: 5 }), method: fc.boolean(),
  }), async ({ x, steps, method }) => {
    const t = make(x);
    const picks: [number, number][] = [];
    await runCase(() => {
      const outs: sg.Tensor[] = [t];
      for (const s of steps) {
        const a = s.a % outs.length;
        const b = s.b % outs.length;
        picks.push([a, b]);
        outs.push((UNARY as readonly string[]).includes(s.op) ? call(method, s.op, outs[a]) : call(method, s.op, outs[a], outs[b]));
      }
      return outs.slice(1);
    }, {
      fn: [...BINARY, ...UNARY], expect: 'ok', state: [t],
      // Each step against the twin applied to the library's own inputs for that step, so errors do not compound.
      check: (made) => {
        const all = [t, ...made];
        made.forEach((y, k) => {
          const op = steps[k].op;
          const A = Array.from(all[picks[k][0]].dataSync());
          const B = Array.from(all[picks[k][1]].dataSync());
          const want = (UNARY as readonly string[]).includes(op) ? A.map((v) => unaryScalarRef((Unary as any)[op], v)) : A.map((v, i) => binaryScalarRef((Binary as any)[op], v, B[i]));
          expectClose(y.dataSync(), want, `chain step ${k} (${op})`, { ulps: ULPS[op] ?? 0 });
        });
      },
    });
    free(t);
  }, 1.5);
});

describe('reductions', () => {
  const axisArb = fc.oneof(fc.constant(undefined), fc.integer({ min: -5, max: 5 }), fc.array(fc.integer({ min: -4, max: 4 }), { maxLength: 3 }), hostile);
  prop(['sg.sum', 'sg.mean', 'sg.max', 'sg.argmax', 'sg.Tensor#sum', 'sg.Tensor#mean', 'sg.Tensor#max', 'sg.Tensor#argmax'],
    'reductions over any axes match float64 sums and the max twin; bad axes and empty max are clear errors', fc.record({
      op: fc.constantFrom('sum', 'mean', 'max', 'argmax'), x: floatTensor({ maxRank: 4, maxDim: 6, maxSize: 200 }), axis: axisArb, keepDims: fc.oneof(fc.boolean(), fc.constant(undefined)), opts: fc.constantFrom('bag', 'bag', 'bag', 'null', 'none'), method: fc.boolean(),
    }), async ({ op, x, axis, keepDims, opts, method }) => {
      const t = make(x);
      const options = opts === 'null' ? null : opts === 'none' ? undefined : { axis, keepDims };
      const r = x.shape.length;
      // Null options and null option fields mean the default (every axis for sum/mean, the whole tensor for max/argmax).
      const ax = opts === 'bag' && axis !== null ? axis : undefined;
      const single = op === 'max' || op === 'argmax';
      let axes: number[] | null;
      if (ax === undefined) axes = single ? null : x.shape.map((_, i) => i);
      else {
        const list = Array.isArray(ax) && op !== 'argmax' ? ax : [ax];
        const okAx = list.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= -r && v < r);
        axes = okAx ? list.map((v) => ((v as number) + r) % Math.max(r, 1)) : [-1];
        if (okAx && new Set(axes).size !== axes.length) axes = [-1];
      }
      const badAxis = axes !== null && axes.includes(-1);
      const scalarAxis = r === 0 && opts === 'bag' && (ax === 0 || ax === -1 || (Array.isArray(ax) && ax.length === 1 && (ax[0] === 0 || ax[0] === -1)));
      const count = axes === null ? x.data.length : axes.reduce((n, a) => n * (x.shape[a] ?? 1), 1);
      const emptyBad = (op !== 'sum') && count === 0;
      const keep = opts === 'bag' && keepDims === true;
      const valid = !badAxis && !emptyBad;
      await runCase(() => call(method, op, t, options), {
        fn: op, expect: scalarAxis ? 'either' : valid ? 'ok' : 'error', args: badAxis && !scalarAxis ? ['axis'] : undefined, state: [t],
        check: (y: sg.Tensor) => {
          if (scalarAxis) return;
          const red = axes ?? x.shape.map((_, i) => i);
          const outShape = axes === null ? (keep ? x.shape.map(() => 1) : []) : x.shape.flatMap((d, i) => (red.includes(i) ? (keep ? [1] : []) : [d]));
          expectShape(y, outShape, op === 'argmax' ? 'int32' : 'float32', op);
          const xs = Float32Array.from(x.data);
          const st = strides(x.shape);
          const groups = new Map<number, number[]>();
          for (let k = 0; k < xs.length; k++) {
            let key = 0;
            let mul = 1;
            for (let i = x.shape.length - 1; i >= 0; i--) {
              const idx = Math.floor(k / st[i]) % x.shape[i];
              if (!red.includes(i)) { key += idx * mul; mul *= x.shape[i]; }
            }
            (groups.get(key) ?? groups.set(key, []).get(key)!).push(k);
          }
          const got = y.dataSync();
          for (let g = 0; g < got.length; g++) {
            const members = (groups.get(g) ?? []).map((k) => xs[k]);
            if (op === 'sum' || op === 'mean') {
              const s = members.reduce((p, v) => p + v, 0);
              const mag = members.reduce((p, v) => p + Math.abs(v), 0);
              const want = op === 'sum' ? s : s / members.length;
              if (mag > 1e37 || Number.isNaN(want)) { if (Number.isNaN(want) && !Number.isNaN(got[g])) throw new Error(`${op}[${g}]: got ${got[g]}, want NaN`); continue; }
              expectClose([got[g]], [want], `${op}[${g}]`, { abs: 2e-6 * (mag / (op === 'mean' ? members.length : 1)) + 1e-37 });
            } else {
              const vals = new Float32Array(1); const idx = new Int32Array(1);
              maxAxisRef(Float32Array.from(members), vals, idx, 1, members.length, 1);
              expectClose([got[g]], [op === 'max' ? vals[0] : idx[0]], `${op}[${g}]`);
            }
          }
        },
      });
      free(t);
    }, 3);
});

describe('shape ops', () => {
  prop(['sg.reshape', 'sg.Tensor#reshape'], 'reshape keeps the data; -1 is inferred; anything else is a clear error', fc.record({
    x: anyTensor({ maxRank: 4 }), target: fc.oneof(anyRankShape, fc.array(fc.oneof(fc.integer({ min: -2, max: 6 }), fc.constantFrom<unknown>(0.5, NaN, 2n, Symbol('d'), '2')), { maxLength: 4 }), hostile), method: fc.boolean(),
  }), async ({ x, target, method }) => {
    const t = make(x);
    let want: number[] | null = null;
    if (Array.isArray(target) && target.length <= 8 && target.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= -1) && target.filter((d) => d === -1).length <= 1) {
      const known = sizeOf(target.filter((d) => d !== -1) as number[]);
      if (target.includes(-1)) { if (known > 0 && x.data.length % known === 0) want = target.map((d) => (d === -1 ? x.data.length / known : d)) as number[]; }
      else if (known === x.data.length) want = target as number[];
    }
    await runCase(() => call(method, 'reshape', t, target), {
      fn: 'reshape', expect: want ? 'ok' : 'error', state: [t],
      check: (y: sg.Tensor) => { expectShape(y, want!, x.dtype, 'reshape'); expectClose(Array.from(y.dataSync()), Array.from(t.dataSync()), 'reshape', { signedZero: true }); },
    });
    free(t);
  });

  prop(['sg.transpose', 'sg.Tensor#transpose'], 'transpose permutes like the index reference, ranks 0..9; bad perms are clear errors', fc.record({
    x: tensorOf(anyRankShape, fc.constantFrom(...DTYPES)), permKind: fc.constantFrom('default', 'random', 'hostile', 'dup'), seed: fc.integer({ min: 0, max: 1000 }), bad: hostile, method: fc.boolean(),
  }), async ({ x, permKind, seed, bad, method }) => {
    const r = x.shape.length;
    if (r > 8) {
      // Ranks past 8 are unsupported: tensor() must refuse the shape, and if nested data slips a rank-9 tensor through, transpose must refuse it clearly.
      await runCase(() => sg.tensor(x.data, x.shape, { dtype: x.dtype }), { fn: 'tensor', expect: 'error' });
      // Dims of 2 (not 1, which copy loops collapse) keep every axis alive.
      const nested = x.shape.reduceRight<unknown>((inner) => [inner, inner], 0);
      let t9: sg.Tensor | null = null;
      try { t9 = sg.tensor(nested as number[]); } catch { return; }
      await runCase(() => call(method, 'transpose', t9, undefined), { fn: 'transpose', expect: 'either', state: [t9] });
      t9.dispose();
      return;
    }
    const t = make(x);
    const perm = x.shape.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13));
    const p = permKind === 'default' ? undefined : permKind === 'random' ? perm : permKind === 'dup' ? x.shape.map(() => 0) : bad;
    // A null perm may mean "not given" (the default reversal).
    const eff = p === undefined || p === null ? x.shape.map((_, i) => r - 1 - i) : p;
    const ok = Array.isArray(eff) && eff.length === r && [...eff].sort().every((v, i) => v === i) && (permKind !== 'dup' || r <= 1);
    await runCase(() => call(method, 'transpose', t, p), {
      fn: 'transpose', expect: p === null ? 'either' : ok ? 'ok' : 'error', args: ['perm'], state: [t],
      check: (y: sg.Tensor) => {
        const outShape = (eff as number[]).map((a) => x.shape[a]);
        expectShape(y, outShape, x.dtype, 'transpose');
        const src = Array.from(t.dataSync());
        const st = strides(x.shape);
        const ost = strides(outShape);
        const want = new Array(src.length);
        for (let k = 0; k < src.length; k++) {
          let off = 0;
          for (let i = 0; i < outShape.length; i++) off += (Math.floor(k / ost[i]) % outShape[i]) * st[(eff as number[])[i]];
          want[k] = src[off];
        }
        expectClose(Array.from(y.dataSync()), want, 'transpose', { signedZero: true });
      },
    });
    free(t);
  });

  prop(['sg.slice', 'sg.Tensor#slice'], 'slice copies the window; out-of-range and non-integer bounds are clear errors', fc.record({
    x: anyTensor({ maxRank: 4 }), begin: fc.array(fc.oneof(fc.integer({ min: -1, max: 7 }), hostile), { maxLength: 5 }), size: fc.oneof(fc.constant(undefined), fc.array(fc.oneof(fc.integer({ min: -2, max: 7 }), hostile), { maxLength: 5 }), hostile), method: fc.boolean(),
  }), async ({ x, begin, size, method }) => {
    const t = make(x);
    const r = x.shape.length;
    // A null size means "to the end" (an optional argument); entries of begin/size are positions, not options: null there is an error,
    // and only dimensions past the end of begin/size take the defaults.
    let ok = Array.isArray(begin) && begin.length <= r && (size == null || (Array.isArray(size) && size.length === begin.length));
    // A negative begin in [-d, -1] counts from the end (issue 11).
    const b = x.shape.map((d, i) => { const v = i < (begin as unknown[]).length ? (begin as unknown[])[i] : 0; return typeof v === 'number' && v < 0 && v >= -d ? v + d : v; });
    // Model arithmetic on numbers only: hostile entries (Symbol, BigInt, objects) must not throw here.
    const num = (v: unknown) => (typeof v === 'number' ? v : NaN);
    const s = x.shape.map((d, i) => { const w = Array.isArray(size) && i < size.length ? size[i] : -1; return w === -1 ? d - num(b[i]) : w; });
    if (ok) ok = x.shape.every((d, i) => Number.isInteger(b[i]) && (b[i] as number) >= 0 && (b[i] as number) <= d && Number.isInteger(s[i]) && (s[i] as number) >= 0 && (b[i] as number) + (s[i] as number) <= d);
    await runCase(() => call(method, 'slice', t, begin, size), {
      fn: 'slice', expect: ok ? 'ok' : 'error', state: [t],
      check: (y: sg.Tensor) => {
        expectShape(y, s as number[], x.dtype, 'slice');
        const src = Array.from(t.dataSync());
        const st = strides(x.shape);
        const ost = strides(s as number[]);
        const want = Array.from({ length: sizeOf(s as number[]) }, (_, k) => src[(s as number[]).reduce((off, d, i) => off + ((Math.floor(k / ost[i]) % d) + (b[i] as number)) * st[i], 0)]);
        expectClose(Array.from(y.dataSync()), want, 'slice', { signedZero: true });
      },
    });
    free(t);
  });

  prop(['sg.concat'], 'concat joins along an axis; scalars, mixed dtypes/shapes, hostile entries are clear errors', fc.record({
    parts: fc.array(anyTensor({ maxRank: 3, maxDim: 3 }), { maxLength: 4 }), axis: fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constant(undefined), hostile), aliasFirst: fc.boolean(), hostileEntry: fc.boolean(), bad: hostile,
  }).map((r) => (r.parts.length > 1 && r.aliasFirst ? { ...r, parts: [r.parts[0], ...r.parts.slice(1).map((p) => ({ ...r.parts[0], data: r.parts[0].data.map(() => p.data[0] ?? 0).map((v) => (r.parts[0].dtype === 'float32' ? v : 0)) }))] } : r)),
  async ({ parts, axis, hostileEntry, bad }) => {
    const ts = parts.map((p) => make(p));
    const args: unknown[] = hostileEntry && ts.length > 0 ? [...ts.slice(0, -1), bad] : ts;
    const first = parts[0];
    const r = first?.shape.length ?? 0;
    const ax = axis == null ? 0 : axis; // null: the optional axis omitted
    const axOk = typeof ax === 'number' && Number.isInteger(ax) && ax >= -r && ax < r;
    const a = axOk ? ((ax as number) + r) % r : -1;
    const ok = !hostileEntry && parts.length > 0 && axOk && parts.every((p) => p.dtype === first.dtype && p.shape.length === r && p.shape.every((d, k) => k === a || d === first.shape[k]));
    await runCase(() => sg.concat(args as sg.Tensor[], axis as number), {
      fn: 'concat', expect: ok ? 'ok' : 'error', state: ts,
      check: (y) => {
        const outShape = first.shape.slice();
        outShape[a] = parts.reduce((n, p) => n + p.shape[a], 0);
        expectShape(y, outShape, first.dtype, 'concat');
        const outer = sizeOf(first.shape.slice(0, a));
        const want: number[] = [];
        for (let o = 0; o < outer; o++) for (const [i, p] of parts.entries()) {
          const chunk = sizeOf(p.shape.slice(a));
          want.push(...Array.from(ts[i].dataSync()).slice(o * chunk, (o + 1) * chunk));
        }
        expectClose(Array.from(y.dataSync()), want, 'concat', { signedZero: true });
      },
    });
    free(ts);
  });

  prop(['sg.gather', 'sg.Tensor#gather'], 'gather picks rows; out-of-range, non-int32 indices and scalars are clear errors', fc.record({
    x: anyTensor({ minRank: 0, maxRank: 3, maxDim: 5 }), idx: fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 6 }), idxDtype: fc.constantFrom('int32', 'int32', 'int32', 'float32', 'uint8'), method: fc.boolean(),
  }), async ({ x, idx, idxDtype, method }) => {
    const t = make(x);
    const rows = x.shape[0];
    const i = sg.tensor(idxDtype === 'uint8' ? idx.map((v) => Math.abs(v)) : idx, [idx.length], { dtype: idxDtype as any });
    const ok = x.shape.length > 0 && idxDtype === 'int32' && idx.every((v) => v >= 0 && v < rows);
    await runCase(() => call(method, 'gather', t, i), {
      fn: 'gather', expect: ok ? 'ok' : 'error', args: ['indices', 'x'], state: [t, i],
      check: (y: sg.Tensor) => {
        const row = sizeOf(x.shape.slice(1));
        expectShape(y, [idx.length, ...x.shape.slice(1)], x.dtype, 'gather');
        const src = Array.from(t.dataSync());
        expectClose(Array.from(y.dataSync()), idx.flatMap((v) => src.slice(v * row, (v + 1) * row)), 'gather', { signedZero: true });
      },
    });
    free(t, i);
  });

  prop(['sg.cast', 'sg.Tensor#cast'], 'cast converts exactly (saturating float->int32), refuses NaN and unsupported pairs clearly', fc.record({ x: anyTensor(), to: fc.oneof(fc.constantFrom<unknown>(...DTYPES), hostile), method: fc.boolean() }), async ({ x, to, method }) => {
    const t = make(x);
    const src = Array.from(t.dataSync());
    const supported = typeof to === 'string' && DTYPES.includes(to as any) && (to === x.dtype || to === 'float32' || (to === 'int32' && x.dtype !== 'int32'));
    const nan = x.dtype === 'float32' && to === 'int32' && src.some((v) => Number.isNaN(v));
    await runCase(() => call(method, 'cast', t, to), {
      fn: 'cast', expect: supported && !nan ? 'ok' : 'error', state: [t],
      check: (y: sg.Tensor) => {
        expectShape(y, x.shape, to as string, 'cast');
        const want = src.map((v) => (to === 'int32' && x.dtype === 'float32' ? (v >= 2 ** 31 ? 2 ** 31 - 1 : v <= -(2 ** 31) ? -(2 ** 31) : Math.trunc(v) || 0) : to === 'float32' ? f32(v) : v));
        expectClose(Array.from(y.dataSync()), want, 'cast', { signedZero: to === 'float32' });
      },
    });
    free(t);
  });
});

describe('losses', () => {
  prop(['sg.softmax', 'sg.logSoftmax', 'sg.Tensor#softmax', 'sg.Tensor#logSoftmax'], 'softmax family matches the row twin along the last axis (other axes and axis lists: nd-reduce.fuzz.test.ts); bad axes are clear errors', fc.record({
    op: fc.constantFrom('softmax', 'logSoftmax'), x: floatTensor({ maxRank: 3, maxDim: 9, maxSize: 120 }), axis: fc.oneof(fc.constant(undefined), fc.integer({ min: -3, max: 3 }), hostile), method: fc.boolean(),
  }), async ({ op, x, axis, method }) => {
    const t = make(x);
    const r = x.shape.length;
    // A null axis is an omitted optional argument: the last axis; so is an options object without one.
    const bag = axis !== null && typeof axis === 'object' && Object.getPrototypeOf(axis) === Object.prototype || (typeof axis === 'object' && axis !== null && Object.getPrototypeOf(axis) === null);
    const list = Array.isArray(axis) ? axis : [axis];
    const inRange = list.length > 0 && list.every((a) => Number.isInteger(a) && a >= -r && a < r) && new Set(list.map((a) => (a + r) % r)).size === list.length;
    const ok = r > 0 && (axis == null || bag || inRange);
    const last = axis == null || bag || (list.length === 1 && (list[0] === -1 || list[0] === r - 1));
    await runCase(() => call(method, op, t, axis), {
      fn: op, expect: ok ? 'ok' : 'error', state: [t],
      check: (y: sg.Tensor) => {
        expectShape(y, x.shape, 'float32', op);
        if (!last) return;
        const n = x.shape[r - 1];
        const want = new Float32Array(x.data.length);
        if (n > 0) softmaxRowsRef(Float32Array.from(x.data), want, x.data.length / n, n, op === 'logSoftmax');
        expectClose(y.dataSync(), want, op, { ulps: 8, abs: 1e-6 });
      },
    });
    free(t);
  });

  prop(['sg.crossEntropy'], 'crossEntropy equals the float64 mean NLL; bad labels (dtype, range, shape) are clear errors that say how to fix them', fc.record({
    logits: matrix(dim(6), fc.integer({ min: 1, max: 9 })), labels: fc.array(fc.integer({ min: -1, max: 9 }), { maxLength: 7 }), dtype: fc.constantFrom('int32', 'int32', 'int32', 'uint8', 'float32'),
  }), async ({ logits, labels, dtype }) => {
    const [B, C] = logits.shape;
    const lab = labels.slice(0, B).concat(new Array(Math.max(0, B - labels.length)).fill(0));
    const useLab = labels.length % 3 === 2 ? lab.slice(1) : lab;
    const x = make(logits);
    const l = sg.tensor(dtype === 'uint8' ? useLab.map((v) => Math.abs(v)) : useLab, [useLab.length], { dtype: dtype as any });
    const inRange = useLab.every((v) => v >= 0 && v < C);
    const ok = B > 0 && useLab.length === B && inRange && dtype === 'int32';
    const either = B > 0 && useLab.length === B && dtype === 'uint8' && useLab.every((v) => Math.abs(v) < C);
    await runCase(() => sg.crossEntropy(x, l), {
      // Rejected uint8 labels must say how to fix it (labels.cast('int32')). uint8 labels are class indices like int32
      // (accepted), so only float32 labels make the error about the labels whatever else is wrong (an empty batch, say).
      fn: 'crossEntropy', expect: ok ? 'ok' : either ? 'either' : 'error', args: either ? ['cast'] : dtype === 'float32' ? ['labels'] : undefined, state: [x, l],
      check: (y) => {
        expectShape(y, [], 'float32', 'crossEntropy');
        const xs = Array.from(x.dataSync());
        const ls = Array.from(l.dataSync());
        let total = 0;
        for (let b = 0; b < B; b++) {
          const row = xs.slice(b * C, (b + 1) * C);
          const m = Math.max(...row);
          const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
          total += lse - row[ls[b]];
        }
        // The float32 log-softmax (the kernel and its twin) rounds at the scale of the row's logits (x - (max + log Σ)):
        // each row may be off by a few ulps of its largest |logit| (0.06 at 1e6).
        const scale = Math.max(0, ...xs.map(Math.abs));
        expectClose([y.item()], [total / B], 'crossEntropy', { abs: 1e-5 * (1 + Math.abs(total / B)) + 4 * scale * 2 ** -24 });
      },
    });
    free(x, l);
  });

  prop(['sg.mse'], 'mse equals the float64 mean squared difference (broadcast); empty inputs are clear errors', fc.record({ a: floatTensor({ maxRank: 3, maxDim: 4 }, finiteF32) }).chain((r) => partnerShape(r.a.shape).chain((bs) => tensorOf(fc.constant(bs), 'float32', finiteF32).map((b) => ({ ...r, b })))), async ({ a, b }) => {
    const ta = make(a);
    const tb = make(b);
    const out = broadcast(a.shape, b.shape);
    const ok = out !== null && sizeOf(out) > 0;
    await runCase(() => sg.mse(ta, tb), {
      fn: 'mse', expect: ok ? 'ok' : 'error', state: [ta, tb],
      check: (y) => {
        const x1 = readBroadcast(a.data.map(f32), a.shape, out!);
        const x2 = readBroadcast(b.data.map(f32), b.shape, out!);
        const sq = x1.map((v, i) => (v - x2[i]) ** 2);
        const want = sq.reduce((p, v) => p + v, 0) / sq.length;
        expectClose([y.item()], [want], 'mse', { abs: 1e-5 * want + 1e-30, rel: 1e-5 });
      },
    });
    free(ta, tb);
  });
});

describe('discrete and matmul', () => {
  prop(['sg.sign', 'sg.round', 'sg.floor'], 'plain discrete ops: sign/round-half-even/floor, NaN in gives NaN out', fc.record({ op: fc.constantFrom('sign', 'round', 'floor'), x: floatTensor() }), async ({ op, x }) => {
    const t = make(x);
    await runCase(() => (sg as any)[op](t) as sg.Tensor, {
      fn: op, expect: 'ok', state: [t],
      check: (y) => expectClose(y.dataSync(), x.data.map((v) => { const fv = f32(v); return fv !== fv ? NaN : op === 'sign' ? (fv > 0 ? 1 : fv < 0 ? -1 : 0) : op === 'round' ? roundHalfEven(fv) : Math.floor(fv); }), op),
    });
    free(t);
  });

  prop(['sg.matmul', 'sg.Tensor#matmul'], 'matmul in every transpose form matches a float64 product; shape/dtype/rank errors are clear', fc.record({
    m: dim(9), k: fc.oneof(dim(9), fc.constantFrom(31, 33, 129)), n: dim(9), ta: fc.boolean(), tb: fc.boolean(), opts: fc.constantFrom('bag', 'bag', 'none', 'null', 'hostile'), bad: hostile,
    mismatch: fc.boolean(), alias: fc.boolean(), values: fc.constantFrom('finite', 'special'), method: fc.boolean(), seed: fc.integer({ min: 1, max: 1e6 }),
  }), async ({ m, k, n, ta, tb, opts, bad, mismatch, alias, values, method, seed }) => {
    const gen = (count: number, salt: number) => Array.from({ length: count }, (_, i) => {
      const h = Math.sin(seed * 12.9898 + i * 78.233 + salt) * 43758.5453;
      const v = (h - Math.floor(h)) * 4 - 2;
      return values === 'special' && i % 7 === 3 ? [NaN, Infinity, -Infinity, -0, 1e30][i % 5] : v;
    });
    const aShape = ta ? [k, m] : [m, k];
    const kb = mismatch ? k + 1 : k;
    const bShape = tb ? [n, kb] : [kb, n];
    const a = sg.tensor(gen(m * k, 1), aShape);
    const b = alias ? a : sg.tensor(gen(kb * n, 2), bShape);
    const options = opts === 'bag' ? { transposeA: ta, transposeB: tb } : opts === 'null' ? null : opts === 'hostile' ? bad : undefined;
    const effTa = opts === 'bag' ? ta : false;
    const effTb = opts === 'bag' ? tb : false;
    const bs = alias ? aShape : bShape;
    const M = effTa ? aShape[1] : aShape[0];
    const K = effTa ? aShape[0] : aShape[1];
    const Kb = effTb ? bs[1] : bs[0];
    const N = effTb ? bs[0] : bs[1];
    const ok = K === Kb && (opts === 'bag' || opts === 'none');
    await runCase(() => call(method, 'matmul', a, b, options), {
      fn: 'matmul', expect: ok ? 'ok' : K !== Kb ? 'error' : 'either', state: [a, b],
      check: (c: sg.Tensor) => {
        expectShape(c, [M, N], 'float32', 'matmul');
        const A = Array.from(a.dataSync());
        const B = Array.from(b.dataSync());
        const at = (i: number, kk: number) => (effTa ? A[kk * aShape[1] + i] : A[i * aShape[1] + kk]);
        const bt = (kk: number, j: number) => (effTb ? B[j * bs[1] + kk] : B[kk * bs[1] + j]);
        const got = c.dataSync();
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
          let s = 0; let mag = 0;
          for (let kk = 0; kk < K; kk++) { s += at(i, kk) * bt(kk, j); mag += Math.abs(at(i, kk) * bt(kk, j)); }
          if (mag > 1e37) continue;
          expectClose([got[i * N + j]], [s], `matmul[${i},${j}]`, { abs: 1e-6 * mag + 1e-30 });
        }
      },
    });
    free(a, b);
  }, 2);
});

describe('autograd', () => {
  prop(['sg.backward', 'sg.Tensor#backward', 'sg.noGrad', 'sg.detach', 'sg.stopGradient', 'sg.Tensor#detach'],
    'backward: leaves get exactly their gradient (values checked), failed backward leaks nothing and keeps .grad; detach/stopGradient/noGrad cut the tape', fc.record({
      x: floatTensor({ minRank: 1, maxRank: 2, maxDim: 5 }, finiteF32), form: fc.constantFrom('scalar', 'withGrad', 'badGrad', 'noGradRoot', 'detached', 'stopped', 'twice', 'hostileGrad', 'method'), bad: hostile, pre: fc.boolean(),
    }), async ({ x, form, bad, pre }) => {
      const t = make(x, true);
      if (pre) { const l = sg.sum(sg.mul(t, 3)); sg.backward(l); l.dispose(); }
      const preGrad = t.grad ? Array.from(t.grad.dataSync()) : null;
      const n = x.data.length;
      const expectGrad = (add: number) => (preGrad ?? new Array(n).fill(0)).map((v) => v + add);
      // A null/undefined grad is an omitted one: fine for a one-element root (as torch's numel() == 1), an error otherwise.
      const omitted = form === 'hostileGrad' && bad == null;
      const ok = form === 'scalar' || form === 'withGrad' || form === 'twice' || form === 'method' || (omitted && n === 1);
      await runCase(() => {
        const y = sg.mul(t, 2);
        const made: sg.Tensor[] = [y];
        try {
          switch (form) {
            case 'scalar': { const l = sg.sum(y); made.push(l); sg.backward(l); break; }
            case 'method': { const l = y.sum(); made.push(l); l.backward(); break; }
            case 'withGrad': { const g = sg.ones([...x.shape]); made.push(g); sg.backward(y, g); break; }
            case 'badGrad': { const g = sg.ones([n + 1]); made.push(g); sg.backward(y, g); break; }
            case 'hostileGrad': sg.backward(y, bad as sg.Tensor); break;
            case 'noGradRoot': { const z = sg.noGrad(() => { const m = sg.mul(t, 2); made.push(m); return sg.sum(m); }); made.push(z); sg.backward(z); break; }
            case 'detached': { const d = sg.detach(y); made.push(d); const z = sg.sum(d); made.push(z); sg.backward(z); break; }
            case 'stopped': { const d = sg.stopGradient(y); made.push(d); const z = sg.sum(d); made.push(z); sg.backward(z); break; }
            case 'twice': { const l = sg.sum(y); made.push(l); sg.backward(l); const y2 = sg.mul(t, 2); made.push(y2); const l2 = sg.sum(y2); made.push(l2); sg.backward(l2); break; }
          }
        } catch (e) {
          free(made);
          throw e;
        }
        return made;
      }, {
        fn: ['backward'], expect: ok ? 'ok' : 'error', state: [t], mutates: true,
        kept: () => (preGrad ? [] : [t.grad]),
        check: () => {
          if (!t.grad) throw new Error('backward: no gradient on the leaf');
          expectClose(t.grad.dataSync(), expectGrad(form === 'twice' ? 4 : 2), 'x.grad');
        },
      });
      free(t);
    }, 2);

  prop(['sg.customGrad'], 'customGrad: spec validation, forward/backward returning junk, aliasing inputs as outputs: clear errors, no leaks', fc.record({
    spec: fc.constantFrom('ok', 'null', 'noBackward', 'fwdJunk', 'fwdInput', 'bwdJunk', 'bwdWrongShape', 'bwdDy', 'bwdThrows', 'fwdThrows'), x: floatTensor({ minRank: 1, maxRank: 2, maxDim: 4 }, finiteF32), bad: hostile,
  }), async ({ spec, x, bad }) => {
    const t = make(x, true);
    const specs: Record<string, unknown> = {
      ok: { name: 'double', forward: ([a]: sg.Tensor[]) => sg.mul(a, 2), backward: (dy: sg.Tensor) => [sg.mul(dy, 2)] },
      null: null,
      noBackward: { forward: ([a]: sg.Tensor[]) => a },
      fwdJunk: { name: 'junk', forward: () => bad, backward: (dy: sg.Tensor) => [dy] },
      fwdInput: { name: 'ident', forward: ([a]: sg.Tensor[]) => a, backward: (dy: sg.Tensor) => [dy] },
      bwdJunk: { name: 'bj', forward: ([a]: sg.Tensor[]) => sg.mul(a, 2), backward: () => bad },
      bwdWrongShape: { name: 'bw', forward: ([a]: sg.Tensor[]) => sg.mul(a, 2), backward: () => [sg.ones([x.data.length + 1])] },
      bwdDy: { name: 'bd', forward: ([a]: sg.Tensor[]) => sg.mul(a, 2), backward: (dy: sg.Tensor) => [dy] },
      bwdThrows: { name: 'bt', forward: ([a]: sg.Tensor[]) => sg.mul(a, 2), backward: () => { throw new Error('bt: user code failed'); } },
      fwdThrows: { name: 'ft', forward: () => { throw new Error('ft: user code failed'); }, backward: (dy: sg.Tensor) => [dy] },
    };
    const names: Record<string, string> = { ok: 'double', null: 'customGrad', noBackward: 'customGrad', fwdJunk: 'junk', fwdInput: 'ident', bwdJunk: 'bj', bwdWrongShape: 'bw', bwdDy: 'bd', bwdThrows: 'bt', fwdThrows: 'ft' };
    const ok = spec === 'ok' || spec === 'fwdInput' || spec === 'bwdDy' || (spec === 'fwdJunk' && bad instanceof sg.Tensor);
    await runCase(() => {
      const f = sg.customGrad(specs[spec] as sg.CustomGradSpec);
      const y = f(t);
      try {
        const l = sg.sum(y);
        try { sg.backward(l); } finally { l.dispose(); }
      } catch (e) {
        y.dispose();
        throw e;
      }
      return y;
    }, {
      fn: [names[spec], 'customGrad'], expect: ok ? 'ok' : 'error', state: [t], mutates: true, kept: () => [t.grad],
      check: () => expectClose(t.grad!.dataSync(), new Array(x.data.length).fill(spec === 'ok' ? 2 : 1), 'customGrad grad'),
    });
    free(t);
  });

  prop(['sg.gradcheck'], 'gradcheck: a correct gradient passes, a 200x wrong one fails for every eps; bad options are clear errors; a throwing fn leaves inputs and grads intact', fc.record({
    // |x| >= 0.5: where the true gradient 3x² is not tiny, a 200x error is unmistakable.
    x: floatTensor({ minRank: 1, maxRank: 1, maxDim: 4 }, fc.tuple(fc.double({ min: 0.5, max: 2, noNaN: true }), fc.boolean()).map(([v, neg]) => (neg ? -v : v))).filter((s) => s.data.length > 0),
    wrong: fc.boolean(), throws: fc.boolean(), opts: optionBag({ eps: fc.constantFrom<unknown>(1e-2, 1e-3, 1e-8, 0, NaN, -1, 'x', 1e10), atol: fc.constantFrom(1e-3, 0, -1), rtol: fc.constantFrom(1e-2, 0, -1) }),
  }), async ({ x, wrong, throws, opts }) => {
    const t = make(x, true);
    const g0 = sg.ones([x.data.length]);
    t.grad = g0;
    const f = sg.customGrad({ name: 'cube', forward: ([a]) => sg.mul(sg.mul(a, a), a), backward: (dy, [a]) => [sg.mul(sg.mul(sg.mul(a, a), dy), wrong ? 600 : 3)] });
    let calls = 0;
    const fn = (a: sg.Tensor) => { if (throws && ++calls > 1) throw new Error('user fn failed'); return f(a); };
    const o = opts as Record<string, unknown> | null | undefined;
    const num = (v: unknown, def: number, pos: boolean) => v == null ? true : typeof v === 'number' && Number.isFinite(v) && (pos ? v > 0 : v >= 0);
    const optsOk = o == null || (isObj(o) && num(o.eps, 1e-2, true) && num(o.atol, 1e-3, false) && num(o.rtol, 1e-2, false));
    const optsCertainBad = isObj(o) && !optsOk;
    await runCase(() => sg.gradcheck(fn, [t], o as sg.GradcheckOptions), {
      // A throwing fn may surface as the user's own error: what matters then is that x and x.grad are restored.
      fn: throws ? ['gradcheck', 'user fn failed'] : 'gradcheck', expect: throws ? 'error' : optsCertainBad ? 'error' : 'either', state: [t, g0],
      check: (r) => {
        const eps = (isObj(o) && typeof o.eps === 'number') ? o.eps : 1e-2;
        // The error 597x² (|x| >= 0.5) is beyond any atol <= 0.5 with rtol <= 100; a caller who asks for a looser
        // tolerance (rtol 2^31) gets what they asked for.
        const atol = isObj(o) && typeof o.atol === 'number' ? o.atol : 1e-3;
        const rtol = isObj(o) && typeof o.rtol === 'number' ? o.rtol : 1e-2;
        if (wrong && r.ok && atol <= 0.5 && rtol <= 100) throw new Error(`gradcheck said ok for a gradient 200x too large (eps ${eps}, atol ${atol}, rtol ${rtol})`);
        if (!wrong && !r.ok && eps >= 1e-3 && eps <= 1e-2 && (!isObj(o) || ((o.atol ?? 1e-3) as number) >= 1e-3 && ((o.rtol ?? 1e-2) as number) >= 1e-2)) {
          throw new Error(`gradcheck failed a correct gradient: ${JSON.stringify(r)}`);
        }
        if (t.grad !== g0) throw new Error('gradcheck replaced the input\'s .grad');
      },
    });
    free(t, g0);
  });
});

/**
 * The operands of a binary-op case: tensors a and b, or a number on one side
 * (scalarA / scalarB), a as both (alias), a hostile b, or an int32 b filled with
 * `intFill` (intB); with the shapes and float32 data the reference reads.
 */
function binaryOperands(a: TensorSpec, b: TensorSpec, form: string, s: number, bad: unknown, intFill: number) {
  const ta = make(a);
  const tb = form === 'intB' ? sg.tensor(b.data.map(() => intFill), b.shape, { dtype: 'int32' }) : make(b);
  const A: unknown = form === 'scalarA' ? s : ta;
  const B: unknown = form === 'scalarB' ? s : form === 'alias' ? ta : form === 'hostileB' ? bad : tb;
  const shapeA: number[] = typeof A === 'number' ? [] : [...a.shape];
  const shapeB: number[] = typeof B === 'number' ? [] : form === 'alias' ? [...a.shape] : [...b.shape];
  const dataA = typeof A === 'number' ? [A] : a.data.map(f32);
  const dataB = typeof B === 'number' ? [B] : form === 'alias' ? a.data.map(f32) : b.data.map(f32);
  return { ta, tb, A, B, shapeA, shapeB, dataA, dataB, out: broadcast(shapeA, shapeB) };
}
