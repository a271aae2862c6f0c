// N-D reductions (issue 11): min/max over axis lists, argmin, logsumexp,
// softmax/logSoftmax over any axis or axes, crossEntropy on [..., C] logits.
// The new kernels against their scalar twins, the ops against float64 loops
// over the flattened data, gradients against float64 finite differences.
import { describe, expect, test } from 'vitest';
import { f32LogsumexpRowsBackwardRef, f32LogsumexpRowsRef, f32MinAxisRef } from '../../src/reference/reduce.js';
import { expectClose, expectExact, kernels, Prng, withArena } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const sizeOf = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Groups the flat indices of `shape` by their position in the reduced output (row-major over the kept axes). */
function groups(shape: readonly number[], axes: number[]): number[][] {
  const out: number[][] = [];
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptSize = sizeOf(kept.map((i) => shape[i]));
  for (let g = 0; g < keptSize; g++) out.push([]);
  const n = sizeOf(shape);
  for (let k = 0; k < n; k++) {
    let rem = k;
    const idx = new Array(shape.length).fill(0);
    for (let i = shape.length - 1; i >= 0; i--) { idx[i] = rem % shape[i]; rem = Math.floor(rem / shape[i]); }
    let key = 0;
    for (const i of kept) key = key * shape[i] + idx[i];
    out[key].push(k);
  }
  return out;
}

const norm = (axes: number[], r: number) => axes.map((a) => (a < 0 ? a + r : a)).sort((a, b) => a - b);

function data(n: number, seed: number): number[] {
  // Distinct values (no ties) so that min/max gradients are well defined for gradcheck.
  return Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 12.9898 + seed) * 3 + i * 1e-3));
}

describe('f32_min_axis and f32_logsumexp_rows against their twins', () => {
  test('f32_min_axis: random shapes with ties (first index wins), NaNs, -0/+0 and all-NaN rows match exactly', () => {
    const rng = new Prng(11);
    const dims = [1, 2, 3, 5, 7, 13, 33];
    for (let c = 0; c < 200; c++) {
      const [outer, n, inner] = [rng.pick([0, ...dims]), rng.pick(dims), rng.pick([0, ...dims])];
      const x = Float32Array.from({ length: outer * n * inner }, () => (rng.bool(0.08) ? rng.pick([NaN, Infinity, -Infinity, -0, 0]) : rng.int(-3, 4)));
      if (rng.bool(0.3) && inner > 0 && outer > 0) for (let k = 0; k < n; k++) x[k * inner] = NaN;
      const y = new Float32Array(outer * inner);
      const idx = new Int32Array(outer * inner);
      f32MinAxisRef(x, y, idx, outer, n, inner);
      const [gy, gi] = withArena((a) => {
        const py = a.alloc(4 * outer * inner);
        const pi = a.alloc(4 * outer * inner);
        kernels().f32_min_axis(a.put(x), py, pi, outer, n, inner);
        return [a.readF32(py, outer * inner), a.readI32(pi, outer * inner)];
      });
      expectExact(gy, y, `f32_min_axis values [${outer}, ${n}, ${inner}]`);
      expectExact(gi, idx, `f32_min_axis indices [${outer}, ${n}, ${inner}]`);
    }
    const [v, i] = withArena((a) => {
      const py = a.alloc(12);
      const pi = a.alloc(12);
      kernels().f32_min_axis(a.put(new Float32Array([NaN, NaN, NaN, NaN, 2, NaN, 0, -0, -1])), py, pi, 3, 3, 1);
      return [a.readF32(py, 3), a.readI32(pi, 3)];
    });
    expectExact(v, [NaN, 2, -1], 'values');
    expectExact(i, [0, 1, 2], 'indices');
  });

  test('f32_logsumexp_rows and its backward: within a few ulps of the row scale; infinite, NaN and empty rows exactly', () => {
    const rng = new Prng(12);
    for (let c = 0; c < 150; c++) {
      const rows = rng.pick([0, 1, 2, 3, 7, 17]);
      const n = rng.pick([1, 2, 3, 5, 8, 31, 33, 130]);
      const scale = rng.pick([1, 10, 1e3, 1e5]);
      const x = rng.f32Array(rows * n, -scale, scale);
      const y = new Float32Array(rows);
      f32LogsumexpRowsRef(x, y, rows, n);
      const dy = rng.f32Array(rows, -2, 2);
      const got = withArena((a) => {
        const py = a.alloc(4 * rows);
        kernels().f32_logsumexp_rows(a.put(x), py, rows, n);
        return a.readF32(py, rows);
      });
      // exp/log differ by up to ~1 ulp between Mathf and Math: m + log(s) is off by a few ulps of max(|m|, |lse|).
      expectClose(got, y, `f32_logsumexp_rows [${rows}, ${n}]`, { ulps: 4, abs: 8 * scale * 2 ** -24 });
      const dx = new Float32Array(rows * n);
      f32LogsumexpRowsBackwardRef(x, dy, dx, rows, n);
      const gdx = withArena((a) => {
        const pdx = a.alloc(4 * rows * n);
        kernels().f32_logsumexp_rows_backward(a.put(x), a.put(dy), pdx, rows, n);
        return a.readF32(pdx, rows * n);
      });
      expectClose(gdx, dx, `f32_logsumexp_rows_backward [${rows}, ${n}]`, { ulps: 4, abs: 1e-6 });
    }
    const x = new Float32Array([-Infinity, -Infinity, 1, Infinity, NaN, 0, 1e30, 1e30]);
    const [special, empty] = withArena((a) => {
      const py = a.alloc(16);
      kernels().f32_logsumexp_rows(a.put(x), py, 4, 2);
      const pe = a.alloc(8);
      kernels().f32_logsumexp_rows(a.alloc(4), pe, 2, 0);
      return [a.readF32(py, 4), a.readF32(pe, 2)];
    });
    const want = new Float32Array(4);
    f32LogsumexpRowsRef(x, want, 4, 2);
    expectExact(special, want, 'special rows (twin)');
    expectExact(special, [-Infinity, Infinity, NaN, Math.fround(1e30 + Math.log(2))], 'special rows');
    expectExact(empty, [-Infinity, -Infinity], 'empty rows');
    const dx = withArena((a) => {
      const pdx = a.alloc(8);
      kernels().f32_logsumexp_rows_backward(a.put(new Float32Array([-Infinity, -Infinity])), a.put(new Float32Array([3])), pdx, 1, 2);
      return a.readF32(pdx, 2);
    });
    expectExact(dx, [0, 0], 'an all -inf row has no gradient');
  });
});

