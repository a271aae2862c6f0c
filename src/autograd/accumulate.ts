import { rt } from '../runtime/context.js';
import { empty, type Tensor } from '../tensor/tensor.js';

/** a + b for two gradients of the same shape (no tape). */
export function accumulate(a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) throw new Error(`internal: accumulating gradients of shapes [${a.shape}] and [${b.shape}]`);
  const out = empty(a.shape, 'float32');
  const { kernels, memory } = rt();
  new Float32Array(memory.buffer, out.offset, out.size).set(new Float32Array(memory.buffer, a.offset, a.size));
  kernels.f32_axpy(out.offset, b.offset, out.size, 1);
  return out;
}
