import { record } from '../autograd/tape.js';
import { rt } from '../runtime/context.js';
import { checkAxis, checkFloat, describe } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { empty, sizeOf, type Tensor } from '../tensor/tensor.js';
import { materializeBroadcast } from './broadcast.js';

export interface ReduceOptions {
  /** Axis or axes to reduce (negative counts from the end); all axes when omitted. */
  axis?: number | number[];
  keepDims?: boolean;
}

function normalizeAxes(x: Tensor, axis: number | number[] | undefined, op: string): number[] {
  if (axis === undefined) return x.shape.map((_, i) => i);
  const list = Array.isArray(axis) ? axis : [axis];
  if (x.rank === 0 && list.length > 0) throw new Error(`${op}: axis ${describe(axis)} is out of range for a scalar tensor`);
  const axes = list.map((a) => checkAxis(a, x.rank, op));
  if (new Set(axes).size !== axes.length) throw new Error(`${op}: axis ${describe(axis)} repeats an axis`);
  return axes.sort((a, b) => a - b);
}

function reducedShape(shape: readonly number[], axes: number[], keepDims: boolean): number[] {
  const out: number[] = [];
  shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepDims) out.push(1);
  });
  return out;
}

/** Sum over sorted axes with no tape. Reduces one axis at a time as [outer, n, inner]. */
export function sumAxesRaw(x: Tensor, axes: number[], keepDims: boolean): Tensor {
  const { kernels } = rt();
  let cur = x;
  let curShape = [...x.shape];
  for (const axis of axes) {
    const outer = sizeOf(curShape.slice(0, axis));
    const n = curShape[axis];
    const inner = sizeOf(curShape.slice(axis + 1));
    const nextShape = curShape.slice();
    nextShape[axis] = 1;
    const next = empty(nextShape, 'float32');
    kernels.f32_sum_axis(cur.offset, next.offset, outer, n, inner);
    if (cur !== x) cur.dispose();
    cur = next;
    curShape = nextShape;
  }
  const finalShape = reducedShape(x.shape, axes, keepDims);
  if (cur === x) return x.view(finalShape);
  const out = cur.view(finalShape);
  cur.dispose();
  return out;
}

/** Reduces a broadcast gradient back to `shape` by summing the broadcast axes. */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  if (axes.length === 0) return g.view(shape);
  const s = sumAxesRaw(g, axes, true);
  const out = s.view(shape);
  s.dispose();
  return out;
}

export function sum(x: Tensor, options: ReduceOptions | null = {}): Tensor {
  checkFloat(x, 'sum', 'x');
  const o = readOptions<ReduceOptions>(options, 'sum');
  const axes = normalizeAxes(x, o.axis, 'sum');
  const keepDims = boolOption(o.keepDims, 'sum', 'keepDims');
  const keepShape = reducedShape(x.shape, axes, true);
  const y = sumAxesRaw(x, axes, keepDims);
  return record(y, 'sum', [x], (dy) => {
    const dk = dy.view(keepShape);
    const dx = materializeBroadcast(dk, x.shape);
    dk.dispose();
    return [dx];
  });
}

export function mean(x: Tensor, options: ReduceOptions | null = {}): Tensor {
  checkFloat(x, 'mean', 'x');
  const o = readOptions<ReduceOptions>(options, 'mean');
  const axes = normalizeAxes(x, o.axis, 'mean');
  const keepDims = boolOption(o.keepDims, 'mean', 'keepDims');
  const count = axes.reduce((n, a) => n * x.shape[a], 1);
  if (count === 0) throw new Error(`mean: cannot average over zero elements (x has shape [${x.shape}])`);
  const keepShape = reducedShape(x.shape, axes, true);
  const s = sumAxesRaw(x, axes, keepDims);
  const scale = 1 / count;
  const { kernels } = rt();
  const y = empty(s.shape, 'float32');
  kernels.f32_affine(s.offset, y.offset, s.size, scale, 0);
  s.dispose();
  return record(y, 'mean', [x], (dy) => {
    const dk = dy.view(keepShape);
    const dx = materializeBroadcast(dk, x.shape);
    dk.dispose();
    kernels.f32_affine(dx.offset, dx.offset, dx.size, scale, 0);
    return [dx];
  });
}

