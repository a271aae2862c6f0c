import { noGrad } from '../autograd/tape.js';
import { square } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { f32Affine } from '../kernels/elementwise.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { markModified } from '../tensor/derived.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import { rawF32, Tensor } from '../tensor/tensor.js';

export interface ClipGradNormOptions {
  /** Throw when the total norm is NaN or infinite (default false: the gradients are left unchanged). */
  errorIfNonfinite?: boolean;
}

/**
 * Clips gradients by their total L2 norm, as PyTorch's clip_grad_norm_: the
 * norm of all gradients taken together is computed (each tensor's sum of
 * squares in float32, in float64 where float32 overflows, summed and
 * square-rooted in float64); when it exceeds
 * maxNorm every gradient is scaled in place by maxNorm / (norm + 1e-6).
 * Parameters without a gradient are skipped; a gradient that is not a live
 * float32 tensor of its parameter's shape is an error (nothing is scaled). Returns the norm before clipping.
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
  // Checked as an optimizer's step() checks them: all before any gradient is scaled.
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    const g: unknown = p.grad;
    if (g === null) return;
    if (!(g instanceof Tensor)) throw new Error(`${op}: params[${i}].grad is not a Tensor (${describe(g)}); set it to a float32 tensor of shape [${p.shape}] or null`);
    if (g.disposed) throw new Error(`${op}: params[${i}].grad (tensor #${g.id}) was disposed; run backward() again or set p.grad = null`);
    if (g.dtype !== 'float32' || g.rank !== p.rank || g.shape.some((d, k) => d !== p.shape[k])) {
      throw new Error(`${op}: params[${i}].grad is ${g.dtype} [${g.shape}], expected float32 [${p.shape}] like the parameter; set p.grad to a matching tensor (e.g. g.cast('float32')) or null`);
    }
    grads.push(g);
  });
  let squares = 0;
  for (const g of grads) {
    let s = tidy(() => noGrad(() => sum(square(g)).item()));
    // Squares overflow float32 past |g| ~ 1.8e19: such a gradient is summed again in float64
    // (a real NaN or Infinity in it stays non-finite).
    if (!Number.isFinite(s)) {
      s = 0;
      for (const v of g.dataSync()) s += v * v;
    }
    squares += s;
  }
  const norm = Math.sqrt(squares);
  if (!Number.isFinite(norm)) {
    if (errorIfNonfinite) throw new Error(`${op}: the total gradient norm is ${norm} (a gradient holds NaN or infinite values)`);
    return norm;
  }
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    // A coefficient below float32's normal range would be flushed or rounded away as a kernel operand: scale in float64 then.
    const tiny = Math.fround(coef) < 1.1754943508222875e-38;
    for (const g of grads) {
      if (tiny) {
        const v = rawF32(g);
        for (let i = 0; i < v.length; i++) v[i] *= coef;
      } else {
        f32Affine(g, coef, 0, g);
      }
      markModified(g);
    }
  }
  return norm;
}

function isIterable(x: unknown): x is Iterable<Tensor> {
  return x !== null && typeof x === 'object' && typeof (x as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function';
}
