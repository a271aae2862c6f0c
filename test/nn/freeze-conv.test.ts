// freeze() on conv stacks: binary convs on packed bits with batch norm + sign
// folded into thresholds and max-pools fused (on bits or on the sums), a
// uint8 first layer, QuantConv2d on int8 kernels, float layers after the conv
// stack; frozen predictions equal the eval-mode model's bit for bit; save/load.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { rt } from '../../src/runtime/context.js';
import { binaryMaxPool2d, uint8Conv2d } from '../../src/kernels/conv_binary.js';
import { maxPool2d } from '../../src/ops/pool.js';
import { thresholdPackF32 } from '../../src/kernels/frozen.js';
import { rowsToImage } from '../../src/freeze/bits.js';
import { U8_FLOAT_MAX_K } from '../../src/freeze/conv-stages.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';
import { trainSteps } from '../support/train.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn } = sg;

type Model = InstanceType<typeof nn.Sequential>;

/** Raw pixels [n, h, w, c] as float32 integers in [0, 255]. */
function pixels(shape: [number, number, number, number], seed: number): Tensor {
  return sg.tensor(Float32Array.from(seededArray(shape.reduce((a, b) => a * b, 1), seed, 0, 256), Math.floor), shape);
}

/** A few optimizer steps so batch-norm statistics and weights are not at their initial values. */
const trainBriefly = (model: Model, inputs: () => Tensor, classes: number, steps = 4): void => trainSteps(model, inputs, classes, steps, 70);

function evalOutputs(model: Model, x: Tensor): number[] {
  model.eval();
  return sg.tidy(() => Array.from(sg.noGrad(() => model.forward(x)).dataSync()));
}

/** Writes values into a parameter or buffer (as training would), e.g. batch-norm scales of both signs. */
function setValues(t: Tensor, values: ArrayLike<number>): void {
  new Float32Array(rt().memory.buffer, t.offset, t.size).set(values);
  sg.markModified(t);
}

/** Frozen logits equal the eval forward's on each input (the inputs are disposed). */
function expectSamePredictions(model: Model, frozen: InstanceType<typeof sg.FrozenModel>, inputs: Tensor[]): void {
  for (const x of inputs) {
    const want = evalOutputs(model, x);
    sg.tidy(() => expect(Array.from(frozen.predict(x).dataSync())).toEqual(want));
    x.dispose();
  }
}

function lenet(firstPadValue: 0 | 1 = 0): Model {
  return new nn.Sequential(
    new nn.BinaryConv2d(1, 8, 3, { binarizeInputs: false, uint8Inputs: true, padding: 'same', seed: 1 }), new nn.BatchNorm2d(8), new nn.Sign(), new nn.MaxPool2d(2),
    new nn.BinaryConv2d(8, 40, 3, { padding: 'same', padValue: firstPadValue, seed: 2 }), new nn.BatchNorm2d(40), new nn.Binarize(), new nn.MaxPool2d(2, { padding: [[0, 1], [0, 1]] }),
    new nn.Flatten(), new nn.BinaryLinear(4 * 4 * 40, 24, { seed: 3 }), new nn.BatchNorm1d(24), new nn.Linear(24, 10, { seed: 4 }),
  );
}

