// Issue 10, nn / optim / schedules / gradcheck: every listed example in this
// scope, and the sweep beyond it. A rejected call must throw an Error that
// starts with the public name and names the argument, and must change no
// parameter, buffer, codebook or optimizer state and leak nothing.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();

const bits = (t: Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer));
/** A snapshot of every value in a state dict (parameters and buffers), to compare before/after. */
const snapshot = (m: { stateDict(): Record<string, Tensor> }): Record<string, number[]> =>
  Object.fromEntries(Object.entries(m.stateDict()).map(([k, t]) => [k, bits(t)]));
const alive = (): number => sg.memoryStats().tensorsAlive;

function param(values: number[]): Tensor {
  return own(sg.tensor(values, [values.length], { requiresGrad: true }));
}

describe('class 1: null options mean omitted options; unchecked arguments are clear errors', () => {
  test('nn.Linear(4, 2, null) is nn.Linear(4, 2) (and every layer constructor takes null options)', () => {
    const a = own(new sg.nn.Linear(4, 2, null as any));
    expect(a.bias).not.toBeNull();
    expect(a.weight.shape).toEqual([2, 4]);
    const layers = [
      new sg.nn.BinaryLinear(4, 2, null as any), new sg.nn.QuantLinear(4, 2, null as any), new sg.nn.BatchNorm1d(3, null as any),
      new sg.nn.VectorQuantizer(3, 2, null as any), new sg.nn.Dropout(null as any, null as any), new sg.nn.Sign(null as any),
      new sg.nn.Binarize(null as any), new sg.nn.Hardtanh(null as any, null as any),
      new sg.nn.Linear(4, 2, { bias: null, seed: null } as any),
    ];
    for (const m of layers) own(m);
    expect((layers[4] as any).p).toBe(0.5);
    expect((layers[7] as any).min).toBe(-1);
    expect(layers[8].parameters().length).toBe(2);
    // null fields take their defaults too; activationBits: null keeps its meaning (float activations)
    expect(own(new sg.nn.QuantLinear(4, 2, { activationBits: null })).activationBits).toBeNull();
    expect(own(new sg.nn.QuantLinear(4, 2, { weightBits: null } as any)).weightBits).toBe(8);
  });

  test('wrong option types are rejected naming the class and option', () => {
    expect(() => new sg.nn.Linear(4, 2, 5 as any)).toThrow(/^Linear: options must be an object/);
    expect(() => new sg.nn.Linear(4, 2, { bias: 'no' } as any)).toThrow(/^Linear: bias must be true or false/);
    expect(() => new sg.nn.Linear(4, 2, { seed: -1 })).toThrow(/^Linear: seed must be >= 0/);
    expect(() => new sg.nn.Linear(4, 2, { seed: 0.5 })).toThrow(/^Linear: seed must be an integer/);
    expect(() => new sg.nn.Linear(2.5, 2)).toThrow(/^Linear: inFeatures must be an integer/);
    expect(() => new sg.nn.Linear(2 ** 20, 2 ** 20)).toThrow(/^Linear: inFeatures must be <= 65536/);
    expect(() => new sg.nn.BinaryLinear(4, 2, { inputGrad: 'nope' } as any)).toThrow(/^BinaryLinear: inputGrad must be one of 'identity', 'clipped', 'approx', 'swish'/);
    expect(() => new sg.nn.BinaryLinear(4, 2, { clip: Infinity })).toThrow(/^BinaryLinear: clip must be finite/);
    expect(() => new sg.nn.QuantLinear(4, 2, { perChannel: 1 } as any)).toThrow(/^QuantLinear: perChannel must be true or false/);
    expect(() => new sg.nn.BatchNorm1d(3, { eps: 1e-60 })).toThrow(/^BatchNorm1d: eps must be >=/);
    expect(() => new sg.nn.BatchNorm1d(3, { affine: 'yes' } as any)).toThrow(/^BatchNorm1d: affine must be true or false/);
    expect(() => new sg.nn.Dropout(0.5, { seed: NaN })).toThrow(/^Dropout: seed must be a number/);
    expect(() => new sg.nn.Hardtanh('a' as any)).toThrow(/^Hardtanh: min must be a number/);
    expect(() => new sg.nn.Sign(7 as any)).toThrow(/^Sign: options must be an object/);
    expect(() => new sg.nn.Sign({ grad: 'steep' } as any)).toThrow(/^Sign: grad must be one of 'identity', 'clipped', 'approx', 'swish'/);
    expect(() => new sg.nn.Binarize({ clipValue: -1 })).toThrow(/^Binarize: clipValue must be > 0/);
    expect(() => new sg.nn.Binarize({ beta: Infinity })).toThrow(/^Binarize: beta must be finite/);
    expect(() => new sg.nn.VectorQuantizer(3, 2, { ema: 0 } as any)).toThrow(/^VectorQuantizer: ema must be true or false/);
    expect(() => new sg.nn.VectorQuantizer(3, 2, { epsilon: 1e-45 })).toThrow(/^VectorQuantizer: epsilon must be >= 1e-30/);
  });

  test('nn.Flatten().forward(5) (and every layer given a non-tensor) names the layer and x', () => {
    expect(() => new sg.nn.Flatten().forward(5 as any)).toThrow(/^Flatten\.forward: x must be a Tensor, got 5/);
    expect(() => new sg.nn.Flatten().forward(null as any)).toThrow(/^Flatten\.forward: x must be a Tensor, got null/);
    expect(() => new sg.nn.ReLU().forward({} as any)).toThrow(/^ReLU\.forward: x must be a Tensor/);
    expect(() => new sg.nn.Sequential(new sg.nn.ReLU()).forward('x' as any)).toThrow(/^Sequential\.forward: x must be a Tensor/);
    expect(() => own(new sg.nn.Dropout()).forward(undefined as any)).toThrow(/^Dropout\.forward: x must be a Tensor/);
    expect(() => own(new sg.nn.BatchNorm1d(2)).forward([1, 2] as any)).toThrow(/^BatchNorm1d\.forward: x must be a Tensor/);
    expect(() => own(new sg.nn.VectorQuantizer(2, 2)).forward(3 as any)).toThrow(/^VectorQuantizer\.forward: z must be a Tensor/);
    const d = sg.tensor([1, 2], [1, 2]);
    d.dispose();
    expect(() => new sg.nn.Flatten().forward(d)).toThrow(/^Flatten\.forward: x \(tensor #\d+\) was disposed/);
  });

  test('optim.StepLR(null, 1) and CosineLR(undefined, 5) say they need an optimizer; null gamma/minLr are the defaults', () => {
    expect(() => new sg.optim.StepLR(null as any, 1)).toThrow(/^StepLR: optimizer must be an optimizer/);
    expect(() => new sg.optim.CosineLR(undefined as any, 5)).toThrow(/^CosineLR: optimizer must be an optimizer/);
    expect(() => new sg.optim.StepLR({ lr: NaN }, 1)).toThrow(/^StepLR: optimizer\.lr must be a number/);
    const p = param([1]);
    const opt = own(new sg.optim.SGD([p], { lr: 0.1 }));
    expect(new sg.optim.StepLR(opt, 1, null as any).gamma).toBe(0.1);
    expect(new sg.optim.CosineLR(opt, 3, null as any).minLr).toBe(0);
    expect(() => new sg.optim.StepLR(opt, 1, 2)).toThrow(/^StepLR: gamma must be <= 1/);
  });

  test('optimizers: null options fields take defaults, null group options are omitted, a bad options bag is named', () => {
    const p = param([1, 2]);
    const adam = own(new sg.optim.Adam([p], { lr: 0.1, beta1: null, beta2: null, eps: null, weightDecay: null } as any));
    p.grad = sg.tensor([1, 1]);
    adam.step();
    const q = param([1]);
    own(new sg.optim.Bop([q], null));
    own(new sg.optim.SGD([{ params: [param([3])], options: null as any }], { lr: 0.1 }));
    expect(() => new sg.optim.SGD([p], 0.1 as any)).toThrow(/^SGD: options must be an object/);
    expect(() => new sg.optim.Adam([p], null as any)).toThrow(/^Adam: lr must be a number, got undefined/);
    expect(() => new sg.optim.Adam([p], { lr: 1e39 })).toThrow(/^Adam: lr must be <= 3\.4/);
    expect(() => new sg.optim.Adam([p], { lr: 0.1, eps: 1e-50 })).toThrow(/^Adam: eps must be >=/);
    expect(() => new sg.optim.SGD([{ params: [p], options: 'fast' as any }], { lr: 0.1 })).toThrow(/^SGD: params\[0\]\.options must be an object/);
    const model = own(new sg.nn.Linear(2, 2));
    expect(() => new sg.optim.SGD(model as any, { lr: 0.1 })).toThrow(/^SGD: params must be a non-empty array .*; pass model\.parameters\(\)/);
    const derived = own(sg.mul(p, 2));
    expect(() => new sg.optim.Adam([derived], { lr: 0.1 })).toThrow(/^Adam: tensor #\d+ is the result of an op, not a parameter/);
  });

  test('Module.train(null) is train(); train("no") and loadStateDict(state, null/5) are clear', () => {
    const m = own(new sg.nn.Linear(2, 2));
    m.eval();
    m.train(null as any);
    expect(m.training).toBe(true);
    expect(() => m.train('no' as any)).toThrow(/^Linear\.train: mode must be true or false/);
    m.loadStateDict(m.stateDict(), null);
    expect(() => m.loadStateDict(m.stateDict(), 5 as any)).toThrow(/^loadStateDict: options must be an object/);
    expect(() => m.loadStateDict(m.stateDict(), { strict: 'yes' } as any)).toThrow(/^loadStateDict: strict must be true or false/);
  });
});

describe('class 3: opt.step() validates every gradient before any update', () => {
  const badGrads: [string, () => unknown][] = [
    ['a 1-element tensor', () => sg.tensor([1])],
    ['an int32 tensor', () => sg.tensor([1, 1, 1], [3], { dtype: 'int32' })],
    ['a string', () => 'grad'],
    ['a tensor of the wrong shape', () => sg.tensor([1, 1, 1], [3, 1])],
    ['a disposed tensor', () => { const t = sg.tensor([1, 1, 1]); t.dispose(); return t; }],
  ];
  const makers: [string, (ps: Tensor[]) => any][] = [
    ['SGD with momentum', (ps) => new sg.optim.SGD(ps, { lr: 0.1, momentum: 0.9 })],
    ['Adam', (ps) => new sg.optim.Adam(ps, { lr: 0.1 })],
    ['AdamW', (ps) => new sg.optim.AdamW(ps, { lr: 0.1 })],
    ['Bop', (ps) => new sg.optim.Bop(ps, { gamma: 1, threshold: 0 })],
  ];
  for (const [optName, make] of makers) {
    for (const [gradName, bad] of badGrads) {
      test(`${optName}: a grad that is ${gradName} is rejected and no parameter or state changes (a good parameter before it included)`, () => {
        const good = param([0.5, -0.25, 2]);
        const p = param([1, -2, 3]);
        const opt = own(make([good, p]));
        good.grad = sg.tensor([1, -1, 1]);
        const g = bad();
        (p as any).grad = g;
        const before = [bits(good), bits(p), ...opt.slots.flatMap((s: any) => s.state.map(bits))];
        const n = alive();
        expect(() => opt.step()).toThrow(new RegExp(`^${optName.split(' ')[0]}\\.step: the grad of parameter 1|^${optName.split(' ')[0]}\\.step: parameter 1 .*grad that is not a Tensor`));
        expect([bits(good), bits(p), ...opt.slots.flatMap((s: any) => s.state.map(bits))]).toEqual(before);
        expect(alive()).toBe(n);
        if (g && typeof g === 'object' && 'dispose' in g) (g as Tensor).dispose();
        // zeroGrad clears whatever was assigned, tensor or not.
        opt.zeroGrad();
        expect(p.grad).toBeNull();
        // The same optimizer still steps once the gradient is fixed.
        p.grad = sg.tensor([1, 1, 1]);
        opt.step();
        expect(bits(p)).not.toEqual(before[1]);
      });
    }
  }

  test('Chain checks every optimizer first: a bad grad in the second leaves the first untouched', () => {
    const a = param([1, 2]), b = param([3, 4]);
    const sgd = own(new sg.optim.SGD([a], { lr: 0.1 }));
    const adam = own(new sg.optim.Adam([b], { lr: 0.1 }));
    const chain = own(new sg.optim.Chain(sgd, adam));
    a.grad = sg.tensor([1, 1]);
    b.grad = sg.tensor([1, 1, 1], [3]);
    const before = [bits(a), bits(b)];
    expect(() => chain.step()).toThrow(/^Adam\.step: the grad of parameter 0/);
    expect([bits(a), bits(b)]).toEqual(before);
  });

  test('a parameter disposed under an optimizer, and a disposed optimizer, are clear errors (no write to freed memory)', () => {
    const a = sg.tensor([1, 2], [2], { requiresGrad: true });
    const opt = own(new sg.optim.SGD([a], { lr: 0.1 }));
    a.dispose();
    expect(() => opt.step()).toThrow(/^SGD\.step: parameter 0 \(tensor #\d+\) was disposed/);
    const b = param([1]);
    const adam = new sg.optim.Adam([b], { lr: 0.1 });
    adam.dispose();
    b.grad = sg.tensor([1]);
    expect(() => adam.step()).toThrow(/^Adam\.step: the optimizer was disposed/);
    expect(() => { adam.lr = 0.5; }).toThrow(/^Adam: the optimizer was disposed/);
  });

  test('a schedule whose next lr is rejected does not advance', () => {
    const p = param([1]);
    const opt = own(new sg.optim.SGD([p], { lr: 1e38 }));
    const s = new sg.optim.StepLR({ lr: 1e38 } as any, 1, 1);
    expect(s.step()).toBe(1e38);
    const sched = new sg.optim.CosineLR(opt, 4);
    opt.dispose();
    expect(() => sched.step()).toThrow(/^SGD: the optimizer was disposed/);
    expect((sched as any).t).toBe(0);
  });
});

describe('class 4: a rejected call damages no state', () => {
  test('QuantLinear: a training forward with an Infinity is rejected, and later clean forwards still work', () => {
    const layer = own(new sg.nn.QuantLinear(3, 2, { seed: 1 }));
    const clean = own(sg.tensor([0.5, -1, 2, 0.25, 0.1, -0.3], [2, 3]));
    const y0 = sg.tidy(() => bits(layer.forward(clean)));
    const before = snapshot(layer);
    for (const v of [Infinity, -Infinity, NaN]) {
      const bad = own(sg.tensor([0.5, v, 2, 0.25, 0.1, -0.3], [2, 3]));
      const n = alive();
      expect(() => layer.forward(bad)).toThrow(/^QuantLinear: x \(in training, it updates the activation range\) (must be finite, but max\|x\| is Infinity|contains 1 NaN value)/);
      expect(alive()).toBe(n);
      expect(snapshot(layer)).toEqual(before);
    }
    layer.eval();
    const fresh = own(new sg.nn.QuantLinear(3, 2, { seed: 1 }));
    sg.tidy(() => { fresh.forward(clean); });
    fresh.eval();
    expect(sg.tidy(() => bits(layer.forward(clean)))).toEqual(sg.tidy(() => bits(fresh.forward(clean))));
    expect(y0.length).toBe(4);
  });

  test('QuantLinear: a learned weight scale driven to <= 0 by an optimizer is a clear error, not silent NaN; loadStateDict refuses one', () => {
    const layer = own(new sg.nn.QuantLinear(3, 2, { seed: 1, learnScale: true, perChannel: false }));
    const scale = layer.stateDict().weightScale;
    const opt = own(new sg.optim.SGD([scale], { lr: 1 }));
    scale.grad = sg.tensor([[scale.item() + 1]]);
    opt.step();
    const x = own(sg.tensor([0.5, -1, 2], [1, 3]));
    expect(() => layer.forward(x)).toThrow(/^QuantLinear: the learned weightScale element 0 is -1, but it must be finite and > 0/);
    const fresh = own(new sg.nn.QuantLinear(3, 2, { seed: 1, learnScale: true, perChannel: false }));
    const zero = own(sg.tensor([[0]]));
    expect(() => fresh.loadStateDict({ ...fresh.stateDict(), weightScale: zero })).toThrow(/^loadStateDict: state\["weightScale"\] element 0 is 0, but QuantLinear needs finite values >= 1e-30/);
  });

  test('VectorQuantizer: a batch with an Infinity is rejected before k-means and before the EMA; codebook, sizes, sums unchanged', () => {
    for (const first of [true, false]) {
      const vq = own(new sg.nn.VectorQuantizer(3, 2, { seed: 4 }));
      const clean = own(sg.tensor(seededArray(12, 3), [6, 2]));
      if (!first) sg.tidy(() => { vq.quantize(clean); });
      const before = snapshot(vq);
      for (const v of [Infinity, NaN]) {
        const z = own(sg.tensor([0.1, 0.2, v, 0.4, 0.5, 0.6], [3, 2]));
        const n = alive();
        expect(() => vq.quantize(z)).toThrow(/^VectorQuantizer: z must be finite, but element 2 is/);
        expect(alive()).toBe(n);
        expect(snapshot(vq)).toEqual(before);
      }
      const after = sg.tidy(() => vq.quantize(clean).indices.toArray());
      expect((after as number[]).length).toBe(6);
    }
  });

  test('VectorQuantizer: an empty batch is a clear error, not a "mean:" error', () => {
    const vq = own(new sg.nn.VectorQuantizer(3, 2));
    const z = own(sg.zeros([0, 2]));
    expect(() => vq.quantize(z)).toThrow(/^VectorQuantizer: z must have at least one row/);
  });

  test('BatchNorm1d: a training batch with NaN leaves the running statistics as they were', () => {
    const bn = own(new sg.nn.BatchNorm1d(2));
    const before = snapshot(bn);
    const x = own(sg.tensor([1, 2, NaN, 4], [2, 2]));
    const n = alive();
    expect(() => bn.forward(x)).toThrow(/^BatchNorm1d: x \(in training, it updates the running statistics\) must be finite, but the batch mean of feature 0 is NaN/);
    expect(snapshot(bn)).toEqual(before);
    expect(alive()).toBe(n);
    for (const v of [Infinity, 3e38]) {
      const y = own(sg.tensor([1, 2, v, -v], [2, 2]));
      const m = alive();
      expect(() => bn.forward(y)).toThrow(/^BatchNorm1d: x \(in training, it updates the running statistics\) must be finite, but the batch (mean|variance) of feature \d is/);
      expect(snapshot(bn)).toEqual(before);
      expect(alive()).toBe(m);
    }
  });

  test('gradcheck whose function throws restores its input values and grads (in the analytic and the numeric pass)', () => {
    for (const throwOnCall of [1, 2, 3]) {
      const x = param([0.5, -1.5, 2]);
      const g = sg.tensor([7, 8, 9]);
      x.grad = g;
      const v0 = bits(x);
      let calls = 0;
      const n = alive();
      expect(() => sg.gradcheck((t) => {
        if (++calls === throwOnCall) throw new Error('boom');
        return sg.mul(t, t);
      }, [x])).toThrow('boom');
      expect(bits(x)).toEqual(v0);
      expect(x.grad).toBe(g);
      expect(g.disposed).toBe(false);
      expect(Array.from(g.dataSync())).toEqual([7, 8, 9]);
      expect(alive()).toBe(n);
    }
  });

  test('loadStateDict with a wrong shape, dtype, missing key, disposed tensor or an impossible value leaves the model unchanged', () => {
    const model = own(new sg.nn.Sequential(new sg.nn.Linear(3, 2, { seed: 1 }), new sg.nn.BatchNorm1d(2), new sg.nn.QuantLinear(2, 2, { seed: 2 })));
    const before = snapshot(model);
    const good = model.stateDict();
    const make = (over: Record<string, unknown>, drop?: string): Record<string, any> => {
      const s: Record<string, any> = { ...good, ...over };
      if (drop) delete s[drop];
      return s;
    };
    const disposed = sg.zeros([2, 3]);
    disposed.dispose();
    const cases: [Record<string, any>, RegExp][] = [
      [make({ '0.weight': own(sg.zeros([3, 2])) }), /^loadStateDict: state\["0\.weight"\] is float32 \[3,2\], expected float32 \[2,3\]/],
      [make({ '0.bias': own(sg.zeros([2], { dtype: 'int32' })) }), /^loadStateDict: state\["0\.bias"\] is int32/],
      [make({}, '1.runningVar'), /^loadStateDict: missing 1\.runningVar/],
      [make({ '0.weight': disposed }), /^loadStateDict: state\["0\.weight"\] \(tensor #\d+\) was disposed/],
      [make({ '1.runningVar': own(sg.tensor([1, -1])) }), /^loadStateDict: state\["1\.runningVar"\] element 1 is -1, but BatchNorm1d needs finite values >= 0/],
      [make({ '2.inputRange': own(sg.tensor(Infinity)) }), /^loadStateDict: state\["2\.inputRange"\] element 0 is Infinity/],
      [make({ '0.weight': 5 }), /^loadStateDict: state\["0\.weight"\] must be a Tensor/],
    ];
    for (const [state, re] of cases) {
      expect(() => model.loadStateDict(state)).toThrow(re);
      expect(snapshot(model)).toEqual(before);
    }
    expect(() => model.loadStateDict([] as any)).toThrow(/^loadStateDict: state must be an object \(or Map\)/);
    // A Map is accepted like an object.
    model.loadStateDict(new Map(Object.entries(good)));
    expect(snapshot(model)).toEqual(before);
  });
});

describe('class 5: leaks', () => {
  test('a failed BinaryLinear.forward (uint8 inputs that are not integers) leaks nothing', () => {
    const layer = own(new sg.nn.BinaryLinear(3, 2, { binarizeInputs: false, uint8Inputs: true }));
    const x = own(sg.tensor([1.5, 2, 3], [1, 3]));
    const n = alive();
    expect(() => layer.forward(x)).toThrow(/BinaryLinear/);
    expect(alive()).toBe(n);
  });

  test('BatchNorm1d in eval with trainable parameters leaves only its output alive (intermediates freed with it)', () => {
    const bn = own(new sg.nn.BatchNorm1d(3));
    bn.eval();
    const x = own(sg.tensor(seededArray(6, 1), [2, 3], { requiresGrad: true }));
    const n = alive();
    const y = bn.forward(x);
    const want = sg.tidy(() => sg.noGrad(() => bits(bn.forward(x))));
    expect(bits(y)).toEqual(want);
    // backward still works: the intermediates are held by the output
    sg.tidy(() => sg.sum(y).backward());
    expect(x.grad).not.toBeNull();
    y.dispose();
    x.grad!.dispose();
    x.grad = null;
    bn.weight!.grad?.dispose();
    bn.weight!.grad = null;
    bn.bias!.grad?.dispose();
    bn.bias!.grad = null;
    expect(alive()).toBe(n);
  });
});

describe('class 5: every layer leaves exactly its output alive (intermediates go with it), with and without the tape', () => {
  const layers: [string, () => any, number[]][] = [
    ['Linear', () => new sg.nn.Linear(5, 3, { seed: 1 }), [4, 5]],
    ['BinaryLinear', () => new sg.nn.BinaryLinear(5, 3, { seed: 2, bias: true, scale: true }), [4, 5]],
    ['BinaryLinear float inputs', () => new sg.nn.BinaryLinear(5, 3, { seed: 2, binarizeInputs: false }), [4, 5]],
    ['QuantLinear', () => new sg.nn.QuantLinear(5, 3, { seed: 3 }), [4, 5]],
    ['QuantLinear learned scale', () => new sg.nn.QuantLinear(5, 3, { seed: 3, learnScale: true, perChannel: false }), [4, 5]],
    ['BatchNorm1d', () => new sg.nn.BatchNorm1d(5), [4, 5]],
    ['Dropout', () => new sg.nn.Dropout(0.3, { seed: 4 }), [4, 5]],
    ['VectorQuantizer', () => new sg.nn.VectorQuantizer(4, 5, { seed: 7 }), [6, 5]],
    ['VectorQuantizer (gradient codebook)', () => new sg.nn.VectorQuantizer(4, 5, { seed: 7, ema: false }), [6, 5]],
    ['Sequential', () => new sg.nn.Sequential(new sg.nn.Linear(5, 4, { seed: 5 }), new sg.nn.BatchNorm1d(4), new sg.nn.Hardtanh(), new sg.nn.Binarize(), new sg.nn.BinaryLinear(4, 2, { seed: 6 })), [4, 5]],
  ];
  for (const [name, make, shape] of layers) {
    for (const mode of ['train', 'eval'] as const) {
      test(`${name} (${mode})`, () => {
        const m = own(make());
        if (mode === 'eval') m.eval();
        const x = own(sg.tensor(seededArray(shape[0] * shape[1], 9, -2, 2), shape, { requiresGrad: true }));
        // The reference: a twin layer (same seeds) running the same forward inside tidy.
        const twin = own(make());
        if (mode === 'eval') twin.eval();
        const want = sg.tidy(() => bits(twin.forward(x)));
        const n = alive();
        const y = m.forward(x);
        expect(bits(y)).toEqual(want);
        sg.tidy(() => sg.sum(sg.square(y)).backward());
        expect(x.grad).not.toBeNull();
        y.dispose();
        for (const p of [x, ...m.parameters()]) { p.grad?.dispose(); p.grad = null; }
        expect(alive()).toBe(n);
        // Without the tape nothing is kept at all.
        const z = sg.noGrad(() => m.forward(x));
        expect(alive()).toBe(n + 1);
        z.dispose();
      });
    }
  }
});

describe('class 7: errors say how to fix it', () => {
  test('a single example given to a Linear layer, a rank-3 input, a one-row training batch for BatchNorm1d', () => {
    const m = own(new sg.nn.Linear(4, 2));
    const one = own(sg.tensor([1, 2, 3, 4]));
    // One example [in] is a batch of no leading axes: [out].
    sg.tidy(() => expect(m.forward(one).shape).toEqual([2]));
    const img = own(sg.zeros([2, 2, 2]));
    expect(() => m.forward(img)).toThrow(/^Linear: x must have shape \[\.\.\., 4\] \(features on the last axis\), got \[2,2,2\]; flatten it first \(nn\.Flatten\)/);
    const bn = own(new sg.nn.BatchNorm1d(4));
    const row = own(sg.tensor([[1, 2, 3, 4]]));
    expect(() => bn.forward(row)).toThrow(/^BatchNorm1d: training needs a batch of at least 2 rows, got 1 .*eval mode/);
  });
});

describe('disposed layers', () => {
  test('a disposed layer (or one whose parameter was disposed) is a clear error, never a read of freed memory', () => {
    const cases: [string, () => any, number[]][] = [
      ['Linear', () => new sg.nn.Linear(3, 2), [2, 3]], ['BinaryLinear', () => new sg.nn.BinaryLinear(3, 2), [2, 3]],
      ['QuantLinear', () => new sg.nn.QuantLinear(3, 2), [2, 3]], ['BatchNorm1d', () => new sg.nn.BatchNorm1d(3).eval(), [2, 3]],
      ['VectorQuantizer', () => new sg.nn.VectorQuantizer(2, 3), [2, 3]],
    ];
    for (const [name, make, shape] of cases) {
      const m = make();
      m.dispose();
      const x = own(sg.tensor(seededArray(6, 2), shape));
      const n = alive();
      expect(() => m.forward(x), name).toThrow(new RegExp(`^${name}(\\.forward)?: the layer's (parameter|buffer) "\\w+" \\(tensor #\\d+\\) was disposed`));
      expect(alive()).toBe(n);
    }
  });
});

test('an empty Sequential returns its input untouched (its history is not tied to it)', () => {
  const a = own(sg.tensor([1, 2], [2], { requiresGrad: true }));
  const n = alive();
  sg.tidy(() => {
    const x = sg.mul(a, 2);
    expect(new sg.nn.Sequential().forward(x)).toBe(x);
  });
  expect(alive()).toBe(n);
});

describe('class 6: unbounded work is bounded', () => {
  test('VectorQuantizer(3, 2, { kmeansIters: 2**31 }) is rejected at once with the documented maximum', () => {
    expect(() => new sg.nn.VectorQuantizer(3, 2, { kmeansIters: 2 ** 31 })).toThrow(/^VectorQuantizer: kmeansIters must be <= 1000/);
    expect(() => new sg.nn.VectorQuantizer(2 ** 17, 2)).toThrow(/^VectorQuantizer: numCodes must be <= 65536/);
    expect(() => new sg.nn.VectorQuantizer(2 ** 16, 2 ** 16)).toThrow(/^VectorQuantizer: a codebook of 65536 x 65536/);
  });
});

describe('gradcheck options (class 1 and 3)', () => {
  test('null options are the defaults; an eps that vanishes in float32, 0, NaN or a string is an error, not ok: true', () => {
    const x = param([0.5, -1.5, 2]);
    // A gradient 200x too large must never pass.
    const wrong = sg.customGrad({ forward: ([a]: Tensor[]) => sg.mul(a, a), backward: (dy: Tensor, [a]: Tensor[]) => [sg.mul(sg.mul(dy, a), 400)] } as any);
    expect(sg.gradcheck((t) => sg.mul(t, t), [x], null).ok).toBe(true);
    expect(sg.gradcheck((t) => wrong(t), [x], null).ok).toBe(false);
    expect(() => sg.gradcheck((t) => sg.mul(t, t), [x], 3 as any)).toThrow(/^gradcheck: options must be an object/);
    for (const eps of [0, NaN, 'x', -1]) expect(() => sg.gradcheck((t) => sg.mul(t, t), [x], { eps: eps as any })).toThrow(/^gradcheck: eps must be/);
    expect(() => sg.gradcheck((t) => sg.mul(t, t), [x], { eps: 1e-8 })).toThrow(/^gradcheck: eps must be >= 0.000001, got 1e-8/);
  });
});

describe('sweep: every numeric and boolean option of every constructor, given hostile values', () => {
  const hostile: unknown[] = [NaN, Infinity, -Infinity, -1, 0.5, 1e300, -1e300, 2 ** 53, 'x', {}, [], true, Symbol('s'), 10n];
  const ctors: [string, Record<string, unknown>, (o: any, p: Tensor) => { dispose(): void }][] = [
    ['Linear', { bias: true, seed: 1 }, (o) => new sg.nn.Linear(3, 2, o)],
    ['BinaryLinear', { binarizeInputs: true, uint8Inputs: false, inputGrad: 'clipped', weightGrad: 'clipped', scale: false, clip: 1, bias: false, seed: 1 }, (o) => new sg.nn.BinaryLinear(3, 2, o)],
    ['QuantLinear', { weightBits: 8, activationBits: 8, perChannel: true, learnScale: false, observerMomentum: 0.1, bias: true, seed: 1 }, (o) => new sg.nn.QuantLinear(3, 2, o)],
    ['BatchNorm1d', { momentum: 0.1, eps: 1e-5, affine: true }, (o) => new sg.nn.BatchNorm1d(3, o)],
    ['VectorQuantizer', { beta: 0.25, ema: true, decay: 0.99, epsilon: 1e-5, kmeansInit: true, kmeansIters: 10, deadCodeThreshold: 1, seed: 1 }, (o) => new sg.nn.VectorQuantizer(3, 2, o)],
    ['Dropout', { seed: 1 }, (o) => new sg.nn.Dropout(0.5, o)],
    ['SGD', { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }, (o, p) => new sg.optim.SGD([p], o)],
    ['Adam', { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, (o, p) => new sg.optim.Adam([p], o)],
    ['AdamW', { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 }, (o, p) => new sg.optim.AdamW([p], o)],
    ['Bop', { gamma: 1e-4, threshold: 1e-8 }, (o, p) => new sg.optim.Bop([p], o)],
  ];
  for (const [name, defaults, make] of ctors) {
    test(`${name}: each option, each hostile value: a working object or an Error "${name}: <option> ..."; nothing leaks`, () => {
      const p = param([1, 2]);
      const n = alive();
      for (const key of Object.keys(defaults)) {
        for (const v of hostile) {
          let made: { dispose(): void } | undefined;
          try {
            made = make({ ...defaults, [key]: v }, p);
          } catch (err) {
            expect(err).toBeInstanceOf(Error);
            expect((err as Error).message.startsWith(`${name}: ${key} `), `${name} ${key}=${String(v)}: ${(err as Error).message}`).toBe(true);
          }
          made?.dispose();
        }
      }
      expect(alive()).toBe(n);
    });
  }

  test('numeric positional arguments: sizes that are non-integers, huge, negative, NaN or not numbers are named', () => {
    for (const v of [NaN, Infinity, -1, 0, 2.5, 2 ** 40, '3', null]) {
      for (const [name, f] of [
        ['Linear', () => new sg.nn.Linear(v as any, 2)], ['BinaryLinear', () => new sg.nn.BinaryLinear(2, v as any)],
        ['QuantLinear', () => new sg.nn.QuantLinear(v as any, 2)], ['BatchNorm1d', () => new sg.nn.BatchNorm1d(v as any)],
        ['VectorQuantizer', () => new sg.nn.VectorQuantizer(v as any, 2)],
        // A schedule may be as long as it likes, so 2^40 steps is fine there.
        ...(v === 2 ** 40 ? [] : [['StepLR', () => new sg.optim.StepLR({ lr: 0.1 }, v as any)], ['CosineLR', () => new sg.optim.CosineLR({ lr: 0.1 }, v as any)]]),
      ] as [string, () => unknown][]) {
        expect(f, `${name}(${String(v)})`).toThrow(new RegExp(`^${name}: \\w+ must be`));
      }
    }
  });
});
