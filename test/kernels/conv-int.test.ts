// uint8-pixel x ±1 and int8 x int8 convolutions (assembly/conv_int.ts) against
// float64 direct convolution and the scalar twins (src/reference/conv_binary.ts):
// exact equality. Raw im2col and drivers run on canary-guarded buffers with
// small chunk sizes.
import { describe, expect, test } from 'vitest';
import { channelWords, int8Conv2d, packConvWeightsU8, uint8Conv2d } from '../../src/kernels/conv_binary.js';
import { int8Conv2dRef, uint8Conv2dRef, im2colS8Ref, im2colU8Ref, packHwioBitsRef, type ConvGeometryRef } from '../../src/reference/conv_binary.js';
import { convCase, convCaseGeometry, type ConvCase } from '../support/conv-cases.js';
import { errorOf } from '../support/errors.js';
import { expectExact, kernels, Prng, withArena } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

type Case = ConvCase;
const c = convCase;

const CASES: Case[] = [
  c(1, 1, 1, 1, 1, 1, 1),
  c(1, 1, 1, 3, 5, 3, 3, { padding: 'same' }),
  c(2, 5, 7, 1, 17, 3, 3, { padding: 'same' }),
  c(1, 28, 28, 1, 32, 3, 3, { padding: 'same' }),
  c(2, 7, 5, 3, 7, 3, 2, { padding: 'same', stride: [3, 2] }),
  c(1, 9, 8, 31, 6, 3, 3, { dilation: 2 }),
  c(1, 8, 9, 33, 9, 5, 5, { padding: 'same', dilation: [2, 1], stride: [1, 3] }),
  c(0, 4, 4, 3, 3, 3, 3, { padding: 'same' }),
  c(3, 4, 4, 65, 10, 1, 1),
  c(1, 3, 3, 5, 33, 5, 5, { padding: [[2, 1], [0, 3]] }),
  c(1, 6, 5, 100, 4, 2, 2, { padding: 'same', stride: 2 }),
];

/** float64 direct conv, x [N,H,W,C] and w [kh,kw,C,Cout] as given, padded taps = pad. */
function convF64(g: ConvGeometryRef, x: ArrayLike<number>, w: ArrayLike<number>, Cout: number, pad: number): Float64Array {
  const out = new Float64Array(g.N * g.outH * g.outW * Cout);
  for (let n = 0; n < g.N; n++) for (let oy = 0; oy < g.outH; oy++) for (let ox = 0; ox < g.outW; ox++) {
    for (let co = 0; co < Cout; co++) {
      let s = 0;
      for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
        const iy = oy * g.strideH - g.padTop + ky * g.dilationH, ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
        const inside = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
        for (let ci = 0; ci < g.C; ci++) s += (inside ? x[((n * g.H + iy) * g.W + ix) * g.C + ci] : pad) * w[((ky * g.kw + kx) * g.C + ci) * Cout + co];
      }
      out[((n * g.outH + oy) * g.outW + ox) * Cout + co] = s;
    }
  }
  return out;
}

function geoI32(g: ConvGeometryRef): Int32Array {
  const b = new Int32Array(16);
  b.set([g.N, g.H, g.W, g.C, g.kh, g.kw, g.strideH, g.strideW, g.dilationH, g.dilationW, g.padTop, g.padLeft, g.outH, g.outW, g.C]);
  return b;
}

