import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const f32 = Math.fround;
/** Forward values and the gradient for upstream gradient dy, inside a tidy scope. */
function run(fn: (x: Tensor) => Tensor, xs: number[], dy?: number[]): { y: number[]; dx: number[] } {
  return sg.tidy(() => {
    const x = sg.tensor(xs, undefined, { requiresGrad: true });
    const y = fn(x);
    y.backward(sg.tensor(dy ?? xs.map(() => 1), [...y.shape]));
    return { y: y.toArray(), dx: x.grad!.toArray() };
  });
}

describe('the seed examples', () => {
  test('ste.sign([-1.5, 0, 0.5, 2]) is [-1, 0, 1, 1] with gradient [1, 1, 1, 1]; plain sign gives [0, 0, 0, 0]', () => {
    sg.tidy(() => {
      const x = sg.tensor([-1.5, 0, 0.5, 2], undefined, { requiresGrad: true });
      const y = sg.ste.sign(x);
      expect(y.toArray()).toEqual([-1, 0, 1, 1]);
      y.sum().backward();
      expect(x.grad!.toArray()).toEqual([1, 1, 1, 1]);

      const x2 = sg.tensor([-1.5, 0, 0.5, 2], undefined, { requiresGrad: true });
      const plain = sg.sign(x2);
      expect(plain.toArray()).toEqual([-1, 0, 1, 1]);
      plain.sum().backward();
      expect(x2.grad!.toArray()).toEqual([0, 0, 0, 0]);
    });
  });

  test('straightThrough(x, hardFn) is x + stopGradient(hardFn(x) - x): value hardFn(x), gradient identity', () => {
    const xs = [-1.5, 0, 0.5, 2, 0.3];
    const r = run((x) => sg.ste.straightThrough(x, (v) => sg.sign(v)), xs, [1, 2, 3, 4, 5]);
    expect(r.y).toEqual([-1, 0, 1, 1, 1]);
    expect(r.dx).toEqual([1, 2, 3, 4, 5]);
    // the algebraic form, built from primitives, agrees
    const alg = sg.tidy(() => {
      const x = sg.tensor(xs, undefined, { requiresGrad: true });
      const y = sg.add(x, sg.stopGradient(sg.sub(sg.sign(x), x)));
      y.backward(sg.tensor([1, 2, 3, 4, 5]));
      return { y: y.toArray(), dx: x.grad!.toArray() };
    });
    expect(alg.dx).toEqual(r.dx);
    alg.y.forEach((v: number, i: number) => expect(v).toBeCloseTo(r.y[i], 6));
  });
});

describe('sign and binarize surrogates equal their declared formulas at the edges', () => {
  const xs = [-2, -1.0001, -1, -0.75, -0.5, 0, 0.25, 0.5, 1, 1.0001, 3];
  const dy = xs.map((_, i) => i + 1);

  test('forward values', () => {
    expect(run((x) => sg.ste.sign(x), xs).y).toEqual([-1, -1, -1, -1, -1, 0, 1, 1, 1, 1, 1]);
    expect(run((x) => sg.ste.binarize(x), [...xs, -0]).y).toEqual([-1, -1, -1, -1, -1, 1, 1, 1, 1, 1, 1, 1]);
  });
  test("'identity': dx = dy", () => {
    expect(run((x) => sg.ste.sign(x, { grad: 'identity' }), xs, dy).dx).toEqual(dy);
  });
  test("'clipped': dx = dy where |x| <= 1 (inclusive), also with clipValue", () => {
    const want = xs.map((x, i) => (Math.abs(x) <= 1 ? dy[i] : 0));
    expect(run((x) => sg.ste.sign(x, { grad: 'clipped' }), xs, dy).dx).toEqual(want);
    expect(run((x) => sg.ste.binarize(x, { grad: 'clipped' }), xs, dy).dx).toEqual(want);
    const want2 = xs.map((x, i) => (Math.abs(x) <= 0.5 ? dy[i] : 0));
    expect(run((x) => sg.ste.sign(x, { grad: 'clipped', clipValue: 0.5 }), xs, dy).dx).toEqual(want2);
  });
  test("'approx': dx = (2 - 2|x|) dy where |x| <= 1", () => {
    const want = xs.map((x, i) => (Math.abs(x) <= 1 ? f32(f32(2 - f32(2 * Math.abs(f32(x)))) * dy[i]) : 0));
    const got = run((x) => sg.ste.sign(x, { grad: 'approx' }), xs, dy).dx;
    expect(got).toEqual(want);
    expect(got[5]).toBe(12); // x = 0 -> 2 * dy (dy = 6)
    expect(got[2]).toBe(0); // |x| = 1 -> 0
  });
  test("'swish': dx = beta (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x)) dy", () => {
    for (const beta of [5, 1.5]) {
      const got = run((x) => sg.ste.sign(x, { grad: 'swish', beta }), xs, dy).dx;
      xs.forEach((x, i) => {
        const bx = beta * f32(x);
        const want = ((beta * (2 - bx * Math.tanh(bx / 2))) / (1 + Math.cosh(bx))) * dy[i];
        expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want)));
      });
      expect(got[5]).toBeCloseTo(beta * 6, 5); // at 0: beta * dy
    }
  });
});

