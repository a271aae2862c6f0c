import { composite, record } from '../autograd/tape.js';
import { convert, f32CountNaN, fill } from '../kernels/elementwise.js';
import { copyStrided, f32ScatterAddAxis, f32ScatterAddRows, gatherAxis, gatherRows, transpose32 } from '../kernels/shape.js';
import { checkAxis, checkDType, checkShape, checkTensor, describe, MAX_RANK } from '../tensor/checks.js';
import { bytesPerElement, type DType } from '../tensor/dtypes.js';
import { readOptions } from '../tensor/options.js';
import { empty, sizeOf, type Tensor, viewOf } from '../tensor/tensor.js';
import { contiguousStrides, materializeBroadcast } from './broadcast.js';
import { sumToShape } from './reduce.js';

/** Same data, new shape (one entry may be -1 to infer it). Shares memory with x. */
export function reshape(x: Tensor, shape: number[]): Tensor {
  checkTensor(x, 'reshape', 'x');
  if (!Array.isArray(shape)) throw new Error(`reshape: shape must be an array, got ${describe(shape)}`);
  if (shape.length > MAX_RANK) throw new Error(`reshape: shape has ${shape.length} dimensions; at most ${MAX_RANK} are supported`);
  shape.forEach((d, i) => {
    if (typeof d !== 'number' || !Number.isInteger(d) || d < -1) {
      throw new Error(`reshape: shape[${i}] must be a non-negative integer or -1 (inferred), got ${describe(d)}`);
    }
  });
  const inferAt = shape.indexOf(-1);
  if (shape.filter((d) => d === -1).length > 1) throw new Error(`reshape: shape [${shape}] has more than one -1`);
  let target = shape;
  if (inferAt >= 0) {
    const known = sizeOf(shape.filter((_, i) => i !== inferAt));
    if (known === 0 || x.size % known !== 0) throw new Error(`reshape: cannot infer the -1 in [${shape}] for ${x.size} elements`);
    target = shape.slice();
    target[inferAt] = x.size / known;
  }
  target = checkShape(target, 'reshape');
  if (sizeOf(target) !== x.size) {
    throw new Error(`reshape: shape [${shape}] has ${sizeOf(target)} elements but x (shape [${x.shape}]) has ${x.size}`);
  }
  const y = viewOf(x, target);
  return record(y, 'reshape', [x], (dy) => [viewOf(dy, x.shape)]);
}

/** Permutes axes (default: reverses them). */
export function transpose(x: Tensor, perm?: number[]): Tensor {
  checkTensor(x, 'transpose', 'x');
  const rank = x.rank;
  const p = perm ?? x.shape.map((_, i) => rank - 1 - i);
  if (!Array.isArray(p) || p.length !== rank || p.some((v) => typeof v !== 'number') || [...p].sort((a, b) => a - b).some((v, i) => v !== i)) {
    throw new Error(`transpose: perm must be a permutation of [0..${rank - 1}], got ${describe(perm)}`);
  }
  const y = permuteRaw(x, p);
  const inverse = p.map((_, i) => p.indexOf(i));
  return record(y, 'transpose', [x], (dy) => [permuteRaw(dy, inverse)]);
}

function permuteRaw(x: Tensor, perm: number[]): Tensor {
  if (x.rank === 2 && perm[0] === 1 && bytesPerElement(x.dtype) === 4) return transpose32(x);
  const shape = perm.map((a) => x.shape[a]);
  const out = empty(shape, x.dtype);
  if (out.size === 0) return out;
  const srcStrides = contiguousStrides(x.shape);
  copyStrided(x, 0, perm.map((a) => srcStrides[a]), out, 0, contiguousStrides(shape), shape);
  return out;
}

/**
 * x[begin[0]:begin[0]+size[0], ...]; size -1 means "to the end". A negative begin counts from the end
 * (-1 is the last index, as in NumPy). Missing trailing axes are taken whole.
 */
