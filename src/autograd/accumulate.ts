import { f32Axpy } from '../kernels/elementwise.js';
import { empty, type Tensor } from '../tensor/tensor.js';

/** a + b for two gradients of the same shape (no tape). */
export function accumulate(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`internal: accumulating gradients of shapes [${a.shape}] and [${b.shape}]`);
  const out = empty(a.shape, 'float32');
  // A byte copy, not 1·a + 0, which would turn -0 into +0.
  out.rawF32().set(a.rawF32());
  f32Axpy(out, b, 1);
  return out;
}
