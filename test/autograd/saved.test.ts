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
    expect(() => { out = bad(x); }).toThrow(/customGrad: forward output must be float32 \(gradients are float32\), got int32/);
    expect(out).toBeNull();
    expect(sg.memoryStats()).toEqual(start);
    const notATensor = sg.customGrad({ forward: ([t]) => { sg.mul(t, 3); return 7 as unknown as Tensor; }, backward: (dy) => [dy] });
    expect(() => notATensor(x)).toThrow(/customGrad: forward must return a Tensor, got/);
    expect(sg.memoryStats()).toEqual(start);
    x.dispose();
  });
});

describe('primitive ops leave alive only what they return (and what the tape saved)', () => {
  test('every op family, recorded and not, with broadcasting', () => {
    const a = sg.tensor(seededArray(24, 11, -2, 2), [2, 3, 4], { requiresGrad: true });
    const b = sg.tensor(seededArray(4, 12, 0.5, 2), [4], { requiresGrad: true });
    const c = sg.tensor(seededArray(24, 13, -2, 2), [2, 3, 4]);
    const m = sg.tensor(seededArray(12, 14, -2, 2), [4, 3], { requiresGrad: true });
    const idx = sg.tensor([1, 0, 1], [3], { dtype: 'int32' });
    const binaryNames = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum'];
    const ops: [string, (x: Tensor) => Tensor, number][] = [
      ...(['add', 'sub', 'mul', 'div', 'maximum', 'minimum'] as const).map((n): [string, (x: Tensor) => Tensor, number] => [n, (x) => sg[n](x, b), 0]),
      ['add scalar', (x) => sg.add(x, 2), 0],
      // A number becomes a scalar tensor only while a kernel reads it (backward makes it again).
      ['sub from a scalar', (x) => sg.sub(2, x), 0],
      ['div by a scalar', (x) => sg.div(x, 3), 0],
      ['maximum with a scalar', (x) => sg.maximum(0.5, x), 0],
      ...(['neg', 'relu', 'exp', 'tanh', 'sigmoid', 'square', 'abs'] as const).map((n): [string, (x: Tensor) => Tensor, number] => [n, (x) => sg[n](x), 0]),
      ['clip', (x) => sg.clip(x, -1, 1), 0],
      ['sum axis', (x) => sg.sum(x, { axis: [0, 2] }), 0],
      ['mean', (x) => sg.mean(x, { axis: 1, keepDims: true }), 0],
      ['max axis', (x) => sg.max(x, { axis: 2 }), 1],
      ['reshape', (x) => sg.reshape(x, [6, 4]), 0],
      ['transpose', (x) => sg.transpose(x, [2, 0, 1]), 0],
      ['slice', (x) => sg.slice(x, [1, 1], [1, 2]), 0],
      ['concat', (x) => sg.concat([x, x], 1), 0],
      ['gather', (x) => sg.gather(x, idx), 1],
      ['softmax', (x) => sg.softmax(x), 0],
      ['logSoftmax', (x) => sg.logSoftmax(x), 0],
      ['sign (true gradient 0)', (x) => sg.sign(x), 0],
      ['ste.sign', (x) => sg.ste.sign(x, { grad: 'swish' }), 0],
      ['ste.binarize', (x) => sg.ste.binarize(x, { grad: 'clipped' }), 0],
      ['ste.round', (x) => sg.ste.round(x), 0],
      ['ste.quantize', (x) => sg.ste.quantize(x, { bits: 3, scale: 0.25 }), 0],
      ['ste.ternarize', (x) => sg.ste.ternarize(x, { threshold: 0.3 }), 0],
      ['straightThrough', (x) => sg.ste.straightThrough(x, (v) => sg.ste.round(v)), 0],
    ];
    for (const [name, op, saved] of ops) {
      const binary = binaryNames.includes(name);
      check(`${name}, recorded`, binary ? [a, b] : [a], () => op(a), saved);
      // Only b needs a gradient (binary ops), or nothing does.
      check(`${name}, constant x`, binary ? [b] : [], () => op(c), binary ? saved : 0);
      check(`${name}, noGrad`, [], () => sg.noGrad(() => op(a)), 0);
    }
    const rows = sg.reshape(c, [6, 4]);
    check('matmul, recorded', [m], () => sg.matmul(rows, m), 0);
    check('matmul transposed, recorded', [m], () => sg.matmul(m, rows, { transposeA: true, transposeB: true }), 0);
    for (const t of [a, b, c, m, idx, rows]) t.dispose();
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
