import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { thresholdPackRef } from '../../src/reference/threshold.js';
import { rt } from '../../src/runtime/context.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';
import { trainSteps } from '../support/train.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn } = sg;

/** Integer-valued inputs in [-max, max] (like pixels): the first binary layer's sums are exact. */
function integerInputs(rows: number, cols: number, seed: number, max = 255): Tensor {
  return sg.tensor(Float32Array.from(seededArray(rows * cols, seed, -max, max + 1), Math.floor), [rows, cols]);
}

/** A few optimizer steps so batch-norm statistics and weights are not at their initial values. */
const trainBriefly = (model: any, inputs: () => Tensor, classes: number, steps = 5): void => trainSteps(model, inputs, classes, steps, 50);

function evalOutputs(model: any, x: Tensor): number[][] {
  model.eval();
  return sg.tidy(() => sg.noGrad(() => model.forward(x)).toArray());
}

describe('freeze', () => {
  test('a BNN freezes to packed bits with thresholds, and its logits equal the trained model\'s bit for bit', () => {
    const model = new nn.Sequential(
      new nn.BinaryLinear(37, 40, { binarizeInputs: false, seed: 1 }), new nn.BatchNorm1d(40), new nn.Binarize(),
      new nn.BinaryLinear(40, 130, { seed: 2 }), new nn.BatchNorm1d(130), new nn.Binarize(),
      new nn.BinaryLinear(130, 7, { seed: 3 }), new nn.BatchNorm1d(7),
    );
    trainBriefly(model, () => integerInputs(16, 37, 9), 7);
    const frozen = sg.freeze(model, { integerInputMax: 255 });
    expect(frozen.stages.map((s) => s.type)).toEqual(['binary-dense', 'binary-dense', 'binary-dense']);
    expect(frozen.stages.map((s) => s.config.threshold)).toEqual([true, true, false]);
    for (const seed of [1, 2, 3]) {
      sg.tidy(() => {
        const x = integerInputs(33, 37, 100 + seed);
        expect(frozen.predict(x).toArray()).toEqual(evalOutputs(model, x));
      });
    }
    // size: packed weights (rows padded to 128 bits) + thresholds/directions + final float batch norm
    const words = (k: number) => Math.ceil(k / 128) * 4;
    const expected = 4 * (40 * words(37) + 130 * words(40) + 7 * words(130)) + 8 * (40 + 130) + 4 * 4 * 7;
    expect(frozen.sizeBytes).toBe(expected);
    frozen.dispose();
    model.dispose();
  });

  test('uint8 inputs run the first layer on the u8 x 1-bit kernel with identical outputs and the same stored size; other values are rejected', () => {
    const model = new nn.Sequential(
      new nn.BinaryLinear(45, 33, { binarizeInputs: false, seed: 21 }), new nn.BatchNorm1d(33), new nn.Binarize(),
      new nn.BinaryLinear(33, 6, { seed: 22 }), new nn.BatchNorm1d(6),
    );
    const pixels = (rows: number, seed: number) => sg.tensor(Float32Array.from(seededArray(rows * 45, seed, 0, 256), Math.floor), [rows, 45]);
    trainBriefly(model, () => pixels(16, 31), 6);
    const viaUint8 = sg.freeze(model, { uint8Inputs: true });
    const viaFloat = sg.freeze(model, { integerInputMax: 255 });
    expect(viaUint8.stages[0].config.uint8Inputs).toBe(true);
    expect(viaUint8.stages[0].config.threshold).toBe(true);
    expect(viaUint8.stages[0].description).toMatch(/uint8 inputs/);
    for (const rows of [1, 2, 5, 40]) {
      sg.tidy(() => {
        const x = pixels(rows, 40 + rows);
        // extremes of the pixel range too
        if (rows === 40) new Float32Array(rt().memory.buffer, x.offset, 90).set([...new Array(45).fill(0), ...new Array(45).fill(255)]);
        const want = evalOutputs(model, x);
        expect(viaUint8.predict(x).toArray()).toEqual(want);
        expect(viaFloat.predict(x).toArray()).toEqual(want);
      });
    }
    expect(viaUint8.sizeBytes).toBe(viaFloat.sizeBytes);
    // Raw bytes go in as uint8 with the same predictions; a float-input model refuses them.
    sg.tidy(() => {
      const x = pixels(5, 45);
      const bytes = sg.tensor(Uint8Array.from(x.dataSync()), [5, 45], { dtype: 'uint8' });
      expect(viaUint8.predict(bytes).toArray()).toEqual(viaUint8.predict(x).toArray());
      expect(() => viaFloat.predict(bytes)).toThrow(/FrozenModel\.predict: x is uint8, but this model's first layer takes float32 inputs/);
      expect(() => viaUint8.predict(sg.cast(bytes, 'int32'))).toThrow(/FrozenModel\.predict: x must be float32 or uint8, got int32/);
    });
    for (const bad of [0.5, 256, -1, NaN]) {
      sg.tidy(() => {
        const x = pixels(3, 7);
        new Float32Array(rt().memory.buffer, x.offset + 4 * 50, 1)[0] = bad;
        expect(() => viaUint8.predict(x)).toThrow(/FrozenModel\.predict: x must hold integers in \[0, 255\] \(e\.g\. raw pixels\); 1 value is not/);
      });
    }
    viaUint8.dispose();
    viaFloat.dispose();
    model.dispose();
  });

  test('a BinaryLinear with uint8Inputs freezes onto the uint8 kernel with folded thresholds, without freeze options', () => {
    const model = new nn.Sequential(
      new nn.BinaryLinear(45, 20, { binarizeInputs: false, uint8Inputs: true, seed: 23 }), new nn.BatchNorm1d(20), new nn.Binarize(),
      new nn.BinaryLinear(20, 4, { seed: 24 }), new nn.BatchNorm1d(4),
    );
    const pixels = (rows: number, seed: number) => sg.tensor(Float32Array.from(seededArray(rows * 45, seed, 0, 256), Math.floor), [rows, 45]);
    trainBriefly(model, () => pixels(16, 33), 4);
    const frozen = sg.freeze(model);
    expect(frozen.stages[0].config.uint8Inputs).toBe(true);
    expect(frozen.stages[0].config.threshold).toBe(true);
    sg.tidy(() => {
      const x = pixels(9, 34);
      expect(frozen.predict(x).toArray()).toEqual(evalOutputs(model, x));
    });
    frozen.dispose();
    model.dispose();
  });

  test('XNOR scales, biases, negative and zero batch-norm gains still give identical outputs', () => {
    const model = new nn.Sequential(
      new nn.BinaryLinear(20, 24, { binarizeInputs: false, scale: true, bias: true, seed: 4 }), new nn.BatchNorm1d(24), new nn.Sign(),
      new nn.BinaryLinear(24, 24, { scale: true, bias: true, seed: 5 }), new nn.BatchNorm1d(24), new nn.Binarize(),
      new nn.BinaryLinear(24, 5, { seed: 6 }), new nn.BatchNorm1d(5),
    );
    trainBriefly(model, () => integerInputs(12, 20, 11, 9), 5);
    // Flip some gains negative and zero one: thresholds must turn around or become constant.
    const bn = model.layers[1] as any;
    const w = bn.weight as Tensor;
    const v = new Float32Array(rt().memory.buffer, w.offset, w.size);
    v[0] = -v[0] - 0.5; v[3] = -1.25; v[5] = 0;
    sg.markModified(w);
    const frozen = sg.freeze(model, { integerInputMax: 9 });
    expect(frozen.stages[0].config.threshold).toBe(true);
    sg.tidy(() => {
      const x = integerInputs(64, 20, 77, 9);
      expect(frozen.predict(x).toArray()).toEqual(evalOutputs(model, x));
    });
    frozen.dispose();
    model.dispose();
  });

  test('without integerInputMax a float-input binary layer keeps float batch norm (still identical)', () => {
    const model = new nn.Sequential(
      new nn.BinaryLinear(10, 16, { binarizeInputs: false, seed: 7 }), new nn.BatchNorm1d(16), new nn.Binarize(),
      new nn.BinaryLinear(16, 3, { seed: 8 }),
    );
    trainBriefly(model, () => sg.randn([8, 10], { seed: 3 }), 3);
    const frozen = sg.freeze(model);
    expect(frozen.stages[0].config.threshold).toBe(false);
    expect(frozen.stages[0].config.bnEps).toBe(1e-5);
    sg.tidy(() => {
      const x = sg.randn([20, 10], { seed: 5 });
      const got = frozen.predict(x).toArray();
      expect(got).toEqual(evalOutputs(model, x));
    });
    frozen.dispose();
    model.dispose();
  });

  test('float layers (Linear, ReLU, BatchNorm1d, Dropout) are copied and give identical outputs', () => {
    const model = new nn.Sequential(new nn.Linear(6, 8, { seed: 9 }), new nn.BatchNorm1d(8), new nn.ReLU(), new nn.Dropout(0.3, { seed: 1 }), new nn.Linear(8, 3, { seed: 10 }), new nn.Tanh());
    trainBriefly(model, () => sg.randn([10, 6], { seed: 4 }), 3);
    const frozen = sg.freeze(model);
    expect(frozen.stages.map((s) => s.type)).toEqual(['linear', 'batchnorm', 'relu', 'linear', 'tanh']);
    sg.tidy(() => {
      const x = sg.randn([9, 6], { seed: 6 });
      expect(frozen.predict(x).toArray()).toEqual(evalOutputs(model, x));
    });
    // frozen weights are copies: disposing the trained model leaves the frozen one working
    model.dispose();
    sg.tidy(() => expect(frozen.predict(sg.randn([2, 6], { seed: 1 })).shape).toEqual([2, 3]));
    frozen.dispose();
  });

  test('QuantLinear layers freeze to int8 weights; outputs stay within the quantization error', () => {
    const model = new nn.Sequential(new nn.QuantLinear(12, 16, { seed: 11 }), new nn.ReLU(), new nn.QuantLinear(16, 4, { seed: 12 }));
    trainBriefly(model, () => sg.randn([32, 12], { seed: 8 }), 4, 10);
    const frozen = sg.freeze(model);
    expect(frozen.stages.map((s) => s.type)).toEqual(['int8-dense', 'relu', 'int8-dense']);
    expect(frozen.stages[0].tensors.weight.dtype).toBe('int8');
    sg.tidy(() => {
      const x = sg.randn([50, 12], { seed: 13 });
      const want = evalOutputs(model, x).flat();
      const got = frozen.predict(x).toArray().flat();
      const scale = Math.max(...want.map(Math.abs));
      got.forEach((g: number, i: number) => expect(Math.abs(g - want[i])).toBeLessThan(0.02 * scale));
    });
    frozen.dispose();
    model.dispose();
  });

  test('state() / fromState round trip through safetensors gives the same outputs', () => {
    const model = new nn.Sequential(
      new nn.BinaryLinear(30, 20, { binarizeInputs: false, seed: 14 }), new nn.BatchNorm1d(20), new nn.Binarize(),
      new nn.BinaryLinear(20, 4, { seed: 15 }), new nn.BatchNorm1d(4),
    );
    trainBriefly(model, () => integerInputs(8, 30, 21), 4);
    const frozen = sg.freeze(model, { integerInputMax: 255 });
    const { tensors, metadata } = frozen.state();
    const bytes = sg.io.saveSafetensors(tensors, metadata);
    const loaded = sg.io.parseSafetensors(bytes);
    const again = sg.FrozenModel.fromState(loaded.tensors, loaded.metadata);
    sg.tidy(() => {
      const x = integerInputs(10, 30, 22);
      expect(again.predict(x).toArray()).toEqual(frozen.predict(x).toArray());
    });
    expect(() => sg.FrozenModel.fromState({}, { format: 'other' })).toThrow(/metadata.format must be "snapgrad-frozen"/);
    again.dispose();
    frozen.dispose();
    model.dispose();
  });

  test('any Module freezes (a bare layer too); layers without a frozen form and bad options are clear errors that leak nothing', () => {
    const lin = new nn.Linear(3, 2, { seed: 3 });
    const frozen = sg.freeze(lin);
    // the trained model is left as it was (training mode, same forward)
    expect(lin.training).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(lin, 'forward')).toBe(false);
    expect(frozen.stages.map((s) => s.type)).toEqual(['linear']);
    sg.tidy(() => {
      const x = sg.randn([4, 3], { seed: 2 });
      expect(frozen.predict(x).toArray()).toEqual(evalOutputs(lin, x));
    });
    frozen.dispose();
    const vqModel = new nn.Sequential(new nn.VectorQuantizer(4, 2));
    expect(() => sg.freeze(vqModel)).toThrow(/^freeze: layer 0 \(VectorQuantizer\) has no frozen form/);
    expect(() => sg.freeze({} as any)).toThrow(/^freeze: model must be an nn.Module, got Object/);
    expect(() => sg.freeze(lin, null as any)).toThrow(/^freeze: options must be an object, got null/);
    for (const bad of [Infinity, 0, 2.5, -1, NaN, '9']) {
      expect(() => sg.freeze(lin, { integerInputMax: bad as any })).toThrow(/^freeze: options.integerInputMax must be an integer in \[1, 2\^24\]/);
    }
    sg.tidy(() => expect(() => sg.freeze(lin, { example: sg.tensor([1, 2, 3, 4], [2, 2]) })).toThrow(/^Linear: x must have shape \[\.\.\., 3\] \(features on the last axis\), got \[2,2\]/));
    expect(() => sg.freeze(new nn.Sequential(new nn.ReLU()))).toThrow(/^freeze: options.example is required for this model/);
    lin.dispose();
    vqModel.dispose();
  });
});

