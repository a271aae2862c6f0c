// freeze() on conv stacks: binary convs on packed bits with batch norm + sign
// folded into thresholds and max-pools fused (on bits or on the sums), a
// uint8 first layer, QuantConv2d on int8 kernels, float layers after the conv
// stack; frozen predictions equal the eval-mode model's bit for bit; save/load.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { rt } from '../../src/runtime/context.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn, optim } = sg;

type Model = InstanceType<typeof nn.Sequential>;

/** Raw pixels [n, h, w, c] as float32 integers in [0, 255]. */
function pixels(shape: [number, number, number, number], seed: number): Tensor {
  return sg.tensor(Float32Array.from(seededArray(shape.reduce((a, b) => a * b, 1), seed, 0, 256), Math.floor), shape);
}

/** A few optimizer steps so batch-norm statistics and weights are not at their initial values. */
function trainBriefly(model: Model, inputs: () => Tensor, classes: number, steps = 4): void {
  const opt = new optim.Adam(model.parameters(), { lr: 0.05 });
  for (let s = 0; s < steps; s++) {
    sg.tidy(() => {
      const x = inputs();
      const y = sg.randint([x.shape[0]], 0, classes, { seed: 70 + s });
      const loss = sg.crossEntropy(model.forward(x), y);
      opt.zeroGrad();
      loss.backward();
      opt.step();
    });
  }
  opt.dispose();
}

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
