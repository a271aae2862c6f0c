// nn.QuantConv2d: k-bit fake-quantized weights (per output channel or per
// tensor) and activations (running max|x| observer), straight-through
// gradients, the conv window, options, errors and MACs.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { rt } from '../../src/runtime/context.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';
import { convGradRef, convRef, refGeometry } from './conv-ref.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn } = sg;
const f = Math.fround;

function write(t: Tensor, data: ArrayLike<number>): void {
  new Float32Array(rt().memory.buffer, t.offset, t.size).set(data);
  sg.markModified(t);
}

/** Round half to even. */
function rhe(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Fake-quantized HWIO weights [.., out]: per output channel (last axis) or per tensor, as QuantLinear's reference. */
function quantWeightRef(w: Float32Array, out: number, bits: number, perChannel: boolean): { wq: Float32Array; s: Float32Array } {
  const qmax = 2 ** (bits - 1) - 1;
  const s = new Float32Array(perChannel ? out : 1);
  for (let c = 0; c < s.length; c++) {
    let m = 0;
    for (let j = 0; j < w.length; j++) if (!perChannel || j % out === c) m = Math.max(m, Math.abs(w[j]));
    s[c] = f(f(m / qmax) + f(1e-12));
  }
  const wq = Float32Array.from(w, (v, j) => {
    const sc = s[perChannel ? j % out : 0];
    return f(Math.min(qmax, Math.max(-qmax, rhe(f(v / sc)))) * sc);
  });
  return { wq, s };
}

function quantActRef(x: ArrayLike<number>, s: number, bits: number): Float32Array {
  const s32 = f(s);
  return Float32Array.from(x, (v) => f(Math.min(2 ** (bits - 1) - 1, Math.max(-(2 ** (bits - 1)), rhe(f(v / s32)))) * s32));
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

describe('QuantConv2d', () => {
  const cases = [
    { x: [2, 6, 7, 3], out: 5, k: 3, padding: 'same' as const, stride: 1, groups: 1 },
    { x: [1, 9, 8, 4], out: 6, k: 3, padding: [[1, 0], [2, 2]] as [[number, number], [number, number]], stride: 2, groups: 2 },
    { x: [3, 1, 1, 5], out: 2, k: 3, padding: 'same' as const, stride: 1, groups: 1 },
  ];

  for (const bits of [2, 4, 8]) {
    for (const perChannel of [true, false]) {
      test(`${bits}-bit weights, perChannel ${perChannel}, 8-bit activations: forward = conv of the fake-quantized values; straight-through gradients`, () => {
        for (const [i, c] of cases.entries()) {
          const layer = new nn.QuantConv2d(c.x[3], c.out, c.k, { padding: c.padding, stride: c.stride, groups: c.groups, weightBits: bits, perChannel, seed: 3 + i });
          sg.tidy(() => {
            const w = seededArray(size(layer.weight.shape), 20 + bits + i, -0.4, 0.4);
            // one output channel with a larger range separates per-channel from per-tensor scales
            for (let j = 1; j < w.length; j += c.out) w[j] *= 5;
            write(layer.weight, w);
            const ref = quantWeightRef(w, c.out, bits, perChannel);
            expect(Array.from(layer.quantizedWeight().dataSync())).toEqual(Array.from(ref.wq));
            expect(layer.computeWeightScale().shape).toEqual(perChannel ? [c.out] : [1]);
            const xv = seededArray(size(c.x), 30 + i, -2, 2);
            const x = sg.tensor(xv, c.x, { requiresGrad: true });
            // training mode: the observer takes max|x| on the first batch, so no input is clipped
            const y = layer.forward(x);
            const range = Math.max(...Array.from(xv, Math.abs));
            expect(layer.stateDict().inputRange.item()).toBe(f(range));
            const xq = quantActRef(xv, range / 127, 8);
            const g = refGeometry(c.x, layer.weight.shape, { stride: c.stride, padding: c.padding });
            const want = convRef(g, xq, ref.wq);
            const b = layer.bias!.dataSync();
            const got = y.dataSync();
            expect(y.shape).toEqual([c.x[0], g.outH, g.outW, c.out]);
            want.forEach((v, j) => expect(got[j]).toBeCloseTo(v + b[j % c.out], 4));
            const dyv = seededArray(y.size, 40 + i);
            sg.sum(sg.mul(y, sg.tensor(dyv, y.shape))).backward();
            const { dx, dw } = convGradRef(g, xq, ref.wq, dyv);
            const gx = x.grad!.dataSync();
            const gw = layer.weight.grad!.dataSync();
            dx.forEach((v, j) => expect(gx[j]).toBeCloseTo(v, 4));
            dw.forEach((v, j) => expect(gw[j]).toBeCloseTo(v, 4));
            const gb = layer.bias!.grad!.dataSync();
            for (let o = 0; o < c.out; o++) expect(gb[o]).toBeCloseTo(dyv.filter((_, j) => j % c.out === o).reduce((s, v) => s + v, 0), 4);
          });
          layer.dispose();
        }
      });
    }
  }

  test('float activations (activationBits: null), learned scales, eval mode stops observing', () => {
    const layer = new nn.QuantConv2d(2, 3, 2, { activationBits: null, weightBits: 3, learnScale: true, bias: false, seed: 9 });
    expect(layer.bias).toBeNull();
    expect(layer.inputScale()).toBeNull();
    sg.tidy(() => {
      const xv = seededArray(2 * 4 * 4 * 2, 10, -3, 3);
      const x = sg.tensor(xv, [2, 4, 4, 2]);
      const g = refGeometry([2, 4, 4, 2], [2, 2, 2, 3], {});
      const wq = layer.quantizedWeight().dataSync();
      const want = convRef(g, xv, wq);
      layer.forward(x).dataSync().forEach((v, j) => expect(v).toBeCloseTo(want[j], 4));
      // the learned scale is a parameter that receives a gradient
      sg.sum(layer.forward(x)).backward();
      const scale = layer.parameters().find((p) => p.shape.length === 1 && p.shape[0] === 3)!;
      expect(scale.grad!.dataSync().some((v) => v !== 0)).toBe(true);
    });
    const q = new nn.QuantConv2d(1, 1, 1, { activationBits: 4 });
    sg.tidy(() => {
      q.forward(sg.tensor([0.5, -1, 0.25, 2], [1, 2, 2, 1]));
      expect(q.stateDict().inputRange.item()).toBe(2);
      q.eval();
      q.forward(sg.tensor([0.5, -1, 0.25, 8], [1, 2, 2, 1]));
      expect(q.stateDict().inputRange.item()).toBe(2);
      expect(q.inputScale()).toBeCloseTo(2 / 7, 6);
    });
    q.dispose();
    layer.dispose();
  });

  test('errors name the layer and the argument; summary counts int8 or float MACs', () => {
    expect(() => new nn.QuantConv2d(3, 2, 3, { weightBits: 1 })).toThrow(/QuantConv2d.*weightBits/);
    expect(() => new nn.QuantConv2d(3, 2, 3, { activationBits: 9 })).toThrow(/QuantConv2d.*activationBits/);
    expect(() => new nn.QuantConv2d(3, 2, 3, { observerMomentum: 2 })).toThrow(/QuantConv2d.*observerMomentum/);
    expect(() => new nn.QuantConv2d(4, 6, 3, { groups: 4 })).toThrow(/QuantConv2d: groups \(4\) must divide inChannels \(4\) and outChannels \(6\)/);
    const layer = new nn.QuantConv2d(3, 4, 3, { seed: 1 });
    sg.tidy(() => {
      expect(() => layer.forward(sg.zeros([2, 27]))).toThrow(/QuantConv2d: x must be NHWC \[batch, h, w, 3\], got \[2,27\]/);
      expect(() => layer.forward(sg.full([1, 4, 4, 3], NaN))).toThrow(/QuantConv2d: x \(in training, it updates the activation range\).*NaN/);
      expect(() => layer.forward(sg.full([1, 4, 4, 3], Infinity))).toThrow(/QuantConv2d: x \(in training, it updates the activation range\) must be finite/);
    });
    expect(layer.stateDict().inputRange.item()).toBe(0);
    const model = new nn.Sequential(layer, new nn.QuantConv2d(4, 2, 1, { activationBits: null, seed: 2 }));
    const example = sg.zeros([2, 10, 10, 3]);
    const s = sg.summary(model, { example });
    expect(s.layers[0].macs).toEqual({ binary: 0, binaryWeights: 0, int8: 8 * 8 * 4 * 27, float: 0 });
    expect(s.layers[1].macs).toEqual({ binary: 0, binaryWeights: 0, int8: 0, float: 8 * 8 * 2 * 4 });
    // the bias ships as float32; the observer's running range does not ship
    expect(s.layers[0].paramsByBits).toEqual({ 8: 3 * 3 * 3 * 4, 32: 4 });
    example.dispose();
    model.dispose();
  });
});
