// N-D inputs of the dense layers, and the Embedding, LayerNorm and Identity
// layers, function steps in Sequential and multi-tensor forward, against
// float64 JS references, the 2-D path (bit for bit) and gradcheck.
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

function input(data: ArrayLike<number>, shape: number[], requiresGrad = false): Tensor {
  return sg.tensor(Float32Array.from(data), shape, { requiresGrad });
}

/** Frees and clears the gradients a backward pass stored on parameters. */
function clearGrads(params: Tensor[]): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}

function values(t: Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>);
}

describe('dense layers on [..., in]', () => {
  const makers: [string, () => InstanceType<typeof sg.nn.Linear> | InstanceType<typeof sg.nn.BinaryLinear> | InstanceType<typeof sg.nn.QuantLinear>][] = [
    ['Linear', () => new sg.nn.Linear(7, 3, { seed: 11 })],
    ['BinaryLinear', () => new sg.nn.BinaryLinear(7, 3, { seed: 11, scale: true, bias: true })],
    ['BinaryLinear float inputs', () => new sg.nn.BinaryLinear(7, 3, { seed: 11, binarizeInputs: false })],
    ['QuantLinear', () => new sg.nn.QuantLinear(7, 3, { seed: 11, weightBits: 4 })],
  ];

  for (const [name, make] of makers) {
    test(`${name}: [2, 3, 7] gives the 2-D result on the flattened rows, bit for bit, reshaped to [2, 3, 3]`, () => {
      const layer = make();
      // QuantLinear's observer would change its range between calls: eval mode keeps it fixed.
      layer.eval();
      sg.tidy(() => {
        const data = seededArray(2 * 3 * 7, 3);
        const y3 = layer.forward(input(data, [2, 3, 7]));
        const y2 = layer.forward(input(data, [6, 7]));
        expect(y3.shape).toEqual([2, 3, 3]);
        expect(values(y3)).toEqual(values(y2));
        const y1 = layer.forward(input(data.subarray(7, 14), [7]));
        expect(y1.shape).toEqual([3]);
        expect(values(y1)).toEqual(values(y2).slice(3, 6));
        const y0 = layer.forward(sg.zeros([4, 0, 7]));
        expect(y0.shape).toEqual([4, 0, 3]);
        const y5 = layer.forward(input(seededArray(1 * 2 * 1 * 3 * 7, 4), [1, 2, 1, 3, 7]));
        expect(y5.shape).toEqual([1, 2, 1, 3, 3]);
      });
      layer.dispose();
    });

    test(`${name}: gradients of a [2, 3, 7] input equal the 2-D ones`, () => {
      const layer = make();
      layer.eval();
      sg.tidy(() => {
        const data = seededArray(2 * 3 * 7, 5);
        const c = seededArray(2 * 3 * 3, 6);
        const grads = (shape: number[], cshape: number[]): number[][] => {
          const x = input(data, shape, true);
          clearGrads(layer.parameters());
          sg.sum(sg.mul(layer.forward(x), input(c, cshape))).backward();
          return [values(x.grad!), ...layer.parameters().map((p) => values(p.grad!))];
        };
        const g3 = grads([2, 3, 7], [2, 3, 3]);
        const g2 = grads([6, 7], [6, 3]);
        expect(g3).toEqual(g2);
        expect(g3[0].some((v) => v !== 0)).toBe(true);
        clearGrads(layer.parameters());
      });
      layer.dispose();
    });
  }

  test('Linear on [2, 3, 5] passes gradcheck for input, weight and bias', () => {
    const lin = new sg.nn.Linear(5, 4, { seed: 2 });
    sg.tidy(() => {
      const x = input(seededArray(30, 7), [2, 3, 5], true);
      const c = input(seededArray(24, 8), [2, 3, 4]);
      const r = sg.gradcheck(() => sg.mul(lin.forward(x), c), [x, lin.weight, lin.bias!]);
      expect(r.ok, JSON.stringify(r)).toBe(true);
    });
    lin.dispose();
  });

  test('summary still counts a 2-D model, and counts rows of an N-D input', () => {
    const model = new sg.nn.Sequential(new sg.nn.Linear(6, 4), new sg.nn.ReLU(), new sg.nn.Linear(4, 2));
    const s = sg.summary(model);
    expect(s.layers.length).toBeGreaterThan(0);
    const lin = new sg.nn.Linear(6, 4);
    expect(lin.summaryMacs([2, 3, 6]).float).toBe(2 * 3 * 6 * 4);
    expect(lin.summaryMacs([5, 6]).float).toBe(5 * 6 * 4);
    model.dispose();
    lin.dispose();
  });

  test('a last axis of the wrong width is refused naming the layer and the expected shape', () => {
    const lin = new sg.nn.Linear(3, 2);
    sg.tidy(() => {
      expect(() => lin.forward(sg.zeros([2, 3, 4]))).toThrow(/Linear: x must have shape \[\.\.\., 3\] \(features on the last axis\), got \[2,3,4\]/);
      expect(() => lin.forward(sg.zeros([]))).toThrow(/Linear: x must have shape/);
    });
    lin.dispose();
  });
});

