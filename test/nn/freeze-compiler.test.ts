import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';
import { trainSteps } from '../support/train.js';

const sg = useSnapgrad();
expectNoLeaks();
const { nn } = sg;

function integerInputs(rows: number, cols: number, seed: number, max = 255): Tensor {
  return sg.tensor(Float32Array.from(seededArray(rows * cols, seed, 0, max + 1), Math.floor), [rows, cols]);
}

function trainBriefly(model: any, inputs: () => Tensor, classes: number, steps = 5): void {
  trainSteps(model, inputs, classes, steps, 70);
  model.train();
}

function evalOutputs(model: any, x: Tensor): number[][] {
  model.eval();
  const out = sg.tidy(() => sg.noGrad(() => model.forward(x)).toArray());
  model.train();
  return out;
}

function roundTrip(frozen: any): any {
  const { tensors, metadata } = frozen.state();
  const loaded = sg.io.parseSafetensors(sg.io.saveSafetensors(tensors, metadata));
  return sg.FrozenModel.fromState(loaded.tensors, loaded.metadata);
}

/** Two BinaryLinear + BatchNorm1d, ste.sign and a residual add in its own forward (the acceptance model). */
class ResidualBnn extends nn.Module {
  readonly fc1 = this.registerModule('fc1', new nn.BinaryLinear(20, 16, { binarizeInputs: false, seed: 31 }));
  readonly bn1 = this.registerModule('bn1', new nn.BatchNorm1d(16));
  readonly fc2 = this.registerModule('fc2', new nn.BinaryLinear(16, 16, { seed: 32 }));
  readonly bn2 = this.registerModule('bn2', new nn.BatchNorm1d(16));
  readonly head = this.registerModule('head', new nn.BinaryLinear(16, 5, { seed: 33 }));

  forward(x: Tensor): Tensor {
    const h = sg.ste.sign(this.bn1.forward(this.fc1.forward(x)), { grad: 'clipped' });
    const r = this.bn2.forward(this.fc2.forward(h));
    return this.head.forward(sg.ste.sign(sg.add(h, r)));
  }
}

/** A batch-norm output that also feeds a skip path, a chain that folds, and a method-call add. */
class SkipBnn extends nn.Module {
  readonly fc1 = this.registerModule('fc1', new nn.BinaryLinear(24, 16, { binarizeInputs: false, seed: 41 }));
  readonly bn1 = this.registerModule('bn1', new nn.BatchNorm1d(16));
  readonly fc2 = this.registerModule('fc2', new nn.BinaryLinear(16, 16, { seed: 42 }));
  readonly bn2 = this.registerModule('bn2', new nn.BatchNorm1d(16));
  readonly head = this.registerModule('head', new nn.BinaryLinear(16, 4, { seed: 43 }));
  readonly skip = this.registerModule('skip', new nn.Linear(16, 4, { seed: 44 }));

  forward(x: Tensor): Tensor {
    const a = this.bn1.forward(this.fc1.forward(x));
    const g = sg.ste.binarize(this.bn2.forward(this.fc2.forward(sg.ste.binarize(a))));
    return this.head.forward(g).add(this.skip.forward(a));
  }
}

/** N-D input reshaped by batch, its own parameters used by ops (constants), a matmul and an activation method. */
class CustomFloat extends nn.Module {
  readonly lin = this.registerModule('lin', new nn.Linear(12, 6, { seed: 51 }));
  constructor() {
    super();
    this.registerParameter('gain', sg.tensor([0.5, -1, 2, 1.5, -0.25, 3]));
    this.registerParameter('proj', sg.randn([6, 3], { seed: 52 }));
  }

  forward(x: Tensor): Tensor {
    const y = sg.mul(this.lin.forward(x.reshape([x.shape[0], 12])), this.param('gain')).relu();
    return sg.softmax(sg.matmul(y, this.param('proj')), 1);
  }
}

