// int8 / uint8 quantization (assembly/quant_s8.ts) against
// src/reference/quant_s8.ts: exact, per tensor and per channel, symmetric
// [-127, 127], asymmetric [-128, 127] and uint8 [0, 255]; round half to even.
import { describe, expect, test } from 'vitest';
import { absmaxRowsRef, dequantizeRef, quantizeRef, roundHalfEven, symmetricScaleRef } from '../../src/reference/quant_s8.js';
import { expectExact, Prng } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const DIMS = [0, 1, 2, 3, 5, 7, 15, 16, 17, 31, 33, 64, 65, 127, 129, 257];
const SPECIALS = [0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 1e-40, 1e30, -1e30, Infinity, -Infinity];

type Mode = 'symmetric' | 'asymmetric' | 'uint8';
const RANGE: Record<Mode, [number, number]> = { symmetric: [-127, 127], asymmetric: [-128, 127], uint8: [0, 255] };

describe('roundHalfEven (twin helper)', () => {
  test('ties go to the even neighbour', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, -3.5, 0.49999997, 2.4, -2.6].map(roundHalfEven))
      .toEqual([0, 2, 2, -0, -2, -2, 4, -4, 0, 2, -3]);
  });
});

describe('quantizeInt8 / dequantizeInt8', () => {
  test('equal the twin on 300 random shapes, every mode, per tensor and per channel', () => {
    const rng = new Prng(71);
    for (let t = 0; t < 300; t++) {
      const rows = rng.pick(DIMS), cols = rng.pick(DIMS);
      const mode: Mode = (['symmetric', 'asymmetric', 'uint8'] as const)[t % 3];
      const perChannel = rng.bool() && rows > 0;
      const [qmin, qmax] = RANGE[mode];
      const C = perChannel ? rows : 1;
      const scales = rng.f32Array(C, 0.002, 0.05);
      const zps = new Float32Array(C).map(() => (mode === 'symmetric' ? 0 : rng.int(qmin, qmax + 1)));
      const data = rng.f32WithSpecials(rows * cols, -3, 3, SPECIALS, 0.1);
      const x = sg.tensor(data, [rows, cols]);
      const opts = {
        scale: perChannel ? scales : scales[0],
        zeroPoint: mode === 'symmetric' ? undefined : perChannel ? Array.from(zps) : zps[0],
        dtype: mode === 'uint8' ? ('uint8' as const) : ('int8' as const),
      };
      const q = sg.quantizeInt8(x, opts);
      expect(q.dtype).toBe(opts.dtype);
      expect(q.shape).toEqual([rows, cols]);
      const want = quantizeRef(data, perChannel ? rows : 1, perChannel ? cols : rows * cols, scales, zps, perChannel, qmin, qmax);
      const got = q.dataSync();
      expectExact(Array.from(got), Array.from(want), `quantize ${mode} perChannel=${perChannel} [${rows}, ${cols}]`);
      const back = sg.dequantizeInt8(q, { scale: opts.scale, zeroPoint: opts.zeroPoint });
      expectExact(back.dataSync(), dequantizeRef(got, perChannel ? rows : 1, perChannel ? cols : rows * cols, scales, zps, perChannel),
        `dequantize ${mode} perChannel=${perChannel} [${rows}, ${cols}]`);
      for (const v of [x, q, back]) v.dispose();
    }
  });

  test('ties round half to even; saturation follows the mode', () => {
    const x = sg.tensor([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 200, -200, Infinity, -Infinity, -0]);
    const sym = sg.quantizeInt8(x, { scale: 1 });
    expect(Array.from(sym.dataSync())).toEqual([0, 2, 2, 0, -2, -2, 4, 127, -127, 127, -127, 0]);
    const asym = sg.quantizeInt8(x, { scale: 1, zeroPoint: 0 });
    expect(Array.from(asym.dataSync())).toEqual([0, 2, 2, 0, -2, -2, 4, 127, -128, 127, -128, 0]);
    const u = sg.quantizeInt8(x, { scale: 1, zeroPoint: 3, dtype: 'uint8' });
    expect(Array.from(u.dataSync())).toEqual([3, 5, 5, 3, 1, 1, 7, 203, 0, 255, 0, 3]);
    for (const v of [x, sym, asym, u]) v.dispose();
  });

  test('per channel means per row of a [C, K] weight', () => {
    const w = sg.tensor([[1, -2, 4], [10, 20, -40]]);
    const q = sg.quantizeInt8(w, { scale: [1, 10] });
    expect(q.toArray()).toEqual([[1, -2, 4], [1, 2, -4]]);
    const back = sg.dequantizeInt8(q, { scale: [1, 10] });
    expect(back.toArray()).toEqual([[1, -2, 4], [10, 20, -40]]);
    for (const v of [w, q, back]) v.dispose();
  });

  test('errors name the op and argument', () => {
    const x = sg.tensor([[1, 2], [3, 4]]);
    const n = sg.tensor([1, NaN]);
    expect(() => sg.quantizeInt8(n, { scale: 1 })).toThrow(/quantizeInt8: x contains 1 NaN value/);
    expect(() => sg.quantizeInt8(x, { scale: 0 })).toThrow(/quantizeInt8: scale\[0\] must be > 0, got 0/);
    expect(() => sg.quantizeInt8(x, { scale: NaN })).toThrow(/quantizeInt8: scale\[0\] must be a finite number/);
    expect(() => sg.quantizeInt8(x, { scale: [1, 2, 3] })).toThrow(/quantizeInt8: scale must have 1 value \(per tensor\) or 2 \(one per channel\), got 3/);
    expect(() => sg.quantizeInt8(x, { scale: 1, zeroPoint: 0.5 })).toThrow(/quantizeInt8: zeroPoint\[0\] must be an integer in \[-128, 127\], got 0.5/);
    expect(() => sg.quantizeInt8(x, { scale: 1, zeroPoint: 300, dtype: 'uint8' })).toThrow(/zeroPoint\[0\] must be an integer in \[0, 255\]/);
    expect(() => sg.quantizeInt8(x, { scale: 1, dtype: 'int16' as any })).toThrow(/quantizeInt8: dtype must be 'int8' or 'uint8'/);
    expect(() => sg.quantizeInt8(x, undefined as any)).toThrow(/quantizeInt8: options must be an object/);
    const i = sg.tensor([1, 2], [2], { dtype: 'int32' });
    expect(() => sg.quantizeInt8(i, { scale: 1 })).toThrow(/quantizeInt8: x must be float32, got int32/);
    expect(() => sg.dequantizeInt8(i, { scale: 1 })).toThrow(/dequantizeInt8: q must be int8 or uint8, got int32/);
    const d = sg.tensor([1]);
    d.dispose();
    expect(() => sg.quantizeInt8(d, { scale: 1 })).toThrow(/quantizeInt8: x .*disposed/);
    for (const v of [x, n, i]) v.dispose();
  });
});

