// assembly/hard.ts against src/reference/hard.ts. Everything but SwishSign
// uses IEEE basic operations and wasm `nearest` (round half to even), so it
// must match exactly. SwishSign's backward calls tanh and cosh (Mathf in the
// kernel, the engine's Math in the twin): the closed form is held to 8 ulps
// or 1e-6 absolute (g cancels through 2 - bx*tanh(bx/2) near |bx| ~ 2.4, so a
// 1-ulp difference in tanh becomes a larger relative error there).
import { beforeAll, describe, expect, test } from 'vitest';
import { Hard } from '../../src/kernels/codes.generated.js';
import {
  f32ApproxSignBackwardRef, f32HardRef, f32RangeMaskBackwardRef, roundHalfEven, f32SwishSignBackwardRef, swishSignForward64,
} from '../../src/reference/hard.js';
import { init } from '../../src/runtime/loader.js';
import { expectClose, expectExact, kernels, Prng, SIZES, run2, run3 } from '../support/kernel-harness.js';

beforeAll(async () => {
  await init();
});

const ROUNDING = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.5, 0.49999997, -0.49999997, 1e-40, -1e-40,
  8388607.5, -8388607.5, 8388608, 16777215, 1e10, -1e10, 3.4e38, Infinity, -Infinity, NaN];

describe('roundHalfEven (twin helper)', () => {
  test('ties go to even, signs of zero kept', () => {
    const cases: [number, number][] = [[0.5, 0], [-0.5, -0], [1.5, 2], [-1.5, -2], [2.5, 2], [-2.5, -2], [-0.3, -0], [8388607.5, 8388608], [-8388607.5, -8388608]];
    for (const [x, want] of cases) expect(Object.is(roundHalfEven(Math.fround(x)), want), `round(${x})`).toBe(true);
  });
});

describe('f32_hard', () => {
  for (const [name, op] of Object.entries(Hard)) {
    test(`${name}: every size, ties, -0, |x| >= 2^23, NaN`, () => {
      const rng = new Prng(40 + op);
      for (const n of SIZES) {
        for (let rep = 0; rep < 4; rep++) {
          const x = rng.f32WithSpecials(n, -4, 4, ROUNDING, 0.3);
          for (let i = 0; i < n; i++) if (rng.bool(0.2)) x[i] = rng.int(-8, 9) / 2;
          const want = new Float32Array(n);
          f32HardRef(op, x, want);
          let nans = -1;
          expectExact(run2((px, py) => { nans = kernels().f32_hard(op, px, py, n); }, x), want, `f32_hard ${name} n=${n}`, [x]);
          expect(nans, `f32_hard ${name} n=${n} NaN count`).toBe(x.filter((v) => v !== v).length);
        }
      }
    });
  }

  test('documented values: sign(0) = 0, binarize(0) = +1, round(+-0.5, +-1.5, +-2.5)', () => {
    const x = new Float32Array([0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, -3]);
    // Length 9: the first 8 run through the SIMD body, the last through the scalar tail.
    expectExact(run2((px, py) => kernels().f32_hard(Hard.sign, px, py, 9), x), [0, 0, 1, -1, 1, -1, 1, -1, -1], 'sign');
    expectExact(run2((px, py) => kernels().f32_hard(Hard.binarize, px, py, 9), x), [1, 1, 1, -1, 1, -1, 1, -1, -1], 'binarize');
    expectExact(run2((px, py) => kernels().f32_hard(Hard.round, px, py, 9), x), [0, -0, 0, -0, 2, -2, 2, -2, -3], 'round');
    expectExact(run2((px, py) => kernels().f32_hard(Hard.floor, px, py, 9), x), [0, -0, 0, -1, 1, -2, 2, -3, -3], 'floor');
  });
});

describe('STE backward masks', () => {
  test('f32_range_mask_backward: bounds inclusive, every size', () => {
    const rng = new Prng(70);
    for (const n of SIZES) {
      for (const [lo, hi] of [[-1, 1], [0, 6], [-0.25, 0.75], [2, 2]]) {
        const x = rng.f32WithSpecials(n, -2, 2, [lo, hi, Math.fround(lo - 1e-6), Math.fround(hi + 1e-6), -0, NaN, Infinity], 0.4);
        const dy = rng.f32WithSpecials(n, -3, 3, [-0, NaN, Infinity], 0.05);
        const want = new Float32Array(n);
        f32RangeMaskBackwardRef(x, dy, want, lo, hi);
        expectExact(run3((px, pdy, pdx) => kernels().f32_range_mask_backward(px, pdy, pdx, n, lo, hi), x, dy), want,
          `f32_range_mask_backward [${lo}, ${hi}] n=${n}`, [x, dy]);
      }
    }
  });

  test('f32_approx_sign_backward: |x| = 0, 0.5, 1, 1.0001 and random, every size', () => {
    const rng = new Prng(71);
    for (const n of SIZES) {
      for (let rep = 0; rep < 4; rep++) {
        const x = rng.f32WithSpecials(n, -1.5, 1.5, [0, -0, 0.5, -0.5, 1, -1, 1.0001, -1.0001, NaN, Infinity], 0.4);
        const dy = rng.f32Array(n, -3, 3);
        const want = new Float32Array(n);
        f32ApproxSignBackwardRef(x, dy, want);
        expectExact(run3((px, pdy, pdx) => kernels().f32_approx_sign_backward(px, pdy, pdx, n), x, dy), want,
          `f32_approx_sign_backward n=${n}`, [x, dy]);
      }
    }
    const x = new Float32Array([0, 0.5, -0.5, 1, -1, 1.0001, -1.0001, 0.25, 0]);
    expectExact(run3((px, pdy, pdx) => kernels().f32_approx_sign_backward(px, pdy, pdx, 9), x, new Float32Array(9).fill(1)),
      [2, 1, 1, 0, 0, 0, 0, 1.5, 2], 'documented values');
  });

  test('f32_swish_sign_backward matches the closed form (tolerance) for several beta, every size', () => {
    const rng = new Prng(72);
    for (const n of SIZES) {
      for (const beta of [1, 2.5, 5, 10]) {
        const x = rng.f32WithSpecials(n, -4, 4, [0, -0, 1, -1, 30, -30, 200, -200], 0.2);
        const dy = rng.f32Array(n, -2, 2);
        const want = new Float32Array(n);
        f32SwishSignBackwardRef(x, dy, want, beta);
        expectClose(run3((px, pdy, pdx) => kernels().f32_swish_sign_backward(px, pdy, pdx, n, beta), x, dy), want,
          `f32_swish_sign_backward beta=${beta} n=${n}`, { ulps: 8, abs: 1e-6 }, [x, dy]);
      }
    }
  });

  test('f32_swish_sign_backward is the derivative of the smooth SwishSign forward (float64 finite differences)', () => {
    const n = 401;
    for (const beta of [1, 2.5, 5]) {
      const x = Float32Array.from({ length: n }, (_, i) => -4 + (8 * i) / (n - 1));
      const got = run3((px, pdy, pdx) => kernels().f32_swish_sign_backward(px, pdy, pdx, n, beta), x, new Float32Array(n).fill(1));
      const h = 1e-5;
      for (let i = 0; i < n; i++) {
        const fd = (swishSignForward64(x[i] + h, beta) - swishSignForward64(x[i] - h, beta)) / (2 * h);
        // float32 evaluation of g (peak value 2*beta) vs a float64 central difference.
        expect(Math.abs(got[i] - fd), `beta=${beta} x=${x[i]}: kernel ${got[i]} vs finite difference ${fd}`).toBeLessThan(2e-5 * beta);
      }
    }
  });
});
