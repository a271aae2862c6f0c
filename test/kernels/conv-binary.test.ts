// Binary convolution and binary max pool on packed NHWC bits
// (assembly/conv_b1.ts) against the scalar twins (src/reference/conv_binary.ts)
// and against float64 direct convolution / max pooling of the ±1 values, with
// zero and with +1 padding: exact equality. The raw exports run on
// canary-guarded buffers with small chunk sizes.
import { describe, expect, test } from 'vitest';
import {
  binaryConv2d, binaryMaxPool2d, channelWords, convWeightWords, flattenPackedChannels, packChannels, packConvWeights,
} from '../../src/kernels/conv_binary.js';
import { windowGeometry, type Window2dOptions } from '../../src/ops/conv-geometry.js';
import { binaryConv2dRef, flattenPackedChannelsRef, im2colB1Ref, binaryMaxPool2dRef, packHwioBitsRef, type ConvGeometryRef, type ConvOutRef } from '../../src/reference/conv_binary.js';
import { convCase, convCaseGeometry, type ConvCase } from '../support/conv-cases.js';
import { errorOf } from '../support/errors.js';
import { expectExact, kernels, Prng, withArena, type Arena } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

type Case = ConvCase;
const c = convCase;

/** Shapes that break naive code: 1x1 images, kernels larger than the input, odd strides, dilation, primes, C around word edges. */
const CASES: Case[] = [
  c(1, 1, 1, 1, 1, 1, 1),
  c(1, 1, 1, 5, 3, 3, 3, { padding: 'same' }),
  c(2, 2, 3, 31, 5, 5, 4, { padding: 'same' }),
  c(2, 5, 7, 31, 5, 3, 3, { padding: 'same' }),
  c(1, 6, 6, 32, 4, 3, 3, { padding: 'same', stride: 2 }),
  c(2, 7, 5, 33, 7, 3, 2, { padding: 'same', stride: [3, 2] }),
  c(1, 9, 8, 65, 6, 3, 3, { dilation: 2 }),
  c(1, 8, 9, 100, 9, 5, 5, { padding: 'same', dilation: [2, 1], stride: [1, 3] }),
  c(0, 4, 4, 33, 3, 3, 3, { padding: 'same' }),
  c(1, 13, 11, 1, 13, 7, 7, { padding: 'same' }),
  c(3, 4, 4, 64, 10, 1, 1),
  c(1, 3, 3, 17, 5, 5, 5, { padding: [[2, 1], [0, 3]] }),
  c(1, 11, 13, 3, 4, 3, 3, { padding: 'same', stride: 3 }),
  c(2, 7, 7, 128, 33, 3, 3, { padding: 'same' }),
  c(1, 5, 5, 96, 1, 3, 3, { padding: 'same', stride: 2, dilation: 2 }),
];

/** Random floats in [-1, 1] with exact zeros (which binarize to +1). */
function data(n: number, seed: number): Float32Array {
  return new Prng(seed).f32WithSpecials(n, -1, 1, [0, -0], 0.05);
}

const pm1 = (v: number) => (v < 0 ? -1 : 1);

/** float64 direct conv of the ±1 values of x [N,H,W,C] and w [kh,kw,C,Cout], padding value padValue. */
function convF64(g: ConvGeometryRef, x: Float32Array, w: Float32Array, Cout: number, padValue: number): Float64Array {
  const out = new Float64Array(g.N * g.outH * g.outW * Cout);
  for (let n = 0; n < g.N; n++) for (let oy = 0; oy < g.outH; oy++) for (let ox = 0; ox < g.outW; ox++) {
    for (let co = 0; co < Cout; co++) {
      let s = 0;
      for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
        const iy = oy * g.strideH - g.padTop + ky * g.dilationH, ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
        const inside = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
        for (let ci = 0; ci < g.C; ci++) {
          const xv = inside ? pm1(x[((n * g.H + iy) * g.W + ix) * g.C + ci]) : padValue;
          s += xv * pm1(w[((ky * g.kw + kx) * g.C + ci) * Cout + co]);
        }
      }
      out[((n * g.outH + oy) * g.outW + ox) * Cout + co] = s;
    }
  }
  return out;
}