describe('max/min/argmax/argmin over axes', () => {
  const shapes: number[][] = [[2, 3, 4], [1, 5, 1, 3], [3, 1], [7], [2, 0, 3], [4, 2, 3, 2]];
  const axesList: number[][] = [[0], [-1], [1, -1], [0, 2], [-3, -2], [0, 1, 2]];
  test('values and first-extreme indices equal a float64 loop over each group, with keepDims and negative axes', () => {
    for (const shape of shapes) {
      const xs = data(sizeOf(shape), shape.length);
      const x = sg.tensor(xs, shape);
      for (const axes0 of axesList) {
        if (axes0.some((a) => a >= shape.length || a < -shape.length)) continue;
        const axes = norm(axes0, shape.length);
        if (new Set(axes).size !== axes.length) continue;
        if (axes.some((a) => shape[a] === 0)) {
          expect(() => sg.min(x, { axis: axes0 })).toThrow(/min: cannot take the minimum of zero elements along axis/);
          continue;
        }
        for (const keepDims of [false, true]) {
          const outShape = shape.flatMap((d, i) => (axes.includes(i) ? (keepDims ? [1] : []) : [d]));
          const gs = groups(shape, axes);
          for (const op of ['max', 'min'] as const) {
            const y = sg[op](x, { axis: axes0.length === 1 ? axes0[0] : axes0, keepDims });
            expect(y.shape).toEqual(outShape);
            const want = gs.map((g) => (op === 'max' ? Math.max : Math.min)(...g.map((k) => xs[k])));
            expectExact(y.dataSync(), want, `${op} [${shape}] axes ${axes0}`);
            y.dispose();
          }
          if (axes.length === 1) {
            for (const op of ['argmax', 'argmin'] as const) {
              const y = op === 'argmin' ? x.argmin({ axis: axes0[0], keepDims }) : sg.argmax(x, { axis: axes0[0], keepDims });
              expect(y.shape).toEqual(outShape);
              expect(y.dtype).toBe('int32');
              const st = sizeOf(shape.slice(axes[0] + 1));
              const want = gs.map((g) => {
                const vals = g.map((k) => xs[k]);
                const best = (op === 'argmax' ? Math.max : Math.min)(...vals);
                return Math.floor(g[vals.indexOf(best)] / st) % shape[axes[0]];
              });
              expectExact(y.dataSync(), want, `${op} [${shape}] axis ${axes0[0]}`);
              y.dispose();
            }
          }
        }
      }
      x.dispose();
    }
  });

  test('whole-tensor min/argmin and ties: the first minimum in row-major order', () => {
    const x = sg.tensor([3, -1, 2, -1, 5, -1], [2, 3]);
    expect(sg.tidy(() => sg.min(x).item())).toBe(-1);
    expect(sg.tidy(() => sg.argmin(x).item())).toBe(1);
    const k = sg.argmin(x, { keepDims: true });
    expect(k.shape).toEqual([1, 1]);
    expectExact(sg.tidy(() => sg.argmin(x, { axis: 0 }).dataSync()), [1, 0, 1], 'argmin axis 0');
    k.dispose();
    x.dispose();
  });

  test('gradients pass gradcheck over one axis, axis lists and all elements', () => {
    const x = sg.tensor(data(24, 5), [2, 3, 4], { requiresGrad: true });
    try {
      for (const op of ['max', 'min'] as const) {
        for (const axis of [undefined, 1, -1, [0, 2], [-1, -3, 1]]) {
          for (const keepDims of [false, true]) {
            expect(sg.gradcheck((t) => sg.mul(sg[op](t, { axis, keepDims }), 1.5), [x]).ok, `${op} ${JSON.stringify(axis)} ${keepDims}`).toBe(true);
          }
        }
      }
    } finally {
      x.grad?.dispose();
      x.dispose();
    }
  });

  test('bad axes are clear errors naming the op and leave nothing alive', () => {
    const x = sg.tensor(data(6, 1), [2, 3]);
    const empty = sg.zeros([0, 2]);
    const ints = sg.tensor([1], undefined, { dtype: 'int32' });
    const before = sg.memoryStats().tensorsAlive;
    expect(() => sg.argmin(x, { axis: [0, 1] as unknown as number })).toThrow(/argmin: axis must be one integer/);
    expect(() => sg.argmax(x, { axis: [1] as unknown as number })).toThrow(/argmax: axis must be one integer/);
    expect(() => sg.min(x, { axis: 2 })).toThrow(/min: axis must be an integer in \[-2, 1\], got 2/);
    expect(() => sg.max(x, { axis: [0, -2] })).toThrow(/max: axis \[0,-2\] repeats an axis|max: axis .* repeats an axis/);
    expect(() => sg.min(empty)).toThrow(/min: cannot take the minimum of zero elements/);
    expect(() => sg.argmin(x, { keepDims: 1 as unknown as boolean })).toThrow(/argmin: keepDims must be true or false/);
    expect(() => sg.min(ints)).toThrow(/min: x must be float32/);
    expect(sg.memoryStats().tensorsAlive).toBe(before);
    for (const t of [x, empty, ints]) t.dispose();
  });

  test('an op over an axis list leaves alive only its result, also after backward', () => {
    const x = sg.tensor(data(30, 2), [2, 3, 5], { requiresGrad: true });
    const before = sg.memoryStats();
    const y = sg.min(x, { axis: [0, -1] });
    const s = sg.sum(y);
    s.backward();
    s.dispose();
    y.dispose();
    // The gradient of min is 1 at each group's minimum and 0 elsewhere.
    const xs = x.dataSync();
    const want = new Array(30).fill(0);
    for (const g of groups([2, 3, 5], [0, 2])) {
      const vals = g.map((k) => xs[k]);
      want[g[vals.indexOf(Math.min(...vals))]] = 1;
    }
    expectExact(x.grad!.dataSync(), want, 'min gradient');
    x.grad!.dispose();
    // Everything the forward saved for backward went with y and s.
    expect(sg.memoryStats()).toEqual(before);
    x.dispose();
  });
});

