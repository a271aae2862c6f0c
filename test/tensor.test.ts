import { describe, expect, test } from 'vitest';
import { expectNoLeaks, useSnapgrad } from './support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

describe('tensors', () => {
  test('creation from nested arrays, typed arrays and numbers in every dtype', () => {
    sg.tidy(() => {
      const a = sg.tensor([[1, 2, 3], [4, 5, 6]]);
      expect(a.shape).toEqual([2, 3]);
      expect(a.dtype).toBe('float32');
      expect(a.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]);
      expect(sg.tensor(new Int32Array([1, -2])).dtype).toBe('int32');
      expect(sg.tensor(new Uint8Array([255, 0])).toArray()).toEqual([255, 0]);
      expect(sg.tensor([-128, 127], undefined, { dtype: 'int8' }).toArray()).toEqual([-128, 127]);
      expect(sg.tensor(3.5).shape).toEqual([]);
      expect(sg.tensor(3.5).item()).toBe(3.5);
      expect(sg.tensor([1, 2, 3, 4, 5, 6], [3, 2]).toArray()).toEqual([[1, 2], [3, 4], [5, 6]]);
      expect(sg.zeros([0, 3]).toArray()).toEqual([]);
      expect(sg.full([2], 7, { dtype: 'int32' }).toArray()).toEqual([7, 7]);
      expect(sg.full([2], -3, { dtype: 'int8' }).toArray()).toEqual([-3, -3]);
      expect(sg.ones([2, 2]).toArray()).toEqual([[1, 1], [1, 1]]);
      expect(sg.tensor([0.1]).item()).toBe(Math.fround(0.1));
    });
  });

  test('seeded random tensors: same seed, same bits; statistics as requested', () => {
    sg.tidy(() => {
      const a = sg.randn([1000], { seed: 7 }).dataSync();
      const b = sg.randn([1000], { seed: 7 }).dataSync();
      const c = sg.randn([1000], { seed: 8 }).dataSync();
      expect(a).toEqual(b);
      expect(a).not.toEqual(c);
      const n = sg.randn([20000], { seed: 3, mean: 2, std: 0.5 }).dataSync();
      const mean = n.reduce((s, v) => s + v, 0) / n.length;
      const variance = n.reduce((s, v) => s + (v - mean) ** 2, 0) / n.length;
      expect(Math.abs(mean - 2)).toBeLessThan(4 * 0.5 / Math.sqrt(n.length));
      expect(Math.abs(variance - 0.25)).toBeLessThan(0.02);
      const u = sg.rand([5000], { seed: 4, low: -2, high: 3 }).dataSync();
      expect(Math.min(...u)).toBeGreaterThanOrEqual(-2);
      expect(Math.max(...u)).toBeLessThan(3);
      const r = sg.randint([5000], -3, 4, { seed: 5 }).dataSync();
      expect(new Set(r)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
    });
  });

  test('reshape shares memory; cast converts', () => {
    sg.tidy(() => {
      const a = sg.tensor([1, 2, 3, 4, 5, 6]);
      const b = a.reshape([2, -1]);
      expect(b.shape).toEqual([2, 3]);
      a.dispose();
      expect(b.toArray()).toEqual([[1, 2, 3], [4, 5, 6]]); // the view keeps the storage alive
      expect(sg.tensor([-1.7, 2.9, 1e10]).cast('int32').toArray()).toEqual([-1, 2, 2147483647]);
      expect(sg.tensor(new Uint8Array([0, 255])).cast('float32').toArray()).toEqual([0, 255]);
    });
  });

  test('memoryStats counts live tensors and bytes; dispose returns them', () => {
    const s0 = sg.memoryStats();
    const t = sg.zeros([100]);
    const s1 = sg.memoryStats();
    expect(s1.tensorsAlive).toBe(s0.tensorsAlive + 1);
    expect(s1.bytesInUse).toBe(s0.bytesInUse + 400);
    t.dispose();
    expect(sg.memoryStats()).toEqual(s0);
  });

  test('info() reports runtime, build and memory', () => {
    const i = sg.info();
    expect(i.runtime).toBe('node');
    expect(i.build).toBe('simd128-threads');
    expect(i.threads).toBeGreaterThanOrEqual(1);
    expect(i.simd).toBe(true);
    expect(i.memoryBytes).toBeGreaterThan(0);
  });

  test('ops in function and method form agree', () => {
    sg.tidy(() => {
      const a = sg.tensor([[1, -2], [3, 4]]);
      const b = sg.tensor([[0.5, 1], [-1, 2]]);
      expect(a.matmul(b).relu().sum().item()).toBe(sg.sum(sg.relu(sg.matmul(a, b))).item());
      expect(a.add(b).mul(2).toArray()).toEqual([[3, -2], [4, 12]]);
      expect(a.transpose().toArray()).toEqual([[1, 3], [-2, 4]]);
      expect(a.argmax({ axis: 1 }).toArray()).toEqual([0, 1]);
      expect(a.max().item()).toBe(4);
      expect(a.mean({ axis: 0 }).toArray()).toEqual([2, 1]);
    });
  });
});
