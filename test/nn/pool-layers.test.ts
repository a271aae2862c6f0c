import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { errorOf } from '../support/errors.js';
import { Prng } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';
import { expectTrainingMemoryFlat } from '../support/memory.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn } = sg;

function images(shape: [number, number, number, number], seed: number, lo = -2, hi = 2): Tensor {
  return sg.tensor(new Prng(seed).f32Array(shape.reduce((a, b) => a * b, 1), lo, hi), shape);
}

describe('pooling layers', () => {
  test('compute their ops bit for bit; stride defaults to the window size', () => {
    sg.tidy(() => {
      const x = images([2, 7, 6, 5], 1);
      const max = new nn.MaxPool2d(3, { stride: [2, 1], padding: 'same' });
      expect(max.forward(x).dataSync()).toEqual(sg.maxPool2d(x, { size: 3, stride: [2, 1], padding: 'same' }).dataSync());
      const avg = new nn.AvgPool2d([2, 3], { padding: [[1, 0], [2, 1]] });
      expect(avg.stride).toEqual([2, 3]);
      const y = avg.forward(x);
      expect(y.shape).toEqual([2, 4, 3, 5]);
      expect(y.dataSync()).toEqual(sg.avgPool2d(x, { size: [2, 3], padding: [[1, 0], [2, 1]] }).dataSync());
      const gap = new nn.GlobalAvgPool2d();
      expect(gap.forward(x).shape).toEqual([2, 5]);
      expect(gap.forward(x).dataSync()).toEqual(sg.globalAvgPool2d(x).dataSync());
      expect(new nn.MaxPool2d(2).stride).toEqual([2, 2]);
      expect(new nn.MaxPool2d(2).padding).toBe('valid');
    });
  });

  test('a user\'s padding array is copied: changing it later does not change the layer', () => {
    const padding: [[number, number], [number, number]] = [[1, 1], [0, 0]];
    const layer = new nn.AvgPool2d(2, { padding });
    padding[0][0] = 5;
    expect(layer.padding).toEqual([[1, 1], [0, 0]]);
  });

  test('bad arguments: errors name the layer, the argument and the expectation', () => {
    sg.tidy(() => {
      const flat = sg.zeros([2, 4]);
      const small = sg.zeros([1, 2, 2, 1]);
      expect(errorOf(() => new nn.MaxPool2d(undefined as never))).toMatch(/MaxPool2d: size \(the window: an integer or \[h, w\]\) is required/);
      expect(errorOf(() => new nn.AvgPool2d(0))).toMatch(/AvgPool2d: size must be >= 1, got 0/);
      expect(errorOf(() => new nn.AvgPool2d([2, -1] as never))).toMatch(/AvgPool2d: size\[1\]/);
      expect(errorOf(() => new nn.MaxPool2d(2, { stride: 1.5 }))).toMatch(/MaxPool2d: stride must be an integer/);
      expect(errorOf(() => new nn.MaxPool2d(2, { padding: [[2, 0], [0, 0]] }))).toMatch(/MaxPool2d: padding must be 'same', 'valid' or \[\[top, bottom\], \[left, right\]\] with non-negative integers smaller than the 2x2 window, got/);
      expect(errorOf(() => new nn.MaxPool2d(2, { padding: 'full' as never }))).toMatch(/MaxPool2d: padding must be/);
      expect(errorOf(() => new nn.MaxPool2d(2, 'same' as never))).toMatch(/MaxPool2d: options must be an object/);
      expect(errorOf(() => new nn.MaxPool2d(2).forward(flat))).toMatch(/MaxPool2d: x must be an NHWC image batch \[N, H, W, C\] \(rank 4\), got shape \[2,4\]/);
      expect(errorOf(() => new nn.AvgPool2d(3).forward(small))).toMatch(/AvgPool2d: the 3x3 window .* does not fit the padded input 2x2/);
      expect(errorOf(() => new nn.GlobalAvgPool2d().forward(flat))).toMatch(/GlobalAvgPool2d: x must be an NHWC image batch/);
      expect(errorOf(() => new nn.GlobalAvgPool2d().forward([1, 2] as never))).toMatch(/GlobalAvgPool2d\.forward: x must be a Tensor/);
    });
  });

  test('summary counts MACs: avg one add per window cell per output, global one per input, max none', () => {
    const model = new nn.Sequential(new nn.MaxPool2d(2), new nn.AvgPool2d(2, { stride: 1, padding: 'same' }), new nn.GlobalAvgPool2d(), new nn.Linear(3, 2, { seed: 1 }));
    const example = sg.zeros([1, 8, 6, 3]);
    const s = sg.summary(model, { example });
    example.dispose();
    const macs = s.layers.map((l) => l.macs.float);
    // max 0; avg: output [1, 4, 3, 3] x 4 cells = 144; global: input [1, 4, 3, 3] = 36; linear 3 x 2 = 6.
    expect(macs).toEqual([0, 144, 36, 6]);
    model.dispose();
  });
});

