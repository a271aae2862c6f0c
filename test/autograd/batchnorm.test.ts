// The batchNorm op (src/ops/batchnorm.ts) over x [..., C], and BatchNorm1d on
// top of it: gradients by float64 finite differences, running statistics by
// a float64 hand computation, bits against the kernels' scalar twins and the
// public elementwise op chain, and what stays alive (memoryStats).
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { bnBackwardTrainRef, bnForwardTrainRef } from '../../src/reference/batchnorm.js';
import { f32View } from '../../src/runtime/views.js';
import { expectOpMemory } from '../support/memory.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const f = Math.fround;
const flat = (t: Tensor): Float32Array => t.dataSync() as Float32Array;

function write(t: Tensor, data: ArrayLike<number>): void {
  f32View(t.offset, t.size).set(data);
  sg.markModified(t);
}

function expectExact(got: ArrayLike<number>, want: ArrayLike<number>, label = ''): void {
  expect(got.length, `${label} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i] + 0, want[i] + 0)) throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label = ''): void {
  expect(got.length, `${label} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    if (!(err <= tol * Math.max(1, Math.abs(want[i])))) throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]} (error ${err})`);
  }
}

const rowsOf = (shape: number[]): number => shape.slice(0, -1).reduce((n, d) => n * d, 1);

/** Per-channel mean, biased and unbiased variance of x [R, C] in float64. */
function stats64(xs: ArrayLike<number>, R: number, C: number): { mean: number[]; biased: number[]; unbiased: number[] } {
  const mean = Array.from({ length: C }, (_, c) => { let s = 0; for (let r = 0; r < R; r++) s += xs[r * C + c]; return s / R; });
  const ss = Array.from({ length: C }, (_, c) => { let s = 0; for (let r = 0; r < R; r++) s += (xs[r * C + c] - mean[c]) ** 2; return s; });
  return { mean, biased: ss.map((v) => v / R), unbiased: ss.map((v) => v / (R - 1)) };
}

// Shapes with 1, 2 and 3 leading axes, channel counts that hit the 4-wide
// kernel body and its scalar tail, and the smallest trainable batch (2 rows).
const shapes: number[][] = [[2, 3, 5], [7, 4], [1, 1, 2, 3], [3, 2, 1, 9], [2, 1]];

describe('batchNorm op', () => {
  test('training: gradients for x, weight and bias pass gradcheck on N-D shapes', () => {
    let seed = 10;
    for (const shape of shapes) {
      const C = shape[shape.length - 1];
      sg.tidy(() => {
        const size = shape.reduce((n, d) => n * d, 1);
        const x = sg.tensor(seededArray(size, seed++, -2, 2), shape, { requiresGrad: true });
        const weight = sg.tensor(seededArray(C, seed++, 0.5, 1.5), [C], { requiresGrad: true });
        const bias = sg.tensor(seededArray(C, seed++), [C], { requiresGrad: true });
        // A random projection: the plain sum of a normalized output has gradient 0 w.r.t. x.
        const c = sg.tensor(seededArray(size, seed++), shape);
        const r = sg.gradcheck((xx, w, b) => sg.sum(sg.mul(sg.batchNorm(xx, { training: true, weight: w, bias: b, eps: 1e-3 }), c)),
          [x, weight, bias], { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
        expect(r.ok, `[${shape}] ${JSON.stringify(r)}`).toBe(true);
        const plain = sg.gradcheck((xx) => sg.sum(sg.mul(sg.batchNorm(xx, { training: true }), c)), [x], { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
        expect(plain.ok, `[${shape}] no affine ${JSON.stringify(plain)}`).toBe(true);
      });
    }
  });

  test('eval with a gradient: gradients pass gradcheck and equal the public op chain\'s, bit for bit', () => {
    let seed = 100;
    for (const shape of shapes) {
      const C = shape[shape.length - 1];
      sg.tidy(() => {
        const size = shape.reduce((n, d) => n * d, 1);
        const x = sg.tensor(seededArray(size, seed++, -2, 2), shape, { requiresGrad: true });
        const weight = sg.tensor(seededArray(C, seed++, -1.5, 1.5), [C], { requiresGrad: true });
        const bias = sg.tensor(seededArray(C, seed++), [C], { requiresGrad: true });
        const runningMean = sg.tensor(seededArray(C, seed++), [C]);
        const runningVar = sg.tensor(seededArray(C, seed++, 0.2, 3), [C]);
        const c = sg.tensor(seededArray(size, seed++), shape);
        const eps = 1e-3;
        const opts = { runningMean, runningVar, eps };
        const r = sg.gradcheck((xx, w, b) => sg.sum(sg.mul(sg.batchNorm(xx, { ...opts, weight: w, bias: b }), c)), [x, weight, bias],
          { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
        expect(r.ok, `[${shape}] ${JSON.stringify(r)}`).toBe(true);

        // The op chain BatchNorm1d's eval used to record, on [R, C] rows.
        const grads = (): Float32Array[] => [x, weight, bias].map((t) => { const g = flat(t.grad!); t.grad!.dispose(); t.grad = null; return g; });
        const x2 = sg.reshape(x, [rowsOf(shape), C]);
        const chain = sg.add(sg.mul(sg.div(sg.sub(x2, runningMean), sg.sqrt(sg.add(runningVar, eps))), weight), bias);
        sg.sum(sg.mul(chain, sg.reshape(c, [rowsOf(shape), C]))).backward();
        const want = grads();
        const y = sg.batchNorm(x, { ...opts, weight, bias });
        expectExact(flat(y), flat(chain), `[${shape}] forward`);
        sg.sum(sg.mul(y, c)).backward();
        grads().forEach((g, i) => expectExact(g, want[i], `[${shape}] gradient ${['x', 'weight', 'bias'][i]}`));
        // Without a gradient the fused eval kernel gives the same bits.
        expectExact(flat(sg.noGrad(() => sg.batchNorm(x, { ...opts, weight, bias }))), flat(chain), `[${shape}] fused`);
        // No affine transform: x - mean over sqrt(var + eps), and only x's gradient.
        const bare = sg.batchNorm(x, opts);
        const bareChain = sg.div(sg.sub(x2, runningMean), sg.sqrt(sg.add(runningVar, eps)));
        expectExact(flat(bare), flat(bareChain), `[${shape}] no affine`);
        sg.sum(sg.mul(bareChain, sg.reshape(c, [rowsOf(shape), C]))).backward();
        const wantBare = flat(x.grad!);
        x.grad!.dispose();
        x.grad = null;
        sg.sum(sg.mul(bare, c)).backward();
        expectExact(flat(x.grad!), wantBare, `[${shape}] no-affine gradient`);
      });
    }
  });

  test('N-D training equals the [rows, C] kernels\' scalar twin, bit for bit, forward and backward', () => {
    let seed = 200;
    for (const shape of shapes) {
      const C = shape[shape.length - 1];
      const R = rowsOf(shape);
      sg.tidy(() => {
        const xs = seededArray(R * C, seed++, -3, 5);
        const gs = seededArray(C, seed++, -2, 2);
        const bs = seededArray(C, seed++);
        const dys = seededArray(R * C, seed++);
        const x = sg.tensor(xs, shape, { requiresGrad: true });
        const weight = sg.tensor(gs, [C], { requiresGrad: true });
        const bias = sg.tensor(bs, [C], { requiresGrad: true });
        const y = sg.batchNorm(x, { training: true, weight, bias, eps: 1e-5 });
        expect(y.shape).toEqual(shape);
        const ref = bnForwardTrainRef(xs, R, C, 1e-5, gs, bs);
        expectExact(flat(y), ref.y, `[${shape}] y`);
        y.backward(sg.tensor(dys, shape));
        const back = bnBackwardTrainRef(dys, ref.xhat, ref.invstd, gs, R, C);
        expectExact(flat(x.grad!), back.dx, `[${shape}] dx`);
        expectExact(flat(weight.grad!), back.dgamma, `[${shape}] dweight`);
        expectExact(flat(bias.grad!), back.dbeta, `[${shape}] dbias`);
        expect(x.grad!.shape).toEqual(shape);
      });
    }
  });

  test('running statistics follow (1 − momentum)·running + momentum·batch (unbiased variance over all rows), against float64', () => {
    for (const shape of [[2, 3, 5], [4, 2, 2, 3], [2, 7]]) {
      const C = shape[shape.length - 1];
      const R = rowsOf(shape);
      const momentum = 0.3;
      sg.tidy(() => {
        const runningMean = sg.zeros([C]);
        const runningVar = sg.ones([C]);
        let rm = new Array(C).fill(0);
        let rv = new Array(C).fill(1);
        for (const seed of [1, 2, 3]) {
          const xs = seededArray(R * C, 300 + seed, -1, 3);
          sg.batchNorm(sg.tensor(xs, shape), { training: true, runningMean, runningVar, momentum });
          const { mean, unbiased } = stats64(xs, R, C);
          rm = rm.map((v, c) => (1 - momentum) * v + momentum * mean[c]);
          rv = rv.map((v, c) => (1 - momentum) * v + momentum * unbiased[c]);
          expectClose(flat(runningMean), rm, 2e-6, `[${shape}] runningMean after batch ${seed}`);
          expectClose(flat(runningVar), rv, 2e-6, `[${shape}] runningVar after batch ${seed}`);
        }
        // Training output: batch statistics (biased variance) over the same rows.
        const xs = seededArray(R * C, 399, -2, 2);
        const y = sg.batchNorm(sg.tensor(xs, shape), { training: true, eps: 1e-3 });
        const { mean, biased } = stats64(xs, R, C);
        expectClose(flat(y), Array.from(xs, (v, j) => (v - mean[j % C]) / Math.sqrt(biased[j % C] + 1e-3)), 2e-5, `[${shape}] y`);
      });
    }
  });

  test('eval uses the running statistics and leaves them unchanged; one row is fine', () => {
    sg.tidy(() => {
      const C = 5;
      const rm = seededArray(C, 41), rv = seededArray(C, 42, 0.1, 3), w = seededArray(C, 43), b = seededArray(C, 44);
      const xs = seededArray(3 * C, 45, -3, 3);
      const opts = { runningMean: sg.tensor(rm, [C]), runningVar: sg.tensor(rv, [C]), weight: sg.tensor(w, [C]), bias: sg.tensor(b, [C]) };
      const y = sg.batchNorm(sg.tensor(xs, [3, 1, C]), opts);
      const eps = f(1e-5);
      expectExact(flat(y), Array.from(xs, (v, j) => f(f(f(f(v - rm[j % C]) / f(Math.sqrt(f(rv[j % C] + eps)))) * w[j % C]) + b[j % C])), 'eval');
      expectExact(flat(opts.runningMean), rm, 'runningMean unchanged');
      expectExact(flat(opts.runningVar), rv, 'runningVar unchanged');
      expect(sg.batchNorm(sg.tensor(xs.subarray(0, C), [C]), opts).shape).toEqual([C]);
      expect(sg.batchNorm(sg.zeros([0, 2, C]), opts).shape).toEqual([0, 2, C]);
    });
  });

  test('bad arguments are errors that name the argument and change no running statistic', () => {
    sg.tidy(() => {
      const runningMean = sg.tensor([1, 2, 3]);
      const runningVar = sg.tensor([4, 5, 6]);
      const x = sg.zeros([4, 2, 3]);
      const w = sg.ones([3]);
      const b = sg.zeros([3]);
      const train = { training: true, runningMean, runningVar };
      expect(() => sg.batchNorm(x, { ...train, weight: sg.ones([2]), bias: b })).toThrow(/batchNorm: weight must have shape \[3\].*got \[2\]/);
      expect(() => sg.batchNorm(x, { ...train, weight: w })).toThrow(/batchNorm: weight and bias must be given together/);
      expect(() => sg.batchNorm(x, { ...train, runningVar: null })).toThrow(/batchNorm: runningMean and runningVar must be given together/);
      expect(() => sg.batchNorm(x, { ...train, runningVar: sg.tensor([1, 2, 3], [3], { dtype: 'int32' }) })).toThrow(/batchNorm: runningVar must be float32, got int32/);
      expect(() => sg.batchNorm(x, { ...train, runningVar: runningMean })).toThrow(/batchNorm: runningMean and runningVar must be two different tensors/);
      expect(() => sg.batchNorm(x, { ...train, momentum: 2 })).toThrow(/batchNorm.*momentum/);
      expect(() => sg.batchNorm(x, { ...train, eps: 0 })).toThrow(/batchNorm.*eps/);
      expect(() => sg.batchNorm(x, { ...train, training: 'yes' as unknown as boolean })).toThrow(/batchNorm: training must be a boolean/);
      expect(() => sg.batchNorm(sg.zeros([1, 1, 3]), train)).toThrow(/batchNorm: training needs a batch of at least 2 rows, got 1/);
      expect(() => sg.batchNorm(x, {})).toThrow(/batchNorm: eval mode \(training: false\) needs runningMean and runningVar/);
      expect(() => sg.batchNorm(sg.tensor(1), train)).toThrow(/batchNorm: x must have a channel axis/);
      // null options mean the defaults (the one options rule): eval mode, which needs the running statistics.
      expect(() => sg.batchNorm(x, null)).toThrow(/batchNorm: eval mode \(training: false\) needs runningMean and runningVar/);
      expect(() => sg.batchNorm(x, [] as unknown as object)).toThrow(/batchNorm: options must be an object/);
      expect(() => sg.batchNorm(x, { ...train, eps: 1e-50 })).toThrow(/batchNorm: eps = 1e-50 must be a positive normal float32/);
      expect(() => sg.batchNorm(x, { ...train, runningMean: w, weight: w, bias: b })).toThrow(/batchNorm: runningMean shares memory with weight/);
      expectExact(flat(runningMean), [1, 2, 3], 'runningMean untouched');
      expectExact(flat(runningVar), [4, 5, 6], 'runningVar untouched');
    });
  });
});

describe('BatchNorm1d on the op', () => {
  test('training forward, backward and running statistics equal the twin and the float32 update, bit for bit', () => {
    for (const shape of [[5, 3], [17, 8], [4, 33], [2, 3, 6]]) {
      const F = shape[shape.length - 1];
      const R = rowsOf(shape);
      const bn = new sg.nn.BatchNorm1d(F, { momentum: 0.2, eps: 1e-3 });
      sg.tidy(() => {
        const gs = seededArray(F, R + 1, 0.5, 2);
        const bs = seededArray(F, R + 2);
        write(bn.weight!, gs);
        write(bn.bias!, bs);
        const xs = seededArray(R * F, R * F, -3, 5);
        const dys = seededArray(R * F, R * F + 1);
        const x = sg.tensor(xs, shape, { requiresGrad: true });
        const y = bn.forward(x);
        const ref = bnForwardTrainRef(xs, R, F, 1e-3, gs, bs);
        expectExact(flat(y), ref.y, `[${shape}] y`);
        // running = (1 − m)·running, then += m·batch (f32 affine, then f32 axpy), as before the op existed.
        const m = f(0.2);
        const k = f((0.2 * R) / (R - 1));
        expectExact(flat(bn.runningMean), Array.from(ref.mean, (mu) => f(f(f(1 - 0.2) * 0) + f(m * mu))), `[${shape}] runningMean`);
        expectExact(flat(bn.runningVar), Array.from(ref.variance, (v) => f(f(f(1 - 0.2) * 1) + f(k * v))), `[${shape}] runningVar`);
        y.backward(sg.tensor(dys, shape));
        const back = bnBackwardTrainRef(dys, ref.xhat, ref.invstd, gs, R, F);
        expectExact(flat(x.grad!), back.dx, `[${shape}] dx`);
        expectExact(flat(bn.weight!.grad!), back.dgamma, `[${shape}] dweight`);
        expectExact(flat(bn.bias!.grad!), back.dbeta, `[${shape}] dbias`);
      });
      bn.dispose();
    }
  });

  test('[..., features] input: the leading axes are batch axes, as the op on the flattened rows', () => {
    const bn = new sg.nn.BatchNorm1d(4);
    sg.tidy(() => {
      const xs = seededArray(2 * 3 * 4, 7, -2, 2);
      const y = bn.forward(sg.tensor(xs, [2, 3, 4]));
      const y2 = sg.batchNorm(sg.tensor(xs, [6, 4]), { training: true, weight: bn.weight, bias: bn.bias });
      expect(y.shape).toEqual([2, 3, 4]);
      expectExact(flat(y), flat(y2), 'N-D vs rows');
      expect(() => bn.forward(sg.zeros([4]))).toThrow(/BatchNorm1d: x must have shape \[batch, 4\]/);
    });
    bn.dispose();
  });
});

describe('memory: batchNorm leaves alive exactly what it returns; saved tensors live and die with it', () => {
  const check = expectOpMemory;

  test('batchNorm: training (xhat, invstd saved), eval fused (nothing saved), eval with a gradient (xhat, std saved)', () => {
    const C = 5;
    const shape = [2, 3, C];
    const x = sg.tensor(seededArray(30, 1), shape, { requiresGrad: true });
    const xc = sg.tensor(seededArray(30, 2), shape);
    const weight = sg.tensor(seededArray(C, 3), [C], { requiresGrad: true });
    const bias = sg.tensor(seededArray(C, 4), [C], { requiresGrad: true });
    const wc = sg.tensor(seededArray(C, 5), [C]);
    const bc = sg.tensor(seededArray(C, 6), [C]);
    const x2 = sg.tensor(seededArray(30, 7), [6, C], { requiresGrad: true });
    const runningMean = sg.zeros([C]);
    const runningVar = sg.ones([C]);
    const stats = { runningMean, runningVar };
    check('train, no gradient', [], () => sg.batchNorm(xc, { training: true, ...stats }), 0);
    check('train, noGrad', [], () => sg.noGrad(() => sg.batchNorm(x, { training: true, ...stats, weight, bias })), 0);
    check('train, recorded', [x, weight, bias], () => sg.batchNorm(x, { training: true, ...stats, weight, bias }), 2);
    check('train 2-D rows, recorded', [x2], () => sg.batchNorm(x2, { training: true }), 2);
    check('eval fused', [], () => sg.batchNorm(xc, { ...stats, weight: wc, bias: bc }), 0);
    check('eval, noGrad', [], () => sg.noGrad(() => sg.batchNorm(x, { ...stats, weight, bias })), 0);
    check('eval, recorded', [x, weight, bias], () => sg.batchNorm(x, { ...stats, weight, bias }), 2);
    check('eval no affine, recorded', [x], () => sg.batchNorm(x, stats), 1);
    for (const t of [x, xc, x2, weight, bias, wc, bc, runningMean, runningVar]) t.dispose();
  });
});
