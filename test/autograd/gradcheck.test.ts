import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();

let seed = 1;
/** A leaf tensor with values in [lo, hi). */
function leaf(shape: number[], lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return sg.tensor(seededArray(n, seed++, lo, hi), shape, { requiresGrad: true });
}

/**
 * Checks fn's gradient against float64 central differences. The output is
 * multiplied by fixed random weights first: a plain sum would hide errors
 * (the sum of a softmax is constant, for example).
 */
function check(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts = {}): void {
  sg.tidy(() => {
    const probe = sg.noGrad(() => fn(...inputs));
    const w = sg.tensor(seededArray(probe.size, 999, 0.5, 1.5), [...probe.shape]);
    const r = sg.gradcheck((...xs) => sg.mul(fn(...xs), w), inputs, opts);
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.maxAbsError).toBeLessThan(2e-3);
  });
  inputs.forEach((t) => t.dispose());
}

describe('gradcheck: every smooth op', () => {
  test('add, sub, mul, div with broadcasting', () => {
    check((a, b) => sg.add(a, b), [leaf([3, 4]), leaf([4])]);
    check((a, b) => sg.sub(a, b), [leaf([2, 1, 3]), leaf([4, 1])]);
    check((a, b) => sg.mul(a, b), [leaf([3, 1]), leaf([1, 5])]);
    check((a, b) => sg.div(a, b), [leaf([2, 3]), leaf([2, 3], 0.5, 2)]);
    check((a, b) => sg.div(a, b), [leaf([2, 3]), leaf([3], -2, -0.5)]);
    check((a) => sg.add(sg.mul(a, 3), 2), [leaf([5])]);
    check((a) => sg.sub(sg.div(a, 4), 1), [leaf([5])]);
  });
  test('maximum and minimum away from ties', () => {
    check((a, b) => sg.maximum(a, b), [leaf([6], 0, 1), leaf([6], 2, 3)]);
    check((a, b) => sg.minimum(a, b), [leaf([2, 3], 0, 1), leaf([3], -3, -2)]);
  });
  test('unary: neg, relu, exp, log, tanh, sigmoid, square, sqrt, abs', () => {
    check((a) => sg.neg(a), [leaf([7])]);
    check((a) => sg.relu(a), [leaf([9], 0.1, 1)]);
    check((a) => sg.relu(a), [leaf([9], -1, -0.1)]);
    check((a) => sg.exp(a), [leaf([2, 5])]);
    check((a) => sg.log(a), [leaf([2, 5], 0.5, 3)]);
    check((a) => sg.tanh(a), [leaf([11])]);
    check((a) => sg.sigmoid(a), [leaf([11], -3, 3)]);
    check((a) => sg.square(a), [leaf([6])]);
    check((a) => sg.sqrt(a), [leaf([6], 0.5, 4)]);
    check((a) => sg.abs(a), [leaf([6], 0.1, 1)]);
    check((a) => sg.abs(a), [leaf([6], -1, -0.1)]);
  });
  test('clip away from its bounds', () => {
    check((a) => sg.clip(a, -0.5, 0.5), [sg.tensor([-0.9, -0.3, 0, 0.2, 0.45, 0.8], undefined, { requiresGrad: true })]);
  });
  test('matmul in all four transpose forms', () => {
    for (const transposeA of [false, true]) {
      for (const transposeB of [false, true]) {
        const a = leaf(transposeA ? [4, 3] : [3, 4]);
        const b = leaf(transposeB ? [5, 4] : [4, 5]);
        check((x, y) => sg.matmul(x, y, { transposeA, transposeB }), [a, b]);
      }
    }
  });
  test('sum and mean over axes with and without keepDims', () => {
    check((a) => sg.sum(a), [leaf([3, 4])]);
    check((a) => sg.sum(a, { axis: 1 }), [leaf([3, 4, 2])]);
    check((a) => sg.sum(a, { axis: [0, 2], keepDims: true }), [leaf([3, 4, 2])]);
    check((a) => sg.mean(a, { axis: -1 }), [leaf([3, 5])]);
    check((a) => sg.mean(a), [leaf([2, 3, 2])]);
  });
  test('max along an axis (distinct values)', () => {
    check((a) => sg.max(a, { axis: 1 }), [sg.tensor([[0.1, 0.9, -0.3], [0.7, -0.2, 0.4]], undefined, { requiresGrad: true })]);
    check((a) => sg.max(a), [sg.tensor([0.1, 0.9, -0.3, 0.5], undefined, { requiresGrad: true })]);
  });
  test('reshape, transpose, slice, concat, gather', () => {
    check((a) => sg.reshape(a, [6, 2]).mul(sg.tensor([1, 2])), [leaf([3, 4])]);
    check((a) => sg.transpose(a), [leaf([3, 4])]);
    check((a) => sg.transpose(a, [1, 2, 0]), [leaf([2, 3, 4])]);
    check((a) => sg.slice(a, [1, 1], [2, -1]), [leaf([4, 5])]);
    check((a, b) => sg.concat([a, b], 1), [leaf([2, 3]), leaf([2, 2])]);
    check((a) => sg.gather(a, sg.tensor([2, 0, 2, 1], undefined, { dtype: 'int32' })), [leaf([3, 4])]);
  });
  test('softmax, logSoftmax, crossEntropy, mse', () => {
    check((a) => sg.softmax(a), [leaf([3, 5], -2, 2)]);
    check((a) => sg.logSoftmax(a), [leaf([3, 5], -2, 2)]);
    const labels = sg.tensor([1, 4, 0], undefined, { dtype: 'int32' });
    check((a) => sg.crossEntropy(a, labels), [leaf([3, 5], -2, 2)]);
    labels.dispose();
    check((a, b) => sg.mse(a, b), [leaf([4, 3]), leaf([4, 3])]);
  });
  test('a composite network: two layers with every kind of op', () => {
    const x = leaf([4, 6]);
    const w1 = leaf([6, 5]);
    const b1 = leaf([5]);
    const w2 = leaf([3, 5]);
    check((x, w1, b1, w2) => sg.logSoftmax(sg.matmul(sg.tanh(sg.add(sg.matmul(x, w1), b1)), w2, { transposeB: true })), [x, w1, b1, w2]);
  });
});
