import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { errorOf } from '../support/errors.js';
import { Prng } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';
import { expectTrainingMemoryFlat } from '../support/memory.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn } = sg;

const f = Math.fround;

function images(shape: number[], seed: number, lo = -2, hi = 3): Tensor {
  return sg.tensor(new Prng(seed).f32Array(shape.reduce((a, b) => a * b, 1), lo, hi), shape);
}

/** Writes values into a layer's parameters/buffers by name (loadStateDict copies). */
function setState(m: InstanceType<typeof nn.Module>, values: Record<string, Float32Array>): void {
  sg.tidy(() => m.loadStateDict(Object.fromEntries(Object.entries(values).map(([k, v]) => [k, sg.tensor(v, [v.length])])), { strict: false }));
}

/** Per-channel float64 mean and biased variance over every leading axis of [..., C]. */
function stats64(data: Float32Array, C: number): { mean: number[]; variance: number[]; rows: number } {
  const rows = data.length / C;
  const mean = new Array(C).fill(0);
  const variance = new Array(C).fill(0);
  for (let i = 0; i < data.length; i++) mean[i % C] += data[i] / rows;
  for (let i = 0; i < data.length; i++) variance[i % C] += (data[i] - mean[i % C]) ** 2 / rows;
  return { mean, variance, rows };
}