describe('summary', () => {
  test('counts parameters by bit width, bytes float32 vs packed, MACs by precision', () => {
    const model = new nn.Sequential(
      new nn.BinaryLinear(784, 256, { binarizeInputs: false }), new nn.BatchNorm1d(256), new nn.Binarize(),
      new nn.BinaryLinear(256, 10), new nn.QuantLinear(10, 10), new nn.Linear(10, 3),
    );
    const s = sg.summary(model);
    const row = (name: string) => s.layers.find((l) => l.name === name)!;
    expect(row('0').paramsByBits).toEqual({ 1: 784 * 256 });
    expect(row('0').packedBytes).toBe(256 * Math.ceil(784 / 128) * 16);
    expect(row('0').macs).toEqual({ binary: 0, binaryWeights: 784 * 256, int8: 0, float: 0 });
    expect(row('1').paramsByBits).toEqual({ 32: 4 * 256 });
    expect(row('3').macs.binary).toBe(2560);
    expect(row('4').paramsByBits).toEqual({ 8: 100, 32: 10 });
    expect(row('4').macs.int8).toBe(100);
    expect(row('5').macs.float).toBe(30);
    expect(s.totalParams).toBe(784 * 256 + 1024 + 2560 + 110 + 33);
    expect(s.float32Bytes).toBe(4 * s.totalParams);
    expect(s.compression).toBeCloseTo(s.float32Bytes / s.packedBytes, 10);
    expect(s.table).toMatch(/compression \d+\.\dx/);
    expect(() => sg.summary({} as any)).toThrow(/^summary: model must be an nn.Module/);
    model.dispose();
  });
});