describe('int8Scales', () => {
  test('max|x| / 127 per tensor and per channel, 1 for all-zero channels', () => {
    const rng = new Prng(81);
    for (let t = 0; t < 100; t++) {
      const rows = rng.pick(DIMS), cols = rng.pick(DIMS);
      const data = rng.f32WithSpecials(rows * cols, -5, 5, [0, -0], 0.3);
      const x = sg.tensor(data, [rows, cols]);
      const per = sg.int8Scales(x, { perChannel: true });
      expect(per.shape).toEqual([rows]);
      expectExact(per.dataSync(), Float32Array.from(absmaxRowsRef(data, rows, cols), symmetricScaleRef), `perChannel [${rows}, ${cols}]`);
      const one = sg.int8Scales(x);
      expect(one.shape).toEqual([]);
      expect(one.item()).toBe(symmetricScaleRef(absmaxRowsRef(data, 1, rows * cols)[0]));
      for (const v of [x, per, one]) v.dispose();
    }
    const z = sg.zeros([2, 3]);
    const s = sg.int8Scales(z, { perChannel: true });
    expect(Array.from(s.dataSync())).toEqual([1, 1]);
    for (const v of [z, s]) v.dispose();
  });

  test('round trip: quantize with int8Scales keeps max|x| at ±127', () => {
    const x = sg.tensor([[0.1, -0.5, 0.25], [3, 1, -2]]);
    const s = sg.int8Scales(x, { perChannel: true });
    const q = sg.quantizeInt8(x, { scale: s });
    expect(q.toArray()).toEqual([[25, -127, 64], [127, 42, -85]]);
    for (const v of [x, s, q]) v.dispose();
  });
});