function inputs(k: Case, seed: number) {
  const xd = data(k.N * k.H * k.W * k.C, seed), wd = data(k.kh * k.kw * k.C * k.Cout, seed + 1);
  const x = sg.tensor(xd, [k.N, k.H, k.W, k.C]), w = sg.tensor(wd, [k.kh, k.kw, k.C, k.Cout]);
  const xb = packChannels(x), wb = packConvWeights(w);
  x.dispose();
  w.dispose();
  return { xd, wd, xb, wb, xw: new Uint32Array(xb.dataSync().buffer.slice(0)), ww: new Uint32Array(wb.dataSync().buffer.slice(0)) };
}

describe('packChannels and packConvWeights', () => {
  test('bits follow packBits: bit 1 = negative, channel c at bit c % 32 of word c / 32, tails 0', () => {
    for (const [k, seed] of CASES.map((k, i) => [k, 10 + i] as const)) {
      const { xd, wd, xb, wb, xw, ww } = inputs(k, seed);
      const cw = channelWords(k.C);
      expect(xb.shape).toEqual([k.N, k.H, k.W, cw]);
      const want = new Uint32Array(k.N * k.H * k.W * cw);
      for (let p = 0; p < k.N * k.H * k.W; p++) for (let ci = 0; ci < k.C; ci++) if (xd[p * k.C + ci] < 0) want[p * cw + (ci >> 5)] |= 1 << (ci & 31);
      expectExact(xw, want, `packChannels ${JSON.stringify(k)}`);
      const ldw = convWeightWords(k.kh, k.kw, k.C);
      expect(wb.shape).toEqual([k.Cout, ldw]);
      expect(ldw % 4).toBe(0);
      expectExact(ww, packHwioBitsRef(wd, k.kh * k.kw, k.C, k.Cout, true, ldw), `packConvWeights ${JSON.stringify(k)}`);
      xb.dispose();
      wb.dispose();
    }
  });

  test('NaN is rejected by both', () => {
    const x = sg.tensor([1, NaN, 2, 3], [1, 1, 2, 2]);
    expect(errorOf(() => packChannels(x))).toMatch(/packChannels: x contains 1 NaN value; NaN has no sign/);
    const w = sg.tensor([NaN, NaN, 1, 1], [1, 1, 2, 2]);
    expect(errorOf(() => packConvWeights(w))).toMatch(/packConvWeights: w contains 2 NaN values/);
    const m = sg.zeros([3, 4]);
    expect(errorOf(() => packChannels(m))).toMatch(/packChannels: x must be 4-D/);
    expect(errorOf(() => packConvWeights(m))).toMatch(/packConvWeights: w must be 4-D/);
    const i = sg.tensor(new Int32Array(4), [1, 1, 2, 2], { dtype: 'int32' });
    expect(errorOf(() => packChannels(i))).toMatch(/packChannels: x must be float32/);
    x.dispose();
    w.dispose();
    m.dispose();
    i.dispose();
  });
});

