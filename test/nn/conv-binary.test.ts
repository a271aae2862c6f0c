// nn.BinaryConv2d: forward equal to the float conv of the ±1 values (each
// padValue, exact), gradients equal to the declared surrogates, options,
// errors, and summary's MAC counts.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { rt } from '../../src/runtime/context.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';
import { convGradRef, convRef, pm1, refGeometry } from './conv-ref.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn } = sg;

type Padding = 'same' | 'valid' | [[number, number], [number, number]];

interface Case {
  x: [number, number, number, number];
  out: number;
  k: number | [number, number];
  stride?: number;
  dilation?: number;
  padding?: Padding;
  groups?: number;
}

// Shapes that break naive code: 1x1 images, kernels larger than the input with padding, odd strides,
// primes, channel counts that are not multiples of 4 or 32 (and one past 128), dilation, groups, depthwise.
const CASES: Case[] = [
  { x: [2, 5, 7, 3], out: 4, k: 3, padding: 'same' },
  { x: [1, 1, 1, 5], out: 3, k: 3, padding: 'same' },
  { x: [3, 2, 3, 2], out: 5, k: [5, 4], padding: [[2, 2], [1, 2]] },
  { x: [2, 9, 8, 33], out: 7, k: 3, stride: 2, padding: 'same' },
  { x: [1, 11, 13, 130], out: 2, k: 3, stride: 3, padding: 'valid' },
  { x: [2, 7, 7, 6], out: 9, k: 3, dilation: 2, padding: 'same', groups: 3 },
  { x: [1, 6, 5, 4], out: 4, k: 3, padding: [[0, 1], [2, 0]], groups: 4 },
];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function layerFor(c: Case, options: Record<string, unknown>): InstanceType<typeof nn.BinaryConv2d> {
  return new nn.BinaryConv2d(c.x[3], c.out, c.k, { stride: c.stride, dilation: c.dilation, padding: c.padding, groups: c.groups, seed: 7, ...options });
}

function geometryOf(c: Case, layer: InstanceType<typeof nn.BinaryConv2d>) {
  return refGeometry(c.x, layer.weight.shape, { stride: c.stride, dilation: c.dilation, padding: c.padding });
}

describe('BinaryConv2d forward', () => {
  for (const padValue of [0, 1] as const) {
    test(`binary inputs, padValue ${padValue}: equals the float conv of the ±1 values exactly`, () => {
      for (const [i, c] of CASES.entries()) {
        const layer = layerFor(c, { padValue });
        sg.tidy(() => {
          const xv = seededArray(size(c.x), 10 + i, -2, 2);
          // exact zeros binarize to +1
          xv[0] = 0;
          const x = sg.tensor(xv, c.x);
          const y = layer.forward(x);
          const g = geometryOf(c, layer);
          expect(y.shape).toEqual([c.x[0], g.outH, g.outW, c.out]);
          const want = convRef(g, Array.from(xv, pm1), Array.from(layer.weight.dataSync(), pm1), padValue);
          expect(Array.from(y.dataSync())).toEqual(Array.from(want));
        });
        layer.dispose();
      }
    });
  }

  test('padValue 0 and 1 differ exactly by the padded taps\' weight sums; without padding they agree', () => {
    const c = CASES[0];
    const zero = layerFor(c, { padValue: 0 });
    const one = layerFor(c, { padValue: 1 });
    const valid = layerFor({ ...c, padding: 'valid' }, { padValue: 0 });
    const validOne = layerFor({ ...c, padding: 'valid' }, { padValue: 1 });
    sg.tidy(() => {
      const x = sg.tensor(seededArray(size(c.x), 3), c.x);
      const d = sg.sub(one.forward(x), zero.forward(x)).dataSync();
      const g = geometryOf(c, zero);
      // the difference is the conv of an all-zero input with one-padding
      const want = convRef(g, new Array(size(c.x)).fill(0), Array.from(zero.weight.dataSync(), pm1), 1);
      expect(Array.from(d)).toEqual(Array.from(want));
      expect(d.some((v) => v !== 0)).toBe(true);
      expect(validOne.forward(x).toArray()).toEqual(valid.forward(x).toArray());
    });
    for (const l of [zero, one, valid, validOne]) l.dispose();
  });

  test('float inputs (BinaryConnect), uint8 inputs (raw pixels, uint8 or float32 tensors), XNOR scale and bias', () => {
    const c = CASES[3];
    const float = layerFor(c, { binarizeInputs: false, scale: true, bias: true });
    const pixels = layerFor(c, { binarizeInputs: false, uint8Inputs: true });
    sg.tidy(() => {
      // integer inputs: float sums are exact, so the product must equal the float64 reference exactly
      const xv = Float32Array.from(seededArray(size(c.x), 5, 0, 256), Math.floor);
      sg.noGrad(() => sg.tidy(() => {
        // a non-zero bias, as after training
        new Float32Array(rt().memory.buffer, float.bias!.offset, c.out).set(seededArray(c.out, 6));
      }));
      const g = geometryOf(c, float);
      const dots = convRef(g, xv, Array.from(float.weight.dataSync(), pm1), 0);
      const scale = float.channelScales().dataSync();
      const bias = float.bias!.dataSync();
      const want = Array.from(dots, (d, i) => Math.fround(Math.fround(d * scale[i % c.out]) + bias[i % c.out]));
      expect(Array.from(float.forward(sg.tensor(xv, c.x)).dataSync())).toEqual(want);
      // scale = mean |W_c| over the kernel and input channels
      const w = float.weight.dataSync();
      const perChannel = size(float.weight.shape) / c.out;
      for (let o = 0; o < c.out; o++) {
        let s = 0;
        for (let j = 0; j < perChannel; j++) s += Math.abs(w[j * c.out + o]);
        expect(scale[o]).toBeCloseTo(s / perChannel, 6);
      }
      const plain = convRef(g, xv, Array.from(pixels.weight.dataSync(), pm1), 0);
      expect(Array.from(pixels.forward(sg.tensor(xv, c.x)).dataSync())).toEqual(Array.from(plain));
      expect(Array.from(pixels.forward(sg.tensor(Uint8Array.from(xv), c.x, { dtype: 'uint8' })).dataSync())).toEqual(Array.from(plain));
    });
    float.dispose();
    pixels.dispose();
  });
});

