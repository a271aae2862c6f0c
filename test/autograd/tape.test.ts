import { describe, expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

describe('tape', () => {
  test('gradients accumulate across uses and across backward calls', () => {
    sg.tidy(() => {
      const x = sg.tensor([1, 2, 3], undefined, { requiresGrad: true });
      // y = x*x + 3x  ->  dy/dx = 2x + 3
      sg.add(sg.mul(x, x), sg.mul(x, 3)).sum().backward();
      expect(x.grad!.toArray()).toEqual([5, 7, 9]);
      sg.sum(x).backward();
      expect(x.grad!.toArray()).toEqual([6, 8, 10]);
    });
  });

  test('only leaves keep .grad; inputs without requiresGrad get none', () => {
    sg.tidy(() => {
      const x = sg.tensor([1, -2], undefined, { requiresGrad: true });
      const c = sg.tensor([3, 4]);
      const h = sg.mul(x, c);
      h.sum().backward();
      expect(x.grad!.toArray()).toEqual([3, 4]);
      expect(c.grad).toBeNull();
      expect(h.grad).toBeNull();
    });
  });

  test('noGrad records nothing; stopGradient and detach cut the graph', () => {
    sg.tidy(() => {
      const x = sg.tensor([2, 3], undefined, { requiresGrad: true });
      const y = sg.noGrad(() => sg.mul(x, x));
      expect(y.requiresGrad).toBe(false);
      expect(() => y.sum().backward()).toThrow(/does not require a gradient/);
      // d/dx [x * stopGradient(x)] = stopGradient(x)
      sg.mul(x, sg.stopGradient(x)).sum().backward();
      expect(x.grad!.toArray()).toEqual([2, 3]);
      expect(x.detach().requiresGrad).toBe(false);
    });
  });

  test('a 20000-op chain backpropagates without overflowing the stack', () => {
    sg.tidy(() => {
      const x = sg.tensor([1], undefined, { requiresGrad: true });
      let y = x;
      for (let i = 0; i < 20000; i++) y = sg.add(y, 0.5);
      y.sum().backward();
      expect(x.grad!.toArray()).toEqual([1]);
      expect(y.item()).toBe(10001);
    });
  });

  test('backward with an explicit gradient and its shape check', () => {
    sg.tidy(() => {
      const x = sg.tensor([1, 2], undefined, { requiresGrad: true });
      const y = sg.mul(x, 3);
      y.backward(sg.tensor([1, 10]));
      expect(x.grad!.toArray()).toEqual([3, 30]);
      expect(() => y.backward()).toThrow(/grad must be given for a non-scalar/);
      expect(() => y.backward(sg.tensor([1, 2, 3]))).toThrow(/grad must have the tensor's shape \[2\]/);
    });
  });

  test('customGrad declares a surrogate gradient; gradcheck catches a wrong one', () => {
    sg.tidy(() => {
      // forward: x^3; declared backward: 3x^2 (correct)
      const cube = sg.customGrad({
        forward: ([x], save) => { save(x); return sg.mul(sg.mul(x, x), x); },
        backward: (dy, [x]) => [sg.mul(dy, sg.mul(sg.mul(x, x), 3))],
      });
      const x = sg.tensor([0.5, -1, 2], undefined, { requiresGrad: true });
      expect(sg.gradcheck((a) => cube(a), [x]).ok).toBe(true);
      // a wrong declared gradient (2x^2) must be caught
      const wrong = sg.customGrad({
        forward: ([x]) => sg.mul(sg.mul(x, x), x),
        backward: (dy, [x]) => [sg.mul(dy, sg.mul(sg.mul(x, x), 2))],
      });
      const r = sg.gradcheck((a) => wrong(a), [x]);
      expect(r.ok).toBe(false);
      expect(r.worst!.index).toBe(2); // largest error at x = 2: 8 vs 12
      expect(r.worst!.analytic).toBeCloseTo(8, 4);
      expect(r.worst!.numeric).toBeCloseTo(12, 2);
    });
  });

  test('customGrad checks what backward returns', () => {
    sg.tidy(() => {
      const bad = sg.customGrad({ forward: ([x]) => sg.mul(x, 2), backward: () => [] });
      const x = sg.tensor([1, 2], undefined, { requiresGrad: true });
      expect(() => bad(x).sum().backward()).toThrow(/backward must return an array of 1 gradients/);
      const badShape = sg.customGrad({ forward: ([x]) => sg.mul(x, 2), backward: () => [sg.tensor([1, 2, 3])] });
      expect(() => badShape(x).sum().backward()).toThrow(/has shape \[3\], expected the input's shape \[2\]/);
    });
  });

  test('tidy keeps returned and kept tensors, disposes the rest, also on error', () => {
    const start = sg.memoryStats();
    const kept: any[] = [];
    const out = sg.tidy(() => {
      const a = sg.ones([10]);
      kept.push(sg.keep(sg.zeros([3])));
      sg.mul(a, 2);
      return { result: sg.add(a, 1) };
    });
    expect(out.result.toArray()).toEqual(new Array(10).fill(2));
    expect(sg.memoryStats().tensorsAlive).toBe(start.tensorsAlive + 2);
    out.result.dispose();
    kept[0].dispose();
    expect(() => sg.tidy(() => { sg.ones([5]); throw new Error('boom'); })).toThrow('boom');
    expect(sg.memoryStats()).toEqual(start);
  });

  test('nested tidy hands results to the enclosing scope', () => {
    const start = sg.memoryStats().tensorsAlive;
    sg.tidy(() => {
      const inner = sg.tidy(() => sg.ones([4]));
      expect(inner.disposed).toBe(false);
    });
    expect(sg.memoryStats().tensorsAlive).toBe(start);
  });
});