describe('freeze compiles a traced forward', () => {
  test('custom Module with two BinaryLinear, BatchNorm1d, ste.sign and a residual add: frozen predictions equal the eval forward', () => {
    const net = new ResidualBnn();
    trainBriefly(net, () => integerInputs(16, 20, 3), 5);
    const frozen = sg.tidy(() => sg.freeze(net, { example: integerInputs(2, 20, 4), integerInputMax: 255 }));
    // h is read by fc2 and by the add: the sign stays a stage, the batch norms fold into their layers as float epilogues.
    expect(frozen.stages.map((s) => s.type)).toEqual(['binary-dense', 'sign', 'binary-dense', 'op', 'sign', 'binary-dense']);
    expect(frozen.stages[0].config.bnEps).toBe(1e-5);
    expect(frozen.stages[0].config.threshold).toBe(false);
    expect(frozen.stages[3].config.op).toBe('add');
    expect(frozen.inputs).toEqual([[0], [1], [2], [2, 3], [4], [5]]);
    expect(net.training).toBe(true);
    const again = roundTrip(frozen);
    for (const rows of [1, 7, 33]) {
      sg.tidy(() => {
        const x = integerInputs(rows, 20, 100 + rows);
        const want = evalOutputs(net, x);
        expect(frozen.predict(x).toArray()).toEqual(want);
        expect(again.predict(x).toArray()).toEqual(want);
      });
    }
    again.dispose();
    frozen.dispose();
    net.dispose();
  });

  test('a batch-norm output read twice is not fused past; a binarized chain after it folds into thresholds; method calls are traced', () => {
    const net = new SkipBnn();
    trainBriefly(net, () => integerInputs(16, 24, 5, 9), 4);
    const frozen = sg.tidy(() => sg.freeze(net, { example: integerInputs(3, 24, 6, 9), integerInputMax: 9 }));
    // fc1 takes bn1 as a float epilogue, but bn1's output is read twice: no thresholds there.
    expect(frozen.stages.map((s) => s.type)).toEqual(['binary-dense', 'binarize', 'binary-dense', 'binary-dense', 'linear', 'op']);
    expect(frozen.stages[0].config).toMatchObject({ threshold: false, bnEps: 1e-5 });
    expect(frozen.stages[2].config).toMatchObject({ threshold: true, bnEps: null });
    expect(frozen.inputs).toEqual([[0], [1], [2], [3], [1], [4, 5]]);
    const again = roundTrip(frozen);
    sg.tidy(() => {
      const x = integerInputs(40, 24, 7, 9);
      const want = evalOutputs(net, x);
      expect(frozen.predict(x).toArray()).toEqual(want);
      expect(again.predict(x).toArray()).toEqual(want);
    });
    again.dispose();
    frozen.dispose();
    net.dispose();
  });

  test('ops the compiler does not specialize run as float stages: reshape follows the batch, parameters become stored constants', () => {
    const net = new CustomFloat();
    const frozen = sg.tidy(() => sg.freeze(net, { example: sg.randn([2, 3, 4], { seed: 1 }) }));
    expect(frozen.stages.map((s) => s.type === 'op' ? s.config.op : s.type)).toEqual(['reshape', 'linear', 'mul', 'relu', 'matmul', 'softmax']);
    expect(frozen.stages[0].config.args[1]).toEqual({ batchShape: [12] });
    expect(frozen.stages[2].tensors.c0.toArray()).toEqual([0.5, -1, 2, 1.5, -0.25, 3]);
    const again = roundTrip(frozen);
    sg.tidy(() => {
      const x = sg.randn([5, 3, 4], { seed: 9 });
      const want = evalOutputs(net, x);
      expect(frozen.predict(x).toArray()).toEqual(want);
      expect(again.predict(x).toArray()).toEqual(want);
    });
    // frozen constants are copies: training the model on does not change the frozen one
    sg.tidy(() => {
      const x = sg.randn([2, 3, 4], { seed: 10 });
      const before = frozen.predict(x).toArray();
      const g = net.parameters()[2];
      new Float32Array(g.dataSync()).fill(7);
      sg.markModified(g);
      expect(frozen.predict(x).toArray()).toEqual(before);
    });
    again.dispose();
    frozen.dispose();
    net.dispose();
  });

  test('Sequential models trace without an example (zeros of the first layer\'s width), and with one the result is the same', () => {
    const model = new nn.Sequential(
      new nn.Flatten(), new nn.BinaryLinear(30, 20, { binarizeInputs: false, seed: 61 }), new nn.BatchNorm1d(20), new nn.Binarize(),
      new nn.Dropout(0.2, { seed: 2 }), new nn.BinaryLinear(20, 6, { seed: 62 }), new nn.BatchNorm1d(6), new nn.Hardtanh(-0.5, 0.5),
    );
    trainBriefly(model, () => integerInputs(12, 30, 8), 6);
    const a = sg.freeze(model, { uint8Inputs: true });
    const b = sg.tidy(() => sg.freeze(model, { uint8Inputs: true, example: integerInputs(4, 30, 9) }));
    expect(a.stages.map((s) => s.type)).toEqual(['flatten', 'binary-dense', 'binary-dense', 'hardtanh']);
    expect(a.stages[1].config).toMatchObject({ uint8Inputs: true, threshold: true });
    expect(b.state().metadata).toEqual(a.state().metadata);
    sg.tidy(() => {
      const x = integerInputs(25, 30, 10);
      const want = evalOutputs(model, x);
      expect(a.predict(x).toArray()).toEqual(want);
      expect(b.predict(sg.tensor(Uint8Array.from(x.dataSync()), [25, 30], { dtype: 'uint8' })).toArray()).toEqual(want);
    });
    a.dispose();
    b.dispose();
    model.dispose();
  });

  test('tracing restores every forward and training flag when forward throws, and leaks nothing', () => {
    class Broken extends nn.Module {
      readonly lin = this.registerModule('lin', new nn.Linear(4, 4, { seed: 1 }));
      forward(x: Tensor): Tensor {
        sg.add(this.lin.forward(x), 1);
        throw new Error('boom');
      }
    }
    const net = new Broken();
    sg.tidy(() => expect(() => sg.freeze(net, { example: sg.zeros([2, 4]) })).toThrow(/^boom$/));
    expect(net.training).toBe(true);
    expect(Object.prototype.hasOwnProperty.call(net.lin, 'forward')).toBe(false);
    // and tracing works afterwards
    class Untraceable extends nn.Module {
      readonly lin = this.registerModule('lin', new nn.Linear(4, 4, { seed: 1 }));
      forward(x: Tensor): Tensor {
        return sg.add(this.lin.forward(x), sg.ones([x.shape[0], 4]));
      }
    }
    const u = new Untraceable();
    sg.tidy(() => expect(() => sg.freeze(u, { example: sg.zeros([2, 4]) })).toThrow(/^freeze: add reads a tensor computed during forward by something freeze cannot trace/));
    expect(() => sg.freeze(u)).toThrow(/^freeze: options.example is required for this model/);
    net.dispose();
    u.dispose();
  });
});

