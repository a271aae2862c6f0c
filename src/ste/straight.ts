import { customGrad } from '../autograd/custom.js';
import { checkFloat, describe } from '../tensor/checks.js';
import { Tensor, viewOf } from '../tensor/tensor.js';

/**
 * The generic straight-through estimator, x + stopGradient(hardFn(x) - x):
 * the forward value is hardFn(x) (returned exactly, with no float round-off
 * from the add/subtract), the backward pass is the identity.
 */
export function straightThrough(x: Tensor, hardFn: (x: Tensor) => Tensor): Tensor {
  checkFloat(x, 'ste.straightThrough', 'x');
  if (typeof hardFn !== 'function') throw new Error(`ste.straightThrough: hardFn must be a function, got ${describe(hardFn)}`);
  return customGrad({
    name: 'straightThrough',
    forward: ([input]) => {
      const y = hardFn(input);
      if (!(y instanceof Tensor)) throw new Error(`ste.straightThrough: hardFn must return a Tensor, got ${describe(y)}`);
      if (y.dtype !== 'float32' || y.shape.length !== input.shape.length || y.shape.some((d, i) => d !== input.shape[i])) {
        throw new Error(`ste.straightThrough: hardFn must return a float32 tensor of x's shape [${input.shape}], got ${describe(y)}`);
      }
      return y;
    },
    backward: (dy) => [identityGrad(dy)],
  })(x);
}

/** The identity surrogate gradient: dy itself, as a new tensor sharing its memory (no copy). */
export function identityGrad(dy: Tensor): Tensor {
  return viewOf(dy, dy.shape);
}
