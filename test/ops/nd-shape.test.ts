// The N-D shape and indexing ops of issue 11: negative slice begins, gather
// along any axis, broadcastTo, pad, stack, split, expandDims, squeeze, oneHot,
// topk, bincount. Kernels against their scalar twins (src/reference/shape.ts)
// or hand-computed values, gradients against float64 finite differences.
import { describe, expect, test } from 'vitest';
import {
  bincountRef, copyStridedRef, f32OneHotRef, f32ScatterAddAlongRef, f32ScatterAddAxisRef, f32TopkRowsRef, gatherAxisRef,
} from '../../src/reference/shape.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const strides = (s: readonly number[]) => { const r = new Array(s.length); let k = 1; for (let i = s.length - 1; i >= 0; i--) { r[i] = k; k *= s[i]; } return r; };
const data = (n: number, seed = 1) => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(i * 12.9898 + seed) * 43.758) % 7);

/** Runs gradcheck on fn over fresh requiresGrad copies of the inputs, freeing everything. */
function gradOk(fn: (...xs: InstanceType<typeof sg.Tensor>[]) => InstanceType<typeof sg.Tensor>, shapes: number[][]): boolean {
  const xs = shapes.map((s, i) => sg.tensor(data(size(s), i + 3), s, { requiresGrad: true }));
  try {
    return sg.gradcheck(fn, xs).ok;
  } finally {
    for (const x of xs) { x.grad?.dispose(); x.dispose(); }
  }
}

describe('slice with negative begins', () => {
  test('counts from the end, as NumPy, and matches the strided-copy twin', () => {
    const shape = [3, 5, 2];
    const x = sg.tensor(data(30), shape);
    const y = x.slice([-1, -4, -2], [1, 3, -1]);
    const want = new Float32Array(6);
    const st = strides(shape);
    copyStridedRef(x.dataSync(), 2 * st[0] + 1 * st[1], st, want, 0, strides([1, 3, 2]), [1, 3, 2]);
    expect(y.shape).toEqual([1, 3, 2]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(want));
    expect(() => x.slice([-4])).toThrow(/slice: begin\[0\] = -4 is out of range \[-3, 3\]/);
    expect(gradOk((t) => t.slice([-2, 1], [2, -1]), [[3, 4]])).toBe(true);
    y.dispose();
    x.dispose();
  });
});

describe('gather along any axis', () => {
  test('matches the twin on N-D shapes, negative axes, 0- and 1-sized axes and repeated indices', () => {
    for (const [shape, axis, idx] of [
      [[2, 5, 3], 1, [4, 0, 4, 2]], [[2, 5, 3], -1, [2, 2]], [[3, 1, 4], -2, [0, 0, 0]], [[2, 0, 3], 2, [1]],
      [[4, 7], 1, []], [[2, 3, 4, 5], 2, [3, 1]], [[6, 2], 0, [5, 0]],
    ] as [number[], number, number[]][]) {
      const ax = axis < 0 ? axis + shape.length : axis;
      const x = sg.tensor(data(size(shape)), shape);
      const i = sg.tensor(idx, [idx.length], { dtype: 'int32' });
      const y = sg.gather(x, i, { axis });
      const outShape = [...shape.slice(0, ax), idx.length, ...shape.slice(ax + 1)];
      expect(y.shape).toEqual(outShape);
      const want = new Float32Array(size(outShape));
      gatherAxisRef(x.dataSync(), Int32Array.from(idx), want, size(shape.slice(0, ax)), shape[ax], size(shape.slice(ax + 1)));
      expect(Array.from(y.dataSync())).toEqual(Array.from(want));
      for (const t of [x, i, y]) t.dispose();
    }
  });

  test('its gradient adds back repeated indices (twin and gradcheck), also with a 2-D index tensor', () => {
    const x = sg.tensor(data(30), [2, 5, 3], { requiresGrad: true });
    const i = sg.tensor([4, 0, 4, 1], [2, 2], { dtype: 'int32' });
    sg.tidy(() => sg.gather(x, i, { axis: 1 }).mul(sg.tensor(data(24, 9), [2, 2, 2, 3])).sum().backward());
    const want = new Float32Array(30);
    f32ScatterAddAxisRef(data(24, 9), Int32Array.from([4, 0, 4, 1]), want, 2, 5, 3);
    expect(Array.from(x.grad!.dataSync())).toEqual(Array.from(want));
    x.grad!.dispose();
    x.dispose();
    expect(gradOk((t) => sg.gather(t, i, { axis: -1 }), [[3, 5]])).toBe(true);
    expect(gradOk((t) => t.gather(i, { axis: 0 }), [[5, 2]])).toBe(true);
    i.dispose();
  });

  test('bad axis or index is an error naming gather', () => {
    const x = sg.tensor(data(6), [2, 3]);
    const i = sg.tensor([3], [1], { dtype: 'int32' });
    expect(() => sg.gather(x, i, { axis: 1 })).toThrow(/gather: indices\[0\] = 3 is out of range \[0, 3\) for axis 1/);
    expect(() => sg.gather(x, i, { axis: 2 })).toThrow(/gather: axis must be an integer in \[-2, 1\]/);
    expect(() => sg.gather(x, i, 3 as never)).toThrow(/gather: options must be an object/);
    x.dispose();
    i.dispose();
  });
});