describe('Embedding', () => {
  test('forward picks table rows for int32 and uint8 indices of any shape', () => {
    const emb = new sg.nn.Embedding(11, 5, { seed: 3 });
    sg.tidy(() => {
      const table = values(emb.weight);
      const idx = [3, 0, 10, 3, 7, 1];
      const y = emb.forward(sg.tensor(idx, [2, 3], { dtype: 'int32' }));
      expect(y.shape).toEqual([2, 3, 5]);
      expect(values(y)).toEqual(idx.flatMap((i) => table.slice(i * 5, i * 5 + 5)));
      const yu = emb.forward(sg.tensor(idx, [6], { dtype: 'uint8' }));
      expect(yu.shape).toEqual([6, 5]);
      expect(values(yu)).toEqual(values(y));
      expect(emb.forward(sg.tensor([], [0], { dtype: 'int32' })).shape).toEqual([0, 5]);
      const s = emb.forward(sg.tensor([4], [], { dtype: 'int32' }));
      expect(s.shape).toEqual([5]);
      expect(values(s)).toEqual(table.slice(20, 25));
    });
    emb.dispose();
  });

  test('the gradient adds each output row into its table row (repeated indices accumulate)', () => {
    const emb = new sg.nn.Embedding(6, 3, { seed: 4 });
    sg.tidy(() => {
      const idx = [2, 5, 2, 0, 2];
      const c = seededArray(idx.length * 3, 9);
      sg.sum(sg.mul(emb.forward(sg.tensor(idx, [5], { dtype: 'int32' })), input(c, [5, 3]))).backward();
      const expected = new Float64Array(18);
      idx.forEach((r, i) => {
        for (let k = 0; k < 3; k++) expected[r * 3 + k] += c[i * 3 + k];
      });
      const g = values(emb.weight.grad!);
      g.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 5));
      clearGrads([emb.weight]);
      const r = sg.gradcheck(() => sg.mul(emb.forward(sg.tensor([1, 1, 4], [3, 1], { dtype: 'int32' })), 2), [emb.weight]);
      expect(r.ok, JSON.stringify(r)).toBe(true);
      clearGrads([emb.weight]);
    });
    emb.dispose();
  });

  test('bad indices and arguments give clear errors and leave nothing behind', () => {
    expect(() => new sg.nn.Embedding(0, 3)).toThrow(/Embedding: numEmbeddings/);
    expect(() => new sg.nn.Embedding(3, 1.5)).toThrow(/Embedding: dim/);
    const emb = new sg.nn.Embedding(4, 2);
    const before = sg.memoryStats().tensorsAlive;
    const bad = sg.tensor([1, 4], [2], { dtype: 'int32' });
    expect(() => emb.forward(bad)).toThrow(/Embedding\.forward: indices\[1\] = 4 is out of range \[0, 4\)/);
    const neg = sg.tensor([-1], [1], { dtype: 'int32' });
    expect(() => emb.forward(neg)).toThrow(/indices\[0\] = -1 is out of range/);
    const big = sg.tensor([200], [1], { dtype: 'uint8' });
    expect(() => emb.forward(big)).toThrow(/indices\[0\] = 200 is out of range/);
    const fl = sg.tensor([1], [1]);
    expect(() => emb.forward(fl)).toThrow(/Embedding\.forward: indices must be int32 or uint8, got float32; convert it with indices\.cast\('int32'\)/);
    expect(() => emb.forward(null as unknown as Tensor)).toThrow(/Embedding\.forward: indices must be a Tensor/);
    expect(sg.memoryStats().tensorsAlive).toBe(before + 4);
    for (const t of [bad, neg, big, fl]) t.dispose();
    emb.dispose();
  });

  test('declares summaryMacs and refuses to freeze with a clear error', () => {
    const model = new sg.nn.Sequential(new sg.nn.Embedding(10, 4));
    expect(model.layers[0] instanceof sg.nn.Embedding).toBe(true);
    expect((model.layers[0] as InstanceType<typeof sg.nn.Embedding>).summaryMacs()).toEqual({ binary: 0, binaryWeights: 0, int8: 0, float: 0 });
    const ex = sg.tensor([1, 2], [2], { dtype: 'uint8' });
    expect(() => sg.freeze(model, { example: ex })).toThrow(/^Embedding\.forward: indices must be int32 or uint8, got float32; .*a model that starts with an Embedding has no frozen form/);
    // Inside a model, after float layers, it is an atomic layer without a frozen form.
    const ln = new sg.nn.Sequential(new sg.nn.Linear(3, 4), new sg.nn.LayerNorm(4));
    expect(() => sg.freeze(ln)).toThrow(/^freeze: layer 1 \(LayerNorm\) has no frozen form/);
    ln.dispose();
    ex.dispose();
    model.dispose();
  });
});

