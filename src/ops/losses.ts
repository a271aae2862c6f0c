import { composite, record } from '../autograd/tape.js';
import { f32Affine } from '../kernels/elementwise.js';
import { f32LogsumexpRows, f32LogsumexpRowsBackward, f32PickRows, f32PickRowsBackward, f32SoftmaxRows, f32SoftmaxRowsBackward } from '../kernels/reduce.js';
import { i32FindOutOfRange } from '../kernels/shape.js';
import { checkDType, checkFloat } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { sizeOf, Tensor, viewOf } from '../tensor/tensor.js';
import { broadcastShapes } from './broadcast.js';
import { mean, normalizeAxes, type ReduceOptions } from './reduce.js';
import { square, sub } from './elementwise.js';
import { cast, reshape, transpose } from './shape.js';

/** softmax/logSoftmax's axis argument: an axis, a list of axes, or `{ axis }`. */
export type SoftmaxAxis = number | number[] | { axis?: number | number[] | null } | null;

function softmaxAxes(x: Tensor, axis: SoftmaxAxis, op: string): number[] {
  let a: unknown = axis;
  if (axis !== null && typeof axis === 'object' && !Array.isArray(axis)) a = readOptions<{ axis?: number | number[] }>(axis, op, 'axis').axis;
  if (a === undefined || a === null) a = -1;
  if (Array.isArray(a) && a.length === 0) throw new Error(`${op}: axis [] names no axis; pass an axis (e.g. -1) or a list of axes`);
  return normalizeAxes(x, a as number | number[], op);
}

/**
 * Brings the axes to reduce (sorted) last, in order: a transpose unless they
 * already are the trailing axes. Returns the permuted tensor and the inverse.
 */
function axesLast(x: Tensor, axes: number[]): { t: Tensor; inverse: number[] | null } {
  const k = axes.length;
  if (axes.every((a, j) => a === x.rank - k + j)) return { t: x, inverse: null };
  const perm = [...x.shape.keys()].filter((i) => !axes.includes(i)).concat(axes);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return { t: transpose(x, perm), inverse };
}

function softmaxFamily(x: Tensor, axis: SoftmaxAxis, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  checkFloat(x, op, 'x');
  if (x.rank === 0) throw new Error(`${op}: x must have at least one dimension, got a scalar`);
  const axes = softmaxAxes(x, axis, op);
  if (axes.length === 1 && axes[0] === x.rank - 1) return softmaxLast(x, log);
  // Other axes: moved last and merged into one row axis for the row kernel, then moved back.
  return composite(() => {
    const { t, inverse } = axesLast(x, axes);
    const kept = t.shape.slice(0, t.rank - axes.length);
    const r = reshape(t, [...kept, sizeOf(t.shape.slice(kept.length))]);
    const y = reshape(softmaxLast(r, log), t.shape.slice());
    return inverse ? transpose(y, inverse) : y;
  });
}

function softmaxLast(x: Tensor, log: boolean): Tensor {
  const y = f32SoftmaxRows(x, log);
  return record(y, log ? 'logSoftmax' : 'softmax', [x], (dy) => [f32SoftmaxRowsBackward(y, dy, log)]);
}

/** Softmax along an axis or axes (default the last; max-shifted, so large logits do not overflow). */
export function softmax(x: Tensor, axis: SoftmaxAxis = -1): Tensor {
  return softmaxFamily(x, axis, false);
}

/** log(softmax(x)) along an axis or axes (default the last), computed as x - logsumexp(x). */
export function logSoftmax(x: Tensor, axis: SoftmaxAxis = -1): Tensor {
  return softmaxFamily(x, axis, true);
}

/**
 * log(sum(exp(x))) over an axis or axes (all when omitted), max-shifted so
 * large values do not overflow; all -inf gives -inf. Gradient: softmax(x) * dy.
 */