test('an ste.sign call whose only reader binarizes its input folds like nn.Sign; one read by the output does not', () => {
  class SignChain extends nn.Module {
    readonly fc1 = this.registerModule('fc1', new nn.BinaryLinear(9, 12, { binarizeInputs: false, scale: true, bias: true, seed: 81 }));
    readonly bn1 = this.registerModule('bn1', new nn.BatchNorm1d(12));
    readonly fc2 = this.registerModule('fc2', new nn.BinaryLinear(12, 12, { seed: 82 }));
    readonly bn2 = this.registerModule('bn2', new nn.BatchNorm1d(12));
    forward(x: Tensor): Tensor {
      const h = sg.ste.sign(this.bn1.forward(this.fc1.forward(x)));
      return sg.ste.sign(this.bn2.forward(this.fc2.forward(h)));
    }
  }
  const net = new SignChain();
  trainBriefly(net, () => integerInputs(16, 9, 11, 15), 3);
  const frozen = sg.tidy(() => sg.freeze(net, { example: integerInputs(2, 9, 12, 15), integerInputMax: 15 }));
  // the last sign is the model's output (sign(0) = 0 differs from binarize there): float batch norm, then sign
  expect(frozen.stages.map((s) => [s.type, s.config.threshold])).toEqual([['binary-dense', true], ['binary-dense', false], ['sign', undefined]]);
  sg.tidy(() => {
    const x = integerInputs(50, 9, 13, 15);
    expect(frozen.predict(x).toArray()).toEqual(evalOutputs(net, x));
  });
  frozen.dispose();
  net.dispose();
});

describe('summary from the trace', () => {
  test('custom modules: parameters by bits, MACs per sample of declared layers and recorded matmuls', () => {
    const net = new ResidualBnn();
    const s = sg.tidy(() => sg.summary(net, { example: integerInputs(3, 20, 1) }));
    const row = (name: string) => s.layers.find((l) => l.name === name)!;
    expect(row('fc1').macs).toEqual({ binary: 0, binaryWeights: 320, int8: 0, float: 0 });
    expect(row('fc2').macs).toEqual({ binary: 256, binaryWeights: 0, int8: 0, float: 0 });
    expect(row('head').macs.binary).toBe(80);
    expect(row('bn1').macs.float).toBe(16);
    expect(s.macs).toEqual({ binary: 336, binaryWeights: 320, int8: 0, float: 32 });
    expect(s.totalParams).toBe(320 + 256 + 80 + 2 * 4 * 16);
    const f = new CustomFloat();
    const t = sg.tidy(() => sg.summary(f, { example: sg.zeros([2, 3, 4]) }));
    // the model's own row: its two parameters and the matmul its forward calls (6 x 3 per sample)
    const own = t.layers.find((l) => l.type === 'CustomFloat')!;
    expect(own.paramsByBits).toEqual({ 32: 24 });
    expect(own.macs.float).toBe(18);
    expect(t.layers.find((l) => l.name === 'lin')!.macs.float).toBe(72);
    expect(() => sg.summary(f)).toThrow(/^summary: options.example is required/);
    net.dispose();
    f.dispose();
  });
});
