import { record } from '../autograd/tape.js';
import { bincount as bincountKernel, copyStrided, f32OneHot, f32ScatterAddAlong, f32TopkRows, gatherRows, i32FindOutOfRange, i32MaxValue } from '../kernels/shape.js';
import { checkAxis, checkDType, checkFloat, checkNumber, MAX_RANK } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { empty, type Tensor, viewOf } from '../tensor/tensor.js';
import { contiguousStrides } from './broadcast.js';
import { cast } from './shape.js';

// Index and count ops: oneHot, topk, bincount (kernels: assembly/shape.ts).

/** Integer indices as int32 (uint8/int8 are widened exactly); the caller disposes the result. */
function int32Indices(indices: Tensor, op: string): Tensor {
  checkDType(indices, op, 'indices', 'int32', 'uint8', 'int8');
  return indices.dtype === 'int32' ? viewOf(indices, indices.shape) : cast(indices, 'int32');
}

function checkRange(idx: Tensor, depth: number, op: string, arg: string): void {
  const bad = i32FindOutOfRange(idx, 0, depth);
  if (bad >= 0) throw new Error(`${op}: ${arg}[${bad}] = ${idx.dataSync()[bad]} is out of range [0, ${depth})`);
}

/**
 * float32 one-hot rows: shape [...indices.shape, depth], 1 at each index and 0 elsewhere. Indices are int32,
 * uint8 or int8 in [0, depth). Not differentiable in the indices (they are integers).
 */
export function oneHot(indices: Tensor, depth: number): Tensor {
  const idx = int32Indices(indices, 'oneHot');
  try {
    checkNumber(depth, 'oneHot', 'depth', { integer: true, min: 0, max: 2 ** 31 - 1 });
    if (idx.rank + 1 > MAX_RANK) throw new Error(`oneHot: the result would have ${idx.rank + 1} dimensions; at most ${MAX_RANK} are supported`);
    checkRange(idx, depth, 'oneHot', 'indices');
    return f32OneHot(idx, depth);
  } finally {
    idx.dispose();
  }
}

export interface TopkOptions {
  /** Axis to select along (default -1, the last); negative counts from the end. */
  axis?: number | null;
}

/**
 * The k largest entries of float32 x along `axis` (default the last), largest first: `values` (float32,
 * differentiable: the gradient goes back to the picked positions) and `indices` (int32 positions along the
 * axis). Ties keep the lowest index first; NaN ranks above every number. k is in [0, x.shape[axis]].
 */
export function topk(x: Tensor, k: number, options: TopkOptions | null = {}): { values: Tensor; indices: Tensor } {
  checkFloat(x, 'topk', 'x');
  const opts = readOptions<TopkOptions>(options, 'topk');
  if (x.rank === 0) throw new Error('topk: x must have at least one dimension, got a scalar');
  const axis = checkAxis(opts.axis ?? -1, x.rank, 'topk');
  const n = x.shape[axis];
  checkNumber(k, 'topk', 'k', { integer: true, min: 0, max: n });
  const last = x.rank - 1;
  // Rows along the last axis: the selected axis is moved there (a strided copy) and moved back after.
  const perm = x.shape.map((_, i) => (i === axis ? last : i === last ? axis : i));
  const xr = axis === last ? viewOf(x, x.shape) : permute(x, perm);
  const { values: vr, indices: ir } = f32TopkRows(xr, k);
  xr.dispose();
  let values: Tensor;
  let indices: Tensor;
  if (axis === last) {
    values = vr;
    indices = ir;
  } else {
    values = permute(vr, perm);
    indices = permute(ir, perm);
    vr.dispose();
  }
  const rowShape = perm.map((a) => x.shape[a]);
  const out = record(values, 'topk', [x], (dy) => {
    const dyr = axis === last ? viewOf(dy, dy.shape) : permute(dy, perm);
    const dxr = f32ScatterAddAlong(dyr, ir, rowShape);
    dyr.dispose();
    if (axis === last) return [dxr];
    const dx = permute(dxr, perm);
    dxr.dispose();
    return [dx];
  }, { saved: axis === last ? [viewOf(ir, ir.shape)] : [ir] });
  return { values: out, indices };
}

/** A contiguous copy of x with axes permuted (perm is its own inverse here: a swap). */
function permute(x: Tensor, perm: number[]): Tensor {
  const shape = perm.map((a) => x.shape[a]);
  const out = empty(shape, x.dtype);
  if (out.size > 0) {
    const s = contiguousStrides(x.shape);
    copyStrided(x, 0, perm.map((a) => s[a]), out, 0, contiguousStrides(shape), shape);
  }
  return out;
}

export interface BincountOptions {
  /** Number of bins (default max(indices) + 1, or 0 when empty); every index must be below it. */
  length?: number | null;
  /** float32 weights of indices' shape: bin j sums the weights of the entries equal to j (differentiable). */
  weights?: Tensor | null;
}

/**
 * Counts of each value of non-negative integer indices (int32, uint8 or int8, any shape, read flat):
 * int32 [length] without weights; float32 [length] sums of `weights` with them.
 */
export function bincount(indices: Tensor, options: BincountOptions | null = {}): Tensor {
  const opts = readOptions<BincountOptions>(options, 'bincount');
  const idx = int32Indices(indices, 'bincount');
  try {
    const weights = opts.weights ?? null;
    if (weights !== null) {
      checkFloat(weights, 'bincount', 'weights');
      if (weights.rank !== idx.rank || weights.shape.some((d, i) => d !== idx.shape[i])) {
        throw new Error(`bincount: weights must have indices' shape [${idx.shape}], got [${weights.shape}]`);
      }
    }
    checkRange(idx, 2 ** 31 - 1, 'bincount', 'indices');
    const needed = i32MaxValue(idx) + 1;
    let length = needed;
    if (opts.length !== undefined) {
      length = checkNumber(opts.length, 'bincount', 'length', { integer: true, min: 0, max: 2 ** 31 - 1 });
      if (needed > length) throw new Error(`bincount: indices hold ${needed - 1}, which does not fit length ${length}; pass length >= ${needed} or omit it`);
    }
    const y = bincountKernel(idx, weights, length);
    if (weights === null) return y;
    // dweights[i] = dy[indices[i]]: a gather of dy, kept flat.
    const flat = viewOf(idx, [idx.size]);
    return record(y, 'bincount', [weights], (dy) => {
      const g = gatherRows(dy, flat, 'bincount');
      const out = viewOf(g, weights.shape);
      g.dispose();
      return [out];
    }, { saved: [flat] });
  } finally {
    idx.dispose();
  }
}

