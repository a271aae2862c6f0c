import { composite, record } from '../autograd/tape.js';
import { f32Affine } from '../kernels/elementwise.js';
import { f32PickRows, f32PickRowsBackward, f32SoftmaxRows, f32SoftmaxRowsBackward } from '../kernels/reduce.js';
import { i32FindOutOfRange } from '../kernels/shape.js';
import { checkAxis, checkDType, checkFloat } from '../tensor/checks.js';
import { empty, Tensor, viewOf } from '../tensor/tensor.js';
import { broadcastShapes } from './broadcast.js';
import { mean } from './reduce.js';
import { square, sub } from './elementwise.js';
import { cast } from './shape.js';

function rowsAlongLast(x: Tensor, op: string, axis: number): void {
  const ax = checkAxis(axis, x.rank, op);
  if (ax !== x.rank - 1) throw new Error(`${op}: only the last axis (${x.rank - 1} or -1) is supported, got axis ${axis}`);
}

function softmaxFamily(x: Tensor, axis: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  checkFloat(x, op, 'x');
  if (x.rank === 0) throw new Error(`${op}: x must have at least one dimension, got a scalar`);
  rowsAlongLast(x, op, axis);
  const y = f32SoftmaxRows(x, log);
  return record(y, op, [x], (dy) => [f32SoftmaxRowsBackward(y, dy, log)]);
}

/** Softmax along the last axis (max-shifted, so large logits do not overflow). */
export function softmax(x: Tensor, axis: number | null = -1): Tensor {
  return softmaxFamily(x, axis ?? -1, false);
}

/** log(softmax(x)) along the last axis, computed as x - logsumexp(x). */
export function logSoftmax(x: Tensor, axis: number | null = -1): Tensor {
  return softmaxFamily(x, axis ?? -1, true);
}

/**
 * Mean cross-entropy of logits [B, C] against integer labels [B] (int32, in [0, C)).
 * Equals mean(-logSoftmax(logits)[i, labels[i]]).
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
  if (logits.rank !== 2) throw new Error(`crossEntropy: logits must be 2-D [batch, classes], got shape [${logits.shape}]`);
  const [B, C] = logits.shape;
  if (labels.rank !== 1 || labels.shape[0] !== B) {
    throw new Error(`crossEntropy: labels must have shape [${B}] (one per row of logits), got [${labels.shape}]`);
  }
  if (B === 0) throw new Error('crossEntropy: the batch is empty (logits has 0 rows)');
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

