import { f32Axpy } from '../kernels/elementwise.js';
import { empty, rawF32, type Tensor } from '../tensor/tensor.js';

/** a + b for two gradients of the same shape (no tape). */
export function accumulate(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`internal: accumulating gradients of shapes [${a.shape}] and [${b.shape}]`);
  const out = empty(a.shape, 'float32');
  // A byte copy, not 1·a + 0, which would turn -0 into +0.
  rawF32(out).set(rawF32(a));
  f32Axpy(out, b, 1);
  return out;
}
