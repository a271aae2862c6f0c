// stateDict / loadStateDict: names, copying, strict mode, rejected
// mismatches that change nothing, and the safetensors round trip.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { f32View } from '../../src/runtime/views.js';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const own = disposeAfterEach();

const flat = (t: Tensor): number[] => Array.from(t.dataSync());

function write(t: Tensor, data: ArrayLike<number>): void {
  f32View(t.offset, t.size).set(data);
  sg.markModified(t);
}

/** Linear -> BatchNorm1d -> Hardtanh -> BinaryLinear (with bias and scale) -> QuantLinear. */
function makeModel(seed: number) {
  return own(new sg.nn.Sequential(
    new sg.nn.Linear(5, 6, { seed }),
    new sg.nn.BatchNorm1d(6),
    new sg.nn.Hardtanh(),
    new sg.nn.BinaryLinear(6, 4, { bias: true, scale: true, seed: seed + 1 }),
    new sg.nn.QuantLinear(4, 3, { seed: seed + 2 }),
  ));
}

/** Trains a few batches so that running statistics and the observer are not at their initial values, then evaluates. */
function warm(model: ReturnType<typeof makeModel>, seed: number): void {
  sg.tidy(() => {
    for (let i = 0; i < 3; i++) model.forward(sg.tensor(seededArray(8 * 5, seed + i, -2, 2), [8, 5]));
  });
  model.eval();
}

function output(model: ReturnType<typeof makeModel>): number[] {
  return sg.tidy(() => flat(model.forward(sg.tensor(seededArray(4 * 5, 99, -2, 2), [4, 5]))));
}

const NAMES = ['0.weight', '0.bias', '1.weight', '1.bias', '3.weight', '3.bias', '4.weight', '4.bias', '1.runningMean', '1.runningVar', '4.inputRange'];

