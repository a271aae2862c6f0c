import { rt } from '../runtime/context.js';
import { writeArgs } from '../runtime/views.js';
import { bytesPerElement } from '../tensor/dtypes.js';
import { empty, sizeOf, type Tensor } from '../tensor/tensor.js';
import { expectF32 } from './internal/checks.js';
import { collapseAxes, lastIndex } from './internal/strided.js';
import { fill } from './elementwise.js';

// Data movement (kernels: assembly/shape.ts, twin: reference/shape.ts).

/**
 * dst[dstStart + Σ i·dstStrides] = src[srcStart + Σ i·srcStrides] over index
 * space `dims` (starts and strides in elements, strides >= 0): transpose,
 * slice, broadcast and concat are all this one copy. src and dst have the
 * same element width; both extents are checked against the tensors.
 */
export function copyStrided(src: Tensor, srcStart: number, srcStrides: readonly number[], dst: Tensor, dstStart: number,
                            dstStrides: readonly number[], dims: readonly number[]): void {
  const eb = bytesPerElement(src.dtype);
  if (bytesPerElement(dst.dtype) !== eb) throw new Error(`internal: copyStrided: ${src.dtype} into ${dst.dtype}`);
  const srcLast = lastIndex(srcStart, dims, srcStrides);
  if (srcLast < 0) return;
  if (srcLast >= src.size || lastIndex(dstStart, dims, dstStrides) >= dst.size) {
    throw new Error(`internal: copyStrided: index space [${dims}] runs past src [${src.shape}] or dst [${dst.shape}]`);
  }
  const c = collapseAxes(dims, [srcStrides as number[], dstStrides as number[]]);
  const [dimsPtr, sPtr, dPtr] = writeArgs(c.dims, c.strides[0], c.strides[1]);
  rt().kernels.copy_strided(src.offset + srcStart * eb, sPtr, dst.offset + dstStart * eb, dPtr, eb, c.dims.length, dimsPtr);
}

/** The transpose of a 2-D tensor of 4-byte elements (float32 or int32). */
export function transpose32(x: Tensor): Tensor {
  if (x.rank !== 2 || bytesPerElement(x.dtype) !== 4) throw new Error(`internal: transpose32: x is ${x.dtype} [${x.shape}]`);
  const [rows, cols] = x.shape;
  const out = empty([cols, rows], x.dtype);
  if (out.size > 0) rt().kernels.transpose_32(x.offset, out.offset, rows, cols);
  return out;
}

/** Index of the first element of int32 x outside [lo, hi), or -1. */
export function i32FindOutOfRange(x: Tensor, lo: number, hi: number): number {
  if (x.dtype !== 'int32') throw new Error(`internal: i32FindOutOfRange: x is ${x.dtype}`);
  return rt().kernels.i32_find_out_of_range(x.offset, x.size, lo, hi);
}

/**
 * Rows of x (axis 0) picked by int32 indices: out[i] = x[indices[i]], shape
 * indices.shape ++ x.shape[1:]. An index outside [0, rows) is an error (`op` names the caller).
 */
export function gatherRows(x: Tensor, indices: Tensor, op: string): Tensor {
  if (x.rank === 0) throw new Error(`internal: gatherRows: x is a scalar`);
  const rows = x.shape[0];
  const bad = i32FindOutOfRange(indices, 0, rows);
  if (bad >= 0) throw new Error(`${op}: indices[${bad}] = ${indices.dataSync()[bad]} is out of range [0, ${rows}) for x of shape [${x.shape}]`);
  const rowShape = x.shape.slice(1);
  const y = empty([...indices.shape, ...rowShape], x.dtype);
  rt().kernels.gather_rows(x.offset, indices.offset, y.offset, indices.size, sizeOf(rowShape) * bytesPerElement(x.dtype));
  return y;
}

/**
 * The gradient of gatherRows: a zero float32 tensor of `shape` with every row
 * dy[i] added into row indices[i] (indices already range-checked by gatherRows).
 */
export function f32ScatterAddRows(dy: Tensor, indices: Tensor, shape: readonly number[]): Tensor {
  expectF32(dy, 'f32ScatterAddRows', 'dy');
  const rowLen = sizeOf(shape.slice(1));
  if (dy.size !== indices.size * rowLen) throw new Error(`internal: f32ScatterAddRows: dy [${dy.shape}] does not match ${indices.size} rows of ${rowLen}`);
  const dx = empty(shape, 'float32');
  fill(dx, 0);
  rt().kernels.f32_scatter_add_rows(dy.offset, indices.offset, dx.offset, indices.size, rowLen);
  return dx;
}

