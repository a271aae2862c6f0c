import { describe, expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from './support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

/** Runs fn in a tidy scope and returns the message it throws (an Error, never a wasm trap). */
function messageOf(fn: () => unknown): string {
  try {
    sg.tidy(() => {
      fn();
    });
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(WebAssembly.RuntimeError);
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('bad input throws an Error naming the argument and what was expected', () => {
  test('shape mismatches', () => {
    expect(messageOf(() => sg.add(sg.zeros([2, 3]), sg.zeros([4])))).toMatch(/^add: shapes \[2,3\] and \[4\] cannot be broadcast together/);
    expect(messageOf(() => sg.matmul(sg.zeros([2, 3]), sg.zeros([4, 5])))).toMatch(/^matmul: inner dimensions differ: a is \[2, 3\].*b is \[4, 5\]/);
    expect(messageOf(() => sg.matmul(sg.zeros([3]), sg.zeros([3, 2])))).toMatch(/^matmul: a must have at least 2 dimensions .*got shape \[3\]/);
    expect(messageOf(() => sg.reshape(sg.zeros([2, 3]), [4, 2]))).toMatch(/^reshape: shape \[4,2\] has 8 elements but x \(shape \[2,3\]\) has 6/);
    expect(messageOf(() => sg.concat([sg.zeros([2, 3]), sg.zeros([3, 3])], 1))).toMatch(/^concat: tensors\[1\] has shape \[3,3\]/);
    expect(messageOf(() => sg.crossEntropy(sg.zeros([4, 3]), sg.tensor([0, 1], undefined, { dtype: 'int32' })))).toMatch(/^crossEntropy: labels must have shape \[4\]/);
    expect(messageOf(() => sg.tensor([1, 2, 3], [2, 2]))).toMatch(/^tensor: shape \[2,2\] needs 4 values, but data has 3/);
    expect(messageOf(() => sg.tensor([[1, 2], [3]]))).toMatch(/^tensor: data\[1\] must be an array of length 2/);
    expect(messageOf(() => sg.slice(sg.zeros([4, 4]), [3, 0], [2, -1]))).toMatch(/^slice: size\[0\] = 2 does not fit/);
    expect(messageOf(() => sg.transpose(sg.zeros([2, 3]), [0, 0]))).toMatch(/^transpose: perm must be a permutation of \[0..1\]/);
    expect(messageOf(() => sg.sum(sg.zeros([2, 3]), { axis: 2 }))).toMatch(/^sum: axis must be an integer in \[-2, 1\], got 2/);
  });

  test('wrong dtypes', () => {
    const i = () => sg.tensor([1, 2], undefined, { dtype: 'int32' });
    expect(messageOf(() => sg.matmul(sg.zeros([2, 2]), sg.tensor([[1, 2], [3, 4]], undefined, { dtype: 'int8' })))).toMatch(/^matmul: b must be float32, got int8/);
    expect(messageOf(() => sg.relu(i()))).toMatch(/^relu: x must be float32, got int32/);
    expect(messageOf(() => sg.crossEntropy(sg.zeros([2, 3]), sg.tensor([0, 1])))).toMatch(/^crossEntropy: labels must be integer class indices \(int32, uint8 or int8\), got float32; convert them with labels\.cast\('int32'\)/);
    expect(messageOf(() => sg.gather(sg.zeros([3, 2]), sg.tensor([0, 1])))).toMatch(/^gather: indices must be int32, got float32/);
    expect(messageOf(() => sg.ste.sign(i()))).toMatch(/^ste\.sign: x must be float32, got int32/);
    expect(messageOf(() => sg.tensor([1, 2], undefined, { dtype: 'float64' as any }))).toMatch(/^tensor: dtype must be one of float32, int32, int8, uint8, got "float64"/);
    expect(messageOf(() => sg.tensor([1.5], undefined, { dtype: 'int32' }))).toMatch(/^tensor: data\[0\] = 1.5 is not a valid int32/);
    expect(messageOf(() => sg.tensor([200], undefined, { dtype: 'int8' }))).toMatch(/^tensor: data\[0\] = 200 is not a valid int8 \(integers in \[-128, 127\]\)/);
    expect(messageOf(() => sg.add(sg.zeros([2]), 'x' as any))).toMatch(/^add: b must be a Tensor or a number, got "x"/);
    expect(messageOf(() => sg.zeros([2], { dtype: 'int32', requiresGrad: true }))).toMatch(/^zeros: requiresGrad needs dtype float32, got int32/);
  });

  test('disposed tensors', () => {
    const x = sg.ones([3]);
    x.dispose();
    expect(x.disposed).toBe(true);
    expect(messageOf(() => sg.add(x, 1))).toMatch(/^add: a \(tensor #\d+\) was disposed and cannot be used/);
    expect(messageOf(() => sg.matmul(sg.ones([1, 3]), x))).toMatch(/^matmul: b \(tensor #\d+\) was disposed/);
    expect(messageOf(() => x.toArray())).toMatch(/was disposed and cannot be used/);
    expect(messageOf(() => sg.ste.sign(x))).toMatch(/^ste\.sign: x \(tensor #\d+\) was disposed/);
    x.dispose(); // disposing twice is harmless
  });

  test('a saved tensor disposed before backward', () => {
    expect(messageOf(() => {
      const w = sg.tensor([1, 2], undefined, { requiresGrad: true });
      const a = sg.tensor([3, 4]);
      const y = sg.mul(w, a).sum();
      a.dispose();
      y.backward();
    })).toMatch(/was disposed and cannot be used/);
  });

  test('bits and other numeric options out of range', () => {
    const x = () => sg.tensor([0.1, 0.2]);
    expect(messageOf(() => sg.ste.quantize(x(), { bits: 0, scale: 0.1 }))).toMatch(/^ste\.quantize: bits must be >= 2, got 0/);
    expect(messageOf(() => sg.ste.quantize(x(), { bits: 17, scale: 0.1 }))).toMatch(/^ste\.quantize: bits must be <= 16, got 17/);
    expect(messageOf(() => sg.ste.quantize(x(), { bits: 4.5, scale: 0.1 }))).toMatch(/^ste\.quantize: bits must be an integer, got 4.5/);
    expect(messageOf(() => sg.ste.quantize(x(), { bits: 1, scale: 0.1 }))).toMatch(/^ste\.quantize: bits must be >= 2, got 1/);
    expect(messageOf(() => sg.ste.quantize(x(), { bits: 8, scale: 0 }))).toMatch(/^ste\.quantize: scale must be > 0, got 0/);
    expect(messageOf(() => sg.ste.quantize(x(), { bits: 8, scale: NaN }))).toMatch(/^ste\.quantize: scale must be a number, got NaN/);
    expect(messageOf(() => sg.ste.quantize(x(), { bits: 8, scale: 1, zeroPoint: 300, signed: false }))).toMatch(/^ste\.quantize: zeroPoint must be <= 255, got 300/);
    expect(messageOf(() => sg.ste.dorefa(x(), { bits: 0 }))).toMatch(/^ste\.dorefa: bits must be >= 1, got 0/);
    expect(messageOf(() => sg.ste.sign(x(), { grad: 'steep' as any }))).toMatch(/^ste\.sign: grad must be one of 'identity', 'clipped', 'approx', 'swish', got "steep"/);
    expect(messageOf(() => sg.ste.gumbelSoftmax(sg.zeros([2, 3]), { tau: 0 }))).toMatch(/^ste\.gumbelSoftmax: tau must be > 0, got 0/);
    expect(messageOf(() => sg.clip(x(), 1, 0))).toMatch(/^clip: min \(1\) must be <= max \(0\)/);
    expect(messageOf(() => sg.randn([2], { seed: -1 }))).toMatch(/^randn: seed must be >= 0, got -1/);
    expect(messageOf(() => sg.randint([2], 5, 5))).toMatch(/^randint: high \(5\) must be greater than low \(5\)/);
  });

  test('NaN where it is not allowed', () => {
    const nan = () => sg.tensor([0.5, NaN, -1]);
    expect(messageOf(() => sg.ste.sign(nan()))).toMatch(/^ste\.sign: x contains 1 NaN value; NaN is not allowed here/);
    expect(messageOf(() => sg.ste.binarize(nan()))).toMatch(/^ste\.binarize: x contains 1 NaN value/);
    expect(messageOf(() => sg.ste.quantize(nan(), { bits: 8, scale: 0.1 }))).toMatch(/^ste\.quantize: x contains 1 NaN value/);
    expect(messageOf(() => sg.ste.ternarize(nan()))).toMatch(/^ste\.ternarize: x contains 1 NaN value/);
    expect(messageOf(() => sg.cast(nan(), 'int32'))).toMatch(/^cast: x contains 1 NaN value/);
  });

  test('indices and labels out of range', () => {
    expect(messageOf(() => sg.gather(sg.zeros([3, 2]), sg.tensor([0, 3], undefined, { dtype: 'int32' })))).toMatch(/^gather: indices\[1\] = 3 is out of range \[0, 3\)/);
    expect(messageOf(() => sg.gather(sg.zeros([3, 2]), sg.tensor([-1], undefined, { dtype: 'int32' })))).toMatch(/^gather: indices\[0\] = -1 is out of range/);
    expect(messageOf(() => sg.crossEntropy(sg.zeros([2, 3]), sg.tensor([0, 5], undefined, { dtype: 'int32' })))).toMatch(/^crossEntropy: labels\[1\] = 5 is out of range \[0, 3\)/);
  });

  test('not initialized is a clear error too (checked in a fresh module graph elsewhere); item() needs one element', () => {
    expect(messageOf(() => sg.zeros([2]).item())).toMatch(/^item: tensor must have exactly one element, got shape \[2\]/);
  });
});
