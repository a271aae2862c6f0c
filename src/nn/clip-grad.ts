import { noGrad } from '../autograd/tape.js';
import { square } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { f32Affine } from '../kernels/elementwise.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { markModified } from '../tensor/derived.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';

export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or infinite (default false: the gradients are left unchanged). */
  errorIfNonfinite?: boolean;
}

/**
 * Clips gradients by their total L2 norm, as PyTorch's clip_grad_norm_: the
 * norm of all gradients taken together is computed (each tensor's sum of
 * squares in float32, summed and square-rooted in float64); when it exceeds
 * maxNorm every gradient is scaled in place by maxNorm / (norm + 1e-6).
 * Parameters without a gradient are skipped. Returns the norm before clipping.
 * A NaN or infinite norm leaves the gradients unchanged (PyTorch would scale
 * them by NaN or 0) unless errorIfNonfinite asks for an error.
 */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, clipOptions: ClipGradNormOptions = {}): number {
  const op = 'clipGradNorm';
  const list = params instanceof Tensor ? [params] : isIterable(params) ? [...params] : null;
  if (list === null) throw new Error(`${op}: params must be a tensor or an array of tensors (e.g. model.parameters()), got ${describe(params)}`);
  list.forEach((p, i) => checkFloat(p, op, `params[${i}]`));
  checkNumber(maxNorm, op, 'maxNorm', { min: 0 });
  const options = readOptions<ClipGradNormOptions>(clipOptions, op);
  const errorIfNonfinite = boolOption(options.errorIfNonfinite, op, 'errorIfNonfinite');
  const grads = list.map((p) => p.grad).filter((g): g is Tensor => g !== null && !g.disposed);
  let squares = 0;
  for (const g of grads) squares += tidy(() => noGrad(() => sum(square(g)).item()));
  const norm = Math.sqrt(squares);
  if (!Number.isFinite(norm)) {
    if (errorIfNonfinite) throw new Error(`${op}: the total gradient norm is ${norm} (a gradient holds NaN or infinite values)`);
    return norm;
  }
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const g of grads) {
      f32Affine(g, coef, 0, g);
      markModified(g);
    }
  }
  return norm;
}

function isIterable(x: unknown): x is Iterable<Tensor> {
  return x !== null && typeof x === 'object' && typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}
