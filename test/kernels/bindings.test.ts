// The tensor-level bindings in src/kernels/ (the one door to the wasm
// exports): results against the scalar twins on shapes with 0, 1, primes and
// SIMD tails, and the internal preconditions that keep a wrong call from
// reading or writing past a tensor's block (checked before anything is
// written or allocated for good).
import { describe, expect, test } from 'vitest';
import { bnForwardEval } from '../../src/kernels/batchnorm.js';
import { convert, f32Affine, f32Axpy, f32Binary } from '../../src/kernels/elementwise.js';
import { f32SumAxis } from '../../src/kernels/reduce.js';
import { copyStrided } from '../../src/kernels/shape.js';
import { thresholdPackF32 } from '../../src/kernels/threshold.js';
import { bnForwardEvalRef } from '../../src/reference/batchnorm.js';
import { f32SumAxisRef } from '../../src/reference/reduce.js';
import { thresholdPackRef } from '../../src/reference/threshold.js';
import { expectExact, Prng } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

describe('thresholdPackF32', () => {
  test('equals the twin on M x N with N across word and 128-bit tails', () => {
    const rng = new Prng(901);
    for (const M of [0, 1, 3, 7]) {
      for (const N of [1, 5, 31, 32, 33, 127, 128, 129, 200]) {
        sg.tidy(() => {
          const y = rng.f32WithSpecials(M * N, -3, 3, [0, -0, 1, -1], 0.2);
          const thr = rng.f32WithSpecials(N, -1, 1, [0, 1, -1], 0.3);
          const dir = Int32Array.from({ length: N }, () => rng.pick([1, -1, 0]));
          const got = thresholdPackF32(sg.tensor(y, [M, N]), sg.tensor(thr, [N]), sg.tensor(dir, [N], { dtype: 'int32' }));
          expect(got.shape).toEqual([M, Math.ceil(N / 128) * 4]);
          expectExact(new Uint32Array((got.dataSync() as Int32Array).buffer), thresholdPackRef(y, thr, dir, M, N), `M=${M} N=${N}`);
        });
      }
    }
  });

  test('rejects per-channel tensors of the wrong length or dtype', () => {
    sg.tidy(() => {
      const y = sg.zeros([2, 5]);
      expect(() => thresholdPackF32(y, sg.zeros([4]), sg.zeros([5], { dtype: 'int32' }))).toThrow(/threshold must have shape \[5\]/);
      expect(() => thresholdPackF32(y, sg.zeros([5]), sg.zeros([5]))).toThrow(/direction must be int32/);
    });
  });
});

describe('f32SumAxis', () => {
  test('equals the twin along every axis of odd shapes', () => {
    const rng = new Prng(902);
    for (const shape of [[0, 3], [1, 1], [3, 0, 2], [2, 7, 3], [5, 13], [1, 33, 1], [4, 1, 9]]) {
      for (let axis = 0; axis < shape.length; axis++) {
        sg.tidy(() => {
          const size = shape.reduce((a, b) => a * b, 1);
          const x = rng.f32WithSpecials(size, -2, 2, [-0], 0.1);
          const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
          const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
          const want = new Float32Array(outer * inner);
          f32SumAxisRef(x, want, outer, shape[axis], inner);
          const got = f32SumAxis(sg.tensor(x, shape), axis);
          expect(got.shape).toEqual(shape.map((d, i) => (i === axis ? 1 : d)));
          expectExact(got.dataSync(), want, `[${shape}] axis ${axis}`, [x]);
        });
      }
    }
  });
});

describe('bnForwardEval', () => {
  test('equals the twin, with and without affine parameters', () => {
    const rng = new Prng(903);
    for (const [B, F] of [[1, 1], [3, 5], [17, 4], [2, 33]]) {
      sg.tidy(() => {
        const x = rng.f32WithSpecials(B * F, -3, 3, [0, -0], 0.1);
        const mean = rng.f32WithSpecials(F, -1, 1, [], 0);
        const variance = Float32Array.from({ length: F }, () => Math.fround(rng.f32WithSpecials(1, 0, 2, [], 0)[0]));
        const gamma = rng.f32WithSpecials(F, -2, 2, [], 0);
        const beta = rng.f32WithSpecials(F, -1, 1, [], 0);
        const t = (a: Float32Array, s: number[]) => sg.tensor(a, s);
        expectExact(bnForwardEval(t(x, [B, F]), t(mean, [F]), t(variance, [F]), t(gamma, [F]), t(beta, [F]), 1e-5).dataSync(),
          bnForwardEvalRef(x, B, F, mean, variance, 1e-5, gamma, beta), `B=${B} F=${F} affine`);
        expectExact(bnForwardEval(t(x, [B, F]), t(mean, [F]), t(variance, [F]), null, null, 1e-5).dataSync(),
          bnForwardEvalRef(x, B, F, mean, variance, 1e-5, null, null), `B=${B} F=${F} plain`);
      });
    }
  });
});

describe('preconditions', () => {
  test('copyStrided refuses an index space that runs past src or dst, and writes nothing', () => {
    sg.tidy(() => {
      const src = sg.tensor([1, 2, 3, 4, 5, 6]);
      const dst = sg.zeros([4]);
      expect(() => copyStrided(src, 3, [1], dst, 0, [1], [4])).toThrow(/runs past src/);
      expect(() => copyStrided(src, 0, [2], dst, 2, [1], [3])).toThrow(/runs past/);
      expect(() => copyStrided(src, 0, [1], sg.zeros([4], { dtype: 'uint8' }), 0, [1], [4])).toThrow(/float32 into uint8/);
      expect(dst.toArray()).toEqual([0, 0, 0, 0]);
      copyStrided(src, 1, [2], dst, 1, [1], [3]);
      expect(dst.toArray()).toEqual([0, 2, 4, 6]);
    });
  });

  test('f32Binary refuses strides that overrun an operand and frees its output', () => {
    sg.tidy(() => {
      const a = sg.tensor([1, 2, 3]);
      const b = sg.tensor([10, 20]);
      const before = sg.memoryStats().tensorsAlive;
      expect(() => f32Binary('add', a, [1], b, [1], [3])).toThrow(/strides do not fit/);
      expect(sg.memoryStats().tensorsAlive).toBe(before);
      expect(f32Binary('add', a, [1], b, [0], [3]).toArray()).toEqual([11, 12, 13]);
    });
  });

  test('in-place bindings refuse a destination of another size or dtype', () => {
    sg.tidy(() => {
      const x = sg.tensor([1, 2, 3]);
      expect(() => f32Affine(x, 2, 0, sg.zeros([4]))).toThrow(/x and out have 3 and 4 elements/);
      expect(() => f32Axpy(sg.zeros([3], { dtype: 'int32' }), x, 1)).toThrow(/out must be float32/);
      const y = sg.tensor([1, 1, 1]);
      f32Axpy(y, x, 2);
      expect(y.toArray()).toEqual([3, 5, 7]);
    });
  });

  test('convert offers exactly the kernels there are', () => {
    sg.tidy(() => {
      expect(convert(sg.tensor([1.5]), 'int8')).toBeNull();
      expect(convert(sg.tensor([-1.5, 2.9]), 'int32')!.toArray()).toEqual([-1, 2]);
      expect(convert(sg.tensor([200, 7], [2], { dtype: 'uint8' }), 'int32')!.toArray()).toEqual([200, 7]);
    });
  });
});