describe('freeze: binary CNNs', () => {
  test('LeNet-ish (uint8 conv → BN → sign → maxpool → binary conv → BN → binarize → maxpool → flatten → BinaryLinear → BN → Linear): packed end to end, bit for bit', () => {
    for (const padValue of [0, 1] as const) {
      const model = lenet(padValue);
      trainBriefly(model, () => pixels([12, 15, 15, 1], 5), 10);
      const example = pixels([1, 15, 15, 1], 1);
      const frozen = sg.freeze(model, { example });
      example.dispose();
      expect(frozen.stages.map((s) => s.type)).toEqual(['binary-conv2d', 'binary-conv2d', 'flatten', 'binary-dense', 'linear']);
      // BN + sign folded into thresholds, the max-pools absorbed and run on the packed output
      for (const s of frozen.stages.slice(0, 2)) {
        expect(s.config.threshold).toBe(true);
        expect((s.config.pool as { at: string }).at).toBe('output');
        expect(s.description).toMatch(/thresholds -> bits, 2x2 max-pool on bits/);
      }
      expect(frozen.stages[0].config.uint8Inputs).toBe(true);
      expect(frozen.stages[1].config.padValue).toBe(padValue);
      // the packed activations flow between the binary stages: bits out of each conv, bits into the next
      sg.tidy(() => {
        const x = pixels([3, 15, 15, 1], 9);
        const a0 = frozen.stages[0].run({ kind: 'float', t: x });
        expect(a0.kind).toBe('bits');
        expect([...a0.t.shape, a0.t.dtype]).toEqual([3, 7, 7, 1, 'int32']);
        const a1 = frozen.stages[1].run(a0);
        expect(a1.kind).toBe('bits');
        expect([...a1.t.shape, a1.t.dtype]).toEqual([3, 4, 4, 2, 'int32']);
      });
      expectSamePredictions(model, frozen, [pixels([1, 15, 15, 1], 11), pixels([17, 15, 15, 1], 12)]);
      // an empty batch gives an empty batch of logits
      sg.tidy(() => expect(frozen.predict(sg.zeros([0, 15, 15, 1])).shape).toEqual([0, 10]));
      // raw uint8 pixels: same logits, no float copy
      sg.tidy(() => {
        const x = pixels([5, 15, 15, 1], 13);
        const bytes = sg.tensor(Uint8Array.from(x.dataSync()), [5, 15, 15, 1], { dtype: 'uint8' });
        expect(Array.from(frozen.predict(bytes).dataSync())).toEqual(evalOutputs(model, x));
      });
      frozen.dispose();
      model.dispose();
    }
  });

  test('LeNet-ish with a float first conv (nn.Conv2d → BN → sign → maxpool → BinaryConv2d → BN → sign → maxpool → flatten → BinaryLinear → BN → Linear): bit for bit', () => {
    const model = new nn.Sequential(
      new nn.Conv2d(1, 8, 3, { padding: 'same', seed: 1 }), new nn.BatchNorm2d(8), new nn.Sign(), new nn.MaxPool2d(2),
      new nn.BinaryConv2d(8, 32, 3, { padding: 'same', seed: 2 }), new nn.BatchNorm2d(32), new nn.Sign(), new nn.MaxPool2d(2),
      new nn.Flatten(), new nn.BinaryLinear(3 * 3 * 32, 24, { seed: 3 }), new nn.BatchNorm1d(24), new nn.Linear(24, 10, { seed: 4 }),
    );
    const images = (n: number, seed: number) => sg.tidy(() => sg.mul(pixels([n, 13, 13, 1], seed), 1 / 255));
    trainBriefly(model, () => images(12, 5), 10);
    const example = images(1, 1);
    const frozen = sg.freeze(model, { example });
    example.dispose();
    // the float conv's batch norm and sign stay float; the binary conv reads them, packs once and stays packed
    expect(frozen.stages.map((s) => s.type)).toEqual(['conv2d', 'batchnorm', 'sign', 'maxpool2d', 'binary-conv2d', 'flatten', 'binary-dense', 'linear']);
    expect(frozen.stages[4].config.threshold).toBe(true);
    expect((frozen.stages[4].config.pool as { at: string }).at).toBe('output');
    expectSamePredictions(model, frozen, [images(1, 11), images(15, 12)]);
    frozen.dispose();
    model.dispose();
  });

  test('conv → max-pool → BN → sign: the pool runs on the sums when some batch-norm scale is negative, on the bits when none is; both bit for bit', () => {
    for (const negative of [true, false]) {
      const model = new nn.Sequential(
        new nn.BinaryConv2d(3, 37, [3, 2], { padding: 'same', stride: 1, scale: true, seed: 5 }), new nn.MaxPool2d(3, { stride: 2, padding: 'same' }), new nn.BatchNorm2d(37), new nn.Sign(),
        new nn.BinaryConv2d(37, 6, 2, { dilation: 2, seed: 6 }), new nn.BatchNorm2d(6),
      );
      const bn = model.layers[2] as InstanceType<typeof nn.BatchNorm2d>;
      setValues(bn.weight!, Array.from({ length: 37 }, (_, i) => (negative && i % 3 === 0 ? -0.5 - i / 37 : 0.5 + i / 37)));
      setValues(bn.bias!, seededArray(37, 8, -2, 2));
      setValues(bn.runningMean, seededArray(37, 9, -3, 3));
      setValues(bn.runningVar, seededArray(37, 10, 0.5, 4));
      const example = sg.randn([1, 9, 11, 3], { seed: 1 });
      const frozen = sg.freeze(model, { example });
      example.dispose();
      expect(frozen.stages.map((s) => s.type)).toEqual(['binary-conv2d', 'binary-conv2d']);
      expect(frozen.stages[0].config.threshold).toBe(true);
      expect((frozen.stages[0].config.pool as { at: string }).at).toBe(negative ? 'dot' : 'output');
      // the last conv keeps its float batch norm
      expect(frozen.stages[1].config.bnEps).not.toBeNull();
      expectSamePredictions(model, frozen, [sg.randn([4, 9, 11, 3], { seed: 20 }), sg.randn([1, 9, 11, 3], { seed: 21 })]);
      sg.tidy(() => expect(() => frozen.predict(sg.zeros([2, 9, 10, 3]))).toThrow(/FrozenModel\.predict: stage 0 \(binary-conv2d\): binary-conv2d takes NHWC images \[batch, 9, 11, 3\] \(the size it was frozen for\), got \[2,9,10,3\]/));
      frozen.dispose();
      model.dispose();
    }
  });
});

