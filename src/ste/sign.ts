import { record } from '../autograd/tape.js';
import { Hard } from '../kernels/codes.js';
import { rt } from '../runtime/context.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { choiceOption, readOptions } from '../tensor/options.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { identityGrad } from './straight.js';

/**
 * Surrogate gradients for sign/binarize:
 * - 'identity': dx = dy (the plain STE)
 * - 'clipped':  dx = dy where |x| <= clipValue (default 1), else 0 (Larq's SteSign)
 * - 'approx':   dx = (2 - 2|x|) dy where |x| <= 1, else 0 (Bi-Real ApproxSign)
 * - 'swish':    dx = beta (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x)) dy (SwishSign, default beta 5)
 */
export type SignGrad = 'identity' | 'clipped' | 'approx' | 'swish';

export interface SignOptions {
  grad?: SignGrad;
  /** Bound of the 'clipped' surrogate (default 1). */
  clipValue?: number;
  /** Steepness of the 'swish' surrogate (default 5). */
  beta?: number;
}

const GRADS: readonly SignGrad[] = ['identity', 'clipped', 'approx', 'swish'];

export function surrogateBackward(op: string, x: Tensor, options: SignOptions | null): (dy: Tensor) => Tensor {
  const o = readOptions<SignOptions>(options, op);
  const grad = choiceOption(o.grad, op, 'grad', GRADS, 'identity');
  const clipValue = checkNumber(o.clipValue ?? 1, op, 'clipValue', { positive: true, f32: true });
  const beta = checkNumber(o.beta ?? 5, op, 'beta', { positive: true, f32: true });
  const { kernels } = rt();
  return (dy) => {
    if (grad === 'identity') return identityGrad(dy);
    const dx = empty(x.shape, 'float32');
    if (grad === 'clipped') kernels.f32_range_mask_backward(x.offset, dy.offset, dx.offset, x.size, -clipValue, clipValue);
    else if (grad === 'approx') kernels.f32_approx_sign_backward(x.offset, dy.offset, dx.offset, x.size);
    else kernels.f32_swish_sign_backward(x.offset, dy.offset, dx.offset, x.size, beta);
    return dx;
  };
}

function hardSign(op: 'sign' | 'binarize', x: Tensor, options: SignOptions | null): Tensor {
  const name = `ste.${op}`;
  checkFloat(x, name, 'x');
  const backward = surrogateBackward(name, x, options);
  const y = empty(x.shape, 'float32');
  const nan = rt().kernels.f32_hard(Hard[op], x.offset, y.offset, x.size);
  if (nan > 0) {
    y.dispose();
    throw new Error(`${name}: x contains ${nan} NaN value${nan > 1 ? 's' : ''}; NaN is not allowed here (it has no sign to train through; plain sign() maps NaN to NaN)`);
  }
  return record(y, op, [x], (dy) => [backward(dy)]);
}

/** sign(x) in {-1, 0, +1} with sign(0) = 0, and a surrogate gradient (default identity). NaN is rejected. */
export function sign(x: Tensor, options: SignOptions | null = {}): Tensor {
  return hardSign('sign', x, options);
}

/** ±1 (0 -> +1), the form that bit-packs; surrogate gradient as for sign. NaN is rejected. */
export function binarize(x: Tensor, options: SignOptions | null = {}): Tensor {
  return hardSign('binarize', x, options);
}
