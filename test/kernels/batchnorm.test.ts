import { describe, expect, test } from 'vitest';
import { bnBackwardTrainRef, bnForwardEvalRef, bnForwardTrainRef } from '../../src/reference/batchnorm.js';
import { rt } from '../../src/runtime/context.js';
import { expectExact } from '../support/kernel-harness.js';
import { expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();

/** Copies arrays into fresh wasm blocks, runs fn with their offsets, reads outputs back, frees everything. */
function withBuffers(inputs: Float32Array[], outputs: number[], fn: (ins: number[], outs: number[]) => void): Float32Array[] {
  const { allocator, memory } = rt();
  const ins = inputs.map((a) => {
    const off = allocator.alloc(4 * Math.max(a.length, 1));
    new Float32Array(memory.buffer, off, a.length).set(a);
    return off;
  });
  const outs = outputs.map((n) => allocator.alloc(4 * Math.max(n, 1)));
  fn(ins, outs);
  const result = outs.map((off, i) => new Float32Array(memory.buffer, off, outputs[i]).slice());
  for (const off of [...ins, ...outs]) allocator.free(off);
  return result;
}

describe('fused batch norm kernels match their scalar twin exactly', () => {
  const shapes = [[2, 1], [2, 4], [3, 5], [7, 3], [5, 31], [128, 33], [16, 1024], [2, 129]];
  test('forward (with and without affine) and backward', () => {
    let seed = 1;
    for (const [B, F] of shapes) {
      for (const affine of [true, false]) {
        const x = seededArray(B * F, seed++, -3, 5);
        const gamma = affine ? seededArray(F, seed++, -2, 2) : null;
        const beta = affine ? seededArray(F, seed++, -1, 1) : null;
        const eps = 1e-5;
        const want = bnForwardTrainRef(x, B, F, eps, gamma, beta);
        const inputs = [x, ...(affine ? [gamma!, beta!] : [])];
        const [y, xhat, mean, variance, invstd] = withBuffers(inputs, [B * F, B * F, F, F, F], (i, o) =>
          rt().kernels.bn_forward_train(i[0], o[0], o[1], o[2], o[3], o[4], affine ? i[1] : 0, affine ? i[2] : 0, B, F, F, eps));
        const tag = `B=${B} F=${F} affine=${affine}`;
        expect(Array.from(y), tag).toEqual(Array.from(want.y));
        expect(Array.from(xhat), tag).toEqual(Array.from(want.xhat));
        expect(Array.from(mean), tag).toEqual(Array.from(want.mean));
        expect(Array.from(variance), tag).toEqual(Array.from(want.variance));
        expect(Array.from(invstd), tag).toEqual(Array.from(want.invstd));

        const dy = seededArray(B * F, seed++, -1, 1);
        const back = bnBackwardTrainRef(dy, want.xhat, want.invstd, gamma, B, F);
        const [dx, dgamma, dbeta] = withBuffers([dy, want.xhat, want.invstd, ...(affine ? [gamma!] : [])], [B * F, F, F], (i, o) =>
          rt().kernels.bn_backward_train(i[0], i[1], i[2], affine ? i[3] : 0, o[0], o[1], o[2], B, F, F));
        expect(Array.from(dx), tag).toEqual(Array.from(back.dx));
        expect(Array.from(dgamma), tag).toEqual(Array.from(back.dgamma));
        expect(Array.from(dbeta), tag).toEqual(Array.from(back.dbeta));
      }
    }
  });

  test('the twin itself normalizes: each column has mean ~0 and variance ~1', () => {
    const B = 64, F = 6;
    const x = seededArray(B * F, 99, 10, 20);
    const { y } = bnForwardTrainRef(x, B, F, 1e-5, null, null);
    for (let c = 0; c < F; c++) {
      let m = 0, v = 0;
      for (let b = 0; b < B; b++) m += y[b * F + c] / B;
      for (let b = 0; b < B; b++) v += (y[b * F + c] - m) ** 2 / B;
      expect(Math.abs(m)).toBeLessThan(1e-5);
      expect(Math.abs(v - 1)).toBeLessThan(1e-3);
    }
  });
});

describe('eval-mode batch norm kernel', () => {
  // F covers the 4-column body and every scalar tail; variances include 0 (eps alone) and large values.
  const shapes = [[0, 3], [1, 1], [1, 10], [2, 4], [3, 5], [7, 3], [128, 33], [1, 1024], [5, 131]];
  test('equals the twin and BatchNorm1d.eval with gradients recorded (the op chain), bit for bit', () => {
    let seed = 500;
    for (const [B, F] of shapes) {
      for (const affine of [true, false]) {
        const bn = new sg.nn.BatchNorm1d(F, { affine, eps: 1e-3 });
        const mean = seededArray(F, seed++, -2, 2);
        const variance = seededArray(F, seed++, 0, 9).map((v, i) => (i % 5 === 0 ? 0 : v));
        new Float32Array(rt().memory.buffer, bn.runningMean.offset, F).set(mean);
        new Float32Array(rt().memory.buffer, bn.runningVar.offset, F).set(variance);
        const gamma = affine ? seededArray(F, seed++, -2, 2) : null;
        const beta = affine ? seededArray(F, seed++, -1, 1) : null;
        if (gamma && beta) {
          new Float32Array(rt().memory.buffer, bn.weight!.offset, F).set(gamma);
          new Float32Array(rt().memory.buffer, bn.bias!.offset, F).set(beta);
        }
        bn.eval();
        const xd = seededArray(B * F, seed++, -4, 6);
        const what = `B=${B} F=${F} affine=${affine}`;
        const want = bnForwardEvalRef(xd, B, F, mean, variance, 1e-3, gamma, beta);
        sg.tidy(() => {
          const fused = sg.noGrad(() => bn.forward(sg.tensor(xd, [B, F])));
          expectExact(fused.dataSync(), want, `fused ${what}`);
          // With a gradient to record, eval runs the differentiable op chain: the same bits.
          const chain = bn.forward(sg.tensor(xd, [B, F], { requiresGrad: true }));
          expect(chain.requiresGrad).toBe(true);
          expectExact(chain.dataSync(), want, `op chain ${what}`);
        });
        bn.dispose();
      }
    }
  });
});
