// assembly/reduce.ts against its scalar twin src/reference/reduce.ts.
//
// Sums, maxima, picks, the softmax backward and the range check use only IEEE
// basic operations in a fixed order that the twin reproduces, so they match
// exactly. Forward softmax / log-softmax and the log-softmax backward call
// exp and log (AssemblyScript's Mathf in the kernel, the engine's Math in the
// twin; each within about 1 ulp of the exact value, see elementwise.test.ts).
// A 1-ulp difference in each e_k changes the row sum by at most ~1 ulp
// relative, and y_k = e_k / s by at most ~3 ulps: softmax is held to 4 ulps.
// Log-softmax y_k = x_k - (m + log s) cancels: its error is absolute, a few
// ulps of max(|x_k|, |lse|); it is held to 4 ulps or 4 ulp(max(|x|, |lse|))
// absolute, computed per row.
import { beforeAll, describe, expect, test } from 'vitest';
import {
  i32FindOutOfRangeRef, f32MaxAxisBackwardRef, f32MaxAxisRef, f32PickRowsBackwardRef, f32PickRowsRef, f32SoftmaxRowsBackwardRef,
  f32SoftmaxRowsRef, f32SumAxisRef,
} from '../../src/reference/reduce.js';
import { init } from '../../src/runtime/loader.js';
import { expectClose, expectExact, kernels, Prng, ulpDistance, withArena } from '../support/kernel-harness.js';

beforeAll(async () => {
  await init();
});

const DIMS = [0, 1, 2, 3, 4, 5, 7, 8, 13, 31, 33, 64, 127];

/** Random [outer, n, inner] triples with at most ~20k elements. */
function shapes(rng: Prng, count: number, minN = 0): [number, number, number][] {
  const out: [number, number, number][] = [];
  while (out.length < count) {
    const t: [number, number, number] = [rng.pick(DIMS), rng.pick(DIMS), rng.pick(DIMS)];
    if (t[1] < minN || t[0] * t[1] * t[2] > 20000) continue;
    out.push(t);
  }
  return out;
}

function ulpOf(x: number): number {
  const a = Math.fround(Math.abs(x));
  const next = new Float32Array(new Uint32Array([new Uint32Array(new Float32Array([a]).buffer)[0] + 1]).buffer)[0];
  return next - a;
}

describe('f32_sum_axis', () => {
  test('300 random [outer, n, inner] shapes match bit for bit (4-lane order for inner = 1)', () => {
    const rng = new Prng(1);
    const cases = shapes(rng, 250);
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 1000, 1031]) cases.push([rng.pick([1, 2, 3]), n, 1]);
    for (const inner of [2, 3, 4, 5, 6, 7, 9, 65]) cases.push([2, 33, inner]);
    for (const [outer, n, inner] of cases) {
      // Magnitudes over several decades so the summation order matters.
      const x = rng.f32Array(outer * n * inner, -1, 1).map((v) => v * 10 ** rng.int(-3, 4));
      const want = new Float32Array(outer * inner);
      f32SumAxisRef(x, want, outer, n, inner);
      const got = withArena((a) => {
        const px = a.put(x);
        const py = a.alloc(4 * outer * inner);
        kernels().f32_sum_axis(px, py, outer, n, inner);
        return a.readF32(py, outer * inner);
      });
      expectExact(got, want, `f32_sum_axis [${outer}, ${n}, ${inner}]`);
    }
  });

  test('infinities and NaN propagate; the sum of an empty axis is +0', () => {
    const x = new Float32Array([1, Infinity, 2, 3, -Infinity, 1, 1, 1, NaN, 1]);
    for (const [outer, n, inner] of [[1, 10, 1], [2, 5, 1], [1, 5, 2], [5, 2, 1]]) {
      const want = new Float32Array(outer * inner);
      f32SumAxisRef(x, want, outer, n, inner);
      const got = withArena((a) => {
        const py = a.alloc(4 * outer * inner);
        kernels().f32_sum_axis(a.put(x), py, outer, n, inner);
        return a.readF32(py, outer * inner);
      });
      expectExact(got, want, `specials [${outer}, ${n}, ${inner}]`);
    }
    const zeros = withArena((a) => {
      const py = a.alloc(4 * 6);
      kernels().f32_sum_axis(a.alloc(16), py, 2, 0, 3);
      return a.readF32(py, 6);
    });
    expectExact(zeros, new Float32Array(6), 'empty axis');
  });
});