describe('stateDict', () => {
  test('names are dotted paths of parameters then buffers', () => {
    const model = makeModel(1);
    const sd = model.stateDict();
    expect(Object.keys(sd)).toEqual(NAMES);
    const [lin, bn] = model.layers as any[];
    expect(sd['0.weight']).toBe(lin.weight);
    expect(sd['1.runningMean']).toBe(bn.runningMean);
    expect(sd['4.inputRange'].shape).toEqual([]);
    const vq = own(new sg.nn.VectorQuantizer(4, 2));
    expect(Object.keys(own(new sg.nn.Sequential(vq)).stateDict())).toEqual(['0.codebook', '0.clusterSize', '0.embedSum', '0.initialized']);
  });

  test('loadStateDict copies the values: the forward output equals the source model\'s, and later changes to the source do not reach the copy', () => {
    const src = makeModel(1);
    warm(src, 10);
    const dst = makeModel(50);
    dst.eval();
    const want = output(src);
    expect(output(dst)).not.toEqual(want);
    dst.loadStateDict(src.stateDict());
    expect(output(dst)).toEqual(want);
    for (const name of NAMES) expect(flat(dst.stateDict()[name]), name).toEqual(flat(src.stateDict()[name]));
    write(src.stateDict()['0.weight'], new Array(30).fill(0.5));
    expect(output(dst)).toEqual(want);
    expect(dst.stateDict()['0.weight']).not.toBe(src.stateDict()['0.weight']);
  });

  test('loading a codebook invalidates what was cached from the old one', () => {
    const vq = own(new sg.nn.VectorQuantizer(2, 2, { kmeansInit: false }));
    vq.eval();
    write(vq.codebook, [0, 0, 10, 10]);
    const z = [1, 1, 9, 9];
    const first = sg.tidy(() => flat(vq.quantize(sg.tensor(z, [2, 2])).indices));
    expect(first).toEqual([0, 1]);
    const cb = sg.tensor([10, 10, 0, 0], [2, 2]);
    const sd = { ...vq.stateDict(), codebook: cb };
    vq.loadStateDict(sd);
    cb.dispose();
    expect(sg.tidy(() => flat(vq.quantize(sg.tensor(z, [2, 2])).indices))).toEqual([1, 0]);
  });

  test('strict mode: missing and unexpected names are errors naming them; strict: false loads the names that match', () => {
    const model = makeModel(1);
    const other = makeModel(2);
    const full = other.stateDict();
    const before = flat(model.stateDict()['0.weight']);
    const { ['1.runningVar']: _dropped, ...missing } = full;
    expect(() => model.loadStateDict(missing)).toThrow(/loadStateDict: missing 1\.runningVar/);
    const extra = own(sg.zeros([2]));
    expect(() => model.loadStateDict({ ...full, '9.weight': extra })).toThrow(/loadStateDict: unexpected 9\.weight/);
    expect(() => model.loadStateDict({ ...missing, 'x': extra })).toThrow(/missing 1\.runningVar; unexpected x/);
    expect(flat(model.stateDict()['0.weight'])).toEqual(before);
    model.loadStateDict({ '0.weight': full['0.weight'], 'x': extra }, { strict: false });
    expect(flat(model.stateDict()['0.weight'])).toEqual(flat(full['0.weight']));
    expect(flat(model.stateDict()['3.weight'])).not.toEqual(flat(full['3.weight']));
  });

  test('shape, dtype, disposed and non-tensor entries are errors that change nothing', () => {
    const model = makeModel(1);
    const other = makeModel(2);
    const snapshot = (): number[][] => NAMES.map((n) => flat(model.stateDict()[n]));
    const before = snapshot();
    const good = other.stateDict();
    const wrongShape = own(sg.zeros([5, 6]));
    const wrongDtype = own(sg.zeros([6], { dtype: 'int32' }));
    const disposed = sg.zeros([6]);
    disposed.dispose();
    // The bad entry comes after good ones, so a partial write would show.
    expect(() => model.loadStateDict({ ...good, '0.weight': wrongShape })).toThrow(/loadStateDict: state\["0\.weight"\] is float32 \[5,6\], expected float32 \[6,5\]/);
    expect(() => model.loadStateDict({ ...good, '3.bias': wrongDtype })).toThrow(/loadStateDict: state\["3\.bias"\] is int32 \[6\], expected float32 \[4\]/);
    expect(() => model.loadStateDict({ ...good, '1.runningMean': disposed })).toThrow(/loadStateDict.*1\.runningMean.*disposed/);
    expect(() => model.loadStateDict({ ...good, '1.runningVar': [1, 2] as any })).toThrow(/loadStateDict: state\["1\.runningVar"\]/);
    expect(() => model.loadStateDict(null as any)).toThrow(/loadStateDict: state must be an object/);
    expect(snapshot()).toEqual(before);
  });

  test('round trip through io.saveSafetensors / io.parseSafetensors gives the same outputs', () => {
    const src = makeModel(3);
    warm(src, 20);
    const bytes = sg.io.saveSafetensors(src.stateDict(), { format: 'snapgrad' });
    const parsed = sg.io.parseSafetensors(bytes);
    for (const t of Object.values(parsed.tensors)) own(t);
    expect(Object.keys(parsed.tensors).sort()).toEqual([...NAMES].sort());
    expect(parsed.metadata).toEqual({ format: 'snapgrad' });
    const dst = makeModel(70);
    dst.eval();
    dst.loadStateDict(parsed.tensors);
    expect(output(dst)).toEqual(output(src));
    for (const name of NAMES) {
      expect(parsed.tensors[name].shape, name).toEqual(src.stateDict()[name].shape);
      expect(flat(dst.stateDict()[name]), name).toEqual(flat(src.stateDict()[name]));
    }
  });

  test('a QuantLinear observer range loaded from a state dict keeps averaging when training resumes', () => {
    const src = own(new sg.nn.QuantLinear(2, 1, { observerMomentum: 0.5 }));
    sg.tidy(() => {
      src.forward(sg.tensor([4, -2], [1, 2]));
    });
    expect(src.stateDict().inputRange.item()).toBe(4);
    const dst = own(new sg.nn.QuantLinear(2, 1, { observerMomentum: 0.5 }));
    dst.loadStateDict(src.stateDict());
    sg.tidy(() => {
      dst.forward(sg.tensor([1, 2], [1, 2]));
      src.forward(sg.tensor([1, 2], [1, 2]));
    });
    expect(src.stateDict().inputRange.item()).toBe(3);
    expect(dst.stateDict().inputRange.item(), 'range after resuming from the loaded state').toBe(3);
  });
});
