import { rt } from '../runtime/context.js';
import type { Tensor } from '../tensor/tensor.js';

// The two memory rules of a kernel binding: scratch space is freed after the
// call whatever happens, and a fresh output does not outlive a failed call.

/** Runs fn with a scratch block of `bytes` in wasm memory, freed afterwards (also on error). */
export function withWorkspace<R>(bytes: number, fn: (work: number) => R): R {
  const { allocator } = rt();
  const work = allocator.alloc(bytes);
  try {
    return fn(work);
  } finally {
    allocator.free(work);
  }
}

/** Fills a fresh output tensor; if fill throws, the output is freed before the error goes on. */
export function produce(out: Tensor, fill: (out: Tensor) => void): Tensor {
  try {
    fill(out);
  } catch (err) {
    out.dispose();
    throw err;
  }
  return out;
}