/** LayerNorm over the last axis in float64. */
function layerNormRef(x: ArrayLike<number>, dim: number, eps: number, w?: ArrayLike<number>, b?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let m = 0;
    for (let k = 0; k < dim; k++) m += x[r * dim + k];
    m /= dim;
    let v = 0;
    for (let k = 0; k < dim; k++) v += (x[r * dim + k] - m) ** 2;
    v /= dim;
    for (let k = 0; k < dim; k++) {
      const y = (x[r * dim + k] - m) / Math.sqrt(v + eps);
      out[r * dim + k] = w && b ? y * w[k] + b[k] : y;
    }
  }
  return out;
}

describe('LayerNorm', () => {
  for (const shape of [[2, 3, 7], [1, 1], [5, 1], [0, 4], [13], [3, 1, 2, 33]]) {
    test(`matches a float64 reference on [${shape}] (affine with trained-looking weights, and not affine)`, () => {
      const dim = shape[shape.length - 1];
      const ln = new sg.nn.LayerNorm(dim, { eps: 1e-3 });
      const plain = new sg.nn.LayerNorm(dim, { affine: false });
      expect(plain.parameters().length).toBe(0);
      sg.tidy(() => {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = seededArray(n, 17, -3, 3);
        const w = seededArray(dim, 18);
        const b = seededArray(dim, 19);
        ln.loadStateDict({ weight: input(w, [dim]), bias: input(b, [dim]) });
        const y = ln.forward(input(data, shape));
        expect(y.shape).toEqual(shape);
        const ref = layerNormRef(data, dim, 1e-3, w, b);
        values(y).forEach((v, i) => expect(Math.abs(v - ref[i])).toBeLessThan(1e-5 * (1 + Math.abs(ref[i]))));
        const ref2 = layerNormRef(data, dim, 1e-5);
        values(plain.forward(input(data, shape))).forEach((v, i) => expect(Math.abs(v - ref2[i])).toBeLessThan(2e-5 * (1 + Math.abs(ref2[i]))));
      });
      ln.dispose();
      plain.dispose();
    });
  }

  test('gradients for x, weight and bias pass gradcheck on [2, 3, 5]', () => {
    const ln = new sg.nn.LayerNorm(5, { eps: 1e-2 });
    sg.tidy(() => {
      ln.loadStateDict({ weight: input(seededArray(5, 21, 0.5, 1.5), [5]), bias: input(seededArray(5, 22), [5]) });
      const x = input(seededArray(30, 23, -2, 2), [2, 3, 5], true);
      const c = input(seededArray(30, 24), [2, 3, 5]);
      const r = sg.gradcheck(() => sg.mul(ln.forward(x), c), [x, ln.weight!, ln.bias!], { eps: 1e-2, atol: 2e-3, rtol: 2e-2 });
      expect(r.ok, JSON.stringify(r)).toBe(true);
    });
    ln.dispose();
  });

  test('bad arguments are refused naming the layer', () => {
    expect(() => new sg.nn.LayerNorm(0)).toThrow(/LayerNorm: dim/);
    expect(() => new sg.nn.LayerNorm(3, { eps: -1 })).toThrow(/LayerNorm: eps/);
    expect(() => new sg.nn.LayerNorm(3, { affine: 'yes' as unknown as boolean })).toThrow(/LayerNorm: affine/);
    const ln = new sg.nn.LayerNorm(3);
    sg.tidy(() => {
      expect(() => ln.forward(sg.zeros([2, 4]))).toThrow(/LayerNorm\.forward: x must have shape \[\.\.\., 3\]/);
      expect(() => ln.forward(sg.tensor([1, 2, 3], [3], { dtype: 'int32' }))).toThrow(/LayerNorm\.forward: x must be float32, got int32; convert it with x\.cast\('float32'\)/);
    });
    expect(ln.summaryMacs([4, 3]).float).toBe(24);
    ln.dispose();
  });
});