describe('uint8Conv2d (uint8 pixels x ±1 weights)', () => {
  test('equals the float64 convolution with zero padding and the twin, for every output', () => {
    CASES.forEach((k, i) => {
      const rng = new Prng(40 + i);
      const g = convCaseGeometry(k);
      const xd = Uint8Array.from({ length: k.N * k.H * k.W * k.C }, () => rng.pick([0, 255, rng.int(0, 256)]));
      const wd = rng.f32WithSpecials(k.kh * k.kw * k.C * k.Cout, -1, 1, [0], 0.05);
      const x = sg.tensor(xd, [k.N, k.H, k.W, k.C], { dtype: 'uint8' });
      const w = sg.tensor(wd, [k.kh, k.kw, k.C, k.Cout]);
      const wb = packConvWeightsU8(w);
      const K = k.kh * k.kw * k.C;
      const ldw = Math.ceil(K / 128) * 4;
      expect(wb.shape).toEqual([k.Cout, ldw]);
      const ww = new Uint32Array(wb.dataSync().buffer.slice(0));
      expectExact(ww, packHwioBitsRef(wd, k.kh * k.kw, k.C, k.Cout, false, ldw), `packConvWeightsU8 ${JSON.stringify(k)}`);
      const f64 = convF64(g, xd, Float32Array.from(wd, (v) => (v < 0 ? -1 : 1)), k.Cout, 0);
      const what = JSON.stringify(k);
      const y = uint8Conv2d(x, wb, { kernelSize: [k.kh, k.kw], ...k.opts });
      expect(y.shape).toEqual([k.N, g.outH, g.outW, k.Cout]);
      expectExact(y.dataSync(), Int32Array.from(f64), `int32 ${what}`);
      expectExact(y.dataSync(), uint8Conv2dRef(g, xd, ww, ldw, k.Cout, { kind: 'int32' }), `twin ${what}`);
      const scale = rng.f32Array(k.Cout, -0.1, 0.1), bias = rng.f32Array(k.Cout, -5, 5);
      const yf = uint8Conv2d(x, wb, { kernelSize: [k.kh, k.kw], ...k.opts, output: 'float32', scale, bias });
      expectExact(yf.dataSync(), uint8Conv2dRef(g, xd, ww, ldw, k.Cout, { kind: 'float32', scale, bias }), `float32 ${what}`);
      const thr = Array.from({ length: k.Cout }, () => rng.float(-300 * K, 300 * K) / 3);
      const dir = Array.from({ length: k.Cout }, () => rng.pick([1, -1]));
      const yb = uint8Conv2d(x, wb, { kernelSize: [k.kh, k.kw], ...k.opts, output: 'bits', threshold: thr, direction: dir });
      expect(yb.shape).toEqual([k.N, g.outH, g.outW, channelWords(k.Cout)]);
      const want = new Uint32Array(yb.size);
      const cw = channelWords(k.Cout);
      f64.forEach((v, j) => {
        const co = j % k.Cout, m = (j - co) / k.Cout;
        if (dir[co] > 0 ? v < thr[co] : v > thr[co]) want[m * cw + (co >> 5)] |= 1 << (co & 31);
      });
      expectExact(new Uint32Array(yb.dataSync().buffer.slice(0)), want, `bits ${what}`);
      for (const t of [x, w, wb, y, yf, yb]) t.dispose();
    });
  });

  test('raw im2col_u8 and conv_u8b1 in small chunks write only their outputs', () => {
    CASES.forEach((k, i) => {
      const rng = new Prng(60 + i);
      const g = convCaseGeometry(k);
      const M = k.N * g.outH * g.outW, K = k.kh * k.kw * k.C, ldw = Math.ceil(K / 128) * 4;
      const xd = Uint8Array.from({ length: k.N * k.H * k.W * k.C }, () => rng.int(0, 256));
      const wbits = new Uint32Array(k.Cout * ldw);
      for (let co = 0; co < k.Cout; co++) for (let j = 0; j < K; j++) if (rng.bool()) wbits[co * ldw + (j >> 5)] |= 1 << (j & 31);
      withArena((a) => {
        const r0 = Math.floor(M / 3), r1 = M;
        const out = a.alloc(Math.max((r1 - r0) * K, 1));
        kernels().im2col_u8(a.put(geoI32(g)), a.put(xd), r0, r1, out);
        a.checkGuards();
        expectExact(a.read(Uint8Array, out, (r1 - r0) * K), im2colU8Ref(g, xd, r0, r1), `im2col_u8 ${JSON.stringify(k)}`);
      });
      for (const chunk of [1, 2, 5]) {
        withArena((a) => {
          const pw = a.put(wbits);
          const patterns = a.alloc(kernels().gemm_u8b1_packed_w_bytes(k.Cout, K));
          kernels().gemm_u8b1_pack_w(pw, k.Cout, ldw, K, patterns);
          const out = a.alloc(Math.max(M * k.Cout * 4, 4));
          const work = a.alloc(kernels().conv_u8b1_workspace_bytes(K, chunk, k.Cout));
          kernels().conv_u8b1(0, a.put(geoI32(g)), a.put(xd), patterns, k.Cout, out, 0, 0, 0, 0, work, chunk, 0, M);
          a.checkGuards();
          expectExact(a.readI32(out, M * k.Cout), uint8Conv2dRef(g, xd, wbits, ldw, k.Cout, { kind: 'int32' }), `conv_u8b1 ${JSON.stringify(k)} chunk ${chunk}`);
        });
      }
    });
  });

  test('errors', () => {
    const x = sg.tensor(new Uint8Array(2 * 4 * 4 * 3), [2, 4, 4, 3], { dtype: 'uint8' });
    const w = sg.tensor(new Float32Array(3 * 3 * 3 * 5).fill(1), [3, 3, 3, 5]);
    const wb = packConvWeightsU8(w);
    const xf = sg.zeros([2, 4, 4, 3]);
    expect(errorOf(() => uint8Conv2d(xf, wb, { kernelSize: 3 }))).toMatch(/uint8Conv2d: x must be uint8, got float32/);
    expect(errorOf(() => uint8Conv2d(x, wb, {} as any))).toMatch(/uint8Conv2d: options.kernelSize is required/);
    expect(errorOf(() => uint8Conv2d(x, wb, { kernelSize: 7, padding: 'same' }))).toMatch(/uint8Conv2d: wBits must have ceil\(kh·kw·C\/128\)\*4 = 8 words per output channel for K = 147/);
    const bad = sg.tensor(new Int32Array(5 * 4).fill(-1), [5, 4], { dtype: 'int32' });
    expect(errorOf(() => uint8Conv2d(x, bad, { kernelSize: 3 }))).toMatch(/uint8Conv2d: wBits has 5 rows with 1 bits past K = 27/);
    expect(errorOf(() => uint8Conv2d(x, wb, { kernelSize: 3, output: 'bits', threshold: 1 }))).toMatch(/uint8Conv2d: output 'bits' needs threshold and direction/);
    for (const t of [x, w, wb, xf, bad]) t.dispose();
  });
});