/**
 * x viewed as [outer, n, row] (n = x.shape[axis]) gathered along `axis` by int32
 * indices: shape x.shape[:axis] ++ indices.shape ++ x.shape[axis+1:]. An index outside [0, n) is an error.
 */
export function gatherAxis(x: Tensor, indices: Tensor, axis: number, op: string): Tensor {
  const n = x.shape[axis];
  const bad = i32FindOutOfRange(indices, 0, n);
  if (bad >= 0) throw new Error(`${op}: indices[${bad}] = ${indices.dataSync()[bad]} is out of range [0, ${n}) for axis ${axis} of x of shape [${x.shape}]`);
  const outer = sizeOf(x.shape.slice(0, axis));
  const rowShape = x.shape.slice(axis + 1);
  const y = empty([...x.shape.slice(0, axis), ...indices.shape, ...rowShape], x.dtype);
  if (y.size > 0) rt().kernels.gather_axis(x.offset, indices.offset, y.offset, outer, n, indices.size, sizeOf(rowShape) * bytesPerElement(x.dtype));
  return y;
}

/** The gradient of gatherAxis: a zero float32 tensor of `shape` with dy's rows added back at their indices. */
export function f32ScatterAddAxis(dy: Tensor, indices: Tensor, shape: readonly number[], axis: number): Tensor {
  expectF32(dy, 'f32ScatterAddAxis', 'dy');
  const outer = sizeOf(shape.slice(0, axis));
  const row = sizeOf(shape.slice(axis + 1));
  if (dy.size !== outer * indices.size * row) throw new Error(`internal: f32ScatterAddAxis: dy [${dy.shape}] does not match [${shape}] gathered by ${indices.size}`);
  const dx = empty(shape, 'float32');
  fill(dx, 0);
  if (dy.size > 0) rt().kernels.f32_scatter_add_axis(dy.offset, indices.offset, dx.offset, outer, shape[axis], indices.size, row);
  return dx;
}

/** The k largest entries of each row of a contiguous float32 [rows, n]: values [rows, k] and their int32 positions. */
export function f32TopkRows(x: Tensor, k: number): { values: Tensor; indices: Tensor } {
  expectF32(x, 'f32TopkRows', 'x');
  const n = x.shape[x.rank - 1];
  const rows = x.size / n || 0;
  const shape = [...x.shape.slice(0, -1), k];
  const values = empty(shape, 'float32');
  const indices = empty(shape, 'int32');
  if (values.size > 0) rt().kernels.f32_topk_rows(x.offset, rows, n, k, values.offset, indices.offset);
  return { values, indices };
}

/** A zero float32 tensor of `shape` [..., n] with dy[r, i] added at position indices[r, i] of row r (the gradient of f32TopkRows). */
export function f32ScatterAddAlong(dy: Tensor, indices: Tensor, shape: readonly number[]): Tensor {
  expectF32(dy, 'f32ScatterAddAlong', 'dy');
  const n = shape[shape.length - 1];
  const k = dy.shape[dy.rank - 1];
  const dx = empty(shape, 'float32');
  fill(dx, 0);
  if (dy.size > 0) rt().kernels.f32_scatter_add_along(dy.offset, indices.offset, dx.offset, dy.size / k, k, n);
  return dx;
}

/** float32 [...indices.shape, depth], 1 at each index and 0 elsewhere (indices already range-checked). */
export function f32OneHot(indices: Tensor, depth: number): Tensor {
  const y = empty([...indices.shape, depth], 'float32');
  if (y.size > 0) rt().kernels.f32_one_hot(indices.offset, y.offset, indices.size, depth);
  return y;
}

/** Largest value of an int32 tensor, or -1 when it is empty. */
export function i32MaxValue(x: Tensor): number {
  if (x.dtype !== 'int32') throw new Error(`internal: i32MaxValue: x is ${x.dtype}`);
  return rt().kernels.i32_max_value(x.offset, x.size);
}

/** Counts of each value of int32 indices in [0, length) (int32), or sums of float32 weights per value (indices already range-checked). */
export function bincount(indices: Tensor, weights: Tensor | null, length: number): Tensor {
  const y = empty([length], weights === null ? 'int32' : 'float32');
  if (length > 0) rt().kernels.bincount(indices.offset, weights === null ? 0 : weights.offset, indices.size, y.offset, length);
  return y;
}
