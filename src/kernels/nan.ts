import type { Tensor } from '../tensor/tensor.js';
import { f32CountNaN } from './elementwise.js';

/** Throws when a float32 tensor holds NaN where an op cannot take it (e.g. sign, packing, VQ). */
export function rejectNaN(t: Tensor, op: string, arg: string): void {
  if (t.dtype !== 'float32' || t.size === 0) return;
  const n = f32CountNaN(t);
  if (n > 0) throw new Error(`${op}: ${arg} contains ${n} NaN value${n > 1 ? 's' : ''}; NaN is not allowed here`);
}