describe('binaryConv2d', () => {
  test('int32 equals the float64 convolution of the ±1 values exactly, for padValue 0 and 1, and the twin', () => {
    CASES.forEach((k, i) => {
      const { xd, wd, xb, wb, xw, ww } = inputs(k, 100 + i);
      const g = convCaseGeometry(k);
      for (const padValue of [0, 1] as const) {
        const y = binaryConv2d(xb, wb, { inChannels: k.C, kernelSize: [k.kh, k.kw], padValue, ...k.opts });
        expect(y.shape).toEqual([k.N, g.outH, g.outW, k.Cout]);
        expect(y.dtype).toBe('int32');
        const got = y.dataSync();
        const what = `${JSON.stringify(k)} padValue ${padValue}`;
        expectExact(got, Int32Array.from(convF64(g, xd, wd, k.Cout, padValue)), what);
        expectExact(got, binaryConv2dRef(g, xw, ww, ww.length / Math.max(k.Cout, 1), k.Cout, padValue, { kind: 'int32' }), `twin ${what}`);
        y.dispose();
      }
      xb.dispose();
      wb.dispose();
    });
  });

  test('random geometries (strides, dilations, explicit and same padding, kernels past the input) equal the float64 convolution', () => {
    const rng = new Prng(4242);
    let ran = 0;
    for (let t = 0; t < 80; t++) {
      const kh = rng.int(1, 6), kw = rng.int(1, 6);
      const dilation: [number, number] = [rng.int(1, 4), rng.int(1, 4)];
      const stride: [number, number] = [rng.int(1, 5), rng.int(1, 5)];
      const H = rng.int(1, 12), W = rng.int(1, 12);
      const padding = rng.bool() ? 'same' as const : [[rng.int(0, 6), rng.int(0, 6)], [rng.int(0, 6), rng.int(0, 6)]] as [[number, number], [number, number]];
      const opts = { stride, dilation, padding };
      const spanH = (kh - 1) * dilation[0] + 1, spanW = (kw - 1) * dilation[1] + 1;
      const g0 = windowGeometry('t', H, W, kh, kw, { ...opts, padding: 'same' });
      const [pt, pb, pl, pr] = padding === 'same' ? [g0.padTop, g0.padBottom, g0.padLeft, g0.padRight] : [padding[0][0], padding[0][1], padding[1][0], padding[1][1]];
      if (H + pt + pb < spanH || W + pl + pr < spanW) continue;
      const k = c(rng.int(1, 3), H, W, rng.pick([1, 5, 32, 33]), rng.int(1, 6), kh, kw, opts);
      const { xd, wd, xb, wb } = inputs(k, 5000 + t);
      const g = convCaseGeometry(k);
      ran++;
      for (const padValue of [0, 1] as const) {
        const y = binaryConv2d(xb, wb, { inChannels: k.C, kernelSize: [kh, kw], padValue, ...opts });
        expectExact(y.dataSync(), Int32Array.from(convF64(g, xd, wd, k.Cout, padValue)), `${JSON.stringify(k)} padValue ${padValue}`);
        y.dispose();
      }
      xb.dispose();
      wb.dispose();
    }
    expect(ran).toBeGreaterThan(50);
  });

  test('float32 output = f32(dot)·scale + bias, and packed-bits output by thresholds, equal the twin', () => {
    CASES.forEach((k, i) => {
      const { xd, wd, xb, wb, xw, ww } = inputs(k, 200 + i);
      const g = convCaseGeometry(k);
      const rng = new Prng(300 + i);
      const scale = rng.f32Array(k.Cout, -2, 2), bias = rng.f32Array(k.Cout, -5, 5);
      const K = k.kh * k.kw * k.C;
      const thr = Array.from({ length: k.Cout }, () => rng.pick([rng.float(-K, K), Math.round(rng.float(-K / 3, K / 3)), Infinity, -Infinity, 0]));
      const dir = Array.from({ length: k.Cout }, () => rng.pick([1, -1]));
      const ldw = ww.length / Math.max(k.Cout, 1);
      for (const padValue of [0, 1] as const) {
        const what = `${JSON.stringify(k)} padValue ${padValue}`;
        const opts = { inChannels: k.C, kernelSize: [k.kh, k.kw] as [number, number], padValue, ...k.opts };
        const yf = binaryConv2d(xb, wb, { ...opts, output: 'float32', scale, bias });
        expect(yf.dtype).toBe('float32');
        const outF: ConvOutRef = { kind: 'float32', scale, bias };
        expectExact(yf.dataSync(), binaryConv2dRef(g, xw, ww, ldw, k.Cout, padValue, outF), `float32 ${what}`);
        const yb = binaryConv2d(xb, wb, { ...opts, output: 'bits', threshold: thr, direction: dir });
        expect(yb.shape).toEqual([k.N, g.outH, g.outW, channelWords(k.Cout)]);
        const bits = new Uint32Array(yb.dataSync().buffer.slice(0));
        // The bits are the threshold test of the exact float64 convolution.
        const f64 = convF64(g, xd, wd, k.Cout, padValue);
        const want = new Uint32Array(bits.length);
        const cw = channelWords(k.Cout);
        f64.forEach((v, j) => {
          const co = j % k.Cout, m = (j - co) / k.Cout;
          if (dir[co] > 0 ? v < thr[co] : v > thr[co]) want[m * cw + (co >> 5)] |= 1 << (co & 31);
        });
        expectExact(bits, want, `bits ${what}`);
        expectExact(bits, binaryConv2dRef(g, xw, ww, ldw, k.Cout, padValue, { kind: 'bits', threshold: thr, direction: dir }), `bits twin ${what}`);
        yf.dispose();
        yb.dispose();
      }
      xb.dispose();
      wb.dispose();
    });
  });

  test('packed output feeds the next binary conv and max pool without repacking', () => {
    const k = c(2, 9, 9, 40, 37, 3, 3, { padding: 'same' });
    const { xd, wd, xb, wb } = inputs(k, 400);
    const g = convCaseGeometry(k);
    const thr = new Float32Array(k.Cout).map((_, i) => (i % 7) - 3.5);
    const dir = Array.from({ length: k.Cout }, (_, i) => (i % 3 ? 1 : -1));
    const h = binaryConv2d(xb, wb, { inChannels: k.C, kernelSize: 3, padding: 'same', output: 'bits', threshold: thr, direction: dir });
    // The same activations as floats: -1 where the threshold test says so.
    const f64 = convF64(g, xd, wd, k.Cout, 0);
    const hf = Float32Array.from(f64, (v, j) => ((dir[j % k.Cout] > 0 ? v < thr[j % k.Cout] : v > thr[j % k.Cout]) ? -1 : 1));
    const hx = sg.tensor(hf, [k.N, g.outH, g.outW, k.Cout]);
    const hRef = packChannels(hx);
    expectExact(h.dataSync(), hRef.dataSync(), 'packed output = packChannels of the thresholded floats');
    const k2 = c(k.N, g.outH, g.outW, k.Cout, 5, 3, 3, { padding: 'same' });
    const w2d = data(9 * k.Cout * 5, 401);
    const w2 = sg.tensor(w2d, [3, 3, k.Cout, 5]);
    const w2b = packConvWeights(w2);
    const y = binaryConv2d(h, w2b, { inChannels: k.Cout, kernelSize: 3, padding: 'same' });
    expectExact(y.dataSync(), Int32Array.from(convF64(convCaseGeometry(k2), hf, w2d, 5, 0)), 'second conv');
    const p = binaryMaxPool2d(h, { channels: k.Cout, size: 2, padding: 'same' });
    const pRef = binaryMaxPool2d(hRef, { channels: k.Cout, size: 2, padding: 'same' });
    expectExact(p.dataSync(), pRef.dataSync(), 'max pool of the packed output');
    for (const t of [xb, wb, h, hx, hRef, w2, w2b, y, p, pRef]) t.dispose();
  });

  test('errors name the function, the argument and what was expected; nothing leaks', () => {
    const x = sg.tensor(data(2 * 4 * 4 * 40, 1), [2, 4, 4, 40]);
    const w = sg.tensor(data(3 * 3 * 40 * 6, 2), [3, 3, 40, 6]);
    const xb = packChannels(x), wb = packConvWeights(w);
    const base = { inChannels: 40, kernelSize: 3 };
    expect(errorOf(() => binaryConv2d(x, wb, base))).toMatch(/binaryConv2d: xBits must be int32, got float32/);
    expect(errorOf(() => binaryConv2d(xb, wb, { kernelSize: 3 } as any))).toMatch(/binaryConv2d: options.inChannels is required/);
    expect(errorOf(() => binaryConv2d(xb, wb, { inChannels: 40 } as any))).toMatch(/binaryConv2d: options.kernelSize is required/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, inChannels: 70 }))).toMatch(/binaryConv2d: xBits must have ceil\(C\/32\) = 3 words per pixel for C = 70/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, inChannels: 33 }))).toMatch(/binaryConv2d: xBits has \d+ pixels? with 1 bits past channel 33/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, kernelSize: 2 }))).toMatch(/binaryConv2d: wBits must have convWeightWords\(2, 2, 40\) = 8 words per output channel, got shape \[6,20\]/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, padValue: 2 as any }))).toMatch(/binaryConv2d: padValue must be 0 \(zero padding\) or 1/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, padding: 'valid', dilation: 2 }))).toMatch(/binaryConv2d: the 3x3 window .* does not fit/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, stride: 0 }))).toMatch(/binaryConv2d: stride must be >= 1/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, output: 'int8' as any }))).toMatch(/binaryConv2d: output must be one of 'int32', 'float32', 'bits'/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, output: 'bits' }))).toMatch(/binaryConv2d: output 'bits' needs threshold and direction/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, output: 'bits', threshold: [1, 2], direction: 1 }))).toMatch(/binaryConv2d: threshold must have 1 value or 6/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, output: 'bits', threshold: NaN, direction: 1 }))).toMatch(/binaryConv2d: threshold\[0\] must be a number or ±Infinity/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, output: 'bits', threshold: 0, direction: 0 }))).toMatch(/binaryConv2d: direction\[0\] must be 1 or -1, got 0/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, output: 'float32', scale: 1e37 }))).toMatch(/binaryConv2d: scale\[0\] = .* overflows float32/);
    expect(errorOf(() => binaryConv2d(xb, wb, { ...base, output: 'float32', bias: [1, 2] }))).toMatch(/binaryConv2d: bias must have 1 value .* or 6/);
    // A 1 bit in a weight's channel tail (channel 40 of tap 0): the kernel would count it.
    const bad = sg.tensor(new Int32Array(wb.dataSync()).map((v, i) => (i === 1 ? v | (1 << 8) : v)), [6, 20], { dtype: 'int32' });
    expect(errorOf(() => binaryConv2d(xb, bad, base))).toMatch(/binaryConv2d: wBits has 1 output channel with 1 bits outside the 40 input channels of a tap/);
    const bad2 = sg.tensor(new Int32Array(wb.dataSync()).map((v, i) => (i === 19 ? 1 : v)), [6, 20], { dtype: 'int32' });
    expect(errorOf(() => binaryConv2d(xb, bad2, base))).toMatch(/binaryConv2d: wBits has 1 output channel with 1 bits outside/);
    const d = packChannels(x);
    d.dispose();
    expect(errorOf(() => binaryConv2d(d, wb, base))).toMatch(/binaryConv2d: xBits .*disposed/);
    for (const t of [x, w, xb, wb, bad, bad2]) t.dispose();
  });
});

