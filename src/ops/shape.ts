import { record } from '../autograd/tape.js';
import { convert, f32CountNaN, fill } from '../kernels/elementwise.js';
import { copyStrided, f32ScatterAddRows, gatherRows, transpose32 } from '../kernels/shape.js';
import { checkAxis, checkDType, checkShape, checkTensor, describe, MAX_RANK } from '../tensor/checks.js';
import { bytesPerElement, type DType } from '../tensor/dtypes.js';
import { empty, sizeOf, type Tensor, viewOf } from '../tensor/tensor.js';
import { contiguousStrides } from './broadcast.js';

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

/** x[begin[0]:begin[0]+size[0], ...]; size -1 means "to the end". Missing trailing axes are taken whole. */
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
  // + 0 turns -0 into 0.
  const b = x.shape.map((_, i) => (begin[i] ?? 0) + 0);
  const s = x.shape.map((d, i) => {
    const want = size?.[i] ?? -1;
    return want === -1 ? d - b[i] : want + 0;
  });
  x.shape.forEach((d, i) => {
    if (!Number.isInteger(b[i]) || b[i] < 0 || b[i] > d) throw new Error(`slice: begin[${i}] = ${b[i]} is out of range [0, ${d}] for x of shape [${x.shape}]`);
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
    if (t.dtype !== first.dtype) throw new Error(`concat: tensors[${i}] is ${t.dtype} but tensors[0] is ${first.dtype}`);
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

/** Rows of x (along axis 0) picked by int32 indices: out[i] = x[indices[i]]. Output shape indices.shape ++ x.shape[1:]. */
export function gather(x: Tensor, indices: Tensor): Tensor {
  checkTensor(x, 'gather', 'x');
  checkDType(indices, 'gather', 'indices', 'int32');
  if (x.rank === 0) throw new Error('gather: x must have at least one dimension, got a scalar');
  if (indices.rank + x.rank - 1 > MAX_RANK) {
    throw new Error(`gather: the result would have ${indices.rank + x.rank - 1} dimensions (indices [${indices.shape}] then x's [${x.shape.slice(1)}]); at most ${MAX_RANK} are supported`);
  }
  const y = gatherRows(x, indices, 'gather');
  // The tape keeps its own view of the indices: the caller may dispose theirs before backward.
  const saved = viewOf(indices, indices.shape);
  return record(y, 'gather', [x], (dy) => [f32ScatterAddRows(dy, saved, x.shape)], { saved: [saved] });
}

/**
 * Converts to another dtype. To float32, and uint8/int8 to int32: exact.
 * float32 to int32: truncation toward zero, saturating. Other conversions are
 * not offered (use quantizeInt8 for int8).
 */
export function cast(x: Tensor, dtype: DType): Tensor {
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