describe('int8Conv2d', () => {
  test('int32 equals the float64 convolution with the zero point in the padding; float32 and int8 equal the twin', () => {
    CASES.forEach((k, i) => {
      const rng = new Prng(80 + i);
      const g = convCaseGeometry(k);
      const xd = Int8Array.from({ length: k.N * k.H * k.W * k.C }, () => rng.pick([-128, 127, rng.int(-128, 128)]));
      const wd = Int8Array.from({ length: k.kh * k.kw * k.C * k.Cout }, () => rng.pick([-127, 127, rng.int(-127, 128)]));
      const zp = rng.pick([0, -128, 127, rng.int(-128, 128)]);
      const x = sg.tensor(xd, [k.N, k.H, k.W, k.C], { dtype: 'int8' });
      const w = sg.tensor(wd, [k.kh, k.kw, k.C, k.Cout], { dtype: 'int8' });
      const what = `${JSON.stringify(k)} zp ${zp}`;
      const y = int8Conv2d(x, w, { zeroPoint: zp, ...k.opts });
      expect(y.shape).toEqual([k.N, g.outH, g.outW, k.Cout]);
      expectExact(y.dataSync(), Int32Array.from(convF64(g, xd, wd, k.Cout, zp)), `int32 ${what}`);
      expectExact(y.dataSync(), int8Conv2dRef(g, xd, zp, wd, k.Cout, 'int32'), `twin ${what}`);
      const scaleA = Math.fround(0.02), scaleB = rng.f32Array(k.Cout, 0.001, 0.01), bias = rng.f32Array(k.Cout, -1, 1);
      const mult = Float32Array.from(scaleB, (s) => Math.fround(scaleA * s));
      const yf = int8Conv2d(x, w, { zeroPoint: zp, ...k.opts, output: 'float32', scaleA, scaleB, bias });
      expectExact(yf.dataSync(), int8Conv2dRef(g, xd, zp, wd, k.Cout, 'float32', mult, bias), `float32 ${what}`);
      const scaleOut = Math.fround(0.05);
      const yq = int8Conv2d(x, w, { zeroPoint: zp, ...k.opts, output: 'int8', scaleA, scaleB, bias, scaleOut });
      expect(yq.dtype).toBe('int8');
      const multQ = Float32Array.from(mult, (m) => Math.fround(m / scaleOut)), addQ = Float32Array.from(bias, (b) => Math.fround(b / scaleOut));
      expectExact(yq.dataSync(), int8Conv2dRef(g, xd, zp, wd, k.Cout, 'int8', multQ, addQ), `int8 ${what}`);
      for (const t of [x, w, y, yf, yq]) t.dispose();
    });
  });

  test('raw im2col_s8 and conv_s8 in small chunks write only their outputs', () => {
    CASES.forEach((k, i) => {
      const rng = new Prng(90 + i);
      const g = convCaseGeometry(k);
      const M = k.N * g.outH * g.outW, K = k.kh * k.kw * k.C;
      const xd = Int8Array.from({ length: k.N * k.H * k.W * k.C }, () => rng.int(-128, 128));
      const wd = Int8Array.from({ length: K * k.Cout }, () => rng.int(-127, 128));
      const zp = rng.int(-128, 128);
      withArena((a) => {
        const out = a.alloc(Math.max(M * K, 1));
        kernels().im2col_s8(a.put(geoI32(g)), a.put(xd), zp, 0, M, out);
        a.checkGuards();
        expectExact(a.read(Int8Array, out, M * K), im2colS8Ref(g, xd, zp, 0, M), `im2col_s8 ${JSON.stringify(k)}`);
      });
      for (const chunk of [1, 3, 4]) {
        withArena((a) => {
          const packed = a.alloc(kernels().gemm_s8_packed_b_bytes(k.Cout, K));
          kernels().gemm_s8_pack_b(a.put(wd), k.Cout, k.Cout, K, 0, packed);
          const out = a.alloc(Math.max(M * k.Cout * 4, 4));
          const work = a.alloc(kernels().conv_s8_workspace_bytes(K, chunk));
          kernels().conv_s8(0, a.put(geoI32(g)), a.put(xd), zp, packed, k.Cout, out, 0, 0, work, chunk, 0, M);
          a.checkGuards();
          expectExact(a.readI32(out, M * k.Cout), int8Conv2dRef(g, xd, zp, wd, k.Cout, 'int32'), `conv_s8 ${JSON.stringify(k)} chunk ${chunk}`);
        });
      }
    });
  });

  test('errors', () => {
    const x = sg.tensor(new Int8Array(2 * 4 * 4 * 3), [2, 4, 4, 3], { dtype: 'int8' });
    const w = sg.tensor(new Int8Array(3 * 3 * 3 * 5), [3, 3, 3, 5], { dtype: 'int8' });
    const w4 = sg.tensor(new Int8Array(3 * 3 * 4 * 5), [3, 3, 4, 5], { dtype: 'int8' });
    expect(errorOf(() => int8Conv2d(x, w4))).toMatch(/int8Conv2d: w must be \[kh, kw, 3, Cout\] for an input of 3 channels, got shape \[3,3,4,5\]/);
    expect(errorOf(() => int8Conv2d(x, w, { zeroPoint: 128 }))).toMatch(/int8Conv2d: zeroPoint must be <= 127/);
    expect(errorOf(() => int8Conv2d(x, w, { output: 'float32' }))).toMatch(/int8Conv2d: scaleB is required/);
    expect(errorOf(() => int8Conv2d(x, w, { output: 'int8', scaleA: 1, scaleB: 1 }))).toMatch(/int8Conv2d: scaleOut is required/);
    expect(errorOf(() => int8Conv2d(x, w, { output: 'uint8' as any }))).toMatch(/int8Conv2d: output must be one of 'int32', 'float32', 'int8'/);
    expect(errorOf(() => int8Conv2d(x, w, { padding: 'valid', stride: 1, dilation: 3 }))).toMatch(/int8Conv2d: the 3x3 window .* does not fit/);
    for (const t of [x, w, w4]) t.dispose();
  });
});
