// Saved tensors are owned by the tape, one way: record(..., { saved }) and
// customGrad's save() hand them to the output's node (freed with the output),
// or free them at once when nothing is recorded; composite ops hand over the
// intermediates their graph needs. Checked with memoryStats().
import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { expectOpMemory as check } from '../support/memory.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

const flat = (t: Tensor): number[] => Array.from(t.dataSync());

describe('saved tensors', () => {
  test('max (argmax indices saved), gather (a view of the caller\'s indices saved), customGrad save()', () => {
    const x = sg.tensor(seededArray(12, 5), [3, 4], { requiresGrad: true });
    const xc = sg.tensor(seededArray(12, 6), [3, 4]);
    const idx = sg.tensor([2, 0, 2], [3], { dtype: 'int32' });
    check('max, recorded', [x], () => sg.max(x, { axis: 1 }), 1);
    check('max all, recorded', [x], () => sg.max(x), 1);
    check('max, not recorded', [], () => sg.max(xc, { axis: 0, keepDims: true }), 0);
    check('max under noGrad', [], () => sg.noGrad(() => sg.max(x, { axis: 1 })), 0);
    check('gather, recorded', [x], () => sg.gather(x, idx), 1);
    check('gather, not recorded', [], () => sg.gather(xc, idx), 0);
    const cube = sg.customGrad({
      forward: ([t], save) => { const sq = sg.mul(t, t); save(sq); save(t); save(sq); return sg.mul(sq, t); },
      backward: (dy, _inputs, saved) => {
        const k = sg.mul(saved[0], 3);
        const g = sg.mul(dy, k);
        k.dispose();
        return [g];
      },
    });
    check('customGrad, recorded (an input and a repeat saved too)', [x], () => cube(x), 1);
    check('customGrad, not recorded', [], () => cube(xc), 0);
    for (const t of [x, xc, idx]) t.dispose();
  });

  test('a kept output keeps what its node saved after the tidy scope ends; backward still works', () => {
    const x = sg.tensor([1, 5, 2, 0, 3, 4], [2, 3], { requiresGrad: true });
    const idx = sg.tensor([1, 0], [2], { dtype: 'int32' });
    const start = sg.memoryStats().tensorsAlive;
    const [m, g] = sg.tidy(() => [sg.keep(sg.max(x, { axis: 1 })), sg.keep(sg.gather(x, idx))]);
    idx.dispose();
    sg.tidy(() => sg.add(sg.sum(m), sg.sum(g)).backward());
    // max's first maxima (x[0][1], x[1][2]) plus 1 everywhere from the two gathered rows.
    expect(x.grad!.toArray()).toEqual([[1, 2, 1], [1, 1, 2]]);
    x.grad!.dispose();
    x.grad = null;
    m.dispose();
    g.dispose();
    expect(sg.memoryStats().tensorsAlive).toBe(start - 1);
    x.dispose();
  });

  test('customGrad: a non-float output with a gradient to record is an error that leaks nothing', () => {
    const x = sg.tensor([1, 2], [2], { requiresGrad: true });
    const start = sg.memoryStats();
    const bad = sg.customGrad({
      forward: ([t], save) => { save(sg.mul(t, 2)); return sg.cast(t, 'int32'); },
      backward: (dy) => [dy],
    });
    let out: Tensor | null = null;
    expect(() => { out = bad(x); }).toThrow(/customGrad: forward output must be float32, got int32/);
    expect(out).toBeNull();
    expect(sg.memoryStats()).toEqual(start);
    const notATensor = sg.customGrad({ forward: ([t]) => { sg.mul(t, 3); return 7 as unknown as Tensor; }, backward: (dy) => [dy] });
    expect(() => notATensor(x)).toThrow(/customGrad: forward must return a Tensor, got/);
    expect(sg.memoryStats()).toEqual(start);
    x.dispose();
  });
});

describe('composite ops leave alive only what they return', () => {
  test('crossEntropy, mse, argmaxOneHot, gumbelSoftmax, dorefa: forward, forward + backward, disposal', () => {
    const logits = sg.tensor(seededArray(15, 7, -2, 2), [5, 3], { requiresGrad: true });
    const plain = sg.tensor(seededArray(15, 8, -2, 2), [5, 3]);
    const labels = sg.tensor([0, 2, 1, 1, 0], [5], { dtype: 'int32' });
    const ops: [string, (t: Tensor) => Tensor][] = [
      ['crossEntropy', (t) => sg.crossEntropy(t, labels)],
      ['mse', (t) => sg.mse(t, plain)],
      ['argmaxOneHot', (t) => sg.ste.argmaxOneHot(t)],
      ['gumbelSoftmax', (t) => sg.ste.gumbelSoftmax(t, { seed: 3 })],
      ['gumbelSoftmax hard', (t) => sg.ste.gumbelSoftmax(t, { seed: 3, hard: true, tau: 0.5 })],
      ['dorefa activations', (t) => sg.ste.dorefa(t, { bits: 2 })],
      ['dorefa weights', (t) => sg.ste.dorefa(t, { bits: 3, mode: 'weights' })],
    ];
    for (const [name, op] of ops) {
      check(`${name}, recorded`, [logits], () => op(logits), null);
      check(`${name}, not recorded`, [], () => op(plain), 0);
      check(`${name}, noGrad`, [], () => sg.noGrad(() => op(logits)), 0);
    }
    for (const t of [logits, plain, labels]) t.dispose();
  });

  test('the gradients are those of the same ops run outside a composite', () => {
    sg.tidy(() => {
      const logits = sg.tensor(seededArray(12, 9, -2, 2), [4, 3], { requiresGrad: true });
      const labels = sg.tensor([2, 0, 1, 2], [4], { dtype: 'int32' });
      sg.crossEntropy(logits, labels).backward();
      const got = flat(logits.grad!);
      logits.grad!.dispose();
      logits.grad = null;
      // mean(-logSoftmax(logits)[i, labels[i]]) through public ops: the same kernels.
      const oneHot = sg.tensor([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1], [4, 3]);
      sg.mul(sg.sum(sg.mul(sg.logSoftmax(logits), oneHot)), -1 / 4).backward();
      const want = flat(logits.grad!);
      got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-7));
    });
  });
});