describe('f32_max_axis and its backward', () => {
  test('300 random shapes with ties (first index wins) and NaNs', () => {
    const rng = new Prng(2);
    for (const [outer, n, inner] of shapes(rng, 300, 1)) {
      const size = outer * n * inner;
      // Few distinct values so that ties are common; some NaN and infinities.
      const x = Float32Array.from({ length: size }, () =>
        rng.bool(0.05) ? rng.pick([NaN, Infinity, -Infinity, -0]) : rng.int(-3, 4));
      // Some all-NaN rows.
      if (rng.bool(0.3) && inner > 0 && outer > 0) for (let k = 0; k < n; k++) x[k * inner] = NaN;
      const y = new Float32Array(outer * inner);
      const idx = new Int32Array(outer * inner);
      f32MaxAxisRef(x, y, idx, outer, n, inner);
      const [gy, gi] = withArena((a) => {
        const py = a.alloc(4 * outer * inner);
        const pi = a.alloc(4 * outer * inner);
        kernels().f32_max_axis(a.put(x), py, pi, outer, n, inner);
        return [a.readF32(py, outer * inner), a.readI32(pi, outer * inner)];
      });
      expectExact(gy, y, `f32_max_axis values [${outer}, ${n}, ${inner}]`);
      expectExact(gi, idx, `f32_max_axis indices [${outer}, ${n}, ${inner}]`);

      const dy = rng.f32Array(outer * inner, -2, 2);
      const dx = new Float32Array(size);
      f32MaxAxisBackwardRef(dy, idx, dx, outer, n, inner);
      const got = withArena((a) => {
        const pdx = a.put(new Float32Array(size));
        kernels().f32_max_axis_backward(a.put(dy), a.put(idx), pdx, outer, n, inner);
        return a.readF32(pdx, size);
      });
      expectExact(got, dx, `f32_max_axis_backward [${outer}, ${n}, ${inner}]`);
    }
  });

  test('a row of NaNs reports NaN at index 0; NaN before a number loses', () => {
    const x = new Float32Array([NaN, NaN, NaN, NaN, 2, NaN, -1, 5, 5]);
    const [y, idx] = withArena((a) => {
      const py = a.alloc(12);
      const pi = a.alloc(12);
      kernels().f32_max_axis(a.put(x), py, pi, 3, 3, 1);
      return [a.readF32(py, 3), a.readI32(pi, 3)];
    });
    expectExact(y, [NaN, 2, 5], 'values');
    expectExact(idx, [0, 1, 1], 'indices');
  });
});

function softmaxInputs(rng: Prng, rows: number, n: number): Float32Array {
  const scale = rng.pick([1, 10, 100, 1e4]);
  const x = rng.f32Array(rows * n, -scale, scale);
  if (rng.bool(0.2)) for (let i = 0; i < x.length; i++) if (rng.bool(0.1)) x[i] = rng.pick([-Infinity, 1e4, -1e4]);
  return x;
}

/** Per-row tolerance check for log-softmax (absolute error scales with the row's magnitudes). */
function expectLogSoftmaxClose(got: Float32Array, want: Float32Array, x: Float32Array, rows: number, n: number, what: string): void {
  for (let r = 0; r < rows; r++) {
    let mag = 0;
    for (let k = 0; k < n; k++) {
      const v = x[r * n + k];
      if (Number.isFinite(v)) mag = Math.max(mag, Math.abs(v), Math.abs(v - want[r * n + k]));
    }
    const row = (a: Float32Array) => a.subarray(r * n, (r + 1) * n);
    expectClose(row(got), row(want), `${what} row ${r}`, { ulps: 4, abs: 4 * ulpOf(mag) }, [row(x)]);
  }
}