/** float64 softmax / log-softmax / logsumexp over each group of `axes`. */
function softmaxRef(xs: number[], shape: number[], axes: number[], kind: 'softmax' | 'logSoftmax'): number[] {
  const out = new Array(xs.length).fill(0);
  for (const g of groups(shape, axes)) {
    const m = Math.max(...g.map((k) => xs[k]));
    const lse = m + Math.log(g.reduce((s, k) => s + Math.exp(xs[k] - m), 0));
    for (const k of g) out[k] = kind === 'softmax' ? Math.exp(xs[k] - lse) : xs[k] - lse;
  }
  return out;
}

describe('softmax and logSoftmax along any axis or axes', () => {
  test('match float64 over each group for every axis form (number, list, { axis }), shapes with 0 and 1 sized axes', () => {
    const cases: [number[], number | number[] | { axis: number | number[] } | undefined, number[]][] = [
      [[2, 3, 4], 0, [0]], [[2, 3, 4], 1, [1]], [[2, 3, 4], -2, [1]], [[2, 3, 4], { axis: -3 }, [0]], [[2, 3, 4], [0, 2], [0, 2]],
      [[2, 3, 4], [-1, -2], [1, 2]], [[2, 3, 4], { axis: [0, 1, 2] }, [0, 1, 2]], [[5, 1, 3], 1, [1]], [[1, 7], 0, [0]],
      [[3, 0, 2], 0, [0]], [[3, 0, 2], 1, [1]], [[2, 3, 4], undefined, [2]], [[2, 3, 4], { axis: -1 }, [2]],
    ];
    for (const [shape, axis, axes] of cases) {
      const xs = data(sizeOf(shape), 7).map((v) => v * 4);
      const x = sg.tensor(xs, shape);
      for (const kind of ['softmax', 'logSoftmax'] as const) {
        const y = kind === 'softmax' ? sg.softmax(x, axis) : x.logSoftmax(axis);
        expect(y.shape).toEqual(shape);
        const want = softmaxRef(xs, shape, axes, kind);
        expectClose(y.dataSync(), want, `${kind} [${shape}] axis ${JSON.stringify(axis)}`, { ulps: 8, abs: 2e-6 });
        y.dispose();
      }
      x.dispose();
    }
  });

  test('the last axis runs the row kernel directly (bit-identical to before: the same as a 2-D call)', () => {
    const xs = data(24, 3);
    const a = sg.tidy(() => sg.softmax(sg.tensor(xs, [2, 3, 4]), { axis: 2 }).dataSync());
    const b = sg.tidy(() => sg.softmax(sg.tensor(xs, [6, 4])).dataSync());
    expectExact(a, b, 'softmax last axis');
  });

  test('gradients pass gradcheck on non-last axes and axis lists', () => {
    const x = sg.tensor(data(24, 9), [2, 3, 4], { requiresGrad: true });
    const w = sg.tensor(data(24, 4), [2, 3, 4]);
    try {
      for (const axis of [0, 1, -2, [0, 2], [1, 2]]) {
        expect(sg.gradcheck((t) => sg.sum(sg.mul(sg.softmax(t, axis), w)), [x]).ok, `softmax ${axis}`).toBe(true);
        expect(sg.gradcheck((t) => sg.sum(sg.mul(sg.logSoftmax(t, { axis }), w)), [x]).ok, `logSoftmax ${axis}`).toBe(true);
      }
    } finally {
      x.grad?.dispose();
      x.dispose();
      w.dispose();
    }
  });

  test('bad axes are clear errors; nothing leaks', () => {
    const x = sg.tensor(data(6, 1), [2, 3]);
    const scalar = sg.tensor(1);
    const before = sg.memoryStats().tensorsAlive;
    expect(() => sg.softmax(x, 2)).toThrow(/softmax: axis must be an integer in \[-2, 1\], got 2/);
    expect(() => sg.logSoftmax(x, [])).toThrow(/logSoftmax: axis \[\] names no axis/);
    expect(() => sg.softmax(x, [0, 0])).toThrow(/softmax: axis .* repeats an axis/);
    expect(() => sg.softmax(x, new Map() as unknown as number)).toThrow(/softmax: axis must be an object/);
    expect(() => sg.softmax(scalar)).toThrow(/softmax: x must have at least one dimension/);
    expect(sg.memoryStats().tensorsAlive).toBe(before);
    const y = sg.softmax(x, 0);
    expect(sg.memoryStats().tensorsAlive).toBe(before + 1);
    y.dispose();
    x.dispose();
    scalar.dispose();
  });
});