export function slice(x: Tensor, begin: number[], size?: number[] | null): Tensor {
  checkTensor(x, 'slice', 'x');
  if (!Array.isArray(begin) || begin.length > x.rank) {
    throw new Error(`slice: begin must be an array of at most ${x.rank} integers, got ${describe(begin)}`);
  }
  if (size === null) size = undefined;
  if (size !== undefined && (!Array.isArray(size) || size.length !== begin.length)) {
    throw new Error(`slice: size must be an array with one entry per begin entry (${begin.length}), got ${describe(size)}`);
  }
  begin.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`slice: begin[${i}] must be an integer, got ${describe(v)}`);
  });
  size?.forEach((v, i) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -1) throw new Error(`slice: size[${i}] must be a non-negative integer or -1 (to the end), got ${describe(v)}`);
  });
  // A negative begin counts from the end (-1 is the last index); + 0 turns -0 into 0.
  const b = x.shape.map((d, i) => {
    const v = begin[i] ?? 0;
    return v < 0 && v >= -d ? v + d : v + 0;
  });
  const s = x.shape.map((d, i) => {
    const want = size?.[i] ?? -1;
    return want === -1 ? d - b[i] : want + 0;
  });
  x.shape.forEach((d, i) => {
    if (!Number.isInteger(b[i]) || b[i] < 0 || b[i] > d) throw new Error(`slice: begin[${i}] = ${b[i]} is out of range [${-d}, ${d}] for x of shape [${x.shape}] (negative begins count from the end)`);
    if (!Number.isInteger(s[i]) || s[i] < 0 || b[i] + s[i] > d) {
      throw new Error(`slice: size[${i}] = ${size?.[i]} does not fit: begin ${b[i]} + size must be <= ${d} (x has shape [${x.shape}])`);
    }
  });
  const strides = contiguousStrides(x.shape);
  const start = b.reduce((acc, v, i) => acc + v * strides[i], 0);
  const y = empty(s, x.dtype);
  if (y.size > 0) copyStrided(x, start, strides, y, 0, contiguousStrides(s), s);
  return record(y, 'slice', [x], (dy) => {
    const dx = empty(x.shape, 'float32');
    fill(dx, 0);
    if (dy.size > 0) copyStrided(dy, 0, contiguousStrides(s), dx, start, strides, s);
    return [dx];
  });
}

/** Joins tensors of one dtype along an existing axis. */
export function concat(tensors: Tensor[], axis: number | null = 0): Tensor {
  axis ??= 0;
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error('concat: tensors must be a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor(t, 'concat', `tensors[${i}]`));
  const first = tensors[0];
  if (first.rank === 0) {
    throw new Error('concat: tensors[0] is a scalar (shape []); scalars have no axis to join along: reshape each to [1] first (reshape(t, [1])) to get a 1-D result');
  }
  const ax = checkAxis(axis, first.rank, 'concat');
  tensors.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw new Error(`concat: tensors[${i}] is ${t.dtype} but tensors[0] is ${first.dtype}; convert it with tensors[${i}].cast('${first.dtype}')`);
    if (t.rank !== first.rank || t.shape.some((d, k) => k !== ax && d !== first.shape[k])) {
      throw new Error(`concat: tensors[${i}] has shape [${t.shape}], which does not match [${first.shape}] outside axis ${ax}`);
    }
  });
  const shape = first.shape.slice();
  shape[ax] = tensors.reduce((n, t) => n + t.shape[ax], 0);
  const y = empty(shape, first.dtype);
  const outStrides = contiguousStrides(shape);
  const starts: number[] = [];
  let at = 0;
  for (const t of tensors) {
    starts.push(at);
    if (t.size > 0) copyStrided(t, 0, contiguousStrides(t.shape), y, at * outStrides[ax], outStrides, t.shape);
    at += t.shape[ax];
  }
  return record(y, 'concat', tensors, (dy) =>
    tensors.map((t, i) => {
      if (!t.requiresGrad) return null;
      const g = empty(t.shape, 'float32');
      if (g.size > 0) copyStrided(dy, starts[i] * outStrides[ax], outStrides, g, 0, contiguousStrides(t.shape), t.shape);
      return g;
    }),
  );
}

/**
 * Picks entries of x along `axis` (default 0, negative counts from the end) by int32 indices:
 * out[..., i, ...] = x[..., indices[i], ...]. Output shape x.shape[:axis] ++ indices.shape ++ x.shape[axis+1:].
 * The gradient adds dy back at the picked positions (repeated indices accumulate).
 */
export function gather(x: Tensor, indices: Tensor, options: { axis?: number | null } | null = {}): Tensor {
  checkTensor(x, 'gather', 'x');
  checkDType(indices, 'gather', 'indices', 'int32');
  const opts = readOptions<{ axis: number }>(options, 'gather');
  if (x.rank === 0) throw new Error('gather: x must have at least one dimension, got a scalar');
  const axis = checkAxis(opts.axis ?? 0, x.rank, 'gather');
  if (indices.rank + x.rank - 1 > MAX_RANK) {
    throw new Error(`gather: the result would have ${indices.rank + x.rank - 1} dimensions (x [${x.shape}] with axis ${axis} replaced by indices [${indices.shape}]); at most ${MAX_RANK} are supported`);
  }
  // Axis 0 keeps its row kernels (whole-row copies, SIMD scatter-add).
  const y = axis === 0 ? gatherRows(x, indices, 'gather') : gatherAxis(x, indices, axis, 'gather');
  // The tape keeps its own view of the indices: the caller may dispose theirs before backward.
  const saved = viewOf(indices, indices.shape);
  return record(y, 'gather', [x], (dy) => [axis === 0 ? f32ScatterAddRows(dy, saved, x.shape) : f32ScatterAddAxis(dy, saved, x.shape, axis)], { saved: [saved] });
}