describe('Identity, function steps and multi-tensor modules', () => {
  test('Identity returns its input values (any dtype), passes the gradient and freezes to nothing', () => {
    const id = new sg.nn.Identity();
    sg.tidy(() => {
      const x = input([1, -2, 3], [3], true);
      const y = id.forward(x);
      expect(y).not.toBe(x);
      expect(values(y)).toEqual([1, -2, 3]);
      sg.sum(sg.mul(id.call(x), input([4, 5, 6], [3]))).backward();
      expect(values(x.grad!)).toEqual([4, 5, 6]);
      expect(values(id.forward(sg.tensor([7], [1], { dtype: 'uint8' })))).toEqual([7]);
    });
    expect(id.freezeStage()).toBe(null);
    const model = new sg.nn.Sequential(new sg.nn.Linear(3, 2, { seed: 1 }), new sg.nn.Identity(), new sg.nn.ReLU());
    const frozen = sg.freeze(model);
    sg.tidy(() => {
      const x = input(seededArray(6, 2), [2, 3]);
      model.eval();
      expect(values(frozen.predict(x))).toEqual(values(model.call(x)));
    });
    frozen.dispose();
    model.dispose();
  });

  test('Sequential takes plain functions as steps', () => {
    const a = new sg.nn.Linear(4, 3, { seed: 5 });
    const b = new sg.nn.Linear(3, 2, { seed: 6 });
    const model = new sg.nn.Sequential(a, (x: Tensor) => sg.relu(x), b, (x) => sg.mul(x, 2));
    expect(model.layers.length).toBe(4);
    expect(model.parameters().length).toBe(4);
    sg.tidy(() => {
      const x = input(seededArray(8, 7), [2, 4], true);
      const y = model.call(x);
      const ref = sg.mul(b.forward(sg.relu(a.forward(x))), 2);
      expect(values(y)).toEqual(values(ref));
      sg.sum(y).backward();
      expect(a.weight.grad).not.toBe(null);
      clearGrads(model.parameters());
    });
    expect(() => new sg.nn.Sequential(a, 3 as unknown as Module)).toThrow(/Sequential: layer 1 must be a Module or a function/);
    const broken = new sg.nn.Sequential(a, (() => 5) as unknown as (x: Tensor) => Tensor);
    sg.tidy(() => {
      expect(() => broken.call(sg.zeros([1, 4]))).toThrow(/Sequential: step 1 \(a function\) must return a Tensor, got/);
    });
    model.dispose();
  });

  test('forward may take several tensors and return an array or an object; call forwards every argument', () => {
    class Pair extends sg.nn.Module {
      forward(a: Tensor, b: Tensor): [Tensor, Tensor] {
        return [sg.add(a, b), sg.mul(a, b)];
      }
    }
    class Named extends sg.nn.Module {
      readonly lin = this.registerModule('lin', new sg.nn.Linear(2, 2, { seed: 9 }));
      forward(x: Tensor, y: Tensor, z: Tensor): { sum: Tensor; prod: Tensor } {
        return { sum: sg.add(this.lin.call(x), y), prod: sg.mul(y, z) };
      }
    }
    const pair = new Pair();
    const named = new Named();
    sg.tidy(() => {
      const a = input([1, 2], [2]);
      const b = input([3, 4], [2]);
      const [s, p] = pair.call(a, b);
      expect(values(s)).toEqual([4, 6]);
      expect(values(p)).toEqual([3, 8]);
      const out = named.call(input([1, 0, 0, 1], [2, 2]), input([1, 1, 1, 1], [2, 2]), input([2, 2, 2, 2], [2, 2]));
      expect(values(out.prod)).toEqual([2, 2, 2, 2]);
      const w = values(named.lin.weight);
      const bias = values(named.lin.bias!);
      expect(values(out.sum)[0]).toBeCloseTo(w[0] + bias[0] + 1, 6);
    });
    named.dispose();
  });
});