describe('threshold_pack_f32 kernel matches its scalar twin', () => {
  test('random shapes, thresholds, directions, infinities', () => {
    let seed = 1;
    for (const [M, N] of [[0, 5], [1, 1], [3, 4], [2, 31], [5, 32], [4, 33], [7, 127], [3, 128], [2, 129], [6, 300]]) {
      const y = seededArray(M * N, seed++, -3, 3).map(Math.round);
      const thr = seededArray(N, seed++, -3, 3).map(Math.round);
      if (N > 2) { thr[0] = Infinity; thr[1] = -Infinity; }
      const dir = Int32Array.from(seededArray(N, seed++, -1, 1), (v) => (v < 0 ? -1 : 1));
      const want = thresholdPackRef(y, thr, dir, M, N);
      const words = Math.ceil(N / 128) * 4;
      const { kernels, allocator, memory } = rt();
      const py = allocator.alloc(4 * M * N), pt = allocator.alloc(4 * N), pd = allocator.alloc(4 * N), po = allocator.alloc(4 * M * words);
      new Float32Array(memory.buffer, py, M * N).set(y);
      new Float32Array(memory.buffer, pt, N).set(thr);
      new Int32Array(memory.buffer, pd, N).set(dir);
      new Uint32Array(memory.buffer, po, M * words).fill(0xffffffff);
      kernels.threshold_pack_f32(py, pt, pd, M, N, po);
      expect(Array.from(new Uint32Array(memory.buffer, po, M * words)), `M=${M} N=${N}`).toEqual(Array.from(want));
      for (const p of [py, pt, pd, po]) allocator.free(p);
    }
  });
});
