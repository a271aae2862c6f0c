import { record } from '../autograd/tape.js';
import { f32Affine } from '../kernels/elementwise.js';
import { f32MaxAxis, f32MaxAxisBackward, f32SumAxis } from '../kernels/reduce.js';
import { checkAxis, checkFloat, describe } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { materializeBroadcast } from './broadcast.js';
import { viewOf } from '../tensor/tensor.js';

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
  let cur = x;
  for (const axis of axes) {
    const next = f32SumAxis(cur, axis);
    if (cur !== x) cur.dispose();
    cur = next;
  }
  const finalShape = reducedShape(x.shape, axes, keepDims);
  if (cur === x) return viewOf(x, finalShape);
  const out = viewOf(cur, finalShape);
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
  if (axes.length === 0) return viewOf(g, shape);
  const s = sumAxesRaw(g, axes, true);
  const out = viewOf(s, shape);
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
    const dk = viewOf(dy, keepShape);
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
  const y = f32Affine(s, scale, 0);
  s.dispose();
  return record(y, 'mean', [x], (dy) => {
    const dk = viewOf(dy, keepShape);
    const dx = materializeBroadcast(dk, x.shape);
    dk.dispose();
    return [f32Affine(dx, scale, 0, dx)];
  });
}

/** Max and index of the first maximum along one axis (internal, no tape). */
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
  if (axis === undefined) return { t: viewOf(x, [x.size]), axis: 0, flat: true };
  return { t: x, axis, flat: false };
}

/** Maximum along an axis (or of all elements); the gradient goes to the first maximal element. */
export function max(x: Tensor, options: AxisOptions | null = {}): Tensor {
  checkFloat(x, 'max', 'x');
  const opts = axisOptions(x, options, 'max');
  const { t, axis, flat } = singleAxis(x, opts.axis);
  const r = f32MaxAxis(t, axis);
  const maxShape = t.shape;
  if (flat) t.dispose();
  const keepShape = flat ? x.shape.map(() => 1) : x.shape.map((d, i) => (i === axis ? 1 : d));
  let y = r.values;
  if (opts.keepDims) {
    y = viewOf(r.values, keepShape);
    r.values.dispose();
  }
  const { indices } = r;
  return record(y, 'max', [x], (dy) => {
    const dx = f32MaxAxisBackward(dy, indices, maxShape, axis);
    if (!flat) return [dx];
    const shaped = viewOf(dx, x.shape);
    dx.dispose();
    return [shaped];
  }, { saved: [indices] });
}

/** Index of the first maximum along an axis (int32; of the flattened tensor without axis). */
export function argmax(x: Tensor, options: AxisOptions | null = {}): Tensor {
  checkFloat(x, 'argmax', 'x');
  const opts = axisOptions(x, options, 'argmax');
  const { t, axis, flat } = singleAxis(x, opts.axis);
  const r = f32MaxAxis(t, axis);
  const maxShape = t.shape;
  if (flat) t.dispose();
  r.values.dispose();
  if (!opts.keepDims) return r.indices;
  const keepShape = flat ? x.shape.map(() => 1) : x.shape.map((d, i) => (i === axis ? 1 : d));
  const out = viewOf(r.indices, keepShape);
  r.indices.dispose();
  return out;
}