/**
 * Converts to another dtype. To float32, and uint8/int8 to int32: exact.
 * float32 to int32: truncation toward zero, saturating. Other conversions are
 * not offered (use quantizeInt8 for int8).
 */
export function cast<D extends DType>(x: Tensor, dtype: D): Tensor<D> {
  return castTo(x, dtype) as Tensor<D>;
}

function castTo(x: Tensor, dtype: DType): Tensor {
  checkTensor(x, 'cast', 'x');
  if (dtype === x.dtype) return viewOf(x, x.shape);
  if (dtype === 'int32' && x.dtype === 'float32') {
    const nan = f32CountNaN(x);
    if (nan > 0) throw new Error(`cast: x contains ${nan} NaN value(s), which have no int32 value`);
  }
  const y = convert(x, dtype);
  if (y !== null) return y;
  throw new Error(`cast: converting ${x.dtype} to ${describe(dtype)} is not supported (supported: any -> float32, float32/uint8/int8 -> int32)`);
}

/** x repeated along broadcast axes (NumPy rules: x's shape aligned to the right of `shape`) into a new tensor. */
export function broadcastTo(x: Tensor, shape: number[]): Tensor {
  checkTensor(x, 'broadcastTo', 'x');
  const target = checkShape(shape, 'broadcastTo');
  const ok = x.rank <= target.length && x.shape.every((d, i) => d === 1 || d === target[target.length - x.rank + i]);
  if (!ok) throw new Error(`broadcastTo: x of shape [${x.shape}] cannot be broadcast to [${target}] (each dimension of x, aligned right, must be 1 or equal the target's)`);
  const y = materializeBroadcast(x, target);
  return record(y, 'broadcastTo', [x], (dy) => [sumToShape(dy, x.shape)]);
}

/** x with `paddings[i] = [before, after]` entries of `value` (default 0) added around axis i; one pair per axis. */
export function pad(x: Tensor, paddings: [number, number][], options: { value?: number | null } | null = {}): Tensor {
  checkTensor(x, 'pad', 'x');
  const opts = readOptions<{ value: number }>(options, 'pad');
  if (!Array.isArray(paddings) || paddings.length !== x.rank) {
    throw new Error(`pad: paddings must be an array of ${x.rank} [before, after] pairs (one per axis of x [${x.shape}]), got ${describe(paddings)}`);
  }
  paddings.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || pair.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      throw new Error(`pad: paddings[${i}] must be a pair [before, after] of non-negative integers, got ${describe(pair)}`);
    }
  });
  const value = opts.value ?? 0;
  if (typeof value !== 'number') throw new Error(`pad: value must be a number, got ${describe(value)}`);
  const ranges: Record<string, [number, number]> = { int32: [-(2 ** 31), 2 ** 31 - 1], uint8: [0, 255], int8: [-128, 127] };
  const range = ranges[x.dtype];
  if (range !== undefined && (!Number.isInteger(value) || value < range[0] || value > range[1])) {
    throw new Error(`pad: value must be an integer in [${range[0]}, ${range[1]}] for ${x.dtype} x, got ${value}`);
  }
  const shape = x.shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  checkShape(shape, 'pad');
  const outStrides = contiguousStrides(shape);
  const start = paddings.reduce((acc, p, i) => acc + p[0] * outStrides[i], 0);
  const y = empty(shape, x.dtype);
  fill(y, value);
  if (x.size > 0) copyStrided(x, 0, contiguousStrides(x.shape), y, start, outStrides, x.shape);
  return record(y, 'pad', [x], (dy) => {
    const dx = empty(x.shape, 'float32');
    if (dx.size > 0) copyStrided(dy, start, outStrides, dx, 0, contiguousStrides(x.shape), x.shape);
    return [dx];
  });
}

/** x with a new axis of size 1 at `axis` (in [-(rank+1), rank]; negative counts from the end of the result). Shares memory with x. */
export function expandDims(x: Tensor, axis: number | null = 0): Tensor {
  checkTensor(x, 'expandDims', 'x');
  const ax = checkAxis(axis ?? 0, x.rank + 1, 'expandDims');
  const shape = x.shape.slice();
  shape.splice(ax, 0, 1);
  if (shape.length > MAX_RANK) throw new Error(`expandDims: the result would have ${shape.length} dimensions; at most ${MAX_RANK} are supported`);
  return reshapeTo(x, shape, 'expandDims');
}

