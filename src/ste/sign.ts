import { record } from '../autograd/tape.js';
import { f32ApproxSignBackward, f32Hard, f32RangeMaskBackward, f32SwishSignBackward } from '../kernels/hard.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { choiceOption, readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
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
  return (dy) => {
    if (grad === 'identity') return identityGrad(dy);
    if (grad === 'clipped') return f32RangeMaskBackward(x, dy, -clipValue, clipValue);
    if (grad === 'approx') return f32ApproxSignBackward(x, dy);
    return f32SwishSignBackward(x, dy, beta);
  };
}

function hardSign(op: 'sign' | 'binarize', x: Tensor, options: SignOptions | null): Tensor {
  const name = `ste.${op}`;
  checkFloat(x, name, 'x');
  const backward = surrogateBackward(name, x, options);
  const { y, nan } = f32Hard(op, x);
  if (nan > 0) {
    y.dispose();
    throw new Error(`${name}: x contains ${nan} NaN value${nan > 1 ? 's' : ''}; NaN is not allowed here (it has no sign to train through; plain sign() maps NaN to NaN)`);
  }
  return record(y, op, [x], (dy) => [backward(dy)]);
}

/**
 * sign(x) in {-1, 0, +1} with sign(0) = 0, and a surrogate gradient (default
 * identity); NaN is rejected. `sg.sign` is the same forward value with its true
 * gradient, 0 (and passes NaN through).
 */
export function sign(x: Tensor, options: SignOptions | null = {}): Tensor {
  return hardSign('sign', x, options);
}

/** ±1 (0 -> +1), the form that bit-packs; surrogate gradient as for sign. NaN is rejected. */
export function binarize(x: Tensor, options: SignOptions | null = {}): Tensor {
  return hardSign('binarize', x, options);
}