describe('freeze', () => {
  const convStack = () => new nn.Sequential(
    new nn.BatchNorm2d(4),
    new nn.MaxPool2d(3, { stride: 2, padding: 'same' }),
    new nn.ReLU(),
    new nn.AvgPool2d([2, 1], { stride: 1, padding: [[1, 0], [0, 0]] }),
    new nn.GlobalAvgPool2d(),
    new nn.Linear(4, 3, { seed: 5 }),
  );

  test('pool and BatchNorm2d layers become float stages; predictions equal the eval forward bit for bit, also after a save/load', () => {
    const model = convStack();
    const x = images([5, 7, 9, 4], 2, -3, 3);
    // One training step so the batch norm's running statistics and weights are not the defaults.
    const opt = new sg.optim.SGD(model.parameters(), { lr: 0.1 });
    sg.tidy(() => {
      model.forward(x).square().mean().backward();
      opt.step();
    });
    opt.dispose();
    model.eval();
    const want = sg.tidy(() => model.forward(x));
    const first = x.slice([0, 0, 0, 0], [1, 7, 9, 4]);
    const frozen = sg.freeze(model, { example: first });
    first.dispose();
    expect(frozen.stages.map((s) => s.type)).toEqual(['batchnorm', 'maxpool2d', 'relu', 'avgpool2d', 'globalavgpool2d', 'linear']);
    expect(frozen.stages[1].config).toEqual({ size: [3, 3], stride: [2, 2], padding: 'same' });
    expect(frozen.stages[0].config).toMatchObject({ features: 4, spatial: true });
    const got = frozen.predict(x);
    expect(got.dataSync()).toEqual(want.dataSync());
    const { loaded, again } = sg.tidy(() => {
      const st = frozen.state();
      const m = sg.FrozenModel.fromState(st.tensors, st.metadata);
      return { loaded: m, again: m.predict(x) };
    });
    expect(again.dataSync()).toEqual(want.dataSync());
    // A batch of another size and image size runs too (pools fix no width).
    const other = images([2, 5, 5, 4], 3);
    expect(sg.tidy(() => frozen.predict(other).shape)).toEqual([2, 3]);
    const wrong = images([2, 5, 5, 3], 4);
    expect(errorOf(() => frozen.predict(wrong))).toMatch(/FrozenModel\.predict: stage 0 \(batchnorm\): batchnorm stage takes NHWC images \[N, H, W, 4\], got \[2,5,5,3\]/);
    for (const t of [want, got, again, other, wrong]) t.dispose();
    loaded.dispose();
    frozen.dispose();
    x.dispose();
    model.dispose();
  });

  test('a custom forward calling sg.maxPool2d / avgPool2d / globalAvgPool2d freezes to replayed ops', () => {
    class Net extends nn.Module {
      forward(x: Tensor): Tensor {
        return sg.globalAvgPool2d(sg.avgPool2d(sg.maxPool2d(x, { size: 2, stride: 1 }), { size: 2, padding: 'same' }));
      }
    }
    const net = new Net();
    const x = images([3, 6, 5, 7], 6);
    const want = sg.tidy(() => net.forward(x));
    const frozen = sg.freeze(net, { example: x });
    expect(frozen.stages.map((s) => s.config.op)).toEqual(['maxPool2d', 'avgPool2d', 'globalAvgPool2d']);
    const got = frozen.predict(x);
    expect(got.dataSync()).toEqual(want.dataSync());
    const { loaded, again } = sg.tidy(() => {
      const st = frozen.state();
      const m = sg.FrozenModel.fromState(st.tensors, st.metadata);
      return { loaded: m, again: m.predict(x) };
    });
    expect(again.dataSync()).toEqual(want.dataSync());
    for (const t of [want, got, again, x]) t.dispose();
    loaded.dispose();
    frozen.dispose();
  });

  test('fromState rejects bad pool configs before anything runs', () => {
    const model = new nn.Sequential(new nn.MaxPool2d(2), new nn.GlobalAvgPool2d());
    const example = sg.zeros([1, 4, 4, 2]);
    const frozen = sg.freeze(model, { example });
    const st = frozen.state();
    const owned = Object.values(st.tensors);
    const load = (edit: (arch: any[]) => void) => {
      const arch = JSON.parse(st.metadata.architecture);
      edit(arch);
      return errorOf(() => sg.FrozenModel.fromState({ ...st.tensors }, { ...st.metadata, architecture: JSON.stringify(arch) }));
    };
    expect(load((a) => (a[0].config.size = [0, 2]))).toMatch(/stage 0 \("maxpool2d"\): config.size must be a pair \[h, w\] of integers in \[1, 65536\], got \[0, 2\]/);
    expect(load((a) => (a[0].config.stride = 2))).toMatch(/config.stride must be a pair/);
    expect(load((a) => (a[0].config.padding = [[2, 0], [0, 0]]))).toMatch(/config.padding must be 'same', 'valid' or \[\[top, bottom\], \[left, right\]\] with integers in \[0, window size\)/);
    expect(load((a) => (a[0].config.padding = 'full'))).toMatch(/config.padding must be/);
    expect(load((a) => (a[1].config.extra = 1, a[1].type = 'globalavgpool3d'))).toMatch(/unknown stage type "globalavgpool3d"/);
    for (const t of owned) t.dispose();
    frozen.dispose();
    example.dispose();
  });
});

describe('memory', () => {
  test('training steps through pooling layers keep memoryStats flat', () => {
    const model = new nn.Sequential(new nn.BatchNorm2d(3), new nn.MaxPool2d(2, { padding: 'same' }), new nn.AvgPool2d(2, { stride: 1 }), new nn.GlobalAvgPool2d(), new nn.Linear(3, 2, { seed: 2 }));
    const x = images([4, 5, 5, 3], 9);
    const opt = new sg.optim.Adam(model.parameters(), { lr: 0.01 });
    expectTrainingMemoryFlat(model, x, opt);
    opt.dispose();
    model.dispose();
    x.dispose();
  });
});