describe('BinaryConv2d gradients', () => {
  // Surrogate derivative of binarize at v (dy multiplier), as declared in ste/sign.ts.
  const surrogate: Record<string, (v: number) => number> = {
    identity: () => 1,
    clipped: (v) => (Math.abs(v) <= 1 ? 1 : 0),
    approx: (v) => (Math.abs(v) <= 1 ? 2 - 2 * Math.abs(v) : 0),
  };

  for (const [inputGrad, weightGrad, padValue] of [['clipped', 'clipped', 0], ['identity', 'approx', 1], ['approx', 'identity', 0]] as const) {
    test(`input grad '${inputGrad}', weight grad '${weightGrad}', padValue ${padValue}: the conv gradients of the ±1 values times the surrogates`, () => {
      for (const [i, c] of [CASES[0], CASES[2], CASES[3], CASES[5]].entries()) {
        const layer = layerFor(c, { inputGrad, weightGrad, padValue, scale: i === 1 });
        // latent weights beyond ±1 (as before clipping) exercise the clipped surrogates' zero region
        const wv = seededArray(size(layer.weight.shape), 30 + i, -1.5, 1.5);
        new Float32Array(rt().memory.buffer, layer.weight.offset, wv.length).set(wv);
        sg.markModified(layer.weight);
        sg.tidy(() => {
          const xv = seededArray(size(c.x), 20 + i, -2, 2);
          const x = sg.tensor(xv, c.x, { requiresGrad: true });
          const y = layer.forward(x);
          const dyv = seededArray(y.size, 40 + i);
          sg.sum(sg.mul(y, sg.tensor(dyv, y.shape))).backward();
          const g = geometryOf(c, layer);
          const scale = i === 1 ? layer.channelScales().dataSync() : null;
          // the XNOR scale is a constant (stopGradient): it multiplies dy
          const dyRef = scale ? Array.from(dyv, (d, j) => d * scale[j % c.out]) : dyv;
          const { dx, dw } = convGradRef(g, Array.from(xv, pm1), Array.from(wv, pm1), dyRef, padValue);
          const gx = x.grad!.dataSync();
          const gw = layer.weight.grad!.dataSync();
          dx.forEach((v, j) => expect(gx[j]).toBeCloseTo(v * surrogate[inputGrad](xv[j]), 4));
          dw.forEach((v, j) => expect(gw[j]).toBeCloseTo(v * surrogate[weightGrad](wv[j]), 4));
          // the clipped region is really exercised
          if (inputGrad === 'clipped') expect(xv.some((v, j) => Math.abs(v) > 1 && dx[j] !== 0 && gx[j] === 0)).toBe(true);
        });
        layer.dispose();
      }
    });
  }

  test('a training step moves the latent weights and clips them to ±clip', () => {
    const layer = new nn.BinaryConv2d(3, 4, 3, { padding: 'same', clip: 0.05, seed: 1 });
    const opt = new sg.optim.SGD(layer.parameters(), { lr: 10 });
    sg.tidy(() => {
      const x = sg.tensor(seededArray(2 * 6 * 6 * 3, 4), [2, 6, 6, 3]);
      const before = layer.weight.dataSync().slice();
      sg.sum(sg.mul(layer.forward(x), sg.tensor(seededArray(2 * 6 * 6 * 4, 5), [2, 6, 6, 4]))).backward();
      opt.step();
      const after = layer.weight.dataSync();
      expect(after.some((v, i) => v !== before[i])).toBe(true);
      expect(Math.max(...Array.from(after, Math.abs))).toBeLessThanOrEqual(Math.fround(0.05));
    });
    opt.dispose();
    layer.dispose();
  });
});

