// pow: the kernel against its twin, gradients against float64 finite
// differences, and the special cases against PyTorch's values.
import { describe, expect, test } from 'vitest';
import { Binary } from '../../src/kernels/codes.generated.js';
import { f32BinaryRef } from '../../src/reference/elementwise.js';
import { ulpDistance } from '../support/kernel-harness.js';
import { expectNoLeaks, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

describe('pow', () => {
  test('matches the float64 twin within 2 ulps over broadcasts, tails and special values', () => {
    const bases = [0, -0, 1, -1, 2, -2, 0.5, 3.7, -8, 1e-30, 1e30, Infinity, -Infinity, NaN, 10, 7.25, 0.001];
    const exps = [0, 1, 2, -1, 0.5, -0.5, 3, 1 / 3, 2.5, -3, 40, -40, Infinity, NaN];
    for (const n of [0, 1, 3, 5, 17]) {
      const a = Float32Array.from({ length: n * exps.length }, (_, i) => bases[i % bases.length]);
      const b = Float32Array.from(exps);
      const want = new Float32Array(a.length);
      f32BinaryRef(Binary.pow, a, b, want, [n, exps.length], [exps.length, 1], [0, 1]);
      const got = sg.tidy(() => sg.pow(sg.tensor(a, [n, exps.length]), sg.tensor(b, [exps.length])).dataSync());
      for (let i = 0; i < want.length; i++) {
        expect(ulpDistance(got[i], want[i]), `pow(${a[i]}, ${b[i % exps.length]}) = ${got[i]}, twin ${want[i]}`).toBeLessThanOrEqual(2);
      }
    }
  });

  test('gradients pass gradcheck for positive bases, a broadcast exponent and a scalar exponent', () => {
    const a = sg.keep(sg.tidy(() => sg.add(sg.rand([3, 5], { seed: 1, low: 0.2, high: 3 }), 0)));
    const b = sg.keep(sg.randn([5], { seed: 2 }));
    a.requiresGrad = true;
    b.requiresGrad = true;
    try {
      expect(sg.gradcheck((x, e) => sg.pow(x, e), [a, b]).ok).toBe(true);
      expect(sg.gradcheck((x) => x.pow(3), [a]).ok).toBe(true);
      expect(sg.gradcheck((e) => sg.pow(2.5, e), [b]).ok).toBe(true);
    } finally {
      for (const t of [a, b]) {
        t.grad?.dispose();
        t.dispose();
      }
    }
  });

  test("special cases give PyTorch's values and gradients (torch 1.13)", () => {
    // torch: a = [0,0,0,0,2,-8,-2,3], b = [0,2,-1,0.5,3,1/3,2,0]; y = a**b; y.sum().backward()
    const a = sg.tensor([0, 0, 0, 0, 2, -8, -2, 3], undefined, { requiresGrad: true });
    const b = sg.tensor([0, 2, -1, 0.5, 3, 1 / 3, 2, 0], undefined, { requiresGrad: true });
    sg.tidy(() => {
      const y = sg.pow(a, b);
      expect(Array.from(y.dataSync())).toEqual([1, 0, Infinity, 0, 8, NaN, 4, 1]);
      y.sum().backward();
    });
    expect(Array.from(a.grad!.dataSync())).toEqual([0, 0, -Infinity, Infinity, 12, NaN, -4, 0]);
    const db = Array.from(b.grad!.dataSync());
    expect(db.slice(0, 4)).toEqual([0, 0, -Infinity, 0]);
    expect(db[4]).toBeCloseTo(5.545177459716797, 5);
    expect(db.slice(5, 7)).toEqual([NaN, NaN]);
    expect(db[7]).toBeCloseTo(1.0986123085021973, 6);
    a.dispose();
    b.dispose();
  });

  test('leaves only its result alive, and rejects non-float operands by name', () => {
    const x = sg.tensor([1, 2, 3]);
    const before = sg.memoryStats().tensorsAlive;
    const y = sg.pow(x, x);
    expect(sg.memoryStats().tensorsAlive).toBe(before + 1);
    y.dispose();
    const ints = sg.tensor([1], undefined, { dtype: 'int32' });
    expect(() => sg.pow(ints, x)).toThrow(/pow/);
    ints.dispose();
    x.dispose();
  });
});
