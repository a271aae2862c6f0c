import type { Tensor } from '../../tensor/tensor.js';

// Shape checks the bindings share. Their callers (ops, nn, ste) validate user
// input with user-facing messages first; these guard the kernels' own
// preconditions, so a wrong internal call fails here instead of reading or
// writing past a tensor's block.

export function expectF32(t: Tensor, binding: string, arg: string): void {
  if (t.dtype !== 'float32') throw new Error(`internal: ${binding}: ${arg} must be float32, got ${t.dtype}`);
}

export function expectSameSize(a: Tensor, b: Tensor, binding: string, what: string): void {
  if (a.size !== b.size) throw new Error(`internal: ${binding}: ${what} have ${a.size} and ${b.size} elements`);
}

export function expectShape(t: Tensor, shape: readonly number[], binding: string, arg: string): void {
  if (t.rank !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`internal: ${binding}: ${arg} must have shape [${shape}], got [${t.shape}]`);
  }
}
