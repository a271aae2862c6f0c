// packBits (assembly/bitpack.ts) against src/reference/bitpack.ts: exact
// words, zero padding, the sign convention (0 and -0 -> +1), and errors.
import { describe, expect, test } from 'vitest';
import { packedWordsRef, packBitsRef, paddingViolationsRef, unpackBitRef } from '../../src/reference/bitpack.js';
import { expectExact, kernels, Prng, withArena } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const DIMS = [0, 1, 2, 3, 5, 7, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 257, 300];
const SPECIALS = [0, -0, 1e-40, -1e-40, Infinity, -Infinity, -1, 1];

describe('packBits', () => {
  test('matches the twin on 300 random shapes; padding bits are 0', () => {
    const rng = new Prng(11);
    for (let t = 0; t < 300; t++) {
      const M = rng.pick(DIMS.slice(0, 12));
      const K = t < DIMS.length ? DIMS[t] : rng.pick(DIMS);
      const data = rng.f32WithSpecials(M * K, -2, 2, SPECIALS, 0.1);
      const x = sg.tensor(data, [M, K]);
      const bits = sg.packBits(x);
      const words = packedWordsRef(K);
      expect(bits.shape).toEqual([M, words]);
      expect(bits.dtype).toBe('int32');
      const got = bits.dataSync() as Int32Array;
      expectExact(got, new Int32Array(packBitsRef(data, M, K).buffer), `M=${M} K=${K}`);
      expect(paddingViolationsRef(got, M, words, K)).toBe(0);
      for (let r = 0; r < M; r++) {
        for (let j = 0; j < K; j++) {
          const v = data[r * K + j];
          if (unpackBitRef(got, words, r, j) !== (v < 0 ? -1 : 1)) expect.fail(`M=${M} K=${K}: element [${r}, ${j}] = ${v} packed wrong`);
        }
      }
      x.dispose();
      bits.dispose();
    }
  });

  test('word layout: bit j % 32 of word j / 32, bit 1 = negative, 0 and -0 -> bit 0', () => {
    const row = new Float32Array(130).fill(1);
    row[0] = -1; row[5] = -0.5; row[31] = -3; row[32] = -1e-30; row[129] = -2;
    row[1] = 0; row[2] = -0;
    const x = sg.tensor(row, [1, 130]);
    const bits = sg.packBits(x);
    expect(Array.from(bits.dataSync() as Int32Array, (w) => w >>> 0)).toEqual([
      ((1 << 0) | (1 << 5) | (1 << 31)) >>> 0, 1, 0, 0, 1 << 1, 0, 0, 0,
    ]);
    x.dispose();
    bits.dispose();
  });

  test('the raw kernel writes exactly rows * words words and counts NaNs', () => {
    withArena((a) => {
      const data = new Float32Array(3 * 70).fill(-1);
      data[4] = NaN; data[69] = NaN; data[140] = NaN;
      const out = a.alloc(3 * 4 * 4);
      expect(kernels().pack_bits_f32(a.put(data), 3, 70, out, 4)).toBe(3);
    });
  });

  test('errors name the op and the argument', () => {
    const nan = sg.tensor([1, NaN, -1], [1, 3]);
    expect(() => sg.packBits(nan)).toThrow(/packBits: x contains 1 NaN value/);
    nan.dispose();
    const i = sg.tensor([1, 2], [1, 2], { dtype: 'int32' });
    expect(() => sg.packBits(i)).toThrow(/packBits: x must be float32, got int32/);
    i.dispose();
    const v = sg.tensor([1, 2, 3]);
    expect(() => sg.packBits(v)).toThrow(/packBits: x must be 2-D/);
    v.dispose();
    const d = sg.tensor([[1, 2]]);
    d.dispose();
    expect(() => sg.packBits(d)).toThrow(/packBits: x .*disposed/);
    expect(() => sg.packBits([[1]] as any)).toThrow(/packBits: x must be a Tensor/);
  });
});