describe('binaryMaxPool2d', () => {
  const POOLS: [Case, Window2dOptions & { size: number | [number, number] }][] = [
    [c(1, 1, 1, 1, 0, 2, 2), { size: 2, padding: 'same' }],
    [c(2, 5, 7, 31, 0, 2, 2), { size: 2, padding: 'same' }],
    [c(2, 6, 6, 32, 0, 2, 2), { size: 2 }],
    [c(1, 7, 5, 33, 0, 3, 3), { size: 3, stride: 2, padding: 'same' }],
    [c(3, 9, 8, 100, 0, 3, 2), { size: [3, 2], stride: [1, 3] }],
    [c(1, 8, 9, 130, 0, 2, 2), { size: 2, dilation: 2, padding: 'same' }],
    [c(0, 4, 4, 5, 0, 2, 2), { size: 2 }],
    [c(1, 3, 3, 65, 0, 3, 3), { size: 3, padding: [[1, 2], [2, 0]], stride: 1 }],
  ];

  test('equals the float max pool of the ±1 values (padded taps ignored) and the twin', () => {
    POOLS.forEach(([k, o], i) => {
      const xd = data(k.N * k.H * k.W * k.C, 500 + i);
      const x = sg.tensor(xd, [k.N, k.H, k.W, k.C]);
      const xb = packChannels(x);
      const g = convCaseGeometry(k, { stride: o.stride ?? [k.kh, k.kw], padding: o.padding, dilation: o.dilation });
      const p = binaryMaxPool2d(xb, { channels: k.C, ...o });
      expect(p.shape).toEqual([k.N, g.outH, g.outW, channelWords(k.C)]);
      const fm = new Float32Array(k.N * g.outH * g.outW * k.C);
      for (let n = 0; n < k.N; n++) for (let oy = 0; oy < g.outH; oy++) for (let ox = 0; ox < g.outW; ox++) for (let ci = 0; ci < k.C; ci++) {
        let m = -Infinity;
        for (let ky = 0; ky < k.kh; ky++) for (let kx = 0; kx < k.kw; kx++) {
          const iy = oy * g.strideH - g.padTop + ky * g.dilationH, ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
          if (iy >= 0 && iy < k.H && ix >= 0 && ix < k.W) m = Math.max(m, pm1(xd[((n * k.H + iy) * k.W + ix) * k.C + ci]));
        }
        fm[((n * g.outH + oy) * g.outW + ox) * k.C + ci] = m;
      }
      const fx = sg.tensor(fm, [k.N, g.outH, g.outW, k.C]);
      const want = packChannels(fx);
      expectExact(p.dataSync(), want.dataSync(), `max pool ${JSON.stringify(k)} ${JSON.stringify(o)}`);
      expectExact(new Uint32Array(p.dataSync().buffer.slice(0)), binaryMaxPool2dRef(g, new Uint32Array(xb.dataSync().buffer.slice(0))), `twin ${JSON.stringify(o)}`);
      for (const t of [x, xb, p, fx, want]) t.dispose();
    });
  });

  test('errors: missing options, a window entirely in the padding', () => {
    const x = sg.tensor(data(16, 1), [1, 4, 4, 1]);
    const xb = packChannels(x);
    expect(errorOf(() => binaryMaxPool2d(xb, { size: 2 } as any))).toMatch(/binaryMaxPool2d: options.channels is required/);
    expect(errorOf(() => binaryMaxPool2d(xb, { channels: 1 } as any))).toMatch(/binaryMaxPool2d: options.size is required/);
    expect(errorOf(() => binaryMaxPool2d(xb, { channels: 1, size: 2, padding: [[2, 0], [0, 0]] }))).toMatch(/binaryMaxPool2d: the window at output row 0 lies entirely in the padding/);
    expect(errorOf(() => binaryMaxPool2d(x, { channels: 1, size: 2 }))).toMatch(/binaryMaxPool2d: xBits must be int32/);
    x.dispose();
    xb.dispose();
  });
});