describe('BatchNorm2d', () => {
  test('parameters and buffers are named as BatchNorm1d\'s, per channel', () => {
    const bn2 = new nn.BatchNorm2d(5);
    const bn1 = new nn.BatchNorm1d(5);
    expect(Object.keys(bn2.stateDict()).sort()).toEqual(Object.keys(bn1.stateDict()).sort());
    expect(Object.keys(bn2.stateDict()).sort()).toEqual(['bias', 'runningMean', 'runningVar', 'weight']);
    expect(bn2.numChannels).toBe(5);
    expect(bn2.runningVar.shape).toEqual([5]);
    const plain = new nn.BatchNorm2d(3, { affine: false });
    expect(Object.keys(plain.stateDict()).sort()).toEqual(['runningMean', 'runningVar']);
    for (const m of [bn1, bn2, plain]) m.dispose();
  });

  test('training: normalizes each channel over N, H, W (float64 reference) and updates the running statistics', () => {
    const C = 5;
    const bn = new nn.BatchNorm2d(C, { momentum: 0.25 });
    const x = images([3, 4, 2, C], 1);
    const data = x.dataSync() as Float32Array;
    const { mean, variance, rows } = stats64(data, C);
    const y = sg.tidy(() => bn.forward(x));
    const got = y.dataSync();
    for (let i = 0; i < data.length; i++) {
      const c = i % C;
      const want = (data[i] - mean[c]) / Math.sqrt(variance[c] + 1e-5);
      expect(Math.abs(got[i] - want)).toBeLessThan(1e-5);
    }
    const rm = bn.runningMean.dataSync();
    const rv = bn.runningVar.dataSync();
    for (let c = 0; c < C; c++) {
      expect(Math.abs(rm[c] - 0.25 * mean[c])).toBeLessThan(1e-6);
      expect(Math.abs(rv[c] - (0.75 + 0.25 * variance[c] * rows / (rows - 1)))).toBeLessThan(1e-6);
    }
    y.dispose();
    x.dispose();
    bn.dispose();
  });

  test('is BatchNorm1d on the [N·H·W, C] rows, bit for bit (outputs, gradients, running statistics)', () => {
    const shape = [2, 3, 3, 6];
    const bn2 = new nn.BatchNorm2d(6);
    const bn1 = new nn.BatchNorm1d(6);
    sg.tidy(() => {
      for (const m of [bn1, bn2]) setState(m, { weight: new Prng(4).f32Array(6, 0.5, 2), bias: new Prng(5).f32Array(6, -1, 1) });
      const x4 = images(shape, 3);
      const x2 = x4.reshape([18, 6]);
      const up = images(shape, 6);
      const y2 = bn2.forward(x4);
      const y1 = bn1.forward(x2);
      expect(y2.dataSync()).toEqual(y1.dataSync());
      y2.mul(up).sum().backward();
      y1.mul(up.reshape([18, 6])).sum().backward();
      expect(bn2.weight!.grad!.dataSync()).toEqual(bn1.weight!.grad!.dataSync());
      expect(bn2.bias!.grad!.dataSync()).toEqual(bn1.bias!.grad!.dataSync());
      expect(bn2.runningMean.dataSync()).toEqual(bn1.runningMean.dataSync());
      expect(bn2.runningVar.dataSync()).toEqual(bn1.runningVar.dataSync());
    });
    bn1.dispose();
    bn2.dispose();
  });

  test('gradcheck (float64 finite differences) in training and eval on [2, 3, 3, 5]', () => {
    const rng = new Prng(8);
    for (const training of [true, false]) {
      const bn = new nn.BatchNorm2d(5, { eps: 1e-3 });
      if (!training) {
        setState(bn, { runningMean: rng.f32Array(5, -1, 1), runningVar: rng.f32Array(5, 0.5, 2) });
        bn.eval();
      }
      setState(bn, { weight: rng.f32Array(5, 0.5, 1.5), bias: rng.f32Array(5, -1, 1) });
      const x = sg.tensor(rng.f32Array(90, -2, 2), [2, 3, 3, 5], { requiresGrad: true });
      // Fixed weights on the output: sum(bn(x)) alone has zero gradient in x in training.
      const w = sg.tensor(rng.f32Array(90, -1, 1), [2, 3, 3, 5]);
      const r = sg.gradcheck((t, g, b) => {
        void g; void b;
        return bn.forward(t).mul(w);
      }, [x, bn.weight!, bn.bias!]);
      expect(r.ok, `training=${training} ${JSON.stringify(r.worst)}`).toBe(true);
      w.dispose();
      x.dispose();
      bn.dispose();
    }
  });

  test('eval output equals ((x - runningMean) / sqrt(runningVar + eps)) * weight + bias in float32, bit for bit', () => {
    const C = 7;
    const rng = new Prng(12);
    const bn = new nn.BatchNorm2d(C, { eps: 1e-4 });
    const mean = rng.f32Array(C, -1, 1);
    const variance = rng.f32Array(C, 0, 3);
    const weight = rng.f32Array(C, -2, 2);
    const bias = rng.f32Array(C, -1, 1);
    setState(bn, { runningMean: mean, runningVar: variance, weight, bias });
    bn.eval();
    const x = images([2, 3, 1, C], 13);
    const y = sg.tidy(() => bn.forward(x));
    const data = x.dataSync();
    // The weights were really loaded (not the defaults).
    expect(bn.weight!.dataSync()).toEqual(weight);
    const got = y.dataSync();
    for (let i = 0; i < data.length; i++) {
      const c = i % C;
      const s = f(Math.sqrt(f(variance[c] + f(1e-4))));
      expect(got[i]).toBe(f(f(f(f(data[i] - mean[c]) / s) * weight[c]) + bias[c]));
    }
    // A single image (N·H·W = 3) and a 1x1 image normalize in eval (no batch statistics needed).
    const one = images([1, 1, 1, C], 14);
    const y1 = sg.tidy(() => bn.forward(one));
    expect(y1.shape).toEqual([1, 1, 1, C]);
    for (const t of [x, y, one, y1]) t.dispose();
    bn.dispose();
  });

  test('bad input: errors name BatchNorm2d, the argument and the expectation; a rejected call changes nothing', () => {
    const bn = new nn.BatchNorm2d(4);
    sg.tidy(() => {
      const flat = sg.zeros([8, 4]);
      const wrongC = sg.zeros([2, 3, 3, 5]);
      const single = sg.zeros([1, 1, 1, 4]);
      const nan = sg.tensor(Float32Array.from({ length: 32 }, (_, i) => (i === 9 ? NaN : i)), [2, 2, 2, 4]);
      const badVar = sg.tensor([1, -1, 1, 1]);
      expect(errorOf(() => new nn.BatchNorm2d(0))).toMatch(/BatchNorm2d: numChannels must be >= 1, got 0/);
      expect(errorOf(() => new nn.BatchNorm2d(4, { momentum: 2 }))).toMatch(/BatchNorm2d: momentum must be <= 1/);
      expect(errorOf(() => bn.forward(flat))).toBe('BatchNorm2d: x must be an NHWC image batch [N, H, W, 4] (rank 4, channels last), got [8,4]; use BatchNorm1d for [batch, features]');
      expect(errorOf(() => bn.forward(wrongC))).toMatch(/BatchNorm2d: x must be an NHWC image batch \[N, H, W, 4\] .*got \[2,3,3,5\]/);
      expect(errorOf(() => bn.forward(single))).toMatch(/BatchNorm2d: training needs a batch of at least 2 rows, got 1/);
      expect(errorOf(() => bn.forward(nan))).toMatch(/BatchNorm2d: x \(in training, it updates the running statistics\) must be finite/);
      expect(errorOf(() => bn.forward('x' as never))).toMatch(/BatchNorm2d\.forward: x must be a Tensor/);
      expect(errorOf(() => bn.loadStateDict({ ...bn.stateDict(), runningVar: badVar }))).toMatch(/state\["runningVar"\] element 1 is -1, but BatchNorm2d needs finite values >= 0/);
    });
    expect(Array.from(bn.runningMean.dataSync())).toEqual([0, 0, 0, 0]);
    expect(Array.from(bn.runningVar.dataSync())).toEqual([1, 1, 1, 1]);
    bn.dispose();
  });

  test('freezes as the batchnorm stage BatchNorm1d uses (spatial: true); predictions equal eval; BatchNorm1d\'s stage config is unchanged', () => {
    const bn = new nn.BatchNorm2d(3);
    const x = images([4, 2, 3, 3], 20);
    sg.tidy(() => { bn.forward(x); });
    bn.eval();
    const frozen = sg.freeze(bn, { example: x });
    expect(frozen.stages.map((s) => [s.type, s.config])).toEqual([['batchnorm', { eps: 1e-5, features: 3, affine: true, spatial: true }]]);
    expect(Object.keys(frozen.stages[0].tensors).sort()).toEqual(['bias', 'runningMean', 'runningVar', 'weight']);
    const want = sg.tidy(() => bn.forward(x));
    const got = frozen.predict(x);
    expect(got.dataSync()).toEqual(want.dataSync());
    const bn1 = new nn.BatchNorm1d(3);
    const frozen1 = sg.freeze(bn1);
    expect(frozen1.stages[0].config).toEqual({ eps: 1e-5, features: 3, affine: true });
    for (const t of [x, want, got]) t.dispose();
    for (const m of [frozen, frozen1, bn, bn1]) m.dispose();
  });

  test('memory: training steps keep memoryStats flat', () => {
    const bn = new nn.BatchNorm2d(6);
    const x = images([2, 5, 5, 6], 30);
    const opt = new sg.optim.SGD(bn.parameters(), { lr: 0.1 });
    expectTrainingMemoryFlat(bn, x, opt);
    opt.dispose();
    bn.dispose();
    x.dispose();
  });
});