/** x without size-1 axes: all of them, or those listed in `axis` (a number or an array; each must have size 1). Shares memory with x. */
export function squeeze(x: Tensor, axis?: number | number[] | null): Tensor {
  checkTensor(x, 'squeeze', 'x');
  let drop: number[];
  if (axis === undefined || axis === null) {
    drop = x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  } else {
    const list = Array.isArray(axis) ? axis : [axis];
    drop = list.map((a) => checkAxis(a, x.rank, 'squeeze'));
    if (new Set(drop).size !== drop.length) throw new Error(`squeeze: axis ${describe(axis)} names an axis twice`);
    for (const a of drop) {
      if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${a} of x [${x.shape}] has size ${x.shape[a]}; only size-1 axes can be squeezed`);
    }
  }
  return reshapeTo(x, x.shape.filter((_, i) => !drop.includes(i)), 'squeeze');
}

function reshapeTo(x: Tensor, shape: number[], name: string): Tensor {
  const y = viewOf(x, shape);
  return record(y, name, [x], (dy) => [viewOf(dy, x.shape)]);
}

/** Joins tensors of one shape and dtype along a new axis (in [-(rank+1), rank]). */
export function stack(tensors: Tensor[], axis: number | null = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new Error('stack: tensors must be a non-empty array of tensors');
  tensors.forEach((t, i) => checkTensor(t, 'stack', `tensors[${i}]`));
  const first = tensors[0];
  const ax = checkAxis(axis ?? 0, first.rank + 1, 'stack');
  tensors.forEach((t, i) => {
    if (t.dtype !== first.dtype) throw new Error(`stack: tensors[${i}] is ${t.dtype} but tensors[0] is ${first.dtype}; convert it with tensors[${i}].cast('${first.dtype}')`);
    if (t.rank !== first.rank || t.shape.some((d, k) => d !== first.shape[k])) {
      throw new Error(`stack: tensors[${i}] has shape [${t.shape}] but tensors[0] has [${first.shape}]; stack needs equal shapes`);
    }
  });
  if (first.rank + 1 > MAX_RANK) throw new Error(`stack: the result would have ${first.rank + 1} dimensions; at most ${MAX_RANK} are supported`);
  return composite(() => concat(tensors.map((t) => expandDims(t, ax)), ax));
}

/**
 * Splits x along `axis` (default 0) into `count` equal parts (a number that divides the axis) or into parts of
 * the listed sizes (which must add up to the axis). Returns an array of new tensors.
 */
export function split(x: Tensor, sizes: number | number[], axis: number | null = 0): Tensor[] {
  checkTensor(x, 'split', 'x');
  const ax = checkAxis(axis ?? 0, x.rank, 'split');
  const n = x.shape[ax];
  let parts: number[];
  if (typeof sizes === 'number') {
    // Each part is a tensor: more parts than entries along the axis would only add empty ones.
    if (!Number.isInteger(sizes) || sizes < 1 || sizes > Math.max(n, 1)) {
      throw new Error(`split: count must be an integer in [1, ${Math.max(n, 1)}] (the size of axis ${ax} of x [${x.shape}]), got ${describe(sizes)}`);
    }
    if (n % sizes !== 0) throw new Error(`split: axis ${ax} of x [${x.shape}] has size ${n}, which ${sizes} parts do not divide; pass a list of sizes instead`);
    parts = new Array(sizes).fill(n / sizes);
  } else {
    if (!Array.isArray(sizes) || sizes.length === 0 || sizes.some((v) => typeof v !== 'number' || !Number.isInteger(v) || v < 0)) {
      throw new Error(`split: sizes must be a positive integer count or a non-empty array of non-negative integers, got ${describe(sizes)}`);
    }
    const total = sizes.reduce((a, b) => a + b, 0);
    if (total !== n) throw new Error(`split: sizes [${sizes}] add up to ${total} but axis ${ax} of x [${x.shape}] has size ${n}`);
    parts = sizes.map((v) => v + 0);
  }
  const out: Tensor[] = [];
  let at = 0;
  try {
    for (const p of parts) {
      const begin = x.shape.map((_, i) => (i === ax ? at : 0));
      const size = x.shape.map((d, i) => (i === ax ? p : d));
      out.push(slice(x, begin, size));
      at += p;
    }
  } catch (e) {
    for (const t of out) t.dispose();
    throw e;
  }
  return out;
}
