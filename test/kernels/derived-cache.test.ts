// Derived-data caches (packed weights, codebook norms) live with a tensor's
// storage, which reshaped views share. A view of another shape must not read
// data derived for the first one: each case fills the cache through one shape,
// then calls again through a reshape and compares with the scalar twin.
import { describe, expect, test } from 'vitest';
import { int8MatmulRef } from '../../src/reference/gemm_s8.js';
import { binaryWeightsMatmulRef } from '../../src/reference/gemm_b1.js';
import { uint8BinaryMatmulRef } from '../../src/reference/gemm_u8b1.js';
import { vqNearestRef } from '../../src/reference/vq.js';
import { expectExact } from '../support/kernel-harness.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

describe('reshape after a cached call', () => {
  test('int8Matmul: B [6, 4] then B.reshape([4, 6]) (the issue 9 case)', () => {
    sg.tidy(() => {
      const bData = Int8Array.from({ length: 24 }, (_, i) => i % 7 - 3);
      const B = sg.tensor(bData, [6, 4], { dtype: 'int8' });
      const a1 = sg.tensor(Int8Array.from([1, 2, 3, 4, 5, 6]), [1, 6], { dtype: 'int8' });
      const a2 = sg.tensor(Int8Array.from([1, -2, 3, 4]), [1, 4], { dtype: 'int8' });
      expectExact(sg.int8Matmul(a1, B).dataSync(), int8MatmulRef(a1.dataSync(), bData, 1, 4, 6, false), 'B [6, 4]');
      expectExact(sg.int8Matmul(a2, B.reshape([4, 6])).dataSync(), int8MatmulRef(a2.dataSync(), bData, 1, 6, 4, false), 'B as [4, 6]');
      // Same storage and shape, the other layout: transposeB is part of the key too.
      expectExact(sg.int8Matmul(a1, B.reshape([4, 6]), { transposeB: true }).dataSync(),
        int8MatmulRef(a1.dataSync(), bData, 1, 4, 6, true), 'B as [4, 6] transposed');
    });
  });

  test('int8Matmul: the literal values from the issue', () => {
    sg.tidy(() => {
      const B = sg.tensor(Int8Array.from({ length: 24 }, (_, i) => i), [6, 4], { dtype: 'int8' });
      sg.int8Matmul(sg.tensor(Int8Array.from([1, 0, 0, 0, 0, 0]), [1, 6], { dtype: 'int8' }), B);
      const got = sg.int8Matmul(sg.tensor(Int8Array.from([0, 0, 1, 1]), [1, 4], { dtype: 'int8' }), B.reshape([4, 6]));
      expect(got.toArray()).toEqual([[30, 32, 34, 36, 38, 40]]);
    });
  });

  test('vqNearest (float32 codebook norms): codebook [6, 4] then reshape([4, 6])', () => {
    sg.tidy(() => {
      const c = seededArray(24, 11);
      const codebook = sg.tensor(c, [6, 4]);
      const z4 = seededArray(7 * 4, 13);
      const z6 = seededArray(5 * 6, 12);
      expectExact(sg.vqNearest(sg.tensor(z4, [7, 4]), codebook).dataSync(), vqNearestRef(z4, 7, c, 6, 4), 'codebook [6, 4]');
      expectExact(sg.vqNearest(sg.tensor(z6, [5, 6]), codebook.reshape([4, 6])).dataSync(), vqNearestRef(z6, 5, c, 4, 6), 'codebook as [4, 6]');
    });
  });

  test('vqNearest: a reshape where stale norms would pick the wrong code', () => {
    sg.tidy(() => {
      // As [4, 1] the codes are 0, 0, 10, 0 (norms 0, 0, 100, 0); as [2, 2] they are
      // (0, 0) and (10, 0) (norms 0, 100). z = (1, 1) is nearest to code 0; with
      // the [4, 1] norms code 1 would score 0 - 2·10 and win.
      const c = Float32Array.from([0, 0, 10, 0]);
      const codebook = sg.tensor(c, [4, 1]);
      sg.vqNearest(sg.tensor([[1]]), codebook);
      const z = Float32Array.from([1, 1]);
      const got = sg.vqNearest(sg.tensor(z, [1, 2]), codebook.reshape([2, 2]));
      expect(Array.from(got.dataSync())).toEqual(Array.from(vqNearestRef(z, 1, c, 2, 2)));
      expect(got.toArray()).toEqual([0]);
    });
  });

  // The binary caches already named K, which with the storage size fixes the shape, so this
  // case guards the new keying rather than reproducing an old wrong answer.
  test('binary weights (gemm_b1w panels, gemm_u8b1 patterns): wBits [2, 8] then reshape([4, 4])', () => {
    sg.tidy(() => {
      const w = seededArray(2 * 200, 21);
      const wBits = sg.packBits(sg.tensor(w, [2, 200]));
      const bits = wBits.dataSync();
      const x1 = seededArray(3 * 200, 22);
      const x2 = seededArray(3 * 128, 23);
      const ones = new Float32Array(8).fill(1);
      const zeros = new Float32Array(8);
      expectExact(sg.binaryWeightsMatmul(sg.tensor(x1, [3, 200]), wBits).dataSync(),
        binaryWeightsMatmulRef(x1, 3, 200, bits, 2, 8, ones, zeros), 'wBits [2, 8]');
      // Row r of the [4, 4] view is half a row of the [2, 8] one; K = 128 keeps its padding bits 0.
      expectExact(sg.binaryWeightsMatmul(sg.tensor(x2, [3, 128]), wBits.reshape([4, 4])).dataSync(),
        binaryWeightsMatmulRef(x2, 3, 128, bits, 4, 4, ones, zeros), 'wBits as [4, 4]');
      const u1 = Uint8Array.from({ length: 3 * 200 }, (_, i) => (i * 37) % 256);
      const u2 = Uint8Array.from({ length: 3 * 128 }, (_, i) => (i * 91) % 256);
      expectExact(sg.uint8BinaryMatmul(sg.tensor(u1, [3, 200], { dtype: 'uint8' }), wBits).dataSync(),
        uint8BinaryMatmulRef(u1, 3, 200, bits, 2, 8), 'uint8 x wBits [2, 8]');
      expectExact(sg.uint8BinaryMatmul(sg.tensor(u2, [3, 128], { dtype: 'uint8' }), wBits.reshape([4, 4])).dataSync(),
        uint8BinaryMatmulRef(u2, 3, 128, bits, 4, 4), 'uint8 x wBits as [4, 4]');
    });
  });
});