type Module = InstanceType<typeof sg.nn.Module>;

describe('dtype errors name the fix', () => {
  test('loadStateDict with a value of another dtype or shape says how to convert it; nothing is written', () => {
    const lin = new sg.nn.Linear(2, 3, { seed: 1 });
    const before = values(lin.weight);
    const asInt = sg.tensor([1, 2, 3, 4, 5, 6], [3, 2], { dtype: 'int32' });
    const flat = sg.tensor([1, 2, 3, 4, 5, 6], [6], { dtype: 'int32' });
    const bias = sg.zeros([3]);
    expect(() => lin.loadStateDict({ weight: asInt, bias })).toThrow(/loadStateDict: state\["weight"\] is int32 \[3,2\], expected float32 \[3,2\]; convert it with value\.cast\('float32'\)$/);
    expect(() => lin.loadStateDict({ weight: flat, bias })).toThrow(/convert it with value\.cast\('float32'\)\.reshape\(\[3,2\]\)$/);
    expect(values(lin.weight)).toEqual(before);
    for (const t of [asInt, flat, bias]) t.dispose();
    lin.dispose();
  });
});

describe('freeze and summary trace through a child module called with several inputs', () => {
  test('a transparent two-input child gets both inputs while traced; the frozen model predicts what the model computes', () => {
    class Mix extends sg.nn.Module {
      forward(a: Tensor, b: Tensor): Tensor {
        return sg.add(a, sg.mul(b, 0.5));
      }
    }
    class Net extends sg.nn.Module {
      readonly lin = this.registerModule('lin', new sg.nn.Linear(3, 4, { seed: 12 }));
      readonly mix = this.registerModule('mix', new Mix());
      forward(x: Tensor): Tensor {
        const y = this.lin.call(x);
        return this.mix.call(y, sg.relu(y));
      }
    }
    const net = new Net();
    const example = input(seededArray(6, 13), [2, 3]);
    const frozen = sg.freeze(net, { example });
    const s = sg.summary(net, { example });
    expect(s.layers.length).toBeGreaterThan(0);
    sg.tidy(() => {
      net.eval();
      expect(values(frozen.predict(example))).toEqual(values(net.call(example)));
    });
    frozen.dispose();
    example.dispose();
    net.dispose();
  });
});