describe('flattenPackedChannels', () => {
  test('equals packBits of the flattened NHWC floats and the twin, for C at word edges', () => {
    const shapes: [number, number, number, number][] = [[1, 1, 1, 1], [3, 2, 3, 1], [2, 5, 3, 31], [2, 3, 3, 32], [1, 7, 7, 33], [2, 4, 3, 64], [1, 3, 5, 100], [0, 3, 3, 5], [2, 1, 1, 128], [1, 2, 2, 0]];
    shapes.forEach(([N, H, W, C], i) => {
      const xd = data(N * H * W * C, 900 + i);
      const x = sg.tensor(xd, [N, H, W, C]);
      const xb = packChannels(x);
      const flat = flattenPackedChannels(xb, { channels: C });
      const x2 = sg.tensor(xd, [N, H * W * C]);
      const want = sg.packBits(x2);
      expect(flat.shape).toEqual(want.shape);
      expectExact(flat.dataSync(), want.dataSync(), `[${N},${H},${W},${C}]`);
      const words = flat.shape[1];
      expectExact(new Uint32Array(flat.dataSync().buffer.slice(0)), flattenPackedChannelsRef(new Uint32Array(xb.dataSync().buffer.slice(0)), N, H * W, C, words), `twin [${N},${H},${W},${C}]`);
      for (const t of [x, xb, flat, x2, want]) t.dispose();
    });
  });

  test('errors', () => {
    const x = sg.tensor(data(2 * 2 * 2 * 40, 1), [2, 2, 2, 40]);
    const xb = packChannels(x);
    expect(errorOf(() => flattenPackedChannels(xb, {} as any))).toMatch(/flattenPackedChannels: options.channels is required/);
    expect(errorOf(() => flattenPackedChannels(xb, { channels: 33 }))).toMatch(/flattenPackedChannels: xBits has \d+ pixels? with 1 bits past channel 33/);
    expect(errorOf(() => flattenPackedChannels(x, { channels: 40 }))).toMatch(/flattenPackedChannels: xBits must be int32/);
    x.dispose();
    xb.dispose();
  });
});

