import { beforeAll, expect, test } from 'vitest';
import * as sg from '../src/index.js';

beforeAll(async () => { await sg.init(); });

test('smoke', () => {
  const x = sg.tensor([-1.5, 0, 0.5, 2], undefined, { requiresGrad: true });
  const y = sg.ste.sign(x);
  expect(y.toArray()).toEqual([-1, 0, 1, 1]);
  y.sum().backward();
  expect(x.grad!.toArray()).toEqual([1, 1, 1, 1]);
  const a = sg.randn([3, 4], { seed: 1, requiresGrad: true });
  const b = sg.randn([4, 5], { seed: 2, requiresGrad: true });
  const r = sg.gradcheck((a, b) => sg.matmul(a, b).tanh(), [a, b]);
  expect(r.ok).toBe(true);
});