describe('BinaryConv2d errors', () => {
  test('bad constructor arguments name the layer and the option', () => {
    expect(() => new nn.BinaryConv2d(3, 4, 3, { padValue: 2 as 0 })).toThrow(/BinaryConv2d: padValue must be 0 \(zero padding\) or 1 \(one-padding\), got 2/);
    expect(() => new nn.BinaryConv2d(3, 4, 3, { padValue: 1, binarizeInputs: false })).toThrow(/BinaryConv2d: padValue 1 .* needs binarizeInputs: true/);
    expect(() => new nn.BinaryConv2d(3, 4, 3, { uint8Inputs: true })).toThrow(/BinaryConv2d: uint8Inputs needs binarizeInputs: false/);
    expect(() => new nn.BinaryConv2d(6, 4, 3, { groups: 4 })).toThrow(/BinaryConv2d: groups \(4\) must divide inChannels \(6\) and outChannels \(4\)/);
    expect(() => new nn.BinaryConv2d(3, 4, 0)).toThrow(/BinaryConv2d: kernelSize must be/);
    expect(() => new nn.BinaryConv2d(3, 4, undefined as unknown as number)).toThrow(/BinaryConv2d: kernelSize is required/);
    expect(() => new nn.BinaryConv2d(0, 4, 3)).toThrow(/BinaryConv2d: inChannels/);
    expect(() => new nn.BinaryConv2d(3, 4, 3, { padding: 'full' as 'same' })).toThrow(/BinaryConv2d: padding must be 'same', 'valid'/);
    expect(() => new nn.BinaryConv2d(3, 4, 3, { stride: 0 })).toThrow(/BinaryConv2d: stride/);
    expect(() => new nn.BinaryConv2d(3, 4, 3, { inputGrad: 'tanh' as 'clipped' })).toThrow(/BinaryConv2d.*inputGrad/);
    expect(() => new nn.BinaryConv2d(3, 4, 3, { clip: -1 })).toThrow(/BinaryConv2d.*clip/);
  });

  test('bad inputs are refused before anything is computed, with the fix', () => {
    const layer = new nn.BinaryConv2d(3, 4, 3, { seed: 2 });
    const pixels = new nn.BinaryConv2d(1, 2, 3, { binarizeInputs: false, uint8Inputs: true, seed: 3 });
    const alive = sg.memoryStats().tensorsAlive;
    sg.tidy(() => {
      expect(() => layer.forward(sg.zeros([2, 27]))).toThrow(/BinaryConv2d: x must be NHWC \[batch, h, w, 3\], got \[2,27\]; reshape flat rows/);
      expect(() => layer.forward(sg.zeros([5, 5, 3]))).toThrow(/BinaryConv2d: x must be NHWC .*a single image needs a batch axis/);
      expect(() => layer.forward(sg.zeros([1, 5, 5, 4]))).toThrow(/BinaryConv2d: x must be NHWC \[batch, h, w, 3\], got \[1,5,5,4\]/);
      expect(() => layer.forward(sg.zeros([1, 2, 5, 3]))).toThrow(/BinaryConv2d: the 3x3 window .* does not fit the padded input 2x5/);
      expect(() => layer.forward(sg.zeros([1, 5, 5, 3], { dtype: 'int32' } as never))).toThrow(/BinaryConv2d: x must be float32/);
      expect(() => layer.forward(sg.tensor(new Uint8Array(75), [1, 5, 5, 3], { dtype: 'uint8' }))).toThrow(/BinaryConv2d: x must be float32/);
      expect(() => layer.forward(sg.full([1, 5, 5, 3], NaN))).toThrow(/BinaryConv2d: x .*NaN/);
      for (const bad of [0.5, 256, -1, NaN]) {
        const x = sg.full([1, 4, 4, 1], 3);
        new Float32Array(rt().memory.buffer, x.offset + 20, 1)[0] = bad;
        expect(() => pixels.forward(x)).toThrow(/BinaryConv2d: x must hold integers in \[0, 255\] \(e\.g\. raw pixels\) because the layer has uint8Inputs; 1 value is not/);
      }
    });
    expect(sg.memoryStats().tensorsAlive).toBe(alive);
    layer.dispose();
    pixels.dispose();
    const x = sg.zeros([1, 3, 3, 3]);
    expect(() => layer.forward(x)).toThrow(/BinaryConv2d.*disposed/);
    x.dispose();
  });
});