/** Max and index of the first maximum along one axis (internal, no tape). */
function maxAlong(x: Tensor, axis: number): { values: Tensor; indices: Tensor; outer: number; n: number; inner: number } {
  const outer = sizeOf(x.shape.slice(0, axis));
  const n = x.shape[axis];
  const inner = sizeOf(x.shape.slice(axis + 1));
  const shape = x.shape.filter((_, i) => i !== axis);
  const values = empty(shape, 'float32');
  const indices = empty(shape, 'int32');
  rt().kernels.f32_max_axis(x.offset, values.offset, indices.offset, outer, n, inner);
  return { values, indices, outer, n, inner };
}

interface AxisOptions { axis?: number; keepDims?: boolean }

/** Validates max/argmax's options before anything is allocated. */
function axisOptions(x: Tensor, options: AxisOptions | null, op: string): { axis: number | undefined; keepDims: boolean } {
  const o = readOptions<AxisOptions>(options, op);
  const keepDims = boolOption(o.keepDims, op, 'keepDims');
  if (o.axis === undefined) {
    if (x.size === 0) throw new Error(`${op}: cannot take the ${op === 'max' ? 'maximum' : 'argmax'} of zero elements (x has shape [${x.shape}])`);
    return { axis: undefined, keepDims };
  }
  const axis = checkAxis(o.axis, x.rank, op);
  if (x.shape[axis] === 0) throw new Error(`${op}: cannot take the ${op === 'max' ? 'maximum' : 'argmax'} of zero elements along axis ${axis} (x has shape [${x.shape}])`);
  return { axis, keepDims };
}

function singleAxis(x: Tensor, axis: number | undefined): { t: Tensor; axis: number; flat: boolean } {
  if (axis === undefined) return { t: x.view([x.size]), axis: 0, flat: true };
  return { t: x, axis, flat: false };
}

/** Maximum along an axis (or of all elements); the gradient goes to the first maximal element. */
export function max(x: Tensor, options: AxisOptions | null = {}): Tensor {
  checkFloat(x, 'max', 'x');
  const opts = axisOptions(x, options, 'max');
  const { t, axis, flat } = singleAxis(x, opts.axis);
  const r = maxAlong(t, axis);
  if (flat) t.dispose();
  const keepShape = flat ? x.shape.map(() => 1) : x.shape.map((d, i) => (i === axis ? 1 : d));
  let y = r.values;
  if (opts.keepDims) {
    y = r.values.view(keepShape);
    r.values.dispose();
  }
  const { indices, outer, n, inner } = r;
  const out = record(y, 'max', [x], (dy) => {
    const dx = empty(x.shape, 'float32');
    const { kernels } = rt();
    kernels.f32_fill(dx.offset, dx.size, 0);
    kernels.f32_max_axis_backward(dy.offset, indices.offset, dx.offset, outer, n, inner);
    return [dx];
  });
  if (out.node === null) indices.dispose();
  else out.attach(indices);
  return out;
}

/** Index of the first maximum along an axis (int32; of the flattened tensor without axis). */
export function argmax(x: Tensor, options: AxisOptions | null = {}): Tensor {
  checkFloat(x, 'argmax', 'x');
  const opts = axisOptions(x, options, 'argmax');
  const { t, axis, flat } = singleAxis(x, opts.axis);
  const r = maxAlong(t, axis);
  if (flat) t.dispose();
  r.values.dispose();
  if (!opts.keepDims) return r.indices;
  const keepShape = flat ? x.shape.map(() => 1) : x.shape.map((d, i) => (i === axis ? 1 : d));
  const out = r.indices.view(keepShape);
  r.indices.dispose();
  return out;
}