describe('rounding and quantization', () => {
  test('round is half-to-even, floor floors; both pass the gradient unchanged', () => {
    const xs = [0.5, 1.5, 2.5, -0.5, -1.5, 2.4, -2.6, 7];
    const r = run((x) => sg.ste.round(x), xs, [1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r.y.map((v: number) => v + 0)).toEqual([0, 2, 2, 0, -2, 2, -3, 7]);
    expect(r.dx).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const f = run((x) => sg.ste.floor(x), xs);
    expect(f.y).toEqual([0, 1, 2, -1, -2, 2, -3, 7]);
    expect(f.dx).toEqual(xs.map(() => 1));
  });

  test('quantize: clamped levels, half-even ties, gradient zero exactly where the level was clamped', () => {
    // 4-bit signed, scale 0.5: levels -8..7, i.e. values -4..3.5
    const xs = [-4.5, -4.25, -4, 0.26, 0.25, 3.5, 3.74, 3.75, 10];
    const r = run((x) => sg.ste.quantize(x, { bits: 4, scale: 0.5 }), xs);
    // x/scale: -9 (clamped), -8.5 -> -8 (tie to even, not clamped), -8, 0.52 -> 1, 0.5 -> 0, 7, 7.48 -> 7, 7.5 -> 8 (clamped), 20 (clamped)
    expect(r.y).toEqual([-4, -4, -4, 0.5, 0, 3.5, 3.5, 3.5, 3.5]);
    expect(r.dx).toEqual([0, 1, 1, 1, 1, 1, 1, 0, 0]);
  });

  test('quantize unsigned with a zero point', () => {
    // 2-bit unsigned, scale 1, zeroPoint 1: levels 0..3 represent -1..2
    const r = run((x) => sg.ste.quantize(x, { bits: 2, scale: 1, zeroPoint: 1, signed: false }), [-3, -1, -0.6, 0.4, 1.5, 2, 2.5, 9]);
    expect(r.y).toEqual([-1, -1, -1, 0, 2, 2, 2, 2]);
    // levels before clamping: -2, 0, 0 (-0.6 -> -1 + 1), 1, 3 (1.5 -> 2 tie to even), 3, 3 (2.5 -> 2 tie to even), 10
    expect(r.dx).toEqual([0, 1, 1, 1, 1, 1, 1, 0]);
  });

  test('ternarize: 0 inside [-t, t] inclusive; identity or clipped gradient', () => {
    const xs = [-1.5, -0.5, -0.2, 0, 0.5, 0.7];
    const r = run((x) => sg.ste.ternarize(x, { threshold: 0.5 }), xs, [1, 2, 3, 4, 5, 6]);
    expect(r.y.map((v: number) => v + 0)).toEqual([-1, 0, 0, 0, 0, 1]);
    expect(r.dx).toEqual([1, 2, 3, 4, 5, 6]);
    expect(run((x) => sg.ste.ternarize(x, { threshold: 0.5, grad: 'clipped' }), xs).dx).toEqual([0, 1, 1, 1, 1, 1]);
  });

  test('dorefa activations: round((2^k - 1) clip(x, 0, 1)) / (2^k - 1), gradient inside [0, 1]', () => {
    const xs = [-0.5, 0, 0.2, 0.5, 0.9, 1, 1.3];
    const r = run((x) => sg.ste.dorefa(x, { bits: 2 }), xs);
    expect(r.y).toEqual([0, 0, f32(f32(1) * f32(1 / 3)), f32(2 * f32(1 / 3)), 1, 1, 1]);
    expect(r.dx).toEqual([0, 1, 1, 1, 1, 1, 0]);
  });

  test('dorefa weights: values on the 2^k-level grid in [-1, 1], gradient through tanh and the normalization', () => {
    const xs = [-2, -0.3, 0.1, 0.8, 1.5];
    const r = run((x) => sg.ste.dorefa(x, { bits: 2, mode: 'weights' }), xs, [1, -1, 2, 0.5, 1]);
    for (const v of r.y) expect([-1, -1 / 3, 1 / 3, 1].some((g) => Math.abs(g - v) < 1e-6)).toBe(true);
    expect(r.y[0]).toBe(-1);
    // Surrogate: y = 2 r - 1 with r = tanh(x) / (2 max|tanh|) + 1/2, rounding straight through.
    const t = xs.map(Math.tanh);
    const m = Math.max(...t.map(Math.abs));
    const k = t.map(Math.abs).indexOf(m);
    const dy = [1, -1, 2, 0.5, 1];
    const dt = dy.map((g) => g / m); // d y_i / d t_i = 2 * 1/(2m)
    const sgn = Math.sign(t[k]);
    dt[k] += -dy.reduce((s, g, i) => s + g * t[i], 0) / (m * m) * sgn;
    const want = dt.map((g, i) => g * (1 - t[i] * t[i]));
    r.dx.forEach((g: number, i: number) => expect(g).toBeCloseTo(want[i], 5));
  });
});

describe('hard choices', () => {
  test('argmaxOneHot: one-hot of argmax (first on ties), softmax gradient', () => {
    const logits = [[1, 3, 2], [5, 5, 1]];
    const dy = [[0.3, -1, 2], [1, 0.5, -0.5]];
    const r = sg.tidy(() => {
      const x = sg.tensor(logits, undefined, { requiresGrad: true });
      const y = sg.ste.argmaxOneHot(x);
      y.backward(sg.tensor(dy));
      return { y: y.toArray(), dx: x.grad!.toArray() };
    });
    expect(r.y).toEqual([[0, 1, 0], [1, 0, 0]]);
    logits.forEach((row, i) => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const z = e.reduce((a, b) => a + b);
      const s = e.map((v) => v / z);
      const dot = s.reduce((acc, v, j) => acc + v * dy[i][j], 0);
      s.forEach((v, j) => expect(r.dx[i][j]).toBeCloseTo(v * (dy[i][j] - dot), 6));
    });
  });

  test('gumbelSoftmax: seeded, rows sum to 1; hard is one-hot with the soft gradient', () => {
    sg.tidy(() => {
      const x = sg.tensor([[0.1, 2, -1, 0.5], [3, 0, 0, 0]], undefined, { requiresGrad: true });
      const soft = sg.ste.gumbelSoftmax(x, { tau: 0.7, seed: 42 });
      const again = sg.ste.gumbelSoftmax(x, { tau: 0.7, seed: 42 });
      expect(soft.toArray()).toEqual(again.toArray());
      for (const row of soft.toArray()) expect(row.reduce((a: number, b: number) => a + b)).toBeCloseTo(1, 6);
      const hard = sg.ste.gumbelSoftmax(x, { tau: 0.7, seed: 42, hard: true });
      const sv = soft.toArray();
      hard.toArray().forEach((row: number[], i: number) => {
        expect(row.filter((v) => v === 1).length).toBe(1);
        expect(row.filter((v) => v === 0).length).toBe(3);
        expect(row.indexOf(1)).toBe(sv[i].indexOf(Math.max(...sv[i])));
      });
      const dy = sg.tensor([[1, -2, 0.5, 3], [0.2, 0.1, -1, 2]]);
      hard.backward(dy);
      const gHard = x.grad!.toArray();
      x.grad!.dispose();
      x.grad = null;
      soft.backward(dy);
      expect(x.grad!.toArray()).toEqual(gHard);
      const other = sg.ste.gumbelSoftmax(x, { tau: 0.7, seed: 43 });
      expect(other.toArray()).not.toEqual(soft.toArray());
    });
  });
});
