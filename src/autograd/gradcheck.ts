import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { markModified } from '../tensor/derived.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { sum } from '../ops/reduce.js';
import { backward, noGrad } from './tape.js';
import { rawF32 } from '../tensor/tensor.js';

/** Smallest finite-difference step accepted: below it float32 differences are mostly rounding noise. */
export const GRADCHECK_MIN_EPS = 1e-6;

export interface GradcheckOptions {
  /** Finite-difference step, at least 1e-6 (default 1e-2; float32 forward passes need a large step). */
  eps?: number;
  atol?: number;
  rtol?: number;
}

export interface GradcheckResult {
  ok: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** The worst element: which input, its flat index, analytic and numeric values. */
  worst: { input: number; index: number; analytic: number; numeric: number } | null;
}

/**
 * Compares the tape's gradient of sum(fn(...inputs)) with central finite
 * differences computed in float64: for each input element, f(x + h) and
 * f(x - h) are evaluated (in float32, the library's precision), their
 * outputs summed in float64, and divided by the step actually taken (the
 * float32 difference of the perturbed values, not the nominal 2·eps).
 * Inputs must be float32 tensors with requiresGrad; they are restored after.
 */
export function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions | null = {}): GradcheckResult {
  if (typeof fn !== 'function') throw new Error(`gradcheck: fn must be a function, got ${describe(fn)}`);
  if (!Array.isArray(inputs) || inputs.length === 0) throw new Error('gradcheck: inputs must be a non-empty array of tensors');
  inputs.forEach((t, i) => {
    checkFloat(t, 'gradcheck', `inputs[${i}]`);
    if (!t.requiresGrad || t.node !== null) throw new Error(`gradcheck: inputs[${i}] must be a leaf tensor with requiresGrad: true`);
  });
  const o = readOptions<GradcheckOptions>(options, 'gradcheck');
  const eps = checkNumber(o.eps ?? 1e-2, 'gradcheck', 'eps', { min: GRADCHECK_MIN_EPS });
  const atol = checkNumber(o.atol ?? 1e-3, 'gradcheck', 'atol', { min: 0 });
  const rtol = checkNumber(o.rtol ?? 1e-2, 'gradcheck', 'rtol', { min: 0 });

  const saved = inputs.map((t) => t.grad);
  inputs.forEach((t) => (t.grad = null));
  let analytic: Float64Array[];
  try {
    analytic = tidy(() => {
      const y = fn(...inputs);
      checkFloat(y, 'gradcheck', 'fn result');
      const total = y.size === 1 ? y : sum(y);
      backward(total);
      return inputs.map((t) => (t.grad ? Float64Array.from(rawF32(t.grad)) : new Float64Array(t.size)));
    });
  } finally {
    // The caller's gradients are put back whatever happened.
    inputs.forEach((t, i) => {
      if (t.grad !== saved[i]) t.grad?.dispose();
      t.grad = saved[i];
    });
  }

  const evalSum = (): number =>
    tidy(() => noGrad(() => {
      const y = fn(...inputs);
      checkFloat(y, 'gradcheck', 'fn result');
      const data = rawF32(y);
      let s = 0;
      for (let i = 0; i < data.length; i++) s += data[i];
      return s;
    }));

  let maxAbsError = 0;
  let maxRelError = 0;
  let worst: GradcheckResult['worst'] = null;
  let worstExcess = -Infinity;
  inputs.forEach((t, k) => {
    for (let i = 0; i < t.size; i++) {
      const x0 = rawF32(t)[i];
      const xp = Math.fround(x0 + eps);
      const xm = Math.fround(x0 - eps);
      if (!(xp > xm)) {
        throw new Error(`gradcheck: eps = ${eps} is below float32 resolution at inputs[${k}][${i}] = ${x0} (x ± eps round to the same value); use a larger eps`);
      }
      let fp: number;
      let fm: number;
      try {
        rawF32(t)[i] = xp;
        markModified(t);
        fp = evalSum();
        rawF32(t)[i] = xm;
        markModified(t);
        fm = evalSum();
      } finally {
        // The input is restored even if fn throws.
        rawF32(t)[i] = x0;
        markModified(t);
      }
      const numeric = (fp - fm) / (xp - xm);
      const a = analytic[k][i];
      const abs = Math.abs(a - numeric);
      const rel = abs / Math.max(Math.abs(numeric), 1e-12);
      maxAbsError = Math.max(maxAbsError, abs);
      if (abs > atol) maxRelError = Math.max(maxRelError, rel);
      const raw = abs - (atol + rtol * Math.abs(numeric));
      const excess = Number.isNaN(raw) ? Infinity : raw;
      if (worst === null || excess > worstExcess) {
        worstExcess = excess;
        worst = { input: k, index: i, analytic: a, numeric };
      }
    }
  });
  return { ok: worstExcess <= 0, maxAbsError, maxRelError, worst };
}
