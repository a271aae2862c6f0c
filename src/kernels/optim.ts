import { elementAt, elementPass, parallelTiles, TILE_LENGTH as LENGTH } from '../runtime/parallel.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectF32, expectSameSize } from './internal/checks.js';

// Fused optimizer updates, in place on the parameter and its state (kernels:
// assembly/optim.ts, twin: reference/optim.ts). The caller marks the
// parameter modified.

const at = (t: Tensor) => elementAt(t.offset);
/** A memory-bound pass touches several arrays per element: its cost in multiply-add equivalents. */
const PASS_COST = 8;

function checkState(p: Tensor, others: Tensor[], binding: string): void {
  expectF32(p, binding, 'param');
  for (const t of others) {
    expectF32(t, binding, 'state');
    expectSameSize(p, t, binding, 'param and state');
  }
}

/**
 * One Adam step's coefficients, computed in float64 on the host (nn/optim.ts
 * adamCoefficients) and rounded to float32 once, as torch.optim.Adam does.
 */
export interface AdamStep {
  b1: number;
  /** 1 - beta1. */
  c1: number;
  b2: number;
  /** 1 - beta2. */
  c2: number;
  /** lr / (1 - beta1^t). */
  stepSize: number;
  /** sqrt(1 - beta2^t). */
  bc2Sqrt: number;
  eps: number;
  /** AdamW's 1 - lr·weightDecay applied to p first (1 for Adam). */
  shrink: number;
  /** Adam's L2 weight decay added to g (0 for AdamW). */
  l2: number;
  /** The updated p is clamped to [-clip, clip] in the same pass (Infinity for none). */
  clip: number;
}

/** One Adam / AdamW step on p with gradient g and moments m, v (all updated in place but g). */
export function adamUpdate(p: Tensor, g: Tensor, m: Tensor, v: Tensor, s: AdamStep): void {
  checkState(p, [g, m, v], 'adamUpdate');
  parallelTiles({
    kernel: 'adam_update',
    ...elementPass(p.size, PASS_COST),
    args: [at(p), at(g), at(m), at(v), LENGTH, s.b1, s.c1, s.b2, s.c2, s.stepSize, s.bc2Sqrt, s.eps, s.shrink, s.l2, -s.clip, s.clip],
  });
}

/** One Bop step on ±1 weights w with gradient g and moving average m; returns the number of flips. */
export function bopUpdate(w: Tensor, g: Tensor, m: Tensor, gamma: number, threshold: number): number {
  checkState(w, [g, m], 'bopUpdate');
  // The flip counts of the tiles add up (integers: in any order).
  return parallelTiles({
    kernel: 'bop_update',
    ...elementPass(w.size, PASS_COST),
    args: [at(w), at(g), at(m), LENGTH, gamma, threshold],
  });
}