describe('f32_softmax_rows', () => {
  test('200 random [rows, n] with large logits: softmax within 4 ulps, log-softmax within 4 ulps of the row scale', () => {
    const rng = new Prng(3);
    for (let c = 0; c < 200; c++) {
      const rows = rng.pick([0, 1, 2, 3, 7, 16]);
      const n = rng.pick([1, 2, 3, 4, 5, 10, 33, 127, 1000]);
      const x = softmaxInputs(rng, rows, n);
      for (const log of [0, 1]) {
        const want = new Float32Array(rows * n);
        f32SoftmaxRowsRef(x, want, rows, n, log === 1);
        const got = withArena((a) => {
          const py = a.alloc(4 * rows * n);
          kernels().f32_softmax_rows(a.put(x), py, rows, n, log);
          return a.readF32(py, rows * n);
        });
        const what = `f32_softmax_rows log=${log} [${rows}, ${n}]`;
        if (log) expectLogSoftmaxClose(got, want, x, rows, n, what);
        else expectClose(got, want, what, { ulps: 4, abs: 1e-44 }, [x]);
      }
    }
  });

  test('logits of 1e4 do not overflow; rows of length 1 give 1 and 0', () => {
    const x = new Float32Array([1e4, 1e4 - 1, -1e4, 1e4]);
    const [soft, logSoft] = withArena((a) => {
      const px = a.put(x);
      const py = a.alloc(16);
      const pl = a.alloc(16);
      kernels().f32_softmax_rows(px, py, 1, 4, 0);
      kernels().f32_softmax_rows(px, pl, 1, 4, 1);
      return [a.readF32(py, 4), a.readF32(pl, 4)];
    });
    const e = Math.exp(-1);
    expectClose(soft, [1 / (2 + e), e / (2 + e), 0, 1 / (2 + e)], 'softmax 1e4', { ulps: 4 });
    expectClose(logSoft, [-Math.log(2 + e), -1 - Math.log(2 + e), -2e4 - Math.log(2 + e), -Math.log(2 + e)], 'log-softmax 1e4', { ulps: 4, abs: 4 * ulpOf(2e4) });
    const single = withArena((a) => {
      const px = a.f32([5, -1e4, 1e4]);
      const py = a.alloc(12);
      const pl = a.alloc(12);
      kernels().f32_softmax_rows(px, py, 3, 1, 0);
      kernels().f32_softmax_rows(px, pl, 3, 1, 1);
      return [...a.readF32(py, 3), ...a.readF32(pl, 3)];
    });
    expectExact(single, [1, 1, 1, 0, 0, 0], 'rows of length 1');
  });

  test('softmax backward is exact, log-softmax backward within 4 ulps (exp of y) on 200 random cases', () => {
    const rng = new Prng(4);
    for (let c = 0; c < 200; c++) {
      const rows = rng.pick([0, 1, 2, 5, 9]);
      const n = rng.pick([1, 2, 3, 4, 7, 33, 200]);
      for (const log of [0, 1]) {
        const y = new Float32Array(rows * n);
        f32SoftmaxRowsRef(softmaxInputs(rng, rows, n), y, rows, n, log === 1);
        const dy = rng.f32Array(rows * n, -2, 2);
        const want = new Float32Array(rows * n);
        f32SoftmaxRowsBackwardRef(y, dy, want, rows, n, log === 1);
        const got = withArena((a) => {
          const pdx = a.alloc(4 * rows * n);
          kernels().f32_softmax_rows_backward(a.put(y), a.put(dy), pdx, rows, n, log);
          return a.readF32(pdx, rows * n);
        });
        const what = `f32_softmax_rows_backward log=${log} [${rows}, ${n}]`;
        if (!log) {
          expectExact(got, want, what, [y, dy]);
          continue;
        }
        // dx = dy - exp(y)*s: the product's few-ulp difference is absolute next to dy.
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += Math.abs(dy[r * n + k]);
          const row = (a: Float32Array) => a.subarray(r * n, (r + 1) * n);
          expectClose(row(got), row(want), `${what} row ${r}`, { ulps: 4, abs: 4 * ulpOf(Math.max(s, 2)) });
        }
      }
    }
  });
});

describe('f32_pick_rows, its backward and i32_find_out_of_range', () => {
  test('pick and scatter-back on 200 random cases (repeated labels included)', () => {
    const rng = new Prng(5);
    for (let c = 0; c < 200; c++) {
      const rows = rng.pick([0, 1, 2, 3, 7, 33, 128]);
      const n = rng.pick([1, 2, 3, 10, 31]);
      const x = rng.f32Array(rows * n, -5, 5);
      const labels = Int32Array.from({ length: rows }, () => rng.int(0, n));
      const want = new Float32Array(rows);
      f32PickRowsRef(x, labels, want, rows, n);
      const dy = rng.f32Array(rows, -1, 1);
      const dx0 = rng.f32Array(rows * n, -1, 1);
      const wantDx = dx0.slice();
      f32PickRowsBackwardRef(dy, labels, wantDx, rows, n);
      const [got, gotDx] = withArena((a) => {
        const pl = a.put(labels);
        const po = a.alloc(4 * rows);
        kernels().f32_pick_rows(a.put(x), pl, po, rows, n);
        const pdx = a.put(dx0);
        kernels().f32_pick_rows_backward(a.put(dy), pl, pdx, rows, n);
        return [a.readF32(po, rows), a.readF32(pdx, rows * n)];
      });
      expectExact(got, want, `f32_pick_rows [${rows}, ${n}]`);
      expectExact(gotDx, wantDx, `f32_pick_rows_backward [${rows}, ${n}]`);
    }
  });

  test('i32_find_out_of_range finds the first offender, bounds [lo, hi)', () => {
    const rng = new Prng(6);
    for (let c = 0; c < 300; c++) {
      const n = rng.pick([0, 1, 2, 5, 17, 100]);
      const lo = rng.pick([0, -5, -(2 ** 31)]);
      const hi = lo + rng.pick([1, 3, 10, 2 ** 31 - 1]);
      const x = Int32Array.from({ length: n }, () =>
        rng.bool(0.05) ? rng.pick([lo - 1, hi, hi + 1, 2 ** 31 - 1, -(2 ** 31)]) : rng.int(lo, Math.min(hi, lo + 20)));
      const got = withArena((a) => kernels().i32_find_out_of_range(a.put(x), n, lo, hi));
      expect(got, `n=${n} [${lo}, ${hi})`).toBe(i32FindOutOfRangeRef(x, lo, hi));
    }
  });
});

test('ulpDistance helper: neighbours are 1 apart, +0 and -0 coincide', () => {
  expect(ulpDistance(1, Math.fround(1 + 2 ** -23))).toBe(1);
  expect(ulpDistance(0, -0)).toBe(0);
  expect(ulpDistance(-1e-45, 1e-45)).toBe(2);
});