describe('broadcastTo, pad, expandDims, squeeze, stack, split', () => {
  test('broadcastTo repeats along new and size-1 axes; its gradient sums them', () => {
    const x = sg.tensor([1, 2, 3], [3, 1]);
    const y = sg.broadcastTo(x, [2, 3, 4]);
    expect(y.shape).toEqual([2, 3, 4]);
    expect(Array.from(y.dataSync())).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(sg.tidy(() => sg.broadcastTo(x, [0, 3, 2]).shape)).toEqual([0, 3, 2]);
    expect(() => sg.broadcastTo(x, [2, 2])).toThrow(/broadcastTo: x of shape \[3,1\] cannot be broadcast to \[2,2\]/);
    expect(() => sg.broadcastTo(x, [4])).toThrow(/broadcastTo/);
    expect(gradOk((t) => t.broadcastTo([2, 3, 4]), [[3, 1]])).toBe(true);
    expect(gradOk((t) => sg.broadcastTo(t, [2, 1, 5]), [[5]])).toBe(true);
    y.dispose();
    x.dispose();
  });

  test('pad fills around each axis with value; the gradient is the interior', () => {
    const x = sg.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const y = sg.pad(x, [[1, 0], [2, 1]], { value: -1 });
    expect(y.shape).toEqual([3, 6]);
    expect(Array.from(y.dataSync())).toEqual([-1, -1, -1, -1, -1, -1, -1, -1, 1, 2, 3, -1, -1, -1, 4, 5, 6, -1]);
    const u = sg.tensor([7], [1], { dtype: 'uint8' });
    expect(sg.tidy(() => Array.from(u.pad([[2, 1]], { value: 255 }).dataSync()))).toEqual([255, 255, 7, 255]);
    expect(() => u.pad([[1, 1]], { value: 256 })).toThrow(/pad: value must be an integer in \[0, 255\]/);
    expect(sg.tidy(() => sg.pad(sg.zeros([0, 2]), [[0, 0], [1, 1]]).shape)).toEqual([0, 4]);
    expect(sg.tidy(() => Array.from(sg.pad(sg.zeros([0]), [[1, 2]]).dataSync()))).toEqual([0, 0, 0]);
    expect(() => sg.pad(x, [[1, 0]])).toThrow(/pad: paddings must be an array of 2/);
    expect(() => sg.pad(x, [[1, 0], [-1, 0]])).toThrow(/pad: paddings\[1\] must be a pair/);
    expect(gradOk((t) => sg.pad(t, [[0, 2], [1, 1], [3, 0]], { value: 2 }), [[2, 1, 3]])).toBe(true);
    for (const t of [x, y, u]) t.dispose();
  });

  test('expandDims and squeeze take negative axes and share memory', () => {
    const x = sg.tensor(data(6), [2, 1, 3]);
    expect(sg.tidy(() => sg.expandDims(x, -1).shape)).toEqual([2, 1, 3, 1]);
    expect(sg.tidy(() => x.expandDims(0).shape)).toEqual([1, 2, 1, 3]);
    expect(sg.tidy(() => sg.expandDims(x, -4).shape)).toEqual([1, 2, 1, 3]);
    expect(sg.tidy(() => sg.squeeze(x).shape)).toEqual([2, 3]);
    expect(sg.tidy(() => x.squeeze(-2).shape)).toEqual([2, 3]);
    expect(sg.tidy(() => sg.squeeze(sg.zeros([1, 0, 1]), [0, 2]).shape)).toEqual([0]);
    expect(() => sg.squeeze(x, 0)).toThrow(/squeeze: axis 0 of x \[2,1,3\] has size 2/);
    expect(() => sg.expandDims(x, 4)).toThrow(/expandDims: axis must be an integer in \[-4, 3\]/);
    expect(gradOk((t) => sg.squeeze(sg.expandDims(t, 1)).mul(t.squeeze()), [[3, 1]])).toBe(true);
    x.dispose();
  });

  test('stack joins along a new axis; split undoes it by count or sizes', () => {
    const a = sg.tensor([1, 2, 3], [3]);
    const b = sg.tensor([4, 5, 6], [3]);
    expect(sg.tidy(() => Array.from(sg.stack([a, b], -1).dataSync()))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(sg.tidy(() => sg.stack([a, b]).shape)).toEqual([2, 3]);
    expect(() => sg.tidy(() => sg.stack([a, sg.tensor([1, 2])]))).toThrow(/stack: tensors\[1\] has shape \[2\]/);
    const x = sg.tensor(data(35), [5, 7]);
    const parts = sg.split(x, [2, 0, 5], -1);
    expect(parts.map((p) => p.shape)).toEqual([[5, 2], [5, 0], [5, 5]]);
    expect(sg.tidy(() => Array.from(sg.concat(parts, 1).dataSync()))).toEqual(Array.from(x.dataSync()));
    for (const p of parts) p.dispose();
    const rows = x.split(5);
    expect(rows.map((r) => Array.from(r.dataSync()))).toEqual([0, 1, 2, 3, 4].map((i) => Array.from(x.dataSync().slice(i * 7, i * 7 + 7))));
    for (const r of rows) r.dispose();
    expect(() => sg.split(x, 3)).toThrow(/split: axis 0 of x \[5,7\] has size 5, which 3 parts do not divide/);
    expect(() => sg.split(x, [3, 3])).toThrow(/split: sizes \[3,3\] add up to 6/);
    expect(gradOk((p, q) => sg.stack([p, q], 1), [[2, 3], [2, 3]])).toBe(true);
    expect(gradOk((t) => { const [u, v] = sg.split(t, [1, 2], 1); return u.mul(v.sum({ axis: 1, keepDims: true })); }, [[2, 3]])).toBe(true);
    for (const t of [a, b, x]) t.dispose();
  });
});

describe('oneHot, topk, bincount', () => {
  test('oneHot matches the twin for int32/uint8 indices of any shape; out-of-range is an error', () => {
    const idx = [2, 0, 4, 4, 1, 3];
    const i = sg.tensor(idx, [2, 3], { dtype: 'int32' });
    const y = sg.oneHot(i, 5);
    expect(y.shape).toEqual([2, 3, 5]);
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.dataSync())).toEqual(Array.from(f32OneHotRef(Int32Array.from(idx), 5)));
    const u = sg.tensor([1, 0], [2], { dtype: 'uint8' });
    expect(sg.tidy(() => Array.from(u.oneHot(2).dataSync()))).toEqual([0, 1, 1, 0]);
    expect(sg.tidy(() => sg.oneHot(sg.tensor([], [0], { dtype: 'int32' }), 3).shape)).toEqual([0, 3]);
    expect(() => sg.oneHot(i, 4)).toThrow(/oneHot: indices\[2\] = 4 is out of range \[0, 4\)/);
    expect(() => sg.tidy(() => sg.oneHot(sg.tensor([1]), 2))).toThrow(/oneHot: indices/);
    expect(() => sg.oneHot(i, 2.5)).toThrow(/oneHot: depth/);
    for (const t of [i, y, u]) t.dispose();
  });

  test('topk matches the stable-sort twin on every axis, with ties, NaN and k = 0 and k = n', () => {
    for (const [shape, k, axis] of [[[3, 7], 3, -1], [[4, 5, 2], 2, 1], [[4, 5, 2], 4, 0], [[1, 6], 6, 1], [[2, 0], 0, 1], [[3, 4], 0, 0]] as [number[], number, number][]) {
      const n = size(shape);
      const vals = Float32Array.from({ length: n }, (_, j) => [1, 3, 3, NaN, -2, 3, 0, -Infinity, 1][(j * 5) % 9]);
      const x = sg.tensor(vals, shape);
      const { values, indices } = sg.topk(x, k, { axis });
      const ax = axis < 0 ? axis + shape.length : axis;
      // The twin works on rows along the last axis: move ax there by hand.
      const perm = shape.map((_, i) => (i === ax ? shape.length - 1 : i === shape.length - 1 ? ax : i));
      const pShape = perm.map((a) => shape[a]);
      const rowsData = new Float32Array(n);
      copyStridedRef(vals, 0, perm.map((a) => strides(shape)[a]), rowsData, 0, strides(pShape), pShape);
      const m = pShape[pShape.length - 1];
      const rows = m === 0 ? 0 : n / m;
      const wv = new Float32Array(rows * k);
      const wi = new Int32Array(rows * k);
      f32TopkRowsRef(rowsData, rows, m, k, wv, wi);
      const outP = [...pShape.slice(0, -1), k];
      const outShape = perm.map((a) => outP[a]);
      expect(values.shape).toEqual(outShape);
      const gv = new Float32Array(rows * k);
      const gi = new Int32Array(rows * k);
      copyStridedRef(values.dataSync(), 0, perm.map((a) => strides(outShape)[a]), gv, 0, strides(outP), outP);
      copyStridedRef(indices.dataSync(), 0, perm.map((a) => strides(outShape)[a]), gi, 0, strides(outP), outP);
      expect(Array.from(gv)).toEqual(Array.from(wv));
      expect(Array.from(gi)).toEqual(Array.from(wi));
      for (const t of [x, values, indices]) t.dispose();
    }
  });

  test('topk: hand-computed ties (lowest index first) and its gradient', () => {
    const x = sg.tensor([2, 5, 5, 1, 5], [5], { requiresGrad: true });
    const { values, indices } = sg.topk(x, 3);
    expect(Array.from(values.dataSync())).toEqual([5, 5, 5]);
    expect(Array.from(indices.dataSync())).toEqual([1, 2, 4]);
    sg.tidy(() => values.mul(sg.tensor([1, 2, 3])).sum().backward());
    expect(Array.from(x.grad!.dataSync())).toEqual([0, 1, 2, 0, 3]);
    const want = new Float32Array(5);
    f32ScatterAddAlongRef(Float32Array.from([1, 2, 3]), Int32Array.from([1, 2, 4]), want, 1, 3, 5);
    expect(Array.from(x.grad!.dataSync())).toEqual(Array.from(want));
    for (const t of [values, indices, x.grad!, x]) t.dispose();
    expect(gradOk((t) => sg.topk(t, 2, { axis: 0 }).values, [[4, 3]])).toBe(true);
    expect(gradOk((t) => t.topk(3, { axis: -1 }).values, [[2, 2, 5]])).toBe(true);
    const y = sg.tensor(data(6), [2, 3]);
    expect(() => sg.topk(y, 4)).toThrow(/topk: k must be <= 3/);
    expect(() => sg.topk(y, 1, { axis: 2 })).toThrow(/topk: axis/);
    expect(() => sg.tidy(() => sg.topk(sg.tensor([1], [1], { dtype: 'int32' }), 1))).toThrow(/topk: x/);
    y.dispose();
  });

  test('bincount counts or sums weights (twin), checks length, and its weights get a gradient', () => {
    const idx = [3, 0, 3, 3, 1, 0, 6];
    const i = sg.tensor(idx, [7], { dtype: 'int32' });
    const c = sg.bincount(i);
    expect(c.dtype).toBe('int32');
    expect(Array.from(c.dataSync())).toEqual(Array.from(bincountRef(Int32Array.from(idx), null, 7)));
    expect(Array.from(c.dataSync())).toEqual([2, 1, 0, 3, 0, 0, 1]);
    const w = sg.tensor(data(7), [7], { requiresGrad: true });
    const s = i.bincount({ length: 9, weights: w });
    expect(s.shape).toEqual([9]);
    expect(Array.from(s.dataSync())).toEqual(Array.from(bincountRef(Int32Array.from(idx), data(7), 9)));
    sg.tidy(() => s.mul(sg.tensor([1, 2, 3, 4, 5, 6, 7, 8, 9])).sum().backward());
    expect(Array.from(w.grad!.dataSync())).toEqual(idx.map((j) => j + 1));
    expect(sg.tidy(() => sg.bincount(sg.tensor([], [0], { dtype: 'int32' })).shape)).toEqual([0]);
    expect(sg.tidy(() => Array.from(sg.bincount(sg.tensor([2, 2], [1, 2], { dtype: 'uint8' }), { length: 4 }).dataSync()))).toEqual([0, 0, 2, 0]);
    expect(() => sg.bincount(i, { length: 5 })).toThrow(/bincount: indices hold 6, which does not fit length 5/);
    expect(() => sg.tidy(() => sg.bincount(sg.tensor([-1], [1], { dtype: 'int32' })))).toThrow(/bincount: indices\[0\] = -1 is out of range/);
    expect(() => sg.tidy(() => sg.bincount(i, { weights: sg.tensor([1]) }))).toThrow(/bincount: weights must have indices' shape/);
    const ii = sg.tensor([1, 0, 1, 2], [2, 2], { dtype: 'int32' });
    expect(gradOk((t) => sg.bincount(ii, { weights: t, length: 4 }), [[2, 2]])).toBe(true);
    for (const t of [i, c, w.grad!, w, s, ii]) t.dispose();
  });

  test('each op leaves alive exactly what it returns, and its tape state goes with it', () => {
    for (const requiresGrad of [false, true]) {
      const x = sg.tensor(data(24), [2, 3, 4], { requiresGrad });
      const i = sg.tensor([1, 0], [2], { dtype: 'int32' });
      const one = sg.tensor([1], [1, 1]);
      const before = sg.memoryStats();
      const outs = [
        sg.gather(x, i, { axis: 2 }), sg.broadcastTo(x, [2, 2, 3, 4]), sg.pad(x, [[0, 1], [1, 0], [2, 2]]), sg.stack([x, x], 3),
        sg.expandDims(x, 1), sg.squeeze(one), sg.oneHot(i, 2), sg.bincount(i),
      ];
      const { values, indices } = sg.topk(x, 2, { axis: 1 });
      const parts = sg.split(x, 2, -1);
      if (!requiresGrad) expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive + outs.length + 2 + parts.length);
      for (const t of [...outs, values, indices, ...parts]) t.dispose();
      expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive);
      expect(sg.memoryStats().bytesInUse).toBe(before.bytesInUse);
      for (const t of [x, i, one]) t.dispose();
    }
  });
});