describe('logsumexp', () => {
  test('equals float64 log(sum(exp)) over axes, with keepDims, negative axes, 1-sized and 0-sized axes', () => {
    const cases: [number[], number | number[] | undefined, number[]][] = [
      [[2, 3, 4], undefined, [0, 1, 2]], [[2, 3, 4], 0, [0]], [[2, 3, 4], -1, [2]], [[2, 3, 4], [0, -1], [0, 2]], [[2, 3, 4], [1, 2], [1, 2]],
      [[5, 1, 3], 1, [1]], [[1], 0, [0]], [[3, 0, 2], 1, [1]], [[3, 0, 2], 0, [0]], [[], undefined, []], [[2, 3], [], []],
    ];
    for (const [shape, axis, axes] of cases) {
      const xs = data(sizeOf(shape), 3).map((v) => v * 30);
      const x = sg.tensor(xs, shape);
      for (const keepDims of [false, true]) {
        const y = axis === undefined && keepDims ? x.logsumexp({ keepDims }) : sg.logsumexp(x, { axis, keepDims });
        const outShape = shape.flatMap((d, i) => (axes.includes(i) ? (keepDims ? [1] : []) : [d]));
        expect(y.shape).toEqual(outShape);
        const want = groups(shape, axes).map((g) => {
          if (g.length === 0) return -Infinity;
          const m = Math.max(...g.map((k) => xs[k]));
          return m + Math.log(g.reduce((s, k) => s + Math.exp(xs[k] - m), 0));
        });
        expectClose(y.dataSync(), want, `logsumexp [${shape}] axis ${JSON.stringify(axis)}`, { ulps: 4, abs: 1e-5 });
        y.dispose();
      }
      x.dispose();
    }
  });

  test("large, -inf and +inf inputs give PyTorch's values (torch.logsumexp)", () => {
    // torch.logsumexp(torch.tensor([[1e30, 1e30], [-inf, -inf], [-inf, 0.], [inf, 1.]]), 1) = [1e30, -inf, 0, inf]
    const x = sg.tensor([1e30, 1e30, -Infinity, -Infinity, -Infinity, 0, Infinity, 1], [4, 2], { requiresGrad: true });
    const y = sg.logsumexp(x, { axis: 1 });
    expectExact(y.dataSync(), [Math.fround(1e30), -Infinity, 0, Infinity], 'logsumexp');
    sg.tidy(() => sg.sum(sg.slice(y, [0], [3])).backward());
    // Softmax weights, max-shifted (exp(x - lse) would give [1, 1] for the first row in float32): an all -inf row gets 0.
    expectExact(x.grad!.dataSync().slice(0, 6), [0.5, 0.5, 0, 0, 0, 1], 'gradient');
    y.dispose();
    x.grad!.dispose();
    x.dispose();
  });

  test('gradient is softmax(x) * dy: gradcheck over axes', () => {
    const x = sg.tensor(data(24, 8), [2, 3, 4], { requiresGrad: true });
    try {
      for (const axis of [undefined, 0, -1, [0, 2], [2, 1]]) {
        for (const keepDims of [false, true]) {
          expect(sg.gradcheck((t) => sg.mul(sg.logsumexp(t, { axis, keepDims }), 0.7), [x]).ok, `${JSON.stringify(axis)} ${keepDims}`).toBe(true);
        }
      }
    } finally {
      x.grad?.dispose();
      x.dispose();
    }
  });

  test('bad input is a clear error; only the result stays alive', () => {
    const x = sg.tensor(data(6, 1), [2, 3]);
    const bytes = sg.tensor([1], undefined, { dtype: 'uint8' });
    const before = sg.memoryStats().tensorsAlive;
    expect(() => sg.logsumexp(x, { axis: -3 })).toThrow(/logsumexp: axis must be an integer in \[-2, 1\], got -3/);
    expect(() => sg.logsumexp(x, { keepDims: 'yes' as unknown as boolean })).toThrow(/logsumexp: keepDims must be true or false/);
    expect(() => sg.logsumexp(x, 1 as unknown as object)).toThrow(/logsumexp: options must be an object/);
    expect(() => sg.logsumexp(bytes)).toThrow(/logsumexp: x must be float32/);
    expect(sg.memoryStats().tensorsAlive).toBe(before);
    const y = sg.logsumexp(x, { axis: 0 });
    expect(sg.memoryStats().tensorsAlive).toBe(before + 1);
    y.dispose();
    x.dispose();
    bytes.dispose();
  });
});