describe('freeze: uint8-pixel first layer through the float conv (K <= U8_FLOAT_MAX_K)', () => {
  type Stage = InstanceType<typeof sg.FrozenModel>['stages'][number];
  type Pool = { size: [number, number]; stride: [number, number]; padding: [[number, number], [number, number]]; at: string } | null;

  /** The stage's product through the packed uint8 x 1-bit kernel (the path these shapes took before), then its epilogue. */
  function packedPath(stage: Stage, x: Tensor): Tensor {
    const c = stage.config as Record<string, number> & { threshold: boolean; pool: Pool };
    const t = stage.tensors;
    const window = {
      kernelSize: [c.kh, c.kw] as [number, number], stride: [c.strideH, c.strideW] as [number, number], dilation: [c.dilationH, c.dilationW] as [number, number],
      padding: [[c.padTop, c.padBottom], [c.padLeft, c.padRight]] as [[number, number], [number, number]],
    };
    const pool = c.pool;
    if (c.threshold && pool?.at !== 'dot') {
      const bits = uint8Conv2d(x, t.weightBits, { ...window, output: 'bits', threshold: t.threshold, direction: t.direction });
      return pool ? binaryMaxPool2d(bits, { channels: c.outChannels, size: pool.size, stride: pool.stride, padding: pool.padding }) : bits;
    }
    const sums = uint8Conv2d(x, t.weightBits, { ...window, output: 'float32', ...(t.scale ? { scale: t.scale } : {}), ...(t.bias ? { bias: t.bias } : {}) });
    const y = pool ? maxPool2d(sums, { size: pool.size, stride: pool.stride, padding: pool.padding }) : sums;
    if (!c.threshold) return y;
    const [n, h, w] = y.shape;
    return rowsToImage(thresholdPackF32(sg.reshape(y, [n * h * w, c.outChannels]), t.threshold, t.direction, 'test'), [n, h, w], c.outChannels);
  }

  test('every epilogue gives the bits of the packed kernel path and the predictions of the eval model', () => {
    const cases: [string, () => Model, 'bits' | 'float', string | null, boolean][] = [
      ['conv → max-pool → BN → sign, BN scales > 0 (pool on the sums, then thresholds)', () => new nn.Sequential(
        new nn.BinaryConv2d(1, 32, 3, { binarizeInputs: false, uint8Inputs: true, padding: 'same', bias: false, seed: 1 }), new nn.MaxPool2d(2), new nn.BatchNorm2d(32), new nn.Binarize()), 'bits', 'output', false],
      ['conv → max-pool → BN → sign, some BN scales < 0 (pool on the sums before the thresholds)', () => new nn.Sequential(
        new nn.BinaryConv2d(1, 33, 3, { binarizeInputs: false, uint8Inputs: true, padding: 'same', bias: false, seed: 2 }), new nn.MaxPool2d(2), new nn.BatchNorm2d(33), new nn.Binarize()), 'bits', 'dot', true],
      ['conv → BN → sign → max-pool, some BN scales < 0 (pool on the bits)', () => new nn.Sequential(
        new nn.BinaryConv2d(3, 5, 3, { binarizeInputs: false, uint8Inputs: true, padding: 'same', stride: 2, seed: 3 }), new nn.BatchNorm2d(5), new nn.Binarize(), new nn.MaxPool2d(2)), 'bits', 'output', true],
      ['conv → BN → sign, dilation, no pool', () => new nn.Sequential(
        new nn.BinaryConv2d(2, 8, 3, { binarizeInputs: false, uint8Inputs: true, padding: [[2, 0], [1, 3]], dilation: 2, seed: 4 }), new nn.BatchNorm2d(8), new nn.Binarize()), 'bits', null, true],
      ['conv with XNOR scale and bias, float output, 3x3 pool stride 2', () => new nn.Sequential(
        new nn.BinaryConv2d(1, 7, [3, 2], { binarizeInputs: false, uint8Inputs: true, padding: 'same', scale: true, seed: 5 }), new nn.MaxPool2d(3, { stride: 2, padding: 'same' })), 'float', 'dot', false],
    ];
    for (const [what, make, kind, at, negative] of cases) {
      const model = make();
      const conv = model.layers[0] as InstanceType<typeof nn.BinaryConv2d>;
      const bn = model.layers.find((l) => l instanceof nn.BatchNorm2d) as InstanceType<typeof nn.BatchNorm2d> | undefined;
      if (bn) {
        const C = bn.runningMean.size;
        setValues(bn.weight!, Array.from({ length: C }, (_, i) => (negative && i % 3 === 1 ? -0.7 - i / C : 0.4 + i / C)));
        setValues(bn.bias!, seededArray(C, 8, -1, 1));
        setValues(bn.runningMean, seededArray(C, 9, -400, 400));
        setValues(bn.runningVar, seededArray(C, 10, 100, 4000));
      }
      const shape: [number, number, number, number] = [1, 13, 11, conv.inChannels];
      const example = pixels(shape, 1);
      const frozen = sg.freeze(model, { example });
      example.dispose();
      const stage = frozen.stages[0];
      expect(stage.config.uint8Inputs, what).toBe(true);
      expect((stage.config.kh as number) * (stage.config.kw as number) * (stage.config.inChannels as number), what).toBeLessThanOrEqual(U8_FLOAT_MAX_K);
      expect((stage.config.pool as Pool)?.at ?? null, what).toBe(at);
      for (const n of [0, 1, 6]) {
        sg.tidy(() => {
          const x = pixels([n, ...shape.slice(1)] as [number, number, number, number], 20 + n);
          const bytes = sg.tensor(Uint8Array.from(x.dataSync()), x.shape, { dtype: 'uint8' });
          const got = stage.run({ kind: 'float', t: bytes });
          expect(got.kind, what).toBe(kind);
          const want = packedPath(stage, bytes);
          expect(got.t.shape, what).toEqual(want.shape);
          expect(Array.from(got.t.dataSync()), `${what}, batch ${n}`).toEqual(Array.from(want.dataSync()));
        });
      }
      expectSamePredictions(model, frozen, [pixels([1, ...shape.slice(1)] as [number, number, number, number], 31), pixels([5, ...shape.slice(1)] as [number, number, number, number], 32)]);
      frozen.dispose();
      model.dispose();
    }
  });
});