export function logsumexp(x: Tensor, options: ReduceOptions | null = {}): Tensor {
  checkFloat(x, 'logsumexp', 'x');
  const o = readOptions<ReduceOptions>(options, 'logsumexp');
  const axes = normalizeAxes(x, o.axis, 'logsumexp');
  const keepDims = boolOption(o.keepDims, 'logsumexp', 'keepDims');
  const outShape = x.shape.flatMap((d, i) => (!axes.includes(i) ? [d] : keepDims ? [1] : []));
  return composite(() => {
    const { t } = axesLast(x, axes);
    const n = sizeOf(axes.map((a) => x.shape[a]));
    const r = reshape(t, [sizeOf(x.shape.filter((_, i) => !axes.includes(i))), n]);
    const y = f32LogsumexpRows(r);
    const lse = record(y, 'logsumexp', [r], (dy) => [f32LogsumexpRowsBackward(r, dy)]);
    return reshape(lse, outShape);
  });
}

/**
 * Mean cross-entropy of logits [..., C] against integer labels [...] (int32,
 * uint8 or int8, in [0, C)): mean(-logSoftmax(logits)[..., labels[...]]).
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  return composite(() => crossEntropyRows(logits, labels));
}

function crossEntropyRows(logits: Tensor, labels: Tensor): Tensor {
  checkFloat(logits, 'crossEntropy', 'logits');
  if (labels instanceof Tensor && !labels.disposed && labels.dtype === 'float32') {
    throw new Error("crossEntropy: labels must be integer class indices (int32, uint8 or int8), got float32; convert them with labels.cast('int32')");
  }
  checkDType(labels, 'crossEntropy', 'labels', 'int32', 'uint8', 'int8');
  // uint8 / int8 labels mean the same class indices: widened to int32 for the kernels (the copy is tied to the result by composite).
  if (labels.dtype !== 'int32') return crossEntropyRows(logits, cast(labels, 'int32'));
  if (logits.rank === 0) throw new Error('crossEntropy: logits must have shape [..., classes], got a scalar');
  const lead = logits.shape.slice(0, -1);
  const C = logits.shape[logits.rank - 1];
  if (labels.rank !== lead.length || labels.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`crossEntropy: labels must have shape [${lead}] (one per row of logits), got [${labels.shape}]`);
  }
  const B = sizeOf(lead);
  if (B === 0) throw new Error('crossEntropy: the batch is empty (logits has 0 rows)');
  // [..., C] with labels [...]: the same rows, flattened (reshapes are views; the gradient flows back through them).
  if (logits.rank !== 2) return crossEntropyRows(reshape(logits, [B, C]), reshape(labels, [B]));
  const bad = i32FindOutOfRange(labels, 0, C);
  if (bad >= 0) throw new Error(`crossEntropy: labels[${bad}] = ${labels.dataSync()[bad]} is out of range [0, ${C})`);
  return composite(() => {
    const logp = logSoftmax(logits);
    const picked = f32PickRows(logp, labels);
    // The tape keeps its own view of the labels: the caller may dispose theirs before backward.
    const saved = viewOf(labels, labels.shape);
    const nll = record(picked, 'pick', [logp], (dy) => [f32PickRowsBackward(dy, saved, C)], { saved: [saved] });
    const m = mean(nll);
    const loss = f32Affine(m, -1, 0);
    return record(loss, 'crossEntropy', [m], (dy) => [f32Affine(dy, -1, 0)]);
  });
}

/** Mean squared error mean((a - b)^2) over all elements (shapes broadcast). */
export function mse(a: Tensor, b: Tensor): Tensor {
  checkFloat(a, 'mse', 'a');
  checkFloat(b, 'mse', 'b');
  const shape = broadcastShapes(a.shape, b.shape, 'mse');
  if (shape.some((d) => d === 0)) {
    throw new Error(`mse: a (shape [${a.shape}]) and b (shape [${b.shape}]) have no elements; a mean over zero elements is undefined`);
  }
  return composite(() => mean(square(sub(a, b))));
}

