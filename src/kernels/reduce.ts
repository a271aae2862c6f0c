import { rt } from '../runtime/context.js';
import { empty, sizeOf, type Tensor } from '../tensor/tensor.js';
import { fill } from './elementwise.js';
import { expectF32, expectShape } from './internal/checks.js';

// Reductions and row-wise ops (kernels: assembly/reduce.ts, twin:
// reference/reduce.ts). An axis splits a shape into [outer, n, inner].

function split(shape: readonly number[], axis: number, binding: string): { outer: number; n: number; inner: number } {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) throw new Error(`internal: ${binding}: axis ${axis} of [${shape}]`);
  return { outer: sizeOf(shape.slice(0, axis)), n: shape[axis], inner: sizeOf(shape.slice(axis + 1)) };
}

/** Sum along one axis, kept with size 1. */
export function f32SumAxis(x: Tensor, axis: number): Tensor {
  expectF32(x, 'f32SumAxis', 'x');
  const { outer, n, inner } = split(x.shape, axis, 'f32SumAxis');
  const shape = x.shape.slice();
  shape[axis] = 1;
  const y = empty(shape, 'float32');
  rt().kernels.f32_sum_axis(x.offset, y.offset, outer, n, inner);
  return y;
}

/** Maximum along one axis (removed) and the index of its first occurrence (NaN never wins). */
export function f32MaxAxis(x: Tensor, axis: number): { values: Tensor; indices: Tensor } {
  expectF32(x, 'f32MaxAxis', 'x');
  const { outer, n, inner } = split(x.shape, axis, 'f32MaxAxis');
  const shape = x.shape.filter((_, i) => i !== axis);
  const values = empty(shape, 'float32');
  const indices = empty(shape, 'int32');
  rt().kernels.f32_max_axis(x.offset, values.offset, indices.offset, outer, n, inner);
  return { values, indices };
}

/** Minimum along one axis (removed) and the index of its first occurrence (NaN never wins); f32MaxAxisBackward is its gradient. */
export function f32MinAxis(x: Tensor, axis: number): { values: Tensor; indices: Tensor } {
  expectF32(x, 'f32MinAxis', 'x');
  const { outer, n, inner } = split(x.shape, axis, 'f32MinAxis');
  const shape = x.shape.filter((_, i) => i !== axis);
  const values = empty(shape, 'float32');
  const indices = empty(shape, 'int32');
  rt().kernels.f32_min_axis(x.offset, values.offset, indices.offset, outer, n, inner);
  return { values, indices };
}

/** The gradient of f32MaxAxis: dy routed to the recorded index along `axis` of a zero tensor of `shape`. */
export function f32MaxAxisBackward(dy: Tensor, indices: Tensor, shape: readonly number[], axis: number): Tensor {
  expectF32(dy, 'f32MaxAxisBackward', 'dy');
  const { outer, n, inner } = split(shape, axis, 'f32MaxAxisBackward');
  if (dy.size !== outer * inner || indices.size !== outer * inner) throw new Error(`internal: f32MaxAxisBackward: dy [${dy.shape}] for [${shape}] axis ${axis}`);
  const dx = empty(shape, 'float32');
  fill(dx, 0);
  rt().kernels.f32_max_axis_backward(dy.offset, indices.offset, dx.offset, outer, n, inner);
  return dx;
}

function rows(x: Tensor): { rows: number; n: number } {
  const n = x.shape[x.rank - 1];
  return { rows: n === 0 ? 0 : x.size / n, n };
}

/** Softmax (log = false) or log-softmax (log = true) along the last axis, max-shifted. */
export function f32SoftmaxRows(x: Tensor, log: boolean): Tensor {
  expectF32(x, 'f32SoftmaxRows', 'x');
  if (x.rank === 0) throw new Error('internal: f32SoftmaxRows: x is a scalar');
  const r = rows(x);
  const y = empty(x.shape, 'float32');
  rt().kernels.f32_softmax_rows(x.offset, y.offset, r.rows, r.n, log ? 1 : 0);
  return y;
}

/** The gradient of f32SoftmaxRows from its output y. */
export function f32SoftmaxRowsBackward(y: Tensor, dy: Tensor, log: boolean): Tensor {
  expectShape(dy, y.shape, 'f32SoftmaxRowsBackward', 'dy');
  const r = rows(y);
  const dx = empty(y.shape, 'float32');
  rt().kernels.f32_softmax_rows_backward(y.offset, dy.offset, dx.offset, r.rows, r.n, log ? 1 : 0);
  return dx;
}

/** log(sum(exp(x))) of each row of x [rows, n] → [rows]. */
export function f32LogsumexpRows(x: Tensor): Tensor {
  expectF32(x, 'f32LogsumexpRows', 'x');
  if (x.rank !== 2) throw new Error(`internal: f32LogsumexpRows: x must be [rows, n], got [${x.shape}]`);
  const [R, n] = x.shape;
  const y = empty([R], 'float32');
  rt().kernels.f32_logsumexp_rows(x.offset, y.offset, R, n);
  return y;
}

/** The gradient of f32LogsumexpRows: dy[r] * softmax(x[r]) (recomputed from x, max-shifted). */
export function f32LogsumexpRowsBackward(x: Tensor, dy: Tensor): Tensor {
  expectF32(x, 'f32LogsumexpRowsBackward', 'x');
  if (x.rank !== 2) throw new Error(`internal: f32LogsumexpRowsBackward: x must be [rows, n], got [${x.shape}]`);
  const [R, n] = x.shape;
  expectShape(dy, [R], 'f32LogsumexpRowsBackward', 'dy');
  const dx = empty([R, n], 'float32');
  rt().kernels.f32_logsumexp_rows_backward(x.offset, dy.offset, dx.offset, R, n);
  return dx;
}

function checkLabels(x: readonly number[], labels: Tensor, binding: string): void {
  if (x.length !== 2 || labels.dtype !== 'int32' || labels.rank !== 1 || labels.shape[0] !== x[0]) {
    throw new Error(`internal: ${binding}: labels ${labels.dtype} [${labels.shape}] for rows of [${x}]`);
  }
}

/** out[r] = x[r, labels[r]] for x [B, C] (labels range-checked by the caller with i32FindOutOfRange). */
export function f32PickRows(x: Tensor, labels: Tensor): Tensor {
  expectF32(x, 'f32PickRows', 'x');
  checkLabels(x.shape, labels, 'f32PickRows');
  const [B, C] = x.shape;
  const out = empty([B], 'float32');
  rt().kernels.f32_pick_rows(x.offset, labels.offset, out.offset, B, C);
  return out;
}

/** The gradient of f32PickRows: zeros [B, C] with dy[r] at (r, labels[r]). */
export function f32PickRowsBackward(dy: Tensor, labels: Tensor, C: number): Tensor {
  const B = labels.size;
  checkLabels([B, C], labels, 'f32PickRowsBackward');
  expectShape(dy, [B], 'f32PickRowsBackward', 'dy');
  const dx = empty([B, C], 'float32');
  fill(dx, 0);
  rt().kernels.f32_pick_rows_backward(dy.offset, labels.offset, dx.offset, B, C);
  return dx;
}