describe('raw exports on canary-guarded buffers', () => {
  function geoI32(g: ConvGeometryRef): Int32Array {
    const b = new Int32Array(16);
    b.set([g.N, g.H, g.W, g.C, g.kh, g.kw, g.strideH, g.strideW, g.dilationH, g.dilationW, g.padTop, g.padLeft, g.outH, g.outW, Math.ceil(g.C / 32)]);
    return b;
  }

  test('im2col_b1 equals the twin on every chunk split, with ldo past the taps', () => {
    CASES.forEach((k, i) => {
      const g = convCaseGeometry(k);
      const cw = Math.ceil(k.C / 32);
      const rng = new Prng(600 + i);
      const x = new Uint32Array(k.N * k.H * k.W * cw).map(() => (rng.next() * 2 ** 32) >>> 0);
      const M = k.N * g.outH * g.outW;
      for (const ldo of [k.kh * k.kw * cw, convWeightWords(k.kh, k.kw, k.C) + 4]) {
        for (const [r0, r1] of [[0, M], [Math.floor(M / 3), M - Math.floor(M / 4)], [M - 1, M]]) {
          if (r0 < 0 || r1 < r0) continue;
          withArena((a) => {
            const out = a.alloc(Math.max((r1 - r0) * ldo * 4, 4));
            kernels().im2col_b1(a.put(geoI32(g)), a.put(x), r0, r1, out, ldo);
            a.checkGuards();
            expectExact(a.read(Uint32Array, out, (r1 - r0) * ldo), im2colB1Ref(g, x, r0, r1, ldo), `${JSON.stringify(k)} rows ${r0}..${r1} ldo ${ldo}`);
          });
        }
      }
    });
  });

  /** A pad block with one class per output row and column (so every pixel is corrected; interior entries are 0). */
  function padBlockPerPixel(a: Arena, g: ConvGeometryRef, geo: number, w: number, ldw: number, Cout: number): number {
    const rowTaps = new Int32Array(g.outH * g.kh), colTaps = new Int32Array(g.outW * g.kw);
    for (let oy = 0; oy < g.outH; oy++) for (let ky = 0; ky < g.kh; ky++) { const iy = oy * g.strideH - g.padTop + ky * g.dilationH; rowTaps[oy * g.kh + ky] = iy >= 0 && iy < g.H ? 1 : 0; }
    for (let ox = 0; ox < g.outW; ox++) for (let kx = 0; kx < g.kw; kx++) { const ix = ox * g.strideW - g.padLeft + kx * g.dilationW; colTaps[ox * g.kw + kx] = ix >= 0 && ix < g.W ? 1 : 0; }
    const head = new Int32Array(g.outH + g.outW + 4);
    for (let oy = 0; oy < g.outH; oy++) head[oy] = oy;
    for (let ox = 0; ox < g.outW; ox++) head[g.outH + ox] = ox;
    head.set([g.outH, g.outW, -1, -1], g.outH + g.outW);
    const block = a.alloc((head.length + g.outH * g.outW * Cout) * 4);
    a.write(block, head);
    kernels().conv_b1_pad_table(geo, w, ldw, Cout, a.put(rowTaps), g.outH, a.put(colTaps), g.outW, block + head.length * 4);
    return block;
  }

  test('conv_b1 in chunks of 1, 2, 3 and 7 rows writes only its output and equals the twin in every mode, both paddings', () => {
    CASES.forEach((k, i) => {
      const { xb, wb, xw, ww } = inputs(k, 700 + i);
      xb.dispose();
      wb.dispose();
      const g = convCaseGeometry(k);
      const M = k.N * g.outH * g.outW;
      const ldw = convWeightWords(k.kh, k.kw, k.C);
      const rng = new Prng(800 + i);
      const scale = rng.f32Array(k.Cout, -1, 1), bias = rng.f32Array(k.Cout, -3, 3);
      const thr = Int32Array.from({ length: k.Cout }, () => rng.int(-9, 10)), dir = Int32Array.from({ length: k.Cout }, () => rng.pick([1, -1]));
      const modes: [number, ConvOutRef, number][] = [
        [0, { kind: 'int32' }, k.Cout], [1, { kind: 'float32', scale, bias }, k.Cout], [2, { kind: 'bits', threshold: thr, direction: dir }, Math.ceil(k.Cout / 32)],
      ];
      for (const chunk of [1, 2, 3, 7]) {
        for (const [mode, o, width] of modes) {
          for (const padValue of [0, 1] as const) {
            withArena((a) => {
              const out = a.alloc(Math.max(M * width * 4, 4));
              const work = a.alloc(kernels().conv_b1_workspace_bytes(chunk, ldw, k.Cout));
              const geo = a.put(geoI32(g)), w = a.put(ww);
              const pad = padValue === 0 ? padBlockPerPixel(a, g, geo, w, ldw, k.Cout) : 0;
              kernels().conv_b1(mode, geo, a.put(xw), w, ldw, k.Cout, out, pad, a.f32(scale), a.f32(bias), a.put(thr), a.put(dir), work, chunk, 0, M);
              a.checkGuards();
              const got = mode === 0 ? a.readI32(out, M * width) : mode === 1 ? a.readF32(out, M * width) : a.read(Uint32Array, out, M * width);
              expectExact(got, binaryConv2dRef(g, xw, ww, ldw, k.Cout, padValue, o), `${JSON.stringify(k)} mode ${mode} chunk ${chunk} padValue ${padValue}`);
            });
          }
        }
      }
    });
  });
  test('maxpool_b1 and flatten_bits_nhwc write only their outputs', () => {
    CASES.forEach((k, i) => {
      const g = convCaseGeometry(k, { ...k.opts, padding: 'same' });
      const cw = Math.ceil(k.C / 32);
      const rng = new Prng(1000 + i);
      const tail = k.C % 32 === 0 ? 0xffffffff : 2 ** (k.C % 32) - 1;
      const x = new Uint32Array(k.N * k.H * k.W * cw).map((_, j) => ((rng.next() * 2 ** 32) >>> 0) & (j % cw === cw - 1 ? tail : 0xffffffff));
      const M = k.N * g.outH * g.outW;
      withArena((a) => {
        const out = a.alloc(Math.max(M * cw * 4, 4));
        kernels().maxpool_b1(a.put(geoI32(g)), a.put(x), out, 0, k.N * g.outH);
        a.checkGuards();
        expectExact(a.read(Uint32Array, out, M * cw), binaryMaxPool2dRef(g, x), `maxpool_b1 ${JSON.stringify(k)}`);
      });
      const P = k.H * k.W, words = Math.ceil((P * k.C) / 128) * 4;
      withArena((a) => {
        const out = a.alloc(Math.max(k.N * words * 4, 4));
        kernels().flatten_bits_nhwc(a.put(x), k.N, P, k.C, out, words);
        a.checkGuards();
        expectExact(a.read(Uint32Array, out, k.N * words), flattenPackedChannelsRef(x, k.N, P, k.C, words), `flatten_bits_nhwc ${JSON.stringify(k)}`);
      });
    });
  });
});
