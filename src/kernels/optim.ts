import { rt } from '../runtime/context.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectF32, expectSameSize } from './internal/checks.js';

// Fused optimizer updates, in place on the parameter and its state (kernels:
// assembly/optim.ts, twin: reference/optim.ts). The caller marks the
// parameter modified.

function checkState(p: Tensor, others: Tensor[], binding: string): void {
  expectF32(p, binding, 'param');
  for (const t of others) {
    expectF32(t, binding, 'state');
    expectSameSize(p, t, binding, 'param and state');
  }
}

export interface AdamStep {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** AdamW: weight decay applied to p directly instead of added to g. */
  decoupled: boolean;
  /** Bias corrections 1 - beta1^t and 1 - beta2^t. */
  bc1: number;
  bc2: number;
  /** The updated p is clamped to [-clip, clip] in the same pass (Infinity for none). */
  clip: number;
}

/** One Adam / AdamW step on p with gradient g and moments m, v (all updated in place but g). */
export function adamUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, s: AdamStep): void {
  checkState(p, [g, m, v], 'adamUpdate');
  rt().kernels.adam_update(p.offset, g.offset, m.offset, v.offset, p.size, s.lr, s.beta1, s.beta2, s.eps, s.weightDecay,
    s.decoupled ? 1 : 0, s.bc1, s.bc2, -s.clip, s.clip);
}

/** One Bop step on ±1 weights w with gradient g and moving average m; returns the number of flips. */
export function bopUpdate(w: Tensor, g: Tensor, m: Tensor, gamma: number, threshold: number): number {
  checkState(w, [g, m], 'bopUpdate');
  return rt().kernels.bop_update(w.offset, g.offset, m.offset, w.size, gamma, threshold);
}
