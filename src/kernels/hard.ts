import { rt } from '../runtime/context.js';
import { elementAt as at, elementPass, parallelTiles, TILE_LENGTH as LENGTH } from '../runtime/parallel.js';
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
  // The tiles' NaN counts add up (integers: in any order).
  const nan = parallelTiles({ kernel: 'f32_hard', ...pass(x.size), args: [Hard[name], at(x.offset), at(y.offset), LENGTH] });
  return { y, nan };
}

const pass = (n: number) => elementPass(n, 4);

function backwardOutput(x: Tensor, dy: Tensor, binding: string): Tensor {
  expectF32(x, binding, 'x');
  expectF32(dy, binding, 'dy');
  expectSameSize(x, dy, binding, 'x and dy');
  return empty(x.shape, 'float32');
}

/** dx = dy where lo <= x <= hi, else 0 (the clipped identity: clip, sign's 'clipped' surrogate). */
export function f32RangeMaskBackward(x: Tensor, dy: Tensor, lo: number, hi: number): Tensor {
  const dx = backwardOutput(x, dy, 'f32RangeMaskBackward');
  parallelTiles({ kernel: 'f32_range_mask_backward', ...pass(x.size), args: [at(x.offset), at(dy.offset), at(dx.offset), LENGTH, lo, hi] });
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
