import { rt } from '../runtime/context.js';
import { writeArgs } from '../runtime/views.js';
import { bytesPerElement } from '../tensor/dtypes.js';
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

/**
 * Merges neighbouring axes that every operand walks contiguously, and drops
 * size-1 axes, so strided kernels see as few axes as possible.
 */
export function collapseAxes(dims: readonly number[], stridesList: readonly number[][]): { dims: number[]; strides: number[][] } {
  const outDims: number[] = [];
  const outStrides: number[][] = stridesList.map(() => []);
  for (let i = 0; i < dims.length; i++) {
    if (dims[i] === 1) continue;
    const last = outDims.length - 1;
    if (last >= 0 && stridesList.every((s, k) => outStrides[k][last] === s[i] * dims[i])) {
      outDims[last] *= dims[i];
      stridesList.forEach((s, k) => (outStrides[k][last] = s[i]));
    } else {
      outDims.push(dims[i]);
      stridesList.forEach((s, k) => outStrides[k].push(s[i]));
    }
  }
  if (outDims.length === 0) return { dims: [1], strides: stridesList.map(() => [1]) };
  return { dims: outDims, strides: outStrides };
}

/** Copies `src` viewed through `srcStrides` over index space `dims` into `dst` at `dstStrides` (element units). */
export function copyStrided(src: number, srcStrides: number[], dst: number, dstStrides: number[], dims: number[], elemBytes: number): void {
  const c = collapseAxes(dims, [srcStrides, dstStrides]);
  if (c.dims.some((d) => d === 0)) return;
  const [dimsPtr, sPtr, dPtr] = writeArgs(c.dims, c.strides[0], c.strides[1]);
  rt().kernels.copy_strided(src, sPtr, dst, dPtr, elemBytes, c.dims.length, dimsPtr);
}

/** A new contiguous tensor holding x broadcast to `shape` (no tape). */
export function materializeBroadcast(x: Tensor, shape: readonly number[]): Tensor {
  const out = empty(shape, x.dtype);
  if (out.size === 0) return out;
  copyStrided(x.offset, broadcastStrides(x.shape, shape), out.offset, contiguousStrides(shape), [...shape], bytesPerElement(x.dtype));
  return out;
}
