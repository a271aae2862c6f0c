import { noGrad } from '../autograd/tape.js';
import { abs, clip, div, mul } from '../ops/elementwise.js';
import { max as maxOp } from '../ops/reduce.js';
import { round as steRound } from '../ste/quantize.js';
import { fill } from '../kernels/elementwise.js';
import { rejectNaN } from '../kernels/nan.js';
import { tidy } from '../tensor/scope.js';
import { rawF32, type Tensor } from '../tensor/tensor.js';

// The fake-quantization steps QuantLinear and QuantConv2d share; `op` names the layer in errors.

/** A learned weight scale, checked finite and > 0 before use. */
export function checkLearnedScale(op: string, s: Tensor): Tensor {
  // An optimizer step can drive a learned scale to 0, below it or to NaN: dividing by it would give silent NaNs.
  const v = rawF32(s);
  for (let i = 0; i < v.length; i++) {
    if (!(v[i] > 0 && v[i] < Infinity)) {
      throw new Error(`${op}: the learned weightScale element ${i} is ${v[i]}, but it must be finite and > 0; lower the learning rate of the scales or reload a good state with loadStateDict`);
    }
  }
  return s;
}

/** clip(round(w / s), -qmax, qmax) · s on the tape, gradients straight through the rounding. */
export function fakeQuantWeight(w: Tensor, s: Tensor, qmax: number): Tensor {
  const q = clip(steRound(div(w, s)), -qmax, qmax);
  return mul(q, s);
}

/** The activation scale max|x| / qmax from an observed range, or null before anything was observed. */
export function activationScale(range: number, bits: number): number | null {
  return range > 0 ? range / (2 ** (bits - 1) - 1) : null;
}

/** Folds max|x| into the running range buffer `r` (EMA with `momentum`), leaving it unchanged on bad input. */
export function observeRange(op: string, x: Tensor, r: Tensor, momentum: number): void {
  // An empty batch has no range to observe: the running range stays as it was.
  if (x.size === 0) return;
  // One NaN or Infinity in the observer's running range would break every later forward pass: checked before it is written.
  rejectNaN(x, op, 'x (in training, it updates the activation range)');
  const m = tidy(() => noGrad(() => maxOp(abs(x))).item());
  if (!Number.isFinite(m)) {
    throw new Error(`${op}: x (in training, it updates the activation range) must be finite, but max|x| is ${m}; the range observer was left unchanged`);
  }
  // A range of 0 means "nothing observed yet" (also after loading a fresh state dict).
  const previous = r.item();
  fill(r, previous > 0 ? (1 - momentum) * previous + momentum * m : m);
}
