// Issue 10: regressions the fuzz suite found in nn / summary / freeze (test/fuzz/nn, freeze).
// Each test fails on the main before the fix.
import { describe, expect, test } from 'vitest';
import { disposeAfterEach, expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();

describe('QuantLinear: an empty training batch', () => {
  test('forward on [0, in] in training returns [0, out] and leaves the range observer as it was', () => {
    const q = own(new sg.nn.QuantLinear(4, 2, { seed: 3 }));
    const warm = own(sg.tensor([[1, -2, 0.5, 3]]));
    sg.noGrad(() => q.forward(warm)).dispose();
    const range = q.namedBuffers().find(([n]) => n === 'inputRange')![1].item();
    expect(range).toBe(3);
    const x = own(sg.tensor([], [0, 4], { requiresGrad: true }));
    const y = own(q.forward(x));
    expect(y.shape).toEqual([0, 2]);
    expect(q.namedBuffers().find(([n]) => n === 'inputRange')![1].item()).toBe(3);
  });
});

describe('summary', () => {
  test('an empty Sequential (the identity) needs no example: no parameters, no MACs', () => {
    const m = own(new sg.nn.Sequential());
    const s = sg.summary(m);
    expect(s.totalParams).toBe(0);
    expect(s.macs).toEqual({ binary: 0, binaryWeights: 0, int8: 0, float: 0 });
    expect(s.table).toContain('total');
  });

  test('summary(m, null) is summary(m); a non-object options bag is an error naming summary', () => {
    const m = own(new sg.nn.Sequential(new sg.nn.Linear(3, 4, { seed: 1 }), new sg.nn.ReLU(), new sg.nn.Linear(4, 2, { seed: 2 })));
    const a = sg.summary(m);
    const b = sg.summary(m, null as any);
    expect(b.totalParams).toBe(3 * 4 + 4 + 4 * 2 + 2);
    expect(b.table).toBe(a.table);
    expect(() => sg.summary(m, 5 as any)).toThrow(/^summary: options must be an object/);
  });
});

describe('freeze: an empty batch', () => {
  test('a frozen model that starts with Flatten predicts [0, out] for an empty batch, as the trained model does', () => {
    const m = own(new sg.nn.Sequential(new sg.nn.Flatten(), new sg.nn.BinaryLinear(6, 3, { binarizeInputs: false, uint8Inputs: true, seed: 5 }), new sg.nn.BatchNorm1d(3), new sg.nn.Sign(), new sg.nn.BinaryLinear(3, 2, { seed: 6 })));
    m.eval();
    const f = own(sg.freeze(m));
    const x = own(sg.tensor([], [0, 6]));
    const trained = own(sg.noGrad(() => m.forward(x)));
    const y = own(f.predict(x));
    expect(trained.shape).toEqual([0, 2]);
    expect(y.shape).toEqual([0, 2]);
    expect(y.dtype).toBe('float32');
  });
});

describe('internals are not API', () => {
  test('VectorQuantizer, QuantLinear and Module keep their helpers private (not on the prototype)', () => {
    for (const name of ['kmeans', 'nextRandom', 'replaceDeadCodes', 'usageStats']) expect(name in sg.nn.VectorQuantizer.prototype, name).toBe(false);
    expect('observe' in sg.nn.QuantLinear.prototype).toBe(false);
    expect('replaceTensor' in sg.nn.Module.prototype).toBe(false);
  });
});

describe('BinaryLinear: NaN inputs', () => {
  test('a NaN in binarized inputs is an error naming BinaryLinear and x, in training and eval, with or without the tape', () => {
    for (const training of [true, false]) {
      const l = own(new sg.nn.BinaryLinear(1, 4, { seed: 652 }));
      l.train(training);
      const x = own(sg.tensor([[NaN], [0.5]]));
      expect(() => l.call(x)).toThrow(/^BinaryLinear: x /);
      expect(() => sg.noGrad(() => l.forward(x))).toThrow(/^BinaryLinear: x /);
    }
  });
});