describe('crossEntropy on [..., C] logits', () => {
  test('equals the 2-D call on the flattened rows, bit for bit, for int32/uint8/int8 labels', () => {
    const xs = data(2 * 3 * 5, 6).map((v) => v * 2);
    const labels = [0, 4, 2, 1, 3, 4];
    const flat = sg.tidy(() => sg.crossEntropy(sg.tensor(xs, [6, 5]), sg.tensor(labels, [6], { dtype: 'int32' })).item());
    for (const dtype of ['int32', 'uint8', 'int8'] as const) {
      const v = sg.tidy(() => sg.crossEntropy(sg.tensor(xs, [2, 3, 5]), sg.tensor(labels, [2, 3], { dtype })).item());
      expect(v).toBe(flat);
    }
    // float64: mean over rows of lse - x[label].
    let total = 0;
    for (let r = 0; r < 6; r++) {
      const row = xs.slice(r * 5, r * 5 + 5);
      const m = Math.max(...row);
      total += m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[labels[r]];
    }
    expect(flat).toBeCloseTo(total / 6, 5);
    const one = sg.tidy(() => sg.crossEntropy(sg.tensor(xs.slice(0, 5), [5]), sg.tensor(3, [], { dtype: 'int32' })).item());
    const row = xs.slice(0, 5);
    const m = Math.max(...row);
    expect(one).toBeCloseTo(m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[3], 5);
  });

  test('gradient passes gradcheck for 3-D and 4-D logits; bad label shapes are clear errors', () => {
    const x = sg.tensor(data(2 * 1 * 3 * 4, 2), [2, 1, 3, 4], { requiresGrad: true });
    const l = sg.tensor([0, 3, 1, 2, 2, 0], [2, 1, 3], { dtype: 'uint8' });
    const x3 = sg.tensor(data(12, 4), [2, 2, 3], { requiresGrad: true });
    const l3 = sg.tensor([2, 0, 1, 1], [2, 2], { dtype: 'int32' });
    try {
      expect(sg.gradcheck((t) => sg.crossEntropy(t, l), [x]).ok).toBe(true);
      expect(sg.gradcheck((t) => sg.crossEntropy(t, l3), [x3]).ok).toBe(true);
      const bad = sg.tensor([0, 1, 2, 0, 1, 2], [6], { dtype: 'int32' });
      const scalar = sg.tensor(1);
      const emptyX = sg.zeros([2, 0, 4]);
      const emptyL = sg.tensor([], [2, 0], { dtype: 'int32' });
      const big = sg.tensor([0, 3, 1, 2, 4, 0], [2, 1, 3], { dtype: 'int32' });
      const before = sg.memoryStats().tensorsAlive;
      expect(() => sg.crossEntropy(x, bad)).toThrow(/crossEntropy: labels must have shape \[2,1,3\] \(one per row of logits\), got \[6\]/);
      expect(() => sg.crossEntropy(scalar, bad)).toThrow(/crossEntropy: logits must have shape \[\.\.\., classes\], got a scalar/);
      expect(() => sg.crossEntropy(emptyX, emptyL)).toThrow(/crossEntropy: the batch is empty/);
      expect(() => sg.crossEntropy(x, big)).toThrow(/crossEntropy: labels\[4\] = 4 is out of range \[0, 4\)/);
      expect(sg.memoryStats().tensorsAlive).toBe(before);
      for (const t of [bad, scalar, emptyX, emptyL, big]) t.dispose();
    } finally {
      for (const t of [x, x3]) { t.grad?.dispose(); t.dispose(); }
      l.dispose();
      l3.dispose();
    }
  });
});

describe('freeze replays the new reductions', () => {
  test('a model using min/argmin/logsumexp/softmax over axes and methods freezes to identical predictions', () => {
    class M extends sg.nn.Module {
      forward(x: InstanceType<typeof sg.Tensor>) {
        const h = x.reshape([-1, 2, 3]);
        const a = sg.logsumexp(h, { axis: [1, -1] });
        const b = h.min({ axis: -2 }).softmax({ axis: 0 }).sum({ axis: 1 });
        const c = sg.argmin(h, { axis: 1 }).cast('float32').sum({ axis: -1 });
        const d = h.logsumexp({ axis: 2 }).max({ axis: [1] });
        return sg.add(sg.add(sg.add(a, b), c), sg.mul(d, sg.logSoftmax(sg.min(h, { axis: [1, 2] }), 0))).reshape([-1, 1]);
      }
    }
    const m = new M();
    const x = sg.tensor(data(24, 2), [4, 6]);
    const frozen = sg.freeze(m, { example: x });
    m.eval();
    const want = sg.tidy(() => m.forward(x).dataSync());
    const got = sg.tidy(() => frozen.predict(x).dataSync());
    expectExact(got, want, 'frozen predictions');
    frozen.dispose();
    m.dispose();
    x.dispose();
  });
});
