import { composite, record } from '../autograd/tape.js';
import { f32Affine } from '../kernels/elementwise.js';
import { f32MaxAxis, f32MaxAxisBackward, f32MinAxis, f32SumAxis } from '../kernels/reduce.js';
import { checkAxis, checkFloat, describe } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { materializeBroadcast } from './broadcast.js';
import { viewOf } from '../tensor/tensor.js';
import { reshape } from './shape.js';

export interface ReduceOptions {
  /** Axis or axes to reduce (negative counts from the end); all axes when omitted. */
  axis?: number | number[];
  keepDims?: boolean;
}

export function normalizeAxes(x: Tensor, axis: number | number[] | undefined, op: string): number[] {
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

type Extreme = 'max' | 'min' | 'argmax' | 'argmin';

const WHAT: Record<Extreme, string> = { max: 'maximum', min: 'minimum', argmax: 'argmax', argmin: 'argmin' };

interface AxisOptions { axis?: number; keepDims?: boolean }

/** Validates max/min/argmax/argmin's options before anything is allocated (argmax/argmin take one axis). */
function extremeOptions(x: Tensor, options: ReduceOptions | null, op: Extreme): { axes: number[] | undefined; keepDims: boolean } {
  const o = readOptions<ReduceOptions>(options, op);
  const keepDims = boolOption(o.keepDims, op, 'keepDims');
  if (o.axis === undefined) {
    if (x.size === 0) throw new Error(`${op}: cannot take the ${WHAT[op]} of zero elements (x has shape [${x.shape}])`);
    return { axes: undefined, keepDims };
  }
  if (Array.isArray(o.axis) && (op === 'argmax' || op === 'argmin')) {
    throw new Error(`${op}: axis must be one integer (an index along one axis), got ${describe(o.axis)}; omit it for the index into the flattened tensor`);
  }
  const axes = normalizeAxes(x, o.axis, op);
  const empty = axes.find((a) => x.shape[a] === 0);
  if (empty !== undefined) throw new Error(`${op}: cannot take the ${WHAT[op]} of zero elements along axis ${empty} (x has shape [${x.shape}])`);
  return { axes, keepDims };
}

function singleAxis(x: Tensor, axis: number | undefined): { t: Tensor; axis: number; flat: boolean } {
  if (axis === undefined) return { t: viewOf(x, [x.size]), axis: 0, flat: true };
  return { t: x, axis, flat: false };
}

function axisKernel(op: Extreme): typeof f32MaxAxis {
  return op === 'max' || op === 'argmax' ? f32MaxAxis : f32MinAxis;
}

/** max/min along one axis (or all elements, flattened); the gradient goes to the first extreme element. */
function extremeOne(x: Tensor, axis: number | undefined, keepDims: boolean, op: 'max' | 'min'): Tensor {
  const { t, axis: ax, flat } = singleAxis(x, axis);
  const r = axisKernel(op)(t, ax);
  const maxShape = t.shape;
  if (flat) t.dispose();
  const keepShape = flat ? x.shape.map(() => 1) : x.shape.map((d, i) => (i === ax ? 1 : d));
  let y = r.values;
  if (keepDims) {
    y = viewOf(r.values, keepShape);
    r.values.dispose();
  }
  const { indices } = r;
  return record(y, op, [x], (dy) => {
    const dx = f32MaxAxisBackward(dy, indices, maxShape, ax);
    if (!flat) return [dx];
    const shaped = viewOf(dx, x.shape);
    dx.dispose();
    return [shaped];
  }, { saved: [indices] });
}

function extreme(x: Tensor, options: ReduceOptions | null, op: 'max' | 'min'): Tensor {
  checkFloat(x, op, 'x');
  const { axes, keepDims } = extremeOptions(x, options, op);
  if (axes === undefined) return extremeOne(x, undefined, keepDims, op);
  if (axes.length === 1) return extremeOne(x, axes[0], keepDims, op);
  if (axes.length === 0) return reshape(x, x.shape.slice());
  // Several axes: one axis at a time from the last, each step with its own gradient (max and min are exact in any order).
  return composite(() => {
    let cur = x;
    for (let j = axes.length - 1; j >= 0; j--) cur = extremeOne(cur, axes[j], keepDims, op);
    return cur;
  });
}

function argExtreme(x: Tensor, options: AxisOptions | null, op: 'argmax' | 'argmin'): Tensor {
  checkFloat(x, op, 'x');
  const opts = extremeOptions(x, options, op);
  const { t, axis, flat } = singleAxis(x, opts.axes?.[0]);
  const r = axisKernel(op)(t, axis);
  if (flat) t.dispose();
  r.values.dispose();
  if (!opts.keepDims) return r.indices;
  const keepShape = flat ? x.shape.map(() => 1) : x.shape.map((d, i) => (i === axis ? 1 : d));
  const out = viewOf(r.indices, keepShape);
  r.indices.dispose();
  return out;
}

/**
 * Maximum along an axis or axes (or of all elements). The gradient goes to one
 * maximal element: the first in row-major order for one axis or all elements;
 * over a list of axes, the first along each axis in turn (last axis first).
 */
export function max(x: Tensor, options: ReduceOptions | null = {}): Tensor {
  return extreme(x, options, 'max');
}

/** Minimum along an axis or axes (or of all elements); the gradient goes to one minimal element, chosen as max's. */
export function min(x: Tensor, options: ReduceOptions | null = {}): Tensor {
  return extreme(x, options, 'min');
}

/** Index of the first maximum along one axis (int32; of the flattened tensor without axis). */
export function argmax(x: Tensor, options: AxisOptions | null = {}): Tensor {
  return argExtreme(x, options, 'argmax');
}

/** Index of the first minimum along one axis (int32; of the flattened tensor without axis). */
export function argmin(x: Tensor, options: AxisOptions | null = {}): Tensor {
  return argExtreme(x, options, 'argmin');
}
