import { noGrad } from '../autograd/tape.js';
import { abs, clip, div, mul } from '../ops/elementwise.js';
import { max as maxOp } from '../ops/reduce.js';
import { round as steRound } from '../ste/quantize.js';
import { fill } from '../kernels/elementwise.js';
import { checkNumber } from '../tensor/checks.js';
import { boolOption } from '../tensor/options.js';
import { rejectNaN } from '../kernels/nan.js';
import { tidy } from '../tensor/scope.js';
import { rawF32, type Tensor } from '../tensor/tensor.js';

// The fake-quantization steps QuantLinear and QuantConv2d share; `op` names the layer in errors.

/** The quantization options QuantLinear and QuantConv2d share. */
export interface QuantLayerOptions {
  /** Weight bit width, 2..8 (default 8): symmetric levels [-(2^(b-1) - 1), 2^(b-1) - 1]. */
  weightBits?: number;
  /** Activation bit width 2..8 (default 8), or null for float activations. */
  activationBits?: number | null;
  /** One weight scale per output channel (default true) or one per tensor. */
  perChannel?: boolean;
  /** Train the weight scales (LSQ-style, through the fake-quant graph) instead of max|W| / qmax. */
  learnScale?: boolean;
  /** EMA momentum of the activation range observer (default 0.1). */
  observerMomentum?: number;
}

/** Checks the shared quantization options with their defaults; `options` is the caller's bag as given, `o` the same bag as readOptions returned it. */
export function quantLayerOptions(op: string, options: unknown, o: QuantLayerOptions): Required<QuantLayerOptions> {
  // activationBits: null is meaningful here (float activations), so it is read from the bag as given: readOptions drops nulls.
  const ab = options !== null && typeof options === 'object' && 'activationBits' in options ? (options as QuantLayerOptions).activationBits : undefined;
  return {
    weightBits: checkNumber(o.weightBits ?? 8, op, 'weightBits', { integer: true, min: 2, max: 8 }),
    activationBits: ab === null ? null : checkNumber(ab ?? 8, op, 'activationBits', { integer: true, min: 2, max: 8 }),
    perChannel: boolOption(o.perChannel, op, 'perChannel', true),
    learnScale: boolOption(o.learnScale, op, 'learnScale', false),
    observerMomentum: checkNumber(o.observerMomentum ?? 0.1, op, 'observerMomentum', { min: 0, max: 1 }),
  };
}

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