describe('freeze: conv stacks of every kind', () => {
  test('strides, dilation, one-padding, groups (float conv of the ±1 values), float-input first layers, XNOR scale and bias, float tails: bit for bit', () => {
    const stacks: [string, () => Model, [number, number, number, number], { integerInputMax?: number; uint8Inputs?: boolean }, string[]][] = [
      ['float first conv (integer inputs) → BN → binarize, strided one-padded conv, grouped conv, XNOR scale + bias out', () => new nn.Sequential(
        new nn.BinaryConv2d(2, 33, 3, { binarizeInputs: false, padding: 'same', seed: 11 }), new nn.BatchNorm2d(33), new nn.Binarize(),
        new nn.BinaryConv2d(33, 12, [3, 4], { stride: 2, padding: 'same', padValue: 1, seed: 12 }), new nn.BatchNorm2d(12), new nn.Sign(),
        new nn.BinaryConv2d(12, 8, 3, { groups: 4, padding: [[1, 0], [2, 1]], seed: 13 }), new nn.BatchNorm2d(8), new nn.Binarize(),
        new nn.BinaryConv2d(8, 5, 2, { dilation: 2, scale: true, bias: true, seed: 14 }),
      ), [6, 11, 10, 2], { integerInputMax: 255 }, ['binary-conv2d', 'binary-conv2d', 'binary-conv2d', 'binary-conv2d']],
      ['float first conv without an integer bound keeps a float batch norm; conv → BN → max-pool → flatten → Linear', () => new nn.Sequential(
        new nn.BinaryConv2d(3, 7, 3, { binarizeInputs: false, padding: 'same', seed: 15 }), new nn.BatchNorm2d(7), new nn.Binarize(),
        new nn.BinaryConv2d(7, 9, 3, { seed: 16 }), new nn.BatchNorm2d(9), new nn.MaxPool2d(2, { padding: 'same' }),
        new nn.Flatten(), new nn.Linear(9 * 3 * 2, 4, { seed: 17 }),
      ), [5, 8, 6, 3], {}, ['binary-conv2d', 'binarize', 'binary-conv2d', 'flatten', 'linear']],
      ['nn.Conv2d first layer → BN → sign → max-pool → BinaryConv2d → BN → binarize → flatten → BinaryLinear', () => new nn.Sequential(
        new nn.Conv2d(1, 6, 3, { padding: 'same', seed: 18 }), new nn.BatchNorm2d(6), new nn.Sign(), new nn.MaxPool2d(2),
        new nn.BinaryConv2d(6, 32, 3, { padding: 'same', seed: 19 }), new nn.BatchNorm2d(32), new nn.Binarize(),
        new nn.Flatten(), new nn.BinaryLinear(4 * 4 * 32, 3, { seed: 20 }), new nn.BatchNorm1d(3),
      ), [7, 9, 8, 1], {}, ['conv2d', 'batchnorm', 'sign', 'maxpool2d', 'binary-conv2d', 'flatten', 'binary-dense']],
    ];
    for (const [what, make, shape, options, types] of stacks) {
      const model = make();
      const inputs = () => (options.integerInputMax ? pixels(shape, 30) : sg.randn(shape, { seed: 31 }));
      // Batch-norm statistics and affine parameters of both signs, as after training.
      model.layers.forEach((l, i) => {
        if (!(l instanceof nn.BatchNorm2d)) return;
        const n = l.numChannels;
        setValues(l.weight!, Array.from(seededArray(n, 40 + i, 0.2, 1.5), (v, c) => (c % 4 === 1 ? -v : v)));
        setValues(l.bias!, seededArray(n, 50 + i, -1, 1));
        setValues(l.runningMean, seededArray(n, 60 + i, -4, 4));
        setValues(l.runningVar, seededArray(n, 70 + i, 1, 9));
      });
      const example = inputs();
      const frozen = sg.freeze(model, { example, ...options });
      example.dispose();
      expect(frozen.stages.map((s) => s.type), what).toEqual(types);
      const more = shape.slice(1) as [number, number, number];
      expectSamePredictions(model, frozen, options.integerInputMax ? [pixels([1, ...more], 32), pixels([9, ...more], 33)] : [sg.randn([1, ...more], { seed: 32 }), sg.randn([9, ...more], { seed: 33 })]);
      frozen.dispose();
      model.dispose();
    }
  });

  test('QuantConv2d stacks freeze to int8 weights on the int8 conv kernel; outputs stay within the quantization error', () => {
    const model = new nn.Sequential(
      new nn.QuantConv2d(3, 8, 3, { padding: 'same', seed: 21 }), new nn.ReLU(), new nn.MaxPool2d(2),
      new nn.QuantConv2d(8, 6, 3, { stride: 2, weightBits: 4, seed: 22 }), new nn.ReLU(),
      new nn.QuantConv2d(6, 6, 1, { groups: 3, activationBits: null, seed: 23 }),
      new nn.Flatten(), new nn.Linear(24, 4, { seed: 24 }),
    );
    model.train();
    // the activation observers see data
    sg.tidy(() => void sg.noGrad(() => model.forward(sg.randn([16, 10, 10, 3], { seed: 25 }))));
    const example = sg.randn([1, 10, 10, 3], { seed: 1 });
    const frozen = sg.freeze(model, { example });
    example.dispose();
    expect(frozen.stages.map((s) => s.type)).toEqual(['int8-conv2d', 'relu', 'maxpool2d', 'int8-conv2d', 'relu', 'int8-conv2d', 'flatten', 'linear']);
    expect(frozen.stages[0].tensors.weight.dtype).toBe('int8');
    expect(frozen.stages[0].tensors.weight.shape).toEqual([3, 3, 3, 8]);
    expect(frozen.stages[0].description).toMatch(/int8 inputs/);
    expect(frozen.stages[5].description).toMatch(/float inputs/);
    sg.tidy(() => {
      const x = sg.randn([20, 10, 10, 3], { seed: 26 });
      const want = evalOutputs(model, x);
      const got = Array.from(frozen.predict(x).dataSync());
      const scale = Math.max(...want.map(Math.abs));
      got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThan(0.03 * scale));
      // not the identity of something trivial: the outputs vary
      expect(new Set(got.map((v) => v.toFixed(3))).size).toBeGreaterThan(20);
    });
    frozen.dispose();
    model.dispose();
  });
});

