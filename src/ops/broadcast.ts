import { copyStrided } from '../kernels/shape.js';
import { empty, type Tensor } from '../tensor/tensor.js';

/** Row-major element strides of a shape. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** NumPy broadcasting of two shapes; throws naming the op when they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes [${a}] and [${b}] cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read `shape` as if broadcast to `target` (0 on broadcast axes). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const own = contiguousStrides(shape);
  const offset = target.length - shape.length;
  return target.map((_, i) => (i < offset || shape[i - offset] === 1 ? 0 : own[i - offset]));
}

/** A new contiguous tensor holding x broadcast to `shape` (no tape). */
export function materializeBroadcast(x: Tensor, shape: readonly number[]): Tensor {
  const out = empty(shape, x.dtype);
  if (out.size === 0) return out;
  copyStrided(x, 0, broadcastStrides(x.shape, shape), out, 0, contiguousStrides(shape), shape);
  return out;
}
