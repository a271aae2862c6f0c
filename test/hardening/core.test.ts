// Regression tests for issue 10 (classes 1, 3, 5, 7 and item 8's dorefa) on the core API:
// every example the hostile-input run reported, plus the same classes swept over neighbours.
import { describe, expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';
import { errorOf } from '../support/errors.js';

const sg = useSnapgrad();
expectNoLeaks();

type T = InstanceType<typeof sg.Tensor>;


/** Runs make(), which returns the tensors it leaves alive, and checks that nothing else stayed alive. */
function leavesOnly(make: () => T[]): T[] {
  const before = sg.memoryStats();
  const out = make();
  const bytes = out.reduce((n, t) => n + Math.ceil(Math.max(t.size * (t.dtype === 'float32' || t.dtype === 'int32' ? 4 : 1), 1) / 16) * 16, 0);
  const after = sg.memoryStats();
  expect(after.tensorsAlive - before.tensorsAlive, 'tensors alive beyond the result').toBe(out.length);
  expect(after.bytesInUse - before.bytesInUse, 'bytes in use beyond the result').toBe(bytes);
  return out;
}

/** forward → backward → dispose result and leaf grads: memory is back where it started. */
function roundTrip(leaves: T[], forward: () => T): void {
  const before = sg.memoryStats();
  const y = forward();
  const loss = y.size === 1 ? y : sg.sum(y);
  loss.backward();
  if (loss !== y) loss.dispose();
  y.dispose();
  for (const l of leaves) {
    l.grad?.dispose();
    l.grad = null;
  }
  const after = sg.memoryStats();
  expect({ bytes: after.bytesInUse, tensors: after.tensorsAlive }).toEqual({ bytes: before.bytesInUse, tensors: before.tensorsAlive });
}

function leaf(values: number[], shape?: number[]): T {
  return sg.tensor(values, shape, { requiresGrad: true });
}

describe('class 1: null options mean the default; unchecked arguments are clear errors', () => {
  test('tensor([1,2], [2], null), sum(x, null), matmul(a, b, null), ste.sign(x, null), gradcheck(f, [x], null)', () => {
    const t = sg.tensor([1, 2], [2], null);
    expect(t.toArray()).toEqual([1, 2]);
    const s = sg.sum(t, null);
    expect(s.item()).toBe(3);
    const a = sg.tensor([[1, 2]]);
    const b = sg.tensor([[3], [4]]);
    const c = sg.matmul(a, b, null);
    expect(c.toArray()).toEqual([[11]]);
    const v3 = sg.tensor([-2, 0, 3]);
    const sgn = sg.ste.sign(v3, null);
    expect(sgn.toArray()).toEqual([-1, 0, 1]);
    const x = leaf([0.5, -1]);
    expect(sg.gradcheck((v) => sg.mul(v, v), [x], null).ok).toBe(true);
    for (const u of [t, s, a, b, c, v3, sgn, x]) u.dispose();
  });

  test('null fields of an options bag are defaults too; wrong types are errors', () => {
    const x = sg.tensor([[1, 2], [3, 4]]);
    const s = sg.sum(x, { axis: null as any, keepDims: null as any });
    expect(s.item()).toBe(10);
    s.dispose();
    expect(errorOf(() => sg.sum(x, 5 as any))).toMatch(/^sum: options must be an object \(or omitted\), got 5/);
    expect(errorOf(() => sg.sum(x, { keepDims: 'yes' as any }))).toMatch(/^sum: keepDims must be true or false, got "yes"/);
    expect(errorOf(() => sg.matmul(x, x, { transposeA: 1 as any }))).toMatch(/^matmul: transposeA must be true or false, got 1/);
    expect(errorOf(() => sg.max(x, [0] as any))).toMatch(/^max: options must be an object/);
    expect(errorOf(() => sg.tensor([1], [1], 'float32' as any))).toMatch(/^tensor: options must be an object/);
    expect(errorOf(() => sg.sum(x, new Map([['axis', 0]]) as any))).toMatch(/^sum: options must be an object \(or omitted\), got Map/);
    expect(errorOf(() => sg.tensor([1], [1], { requiresGrad: 'true' as any }))).toMatch(/^tensor: requiresGrad must be true or false/);
    x.dispose();
  });

  test('keep(5), noGrad(null), markModified(5)', () => {
    expect(errorOf(() => sg.keep(5 as any))).toMatch(/^keep: t must be a Tensor, got 5/);
    expect(errorOf(() => sg.noGrad(null as any))).toMatch(/^noGrad: fn must be a function, got null/);
    expect(errorOf(() => sg.markModified(5 as any))).toMatch(/^markModified: t must be a Tensor, got 5/);
    const gone = sg.zeros([2]);
    gone.dispose();
    expect(errorOf(() => sg.keep(gone))).toMatch(/^keep: t \(tensor #\d+\) was disposed/);
    expect(errorOf(() => sg.markModified(gone))).toMatch(/^markModified: t \(tensor #\d+\) was disposed/);
  });

  test('slice(x, [Symbol()]) and reshape(x, [-1, 2n])', () => {
    const x = sg.zeros([2, 2]);
    expect(errorOf(() => sg.slice(x, [Symbol() as any]))).toMatch(/^slice: begin\[0\] must be an integer, got Symbol\(\)/);
    expect(errorOf(() => sg.slice(x, [0], [2n as any]))).toMatch(/^slice: size\[0\] must be a non-negative integer or -1/);
    expect(errorOf(() => sg.reshape(x, [-1, 2n as any]))).toMatch(/^reshape: shape\[1\] must be a non-negative integer or -1 \(inferred\), got 2n/);
    expect(errorOf(() => sg.reshape(x, [-2, -2]))).toMatch(/^reshape: shape\[0\] must be a non-negative integer or -1/);
    expect(errorOf(() => sg.transpose(x, [Symbol() as any, 0]))).toMatch(/^transpose: perm must be a permutation/);
    x.dispose();
  });

  test('tensor(new BigInt64Array(2))', () => {
    expect(errorOf(() => sg.tensor(new BigInt64Array(2) as any))).toMatch(/^tensor: data is a BigInt64Array \(BigInt values\).*Int32Array\.from\(data, Number\)/);
    expect(errorOf(() => sg.tensor(new BigUint64Array(2) as any))).toMatch(/^tensor: data is a BigUint64Array/);
    expect(errorOf(() => sg.tensor([1n, 2n] as any))).toMatch(/^tensor: data\[0\] must be a number, got 1n/);
  });

  test('a 20,000-deep nested array is a clear error, not a stack overflow; so is a self-containing one', () => {
    let deep: any = 1;
    for (let i = 0; i < 20000; i++) deep = [deep];
    expect(errorOf(() => sg.tensor(deep))).toMatch(/^tensor: data is nested more than 8 arrays deep; tensors have at most 8 dimensions/);
    const cyclic: any[] = [];
    cyclic.push(cyclic);
    expect(errorOf(() => sg.tensor(cyclic))).toMatch(/^tensor: data is nested more than 8 arrays deep/);
    let eight: any = 7;
    for (let i = 0; i < 8; i++) eight = [eight];
    const t = sg.tensor(eight);
    expect(t.shape).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    t.dispose();
  });

  test('rank 9 cannot be made (so no rank-9 transpose), and rank 8 transposes', () => {
    let nine: any = 1;
    for (let i = 0; i < 9; i++) nine = [nine];
    expect(errorOf(() => sg.tensor(nine))).toMatch(/^tensor: data is nested more than 8 arrays deep/);
    const x8 = sg.zeros([1, 1, 1, 1, 1, 1, 2, 3]);
    const idx = sg.tensor([[[[[[[0]]]]]]], undefined, { dtype: 'int32' });
    const x3 = sg.zeros([2, 2, 2]);
    expect(errorOf(() => sg.gather(x3, idx))).toMatch(/^gather: the result would have 9 dimensions/);
    expect(errorOf(() => sg.reshape(x8, [1, 1, 1, 1, 1, 1, 1, 2, 3]))).toMatch(/^reshape: shape has 9 dimensions; at most 8/);
    const src = sg.tensor(Array.from({ length: 6 }, (_, i) => i), [1, 1, 1, 1, 1, 1, 2, 3]);
    const tr = sg.transpose(src);
    expect(tr.shape).toEqual([3, 2, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(tr.dataSync())).toEqual([0, 3, 1, 4, 2, 5]);
    for (const u of [x8, idx, x3, src, tr]) u.dispose();
  });

  test('concat([tensor(1), tensor(2)]) says scalars cannot be concatenated and how to fix', () => {
    const a = sg.tensor(1);
    const b = sg.tensor(2);
    expect(errorOf(() => sg.concat([a, b]))).toMatch(/^concat: tensors\[0\] is a scalar \(shape \[\]\).*reshape each to \[1\]/);
    const joined = sg.tidy(() => sg.concat([sg.reshape(a, [1]), sg.reshape(b, [1])]));
    expect(joined.toArray()).toEqual([1, 2]);
    for (const u of [a, b, joined]) u.dispose();
  });
});

describe('class 3: no silent wrong answers', () => {
  test('dequantizeInt8(q, { scale: 1e39 }) and other scales outside float32 are rejected', () => {
    const q = sg.tensor([-1, 1], undefined, { dtype: 'int8' });
    expect(errorOf(() => sg.dequantizeInt8(q, { scale: 1e39 }))).toMatch(/^dequantizeInt8: scale\[0\] = 1e\+39 is outside the float32 range/);
    expect(errorOf(() => sg.dequantizeInt8(q, { scale: 1e-46 }))).toMatch(/^dequantizeInt8: scale\[0\] = 1e-46 must be a positive normal float32 value/);
    expect(errorOf(() => sg.dequantizeInt8(q, { scale: 3e38 }))).toMatch(/^dequantizeInt8: scale = 3\.0*\d*e\+38 is too large: \(q - zeroPoint\)·scale overflows float32/);
    const one = sg.tensor([1]);
    expect(errorOf(() => sg.quantizeInt8(one, { scale: 1e-40 }))).toMatch(/^quantizeInt8: scale\[0\] = 1e-40 must be a positive normal float32 value/);
    const x = sg.dequantizeInt8(q, { scale: 1e30 });
    expect(Array.from(x.dataSync())).toEqual([Math.fround(-1e30), Math.fround(1e30)]);
    for (const u of [q, x, one]) u.dispose();
  });

  test('ste.quantize(x, { bits: 8, scale: 1e-46 }) is rejected: scale must be a positive normal float32', () => {
    const x = sg.tensor([0.5, -1]);
    expect(errorOf(() => sg.ste.quantize(x, { bits: 8, scale: 1e-46 }))).toMatch(/^ste\.quantize: scale = 1e-46 must be a positive normal float32 value/);
    expect(errorOf(() => sg.ste.quantize(x, { bits: 8, scale: 1e39 }))).toMatch(/^ste\.quantize: scale = 1e\+39 is outside the float32 range/);
    expect(errorOf(() => sg.ste.quantize(x, { bits: 8, scale: 3e38 }))).toMatch(/^ste\.quantize: scale = 3e\+38 is too large/);
    const y = sg.ste.quantize(x, { bits: 8, scale: 2 ** -100 });
    expect(y.dataSync().every((v) => Number.isFinite(v))).toBe(true);
    for (const u of [x, y]) u.dispose();
  });

  test('vqNearest([[-2e19]], [[2e19], [-2e19]]) is 1 (the squared norms would overflow float32)', () => {
    const z = sg.tensor([[-2e19]]);
    const c = sg.tensor([[2e19], [-2e19]]);
    const idx = sg.vqNearest(z, c);
    expect(Array.from(idx.dataSync())).toEqual([1]);
    // A batch of huge vectors against a float64 reference.
    const N = 7, K = 5, D = 3;
    const zv = Array.from({ length: N * D }, (_, i) => Math.fround(Math.sin(i * 1.7) * 3e19));
    const cv = Array.from({ length: K * D }, (_, i) => Math.fround(Math.cos(i * 2.3) * 3e19));
    const zt = sg.tensor(zv, [N, D]);
    const ct = sg.tensor(cv, [K, D]);
    const got = sg.vqNearest(zt, ct);
    const want = Array.from({ length: N }, (_, n) => {
      let best = 0, bestD = Infinity;
      for (let k = 0; k < K; k++) {
        let d = 0;
        for (let j = 0; j < D; j++) d += (zv[n * D + j] - cv[k * D + j]) ** 2;
        if (d < bestD) { bestD = d; best = k; }
      }
      return best;
    });
    expect(Array.from(got.dataSync())).toEqual(want);
    for (const u of [z, c, idx, zt, ct, got]) u.dispose();
  });

  test('plain sign(NaN) is NaN (as torch.sign); round/floor keep NaN; ste.sign rejects NaN', () => {
    // 9 values: 8 through the SIMD body, 1 through the scalar tail.
    const x = sg.tensor([NaN, -0, 0, 2, -3, 0.5, NaN, -1e-30, NaN]);
    const s = sg.sign(x);
    const got = Array.from(s.dataSync());
    expect(got.map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual(['NaN', 0, 0, 1, -1, 1, 'NaN', -1, 'NaN']);
    const r = sg.round(x);
    const f = sg.floor(x);
    expect(Number.isNaN(r.dataSync()[0]) && Number.isNaN(f.dataSync()[8])).toBe(true);
    expect(errorOf(() => sg.ste.sign(x))).toMatch(/^ste\.sign: x contains 3 NaN values; NaN is not allowed here/);
    for (const u of [x, s, r, f]) u.dispose();
  });

  test('gradcheck does not pass a 200x wrong gradient whatever eps is (1e-8, 0, NaN, a string)', () => {
    const wrong = sg.customGrad({
      forward: ([v]) => sg.mul(v, 3),
      backward: (dy) => [sg.mul(dy, 600)],
    });
    const x = leaf([1, -2, 0.25]);
    for (const eps of [1e-8, 0, NaN, 'x' as any, -1, Infinity]) {
      expect(errorOf(() => sg.gradcheck((v) => wrong(v), [x], { eps }))).toMatch(/^gradcheck: eps must be/);
    }
    const r = sg.gradcheck((v) => wrong(v), [x]);
    expect(r.ok).toBe(false);
    expect(r.worst!.analytic).toBe(600);
    expect(r.worst!.numeric).toBeCloseTo(3, 3);
    // Below float32 resolution at the input's magnitude: an error, not a 0/0 that passes.
    const big = leaf([1e10]);
    expect(errorOf(() => sg.gradcheck((v) => wrong(v), [big], { eps: 1e-3 }))).toMatch(/^gradcheck: eps = 0\.001 is below float32 resolution at inputs\[0\]\[0\]/);
    // A non-finite output is a failure, not a pass.
    const nanFn = sg.customGrad({ forward: ([v]) => sg.log(sg.mul(v, -1)), backward: (dy) => [sg.mul(dy, 0)] });
    expect(sg.gradcheck((v) => nanFn(v), [x]).ok).toBe(false);
    for (const u of [x, big]) u.dispose();
  });

  test('gradcheck whose fn throws restores the input and its grad', () => {
    const x = leaf([1, 2]);
    x.grad = sg.tensor([7, 8]);
    let calls = 0;
    const fn = (v: T) => {
      if (++calls > 1) throw new Error('boom');
      return sg.mul(v, v);
    };
    expect(() => sg.gradcheck(fn, [x])).toThrow('boom');
    expect(x.toArray()).toEqual([1, 2]);
    expect(x.grad!.toArray()).toEqual([7, 8]);
    x.dispose();
  });

  test('vqEmaUpdate: epsilon 0 is rejected (it wrote NaN into unused codes); the codebook cannot be its own embedSum', () => {
    const z = sg.tensor([[1, 2], [3, 4]]);
    const idx = sg.tensor([0, 0], undefined, { dtype: 'int32' });
    const size = sg.zeros([2]);
    const embed = sg.zeros([2, 2]);
    const code = sg.tensor([[5, 5], [6, 6]]);
    expect(errorOf(() => sg.vqEmaUpdate(z, idx, size, embed, code, { decay: 0, epsilon: 0 }))).toMatch(/^vqEmaUpdate: epsilon must be > 0, got 0/);
    expect(errorOf(() => sg.vqEmaUpdate(z, idx, size, code, code, { decay: 0, epsilon: 1e-5 }))).toMatch(/^vqEmaUpdate: embedSum and codebook share memory/);
    const view = sg.reshape(code, [2, 2]);
    expect(errorOf(() => sg.vqEmaUpdate(z, idx, size, view, code, { decay: 0, epsilon: 1e-5 }))).toMatch(/share memory/);
    expect(errorOf(() => sg.vqEmaUpdate(z, idx, size, embed, code, { decay: 1, epsilon: 1e-5 }))).toMatch(/^vqEmaUpdate: the total cluster size after this update is 0/);
    // Nothing was written by the rejected calls.
    expect(code.toArray()).toEqual([[5, 5], [6, 6]]);
    expect(size.toArray()).toEqual([0, 0]);
    sg.vqEmaUpdate(z, idx, size, embed, code, { decay: 0, epsilon: 1e-5 });
    // Unused code 1: embed 0 over a smoothed size > 0 is 0, not NaN.
    expect(code.toArray()[1]).toEqual([0, 0]);
    const c0 = code.toArray()[0];
    expect(c0[0]).toBeCloseTo(2, 4);
    expect(c0[1]).toBeCloseTo(3, 4);
    for (const u of [z, idx, size, embed, code, view]) u.dispose();
  });

  test('tidy keeps tensors returned in a Map, a Set, a deep object, a cycle', () => {
    const m = sg.tidy(() => new Map([['t', sg.tensor([1, 2])]]));
    expect(m.get('t')!.toArray()).toEqual([1, 2]);
    const keyed = sg.tidy(() => new Map([[sg.tensor([3]), 'k']]));
    expect([...keyed.keys()][0].toArray()).toEqual([3]);
    const s = sg.tidy(() => new Set([sg.tensor([4])]));
    expect([...s][0].toArray()).toEqual([4]);
    const deep = sg.tidy(() => {
      sg.zeros([5]);
      return { a: { b: { c: { d: { e: { f: [sg.tensor([5])] } } } } } };
    });
    expect(deep.a.b.c.d.e.f[0].toArray()).toEqual([5]);
    const cyc = sg.tidy(() => {
      const o: any = { t: sg.tensor([6]) };
      o.self = o;
      o.list = [o, new Map([['o', o]])];
      return o;
    });
    expect(cyc.t.toArray()).toEqual([6]);
    for (const u of [m.get('t')!, [...keyed.keys()][0], [...s][0], deep.a.b.c.d.e.f[0], cyc.t]) u.dispose();
  });
});

describe('class 5: failed calls leak nothing', () => {
  test("full([2], 1.5, { dtype: 'int32' }) and bad requiresGrad", () => {
    expect(errorOf(() => sg.full([2], 1.5, { dtype: 'int32' }))).toMatch(/^full: value must be an integer, got 1.5/);
    expect(errorOf(() => sg.tensor([1, 2], undefined, { dtype: 'int32', requiresGrad: true }))).toMatch(/^tensor: requiresGrad needs dtype float32, got int32/);
    expect(errorOf(() => sg.ones([2], { dtype: 'uint8', requiresGrad: true }))).toMatch(/^ones: requiresGrad needs dtype float32, got uint8/);
  });

  test('max(zeros([0])) and argmax of zero elements', () => {
    const e = sg.zeros([0]);
    expect(errorOf(() => sg.max(e))).toMatch(/^max: cannot take the maximum of zero elements/);
    expect(errorOf(() => sg.argmax(e))).toMatch(/^argmax: cannot take the argmax of zero elements/);
    const e2 = sg.zeros([2, 0]);
    expect(errorOf(() => sg.max(e2, { axis: 1 }))).toMatch(/^max: cannot take the maximum of zero elements along axis 1/);
    for (const u of [e, e2]) u.dispose();
  });

  test('a failed backward() leaks nothing and leaves every leaf grad as it was', () => {
    const x = leaf([1, 2]);
    const w = leaf([3, 4]);
    w.grad = sg.tensor([10, 10]);
    const bad = sg.customGrad({ forward: ([v]) => sg.mul(v, 2), backward: () => { throw new Error('rule failed'); } });
    const p = sg.mul(x, w);
    const q = bad(w);
    const y = sg.add(p, q);
    const loss = sg.sum(y);
    const before = sg.memoryStats();
    expect(() => loss.backward()).toThrow('rule failed');
    const after = sg.memoryStats();
    expect(after.tensorsAlive).toBe(before.tensorsAlive);
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(x.grad).toBeNull();
    expect(w.grad!.toArray()).toEqual([10, 10]);
    for (const u of [loss, y, p, q, x, w]) u.dispose();
  });

  test('empty batches in ste.vq, mse and dorefa are named errors with no leak', () => {
    const z = sg.zeros([0, 2]);
    const c = sg.zeros([3, 2]);
    expect(errorOf(() => sg.ste.vq(z, c))).toMatch(/^ste\.vq: z has no elements \(shape \[0,2\]\)/);
    const z2 = sg.zeros([2, 2]);
    const c0 = sg.zeros([0, 2]);
    expect(errorOf(() => sg.ste.vq(z2, c0))).toMatch(/^ste\.vq: codebook has no codes/);
    expect(errorOf(() => sg.mse(z, z))).toMatch(/^mse: a \(shape \[0,2\]\) and b \(shape \[0,2\]\) have no elements/);
    expect(errorOf(() => sg.ste.dorefa(z, { bits: 2, mode: 'weights' }))).toMatch(/^ste\.dorefa: x is empty/);
    const act = sg.ste.dorefa(z, { bits: 2 });
    expect(act.shape).toEqual([0, 2]);
    for (const u of [z, c, z2, c0, act]) u.dispose();
  });
});

describe('class 5: an op leaves exactly its result alive (plus leaf grads after backward)', () => {
  test('backward through add/sub/mul/div/maximum/minimum, with and without broadcasting', () => {
    const ops = [sg.add, sg.sub, sg.mul, sg.div, sg.maximum, sg.minimum];
    for (const op of ops) {
      const a = leaf([1, 2, 3, 4, 5, 6], [2, 3]);
      const b = leaf([0.5, 2, 7], [3]);
      const same = leaf([2, 2, 2, 2, 2, 2], [2, 3]);
      leavesOnly(() => [op(a, b)])[0].dispose();
      roundTrip([a, b], () => op(a, b));
      roundTrip([a, same], () => op(a, same));
      for (const u of [a, b, same]) u.dispose();
    }
  });

  test('scalar operands: sub(5, x), div(x, 2), maximum(x, 0) leave no constant alive', () => {
    const x = leaf([1, -2, 3]);
    const cases: [string, () => T][] = [
      ['sub(5, x)', () => sg.sub(5, x)],
      ['div(x, 2)', () => sg.div(x, 2)],
      ['div(2, x)', () => sg.div(2, x)],
      ['maximum(x, 0)', () => sg.maximum(x, 0)],
      ['minimum(1, x)', () => sg.minimum(1, x)],
      ['add(1, x)', () => sg.add(1, x)],
    ];
    for (const [, f] of cases) {
      leavesOnly(() => [f()])[0].dispose();
      roundTrip([x], f);
      sg.noGrad(() => leavesOnly(() => [f()])[0].dispose());
    }
    const seed = sg.ones([3]);
    const d2 = sg.div(2, x);
    d2.backward(seed);
    expect(Array.from(x.grad!.dataSync())).toEqual([-2, -0.5, Math.fround(-2 / 9)]);
    d2.dispose();
    x.grad!.dispose();
    x.grad = null;
    const d = sg.div(x, 2);
    d.backward(seed);
    expect(Array.from(x.grad!.dataSync())).toEqual([0.5, 0.5, 0.5]);
    for (const u of [d, seed, x]) u.dispose();
  });

  test('composite ops: crossEntropy, mse, gumbelSoftmax, dorefa, argmaxOneHot', () => {
    const logits = leaf([1, 2, 3, -1, 0, 4], [2, 3]);
    const labels = sg.tensor([2, 0], undefined, { dtype: 'int32' });
    const target = sg.tensor([0, 1, 0, 1, 0, 1], [2, 3]);
    const cases: [string, () => T][] = [
      ['crossEntropy', () => sg.crossEntropy(logits, labels)],
      ['mse', () => sg.mse(logits, target)],
      ['gumbelSoftmax', () => sg.ste.gumbelSoftmax(logits, { seed: 3 })],
      ['gumbelSoftmax hard', () => sg.ste.gumbelSoftmax(logits, { seed: 3, hard: true })],
      ['dorefa activations', () => sg.ste.dorefa(logits, { bits: 2 })],
      ['dorefa weights', () => sg.ste.dorefa(logits, { bits: 3, mode: 'weights' })],
      ['dorefa weights 1 bit', () => sg.ste.dorefa(logits, { bits: 1, mode: 'weights' })],
      ['argmaxOneHot', () => sg.ste.argmaxOneHot(logits)],
      ['logSoftmax', () => sg.logSoftmax(logits)],
      ['max', () => sg.max(logits, { axis: 1 })],
      ['mean', () => sg.mean(logits)],
    ];
    const plain = sg.tensor([1, 2, 3, -1, 0, 4], [2, 3]);
    for (const [name, f] of cases) {
      const before = sg.memoryStats();
      // Without a tape: exactly the result.
      sg.noGrad(() => leavesOnly(() => [f()])[0].dispose());
      // With a tape: what backward needs is owned by the result and freed with it.
      f().dispose();
      roundTrip([logits], f);
      const after = sg.memoryStats();
      expect({ b: after.bytesInUse, t: after.tensorsAlive }, name).toEqual({ b: before.bytesInUse, t: before.tensorsAlive });
    }
    // The same ops on an input that needs no gradient leave exactly the result.
    leavesOnly(() => [sg.crossEntropy(plain, labels)])[0].dispose();
    leavesOnly(() => [sg.mse(plain, target)])[0].dispose();
    leavesOnly(() => [sg.ste.gumbelSoftmax(plain, { seed: 1, hard: true })])[0].dispose();
    leavesOnly(() => [sg.ste.dorefa(plain, { bits: 3, mode: 'weights' })])[0].dispose();
    leavesOnly(() => [sg.ste.argmaxOneHot(plain)])[0].dispose();
    for (const u of [logits, labels, target, plain]) u.dispose();
  });

  test('ste.vq leaves exactly its four results alive, and nothing after backward and dispose', () => {
    const z = leaf([0.1, 0.2, 0.9, 1.1, -1, 0.5], [3, 2]);
    const codebook = leaf([0, 0, 1, 1, -1, 1, 2, 2], [4, 2]);
    // The codebook's cached norms live with the codebook: build them before measuring.
    sg.vqNearest(z, codebook).dispose();
    const r = sg.noGrad(() => leavesOnly(() => {
      const o = sg.ste.vq(z, codebook);
      return [o.zq, o.indices, o.commitmentLoss, o.codebookLoss];
    }));
    for (const t of r) t.dispose();
    const before = sg.memoryStats();
    const o = sg.ste.vq(z, codebook, { beta: 0.5 });
    const s1 = sg.sum(o.zq);
    const s2 = sg.add(s1, o.commitmentLoss);
    const total = sg.add(s2, o.codebookLoss);
    total.backward();
    expect(z.grad).not.toBeNull();
    expect(codebook.grad).not.toBeNull();
    for (const t of [total, s2, s1, o.zq, o.indices, o.commitmentLoss, o.codebookLoss, z.grad!, codebook.grad!]) t.dispose();
    z.grad = null;
    codebook.grad = null;
    const after = sg.memoryStats();
    expect({ b: after.bytesInUse, t: after.tensorsAlive }).toEqual({ b: before.bytesInUse, t: before.tensorsAlive });
    for (const u of [z, codebook]) u.dispose();
  });
});

describe('class 7: errors say what to do', () => {
  test('tensor(new DataView(...)) says how to make a typed array of it', () => {
    expect(errorOf(() => sg.tensor(new DataView(new ArrayBuffer(8)) as any))).toMatch(/^tensor: data is a DataView, which has no element type; wrap its bytes in a typed array, e\.g\. new Float32Array/);
  });

  test('crossEntropy accepts uint8 and int8 labels (same loss as int32); float32 labels get the cast to use', () => {
    const logits = sg.tensor([[1, 2, 3], [-1, 0, 4]]);
    const i32 = sg.tensor([2, 0], undefined, { dtype: 'int32' });
    const ref = sg.crossEntropy(logits, i32);
    for (const dtype of ['uint8', 'int8'] as const) {
      const labels = sg.tensor([2, 0], undefined, { dtype });
      const l = sg.crossEntropy(logits, labels);
      expect(l.item()).toBe(ref.item());
      l.dispose();
      labels.dispose();
    }
    const fl = sg.tensor([2, 0]);
    expect(errorOf(() => sg.crossEntropy(logits, fl))).toMatch(/^crossEntropy: labels must be integer class indices \(int32, uint8 or int8\), got float32; convert them with labels\.cast\('int32'\)/);
    const bad = sg.tensor([3, 0], undefined, { dtype: 'uint8' });
    expect(errorOf(() => sg.crossEntropy(logits, bad))).toMatch(/^crossEntropy: labels\[0\] = 3 is out of range \[0, 3\)/);
    // crossEntropy with uint8 labels trains: the gradient matches the int32 one.
    const x = leaf([1, 2, 3, -1, 0, 4], [2, 3]);
    const u8 = sg.tensor([2, 0], undefined, { dtype: 'uint8' });
    roundTrip([x], () => sg.crossEntropy(x, u8));
    for (const u of [logits, i32, fl, bad, x, u8, ref]) u.dispose();
  });

  test('dtype errors name the cast that fixes them', () => {
    const i8 = sg.tensor([[1, 2], [3, 4]], undefined, { dtype: 'int8' });
    const f = sg.zeros([2, 2]);
    expect(errorOf(() => sg.matmul(f, i8))).toMatch(/^matmul: b must be float32, got int8; convert it with b\.cast\('float32'\)/);
    const fi = sg.tensor([0, 1]);
    expect(errorOf(() => sg.gather(f, fi))).toMatch(/^gather: indices must be int32, got float32; convert it with indices\.cast\('int32'\)/);
    expect(errorOf(() => sg.int8Matmul(f, i8))).toMatch(/^int8Matmul: a must be int8, got float32; quantize it with quantizeInt8/);
    for (const u of [i8, f, fi]) u.dispose();
  });
});

describe("issue 10 item 8: ste.dorefa at bits 1 (weights) is the paper's sign(w)·E|w|", () => {
  test('hand-computed values and the straight-through gradient', () => {
    // E|w| = (0.5 + 1.5 + 0 + 3) / 4 = 1.25; sign(0) = 0.
    const w = leaf([0.5, -1.5, 0, 3]);
    const y = sg.ste.dorefa(w, { bits: 1, mode: 'weights' });
    expect(Array.from(y.dataSync())).toEqual([1.25, -1.25, 0, 1.25]);
    const dy = sg.tensor([1, 2, 3, 4]);
    y.backward(dy);
    expect(Array.from(w.grad!.dataSync())).toEqual([1, 2, 3, 4]);
    dy.dispose();
    // Activations at 1 bit are round(clip(x, 0, 1)).
    const v = sg.tensor([-1, 0.4, 0.6, 2]);
    const a = sg.ste.dorefa(v, { bits: 1 });
    expect(Array.from(a.dataSync())).toEqual([0, 0, 1, 1]);
    for (const u of [w, y, v, a]) u.dispose();
  });
});