describe('frozen conv models as files', () => {
  test('state() → safetensors → fromState gives the same predictions; summary counts the conv MACs', () => {
    const model = lenet(1);
    trainBriefly(model, () => pixels([8, 15, 15, 1], 40), 10);
    const example = pixels([1, 15, 15, 1], 41);
    const frozen = sg.freeze(model, { example });
    const s = sg.summary(model, { example });
    example.dispose();
    // per sample: 15·15·8·9 uint8 x 1-bit products, 7·7·40·9·8 binary, 640·24 binary dense, 24·10 float
    expect(s.layers[0].macs).toEqual({ binary: 0, binaryWeights: 15 * 15 * 8 * 9, int8: 0, float: 0 });
    expect(s.layers[4].macs).toEqual({ binary: 7 * 7 * 40 * 9 * 8, binaryWeights: 0, int8: 0, float: 0 });
    expect(s.macs.binary).toBe(7 * 7 * 40 * 9 * 8 + 640 * 24);
    const { tensors, metadata } = frozen.state();
    const bytes = sg.io.saveSafetensors(tensors, metadata);
    const parsed = sg.io.parseSafetensors(bytes, 'conv.safetensors');
    const loaded = sg.FrozenModel.fromState(parsed.tensors, parsed.metadata);
    expect(loaded.stages.map((st) => st.type)).toEqual(frozen.stages.map((st) => st.type));
    expect(loaded.sizeBytes).toBe(frozen.sizeBytes);
    sg.tidy(() => {
      const x = pixels([6, 15, 15, 1], 42);
      expect(Array.from(loaded.predict(x).dataSync())).toEqual(Array.from(frozen.predict(x).dataSync()));
      expect(Array.from(loaded.predict(x).dataSync())).toEqual(evalOutputs(model, x));
    });
    loaded.dispose();
    frozen.dispose();
    model.dispose();
  });

  test('a bad conv stage in a file is rejected with the stage, the key and what was expected, leaving the tensors as they were', () => {
    const model = new nn.Sequential(new nn.BinaryConv2d(3, 4, 3, { padding: 'same', seed: 1 }), new nn.BatchNorm2d(4), new nn.Binarize(), new nn.MaxPool2d(2), new nn.BinaryConv2d(4, 2, 2, { seed: 2 }));
    const example = sg.randn([1, 6, 6, 3], { seed: 1 });
    const frozen = sg.freeze(model, { example });
    example.dispose();
    model.dispose();
    const { tensors, metadata } = frozen.state();
    const arch = JSON.parse(metadata.architecture);
    const withConfig = (i: number, patch: Record<string, unknown>) => ({ ...metadata, architecture: JSON.stringify(arch.map((s: any, j: number) => (j === i ? { ...s, config: { ...s.config, ...patch } } : s))) });
    const cases: [Record<string, string>, RegExp][] = [
      [withConfig(0, { padValue: 2 }), /FrozenModel\.fromState: stage 0 \("binary-conv2d"\): config\.padValue must be an integer in \[0, 1\], got 2/],
      [withConfig(0, { kh: 5 }), /stage 0 .*tensor "weightBits" must be int32 \[4,/],
      [withConfig(0, { inH: 1, padTop: 0, padBottom: 0 }), /stage 0 .*the 3x3 window .* does not fit the padded input 1x/],
      [withConfig(0, { pool: { size: [2, 2], stride: [2, 2], padding: [[2, 0], [0, 0]], at: 'output' } }), /stage 0 .*config\.pool must be null or \{ size/],
      [withConfig(0, { pool: { size: [2, 2], stride: [2, 2], padding: [[0, 0], [0, 0]], at: 'nowhere' } }), /stage 0 .*config\.pool must be null/],
      [withConfig(0, { groups: 2 }), /stage 0 .*config\.groups \(2\) must divide config\.inChannels \(3\)/],
      [withConfig(1, { outChannels: 3 }), /stage 1 .*tensor "weightBits" must be int32 \[3,/],
    ];
    const alive = sg.memoryStats().tensorsAlive;
    for (const [meta, message] of cases) {
      expect(() => sg.FrozenModel.fromState(tensors, meta)).toThrow(message);
      expect(sg.memoryStats().tensorsAlive).toBe(alive);
    }
    // the untouched state still loads (it shares the tensors, so only one of the two is disposed)
    expect(sg.FrozenModel.fromState(tensors, metadata).stages).toHaveLength(2);
    frozen.dispose();
  });
});

test('a conv model needs an example to freeze or summarize; the error says how to slice one image', () => {
  const model = new nn.Sequential(new nn.BinaryConv2d(1, 2, 3, { seed: 1 }), new nn.Flatten());
  expect(() => sg.freeze(model)).toThrow(/freeze: options\.example is required for this model.*\(images: x\.slice\(\[0, 0, 0, 0\], \[1, h, w, channels\]\)\)/);
  expect(() => sg.summary(model)).toThrow(/summary: options\.example is required/);
  model.dispose();
});
