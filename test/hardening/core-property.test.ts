// Property-based probe of the core API (fast-check, fixed seed): arbitrary option values and argument
// shapes. Oracle: a plain Error named after the function, or a result that matches a float64 reference;
// no leak either way, and the runtime still computes a known product afterwards.
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

type T = InstanceType<typeof sg.Tensor>;
const SEED = 20261202;

function named(name: string, err: unknown): void {
  expect((err as Error)?.constructor, String(err)).toBe(Error);
  expect((err as Error).message.startsWith(`${name}:`), (err as Error).message).toBe(true);
}

function footprint(): string {
  const m = sg.memoryStats();
  return `${m.bytesInUse}/${m.tensorsAlive}`;
}

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 });
const valueArb = fc.oneof(fc.anything(), fc.double(), fc.integer({ min: -5, max: 5 }), fc.constantFrom(null, undefined, NaN, Infinity, -Infinity, 1e39, 1e-46, -0));

function filled(shape: number[], seed: number): T {
  const n = shape.reduce((a, b) => a * b, 1);
  return sg.tensor(Array.from({ length: n }, (_, i) => Math.sin(seed + i * 1.3) * 3), shape);
}

test('reductions: any options bag → the float64 sum/mean/max or a named error', () => {
  fc.assert(
    fc.property(shapeArb, fc.constantFrom('sum', 'mean', 'max', 'argmax'), fc.oneof(valueArb, fc.record({ axis: valueArb, keepDims: valueArb }, { requiredKeys: [] })), (shape, op, options) => {
      const x = filled(shape, shape.length);
      const before = footprint();
      try {
        const y = (sg as any)[op](x, options) as T;
        const axisGiven = options !== null && typeof options === 'object' && (options as any).axis !== undefined && (options as any).axis !== null;
        if (!axisGiven && op !== 'argmax') {
          const v = Array.from(x.dataSync());
          const want = op === 'sum' ? v.reduce((a, b) => a + b, 0) : op === 'mean' ? v.reduce((a, b) => a + b, 0) / v.length : Math.max(...v);
          expect(Math.abs(y.dataSync()[0] - want)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(want)) * (v.length + 1));
        }
        y.dispose();
      } catch (err) {
        named(op, err);
      }
      expect(footprint()).toBe(before);
      x.dispose();
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('broadcasting binary ops with tensors or numbers, forward and backward, → the reference or a named error', () => {
  const ops = { add: (a: number, b: number) => a + b, sub: (a: number, b: number) => a - b, mul: (a: number, b: number) => a * b, maximum: Math.max, minimum: Math.min } as const;
  fc.assert(
    fc.property(shapeArb, shapeArb, fc.constantFrom(...(Object.keys(ops) as (keyof typeof ops)[])), fc.boolean(), fc.oneof(fc.double({ min: -10, max: 10, noNaN: true }), fc.constant(undefined)), (sa, sb, op, grad, scalar) => {
      const a = filled(sa, 1);
      a.requiresGrad = grad;
      const b = filled(sb, 2);
      const before = footprint();
      try {
        const y = (sg as any)[op](a, scalar ?? b) as T;
        if (scalar !== undefined) {
          const av = a.dataSync();
          const yv = y.dataSync();
          for (let i = 0; i < av.length; i++) expect(yv[i]).toBeCloseTo(Math.fround(ops[op](av[i], Math.fround(scalar))), 4);
        }
        if (grad) {
          const s = sg.sum(y);
          s.backward();
          expect(a.grad!.shape).toEqual(a.shape);
          s.dispose();
          a.grad!.dispose();
          a.grad = null;
        }
        y.dispose();
      } catch (err) {
        named(op, err);
      }
      expect(footprint()).toBe(before);
      a.dispose();
      b.dispose();
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('shape ops with arbitrary arguments → a tensor of the right size or a named error', () => {
  const argArb = fc.oneof(valueArb, fc.array(fc.oneof(fc.integer({ min: -2, max: 5 }), valueArb), { maxLength: 5 }));
  fc.assert(
    fc.property(shapeArb, fc.constantFrom('reshape', 'transpose', 'slice', 'concat', 'softmax', 'cast', 'gather'), argArb, argArb, (shape, op, p, q) => {
      const x = filled(shape, 3);
      const before = footprint();
      try {
        let y: T;
        if (op === 'reshape') y = sg.reshape(x, p as any);
        else if (op === 'transpose') y = sg.transpose(x, p as any);
        else if (op === 'slice') y = sg.slice(x, p as any, q as any);
        else if (op === 'concat') y = sg.concat([x, x], p as any);
        else if (op === 'softmax') y = sg.softmax(x, p as any);
        else if (op === 'cast') y = sg.cast(x, p as any);
        else y = sg.gather(x, x);
        if (op === 'reshape' || op === 'transpose' || op === 'softmax' || op === 'cast') expect(y.size).toBe(x.size);
        y.dispose();
      } catch (err) {
        named(op, err);
      }
      expect(footprint()).toBe(before);
      x.dispose();
    }),
    { seed: SEED, numRuns: 400 },
  );
});

test('ste and quantization with arbitrary option bags → finite results or a named error', () => {
  const bagArb = fc.oneof(valueArb, fc.record({ bits: valueArb, scale: valueArb, zeroPoint: valueArb, signed: valueArb, grad: fc.oneof(valueArb, fc.constantFrom('identity', 'clipped', 'approx', 'swish')), clipValue: valueArb, beta: valueArb, threshold: valueArb, mode: fc.oneof(valueArb, fc.constantFrom('weights', 'activations')), tau: valueArb, hard: valueArb, seed: valueArb, dtype: valueArb, perChannel: valueArb }, { requiredKeys: [] }));
  const fns: Record<string, (x: T, o: any) => unknown> = {
    'ste.sign': (x, o) => sg.ste.sign(x, o), 'ste.binarize': (x, o) => sg.ste.binarize(x, o), 'ste.ternarize': (x, o) => sg.ste.ternarize(x, o),
    'ste.quantize': (x, o) => sg.ste.quantize(x, o), 'ste.dorefa': (x, o) => sg.ste.dorefa(x, o), 'ste.gumbelSoftmax': (x, o) => sg.ste.gumbelSoftmax(x, o),
    quantizeInt8: (x, o) => sg.quantizeInt8(x, o), int8Scales: (x, o) => sg.int8Scales(x, o), matmul: (x, o) => sg.matmul(x, sg.transpose(x), o),
  };
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 2, maxLength: 2 }), fc.constantFrom(...Object.keys(fns)), bagArb, (shape, name, bag) => {
      const x = filled(shape, 5);
      x.requiresGrad = true;
      const before = footprint();
      try {
        const y = sg.tidy(() => fns[name](x, bag)) as T;
        if (y.dtype === 'float32') expect(Array.from(y.dataSync()).every(Number.isFinite), `${name} ${JSON.stringify(bag)}`).toBe(true);
        y.dispose();
      } catch (err) {
        named(name, err);
      }
      expect(footprint()).toBe(before);
      x.dispose();
    }),
    { seed: SEED, numRuns: 600 },
  );
  const y = sg.tidy(() => sg.matmul(sg.tensor([[1, 2, 3]]), sg.tensor([[4], [5], [6]])));
  expect(y.toArray()).toEqual([[32]]);
  y.dispose();
});

function namedOrOom(name: string, err: unknown): void {
  expect((err as Error)?.constructor, String(err)).toBe(Error);
  const m = (err as Error).message;
  expect(m.startsWith(`${name}:`) || m.startsWith('out of memory:'), m).toBe(true);
}

const anyArb = fc.oneof(fc.anything({ withTypedArray: true, withBigInt: true, withMap: true, withSet: true, withNullPrototype: true }), fc.double(), fc.integer({ min: -3, max: 300 }), fc.constantFrom(null, undefined, NaN, Infinity, 1e39, -0, 'int32', 'uint8', 'int8', 'float32'));
test('creation with arbitrary data, shapes, values and options → a tensor or a named error', () => {
  fc.assert(fc.property(fc.constantFrom('tensor', 'full', 'zeros', 'ones'), anyArb, anyArb, anyArb, (op, a, b, c) => {
    const before = footprint();
    try {
      const t = op === 'tensor' ? sg.tensor(a as any, b as any, c as any) : op === 'full' ? sg.full(a as any, b as any, c as any) : (sg as any)[op](a, b);
      expect(t).toBeInstanceOf(sg.Tensor);
      t.dispose();
    } catch (err) { namedOrOom(op, err); }
    expect(footprint()).toBe(before);
  }), { seed: 5, numRuns: 1500 });
});
test('vqNearest, ste.vq, mse, crossEntropy (uint8 labels), gradcheck on random sizes, huge values and option bags', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 4 }), fc.double({ min: -1e30, max: 1e30, noNaN: true }), anyArb, (N, D, K, scale, opt) => {
    const z = sg.tensor(Array.from({ length: N * D }, (_, i) => Math.sin(i) * scale), [N, D]);
    const c = sg.tensor(Array.from({ length: K * D }, (_, i) => Math.cos(i) * scale), [K, D]);
    const lab = sg.zeros([N], { dtype: 'uint8' });
    try { sg.vqNearest(z, c).dispose(); } catch { /* warm the norm cache */ }
    const before = footprint();
    for (const [name, f] of [
      ['vqNearest', () => sg.vqNearest(z, c)],
      ['ste.vq', () => { const r = sg.ste.vq(z, c, opt as any); return r; }],
      ['mse', () => sg.mse(z, c)],
      ['crossEntropy', () => sg.crossEntropy(z, lab)],
      ['gradcheck', () => { const x = sg.tensor([1, 2], undefined, { requiresGrad: true }); try { sg.gradcheck((a) => sg.mul(a, a), [x], opt as any); } finally { x.dispose(); } return null; }],
    ] as [string, () => any][]) {
      try {
        const r = f();
        const ts = r instanceof sg.Tensor ? [r] : r ? Object.values(r) : [];
        for (const t of ts as any[]) t.dispose();
      } catch (err) { namedOrOom(name, err); }
      expect(footprint(), name).toBe(before);
    }
    z.dispose(); c.dispose(); lab.dispose();
  }), { seed: 6, numRuns: 300 });
});