describe('BinaryConv2d in summary()', () => {
  test('MACs per sample are exact: binary, binary-weight, and the float ops around them', () => {
    const model = new nn.Sequential(
      new nn.BinaryConv2d(1, 8, 3, { binarizeInputs: false, padding: 'same', seed: 1 }),
      new nn.BinaryConv2d(8, 16, [3, 5], { stride: 2, seed: 2 }),
      new nn.BinaryConv2d(16, 16, 3, { groups: 4, padding: 'same', padValue: 1, seed: 3 }),
    );
    const example = sg.zeros([3, 28, 28, 1]);
    const s = sg.summary(model, { example });
    // layers[0]: 28x28 outputs (same), 8 channels, 3·3·1 taps
    expect(s.layers[0].macs).toEqual({ binary: 0, binaryWeights: 28 * 28 * 8 * 9, int8: 0, float: 0 });
    // layer 2: valid, stride 2: floor((28-3)/2)+1 = 13 rows, floor((28-5)/2)+1 = 12 columns; 3·5·8 products each
    expect(s.layers[1].macs).toEqual({ binary: 13 * 12 * 16 * 15 * 8, binaryWeights: 0, int8: 0, float: 0 });
    // layer 3: groups of 4 input channels
    expect(s.layers[2].macs).toEqual({ binary: 13 * 12 * 16 * 9 * 4, binaryWeights: 0, int8: 0, float: 0 });
    expect(s.macs.binary).toBe(13 * 12 * 16 * 15 * 8 + 13 * 12 * 16 * 9 * 4);
    // the summary's packed bytes are the frozen model's weight bytes
    const frozen = sg.freeze(model, { example });
    expect(frozen.sizeBytes).toBe(s.packedBytes);
    frozen.dispose();
    // 1-bit weights, stored as the frozen kernel stores them: per output channel, one 32-bit word of 8 channels per tap,
    // 15 taps padded to 16 words; the grouped layer as 128-bit padded rows of 3·3·4 bits
    expect(s.layers[1].paramsByBits).toEqual({ 1: 3 * 5 * 8 * 16 });
    expect(s.layers[1].packedBytes).toBe(16 * 16 * 4);
    expect(s.layers[2].packedBytes).toBe(16 * 16);
    expect(s.layers[0].packedBytes).toBe(8 * 16);
    example.dispose();
    model.dispose();
  });
});

describe('BinaryConv2d state', () => {
  test('stateDict round trip gives the same outputs; the weight is HWIO', () => {
    const a = new nn.BinaryConv2d(5, 6, [2, 3], { bias: true, scale: true, seed: 4 });
    const b = new nn.BinaryConv2d(5, 6, [2, 3], { bias: true, scale: true, seed: 5 });
    expect(a.weight.shape).toEqual([2, 3, 5, 6]);
    expect(a.bias!.shape).toEqual([6]);
    b.loadStateDict(a.stateDict());
    sg.tidy(() => {
      const x: Tensor = sg.randn([2, 4, 4, 5], { seed: 1 });
      expect(b.forward(x).toArray()).toEqual(a.forward(x).toArray());
    });
    a.dispose();
    b.dispose();
  });
});
