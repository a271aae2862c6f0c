import { rt } from '../runtime/context.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { Hard, type HardName } from './codes.generated.js';
import { expectF32, expectSameSize } from './internal/checks.js';

// Hard maps and the straight-through backward rules (kernels:
// assembly/hard.ts, twin: reference/hard.ts).

/**
 * out = sign / binarize / round / floor of x (out may be x: in place), and
 * the number of NaNs in x, so callers that forbid NaN need no second pass.
 */
export function f32Hard(name: HardName, x: Tensor, out?: Tensor): { y: Tensor; nan: number } {
  expectF32(x, 'f32Hard', 'x');
  const y = out ?? empty(x.shape, 'float32');
  expectF32(y, 'f32Hard', 'out');
  expectSameSize(x, y, 'f32Hard', 'x and out');
  const nan = rt().kernels.f32_hard(Hard[name], x.offset, y.offset, x.size);
  return { y, nan };
}

function backwardOutput(x: Tensor, dy: Tensor, binding: string): Tensor {
  expectF32(x, binding, 'x');
  expectF32(dy, binding, 'dy');
  expectSameSize(x, dy, binding, 'x and dy');
  return empty(x.shape, 'float32');
}

/** dx = dy where lo <= x <= hi, else 0 (the clipped identity: clip, sign's 'clipped' surrogate). */
export function f32RangeMaskBackward(x: Tensor, dy: Tensor, lo: number, hi: number): Tensor {
  const dx = backwardOutput(x, dy, 'f32RangeMaskBackward');
  rt().kernels.f32_range_mask_backward(x.offset, dy.offset, dx.offset, x.size, lo, hi);
  return dx;
}

/** Bi-Real ApproxSign: dx = (2 - 2|x|) dy where |x| <= 1, else 0. */
export function f32ApproxSignBackward(x: Tensor, dy: Tensor): Tensor {
  const dx = backwardOutput(x, dy, 'f32ApproxSignBackward');
  rt().kernels.f32_approx_sign_backward(x.offset, dy.offset, dx.offset, x.size);
  return dx;
}

/** SwishSign: dx = beta (2 - beta x tanh(beta x / 2)) / (1 + cosh(beta x)) dy. */
export function f32SwishSignBackward(x: Tensor, dy: Tensor, beta: number): Tensor {
  const dx = backwardOutput(x, dy, 'f32SwishSignBackward');
  rt().kernels.f32_swish_sign_backward(x.offset, dy.offset, dx.offset, x.size, beta);
  return dx;
}
