// EntropyBottleneck against float64 references: the rate of each rounding
// mode, its gradients (finite differences), and rANS coding that returns the
// quantized latents exactly at a cost within a fraction of a percent of the
// model's estimate.
import { describe, expect, test } from 'vitest';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();

const logistic = (v: number) => 1 / (1 + Math.exp(-v));
/** -log2 of the logistic(loc, s) mass of [v - 1/2, v + 1/2], in float64 (no tail tricks: moderate values only). */
const refBits = (v: number, loc: number, s: number) => -Math.log2(logistic((v + 0.5 - loc) / s) - logistic((v - 0.5 - loc) / s));

function setParams(eb: InstanceType<typeof sg.nn.EntropyBottleneck>, loc: number[], logScale: number[]): void {
  const state = { loc: sg.tensor(loc), logScale: sg.tensor(logScale) };
  eb.loadStateDict(state);
  state.loc.dispose();
  state.logScale.dispose();
}

describe('EntropyBottleneck', () => {
  test('eval: yHat = round(y), bits = -sum log2 of the logistic mass per channel', () => {
    const eb = own(new sg.nn.EntropyBottleneck(3));
    setParams(eb, [0.3, -1, 2], [0, 0.7, -0.5]);
    eb.eval();
    const values = [0.2, -1.6, 2.49, 3.7, 0.51, -4.2];
    const y = own(sg.tensor(values, [2, 3]));
    const { yHat, bits } = eb.quantize(y);
    own(yHat);
    own(bits);
    expect([...yHat.dataSync()]).toEqual([0, -2, 2, 4, 1, -4]);
    const locs = [0.3, -1, 2];
    const scales = [0, 0.7, -0.5].map((v) => Math.fround(Math.exp(v)));
    const want = [0, -2, 2, 4, 1, -4].reduce((b, v, i) => b + refBits(v, locs[i % 3], scales[i % 3]), 0);
    expect(bits.item()).toBeCloseTo(want, 3);
    expect(eb.estimateBits(y)).toBeCloseTo(want, 6);
  });

  test("training modes: 'ste' rounds, 'noise' adds U(-1/2, 1/2) from the default generator, 'mixed' rounds for the decoder", () => {
    const y = own(sg.tensor(seededArray(40, 3, -3, 3), [10, 4]));
    const ste = own(new sg.nn.EntropyBottleneck(4, { rounding: 'ste' }));
    const r = ste.quantize(y);
    own(r.bits);
    expect([...own(r.yHat).dataSync()]).toEqual([...own(sg.round(y)).dataSync()]);
    for (const rounding of ['noise', 'mixed'] as const) {
      const eb = own(new sg.nn.EntropyBottleneck(4, { rounding }));
      sg.seed(11);
      const { yHat, bits } = eb.quantize(y);
      own(yHat);
      own(bits);
      sg.seed(11);
      const noise = own(sg.rand([10, 4], { low: -0.5, high: 0.5 })).dataSync();
      const ys = y.dataSync();
      const noisy = Array.from(ys, (v, i) => Math.fround(v + noise[i]));
      const want = noisy.reduce((b, v) => b + refBits(v, 0, 1), 0);
      expect(bits.item()).toBeCloseTo(want, 2);
      const expectHat = rounding === 'noise' ? noisy : Array.from(ys, (v) => Math.round(v) - (Math.abs(v % 1) === 0.5 && Math.round(v) % 2 !== 0 ? 1 : 0));
      expect([...yHat.dataSync()]).toEqual(expectHat);
    }
  });

  test('gradients of the rate match float64 finite differences (y, loc, logScale) with the noise fixed by the seed', () => {
    const eb = own(new sg.nn.EntropyBottleneck(3, { rounding: 'noise' }));
    setParams(eb, [0.4, -0.8, 1.5], [0.2, -0.4, 0.9]);
    const [loc, logScale] = eb.parameters();
    const y = own(sg.tensor(seededArray(12, 5, -2.5, 2.5), [4, 3], { requiresGrad: true }));
    const res = sg.gradcheck((yy) => {
      sg.seed(9);
      const { yHat, bits } = eb.quantize(yy);
      yHat.dispose();
      return bits;
    }, [y, loc, logScale], { eps: 1e-2, rtol: 2e-2, atol: 2e-3 });
    expect(res.ok, JSON.stringify(res)).toBe(true);
  });

  test('the STE rate passes the gradient of -log2 p(round(y)) straight to y', () => {
    const eb = own(new sg.nn.EntropyBottleneck(2, { rounding: 'ste' }));
    setParams(eb, [0.25, -0.5], [0, 0.5]);
    const y = own(sg.tensor([0.3, 1.2, -2.4, 0.6], [2, 2], { requiresGrad: true }));
    const { yHat, bits } = eb.quantize(y);
    own(yHat);
    own(bits);
    sg.backward(bits);
    const g = y.grad!.dataSync();
    // d/dv of -log2(sigmoid(u) - sigmoid(l)) at the rounded v, float64
    const locs = [0.25, -0.5];
    const scales = [1, Math.fround(Math.exp(0.5))];
    [0, 1, -2, 1].forEach((v, i) => {
      const h = 1e-6;
      const d = (refBits(v + h, locs[i % 2], scales[i % 2]) - refBits(v - h, locs[i % 2], scales[i % 2])) / (2 * h);
      expect(g[i]).toBeCloseTo(d, 3);
    });
  });

  test('compress/decompress give round(y) back exactly and cost within 0.5% of estimateBits, escapes included', () => {
    const eb = own(new sg.nn.EntropyBottleneck(8));
    setParams(eb, [0, 0.5, -3, 10, 0, 0, 1.5, -0.25], [0, 1, -1, 2, 3, -2, 0.5, 0]);
    eb.eval();
    const n = 4000;
    const data = new Float32Array(n * 8);
    const u = seededArray(n * 8, 17, 1e-6, 1 - 1e-6);
    const locs = [0, 0.5, -3, 10, 0, 0, 1.5, -0.25];
    const scales = [0, 1, -1, 2, 3, -2, 0.5, 0].map(Math.exp);
    for (let i = 0; i < data.length; i++) data[i] = locs[i % 8] + scales[i % 8] * Math.log(u[i] / (1 - u[i])); // logistic samples
    data[5] = 1e6; // far outside channel 5's table: an escape
    data[13] = -70000.4;
    const y = own(sg.tensor(data, [n, 8]));
    const stream = eb.compress(y);
    const back = own(eb.decompress(stream, [n, 8]));
    // Compared as numbers: round() keeps the sign of a negative zero, the decoder writes 0.
    expect(Array.from(back.dataSync(), (v) => v + 0)).toEqual(Array.from(own(sg.round(y)).dataSync(), (v) => v + 0));
    const estimate = eb.estimateBits(y);
    const actual = stream.length * 8;
    expect(Math.abs(actual - estimate) / estimate).toBeLessThan(0.005);
  });

  test('bad input names the method and argument, and a corrupt stream throws', () => {
    const eb = own(new sg.nn.EntropyBottleneck(4));
    expect(() => new sg.nn.EntropyBottleneck(0)).toThrow(/EntropyBottleneck: channels/);
    expect(() => new sg.nn.EntropyBottleneck(2, { rounding: 'dither' as never })).toThrow(/EntropyBottleneck: rounding must be one of/);
    expect(() => eb.quantize(own(sg.zeros([2, 3])))).toThrow(/EntropyBottleneck.quantize: y must have shape \[\.\.\., 4\]/);
    expect(() => eb.compress(own(sg.tensor([Infinity, 0, 0, 0], [1, 4])))).toThrow(/EntropyBottleneck.compress: y\[0\] rounds to Infinity/);
    expect(() => eb.decompress(new Uint8Array(8), [1, 3])).toThrow(/EntropyBottleneck.decompress: shape must be \[\.\.\., 4\]/);
    const stream = eb.compress(own(sg.tensor([0, 1, 2, 3, 4, 5, 6, 7], [2, 4])));
    expect(() => eb.decompress(stream, [3, 4])).toThrow(/EntropyBottleneck.decompress: stream does not hold 12 latents of shape \[3,4\] coded by this model \(RansDecoder/);
  });
});
