import { composite, record } from '../autograd/tape.js';
import { f32Affine } from '../kernels/elementwise.js';
import { f32PickRows, f32PickRowsBackward, f32SoftmaxRows, f32SoftmaxRowsBackward } from '../kernels/reduce.js';
import { i32FindOutOfRange } from '../kernels/shape.js';
import { checkAxis, checkDType, checkFloat } from '../tensor/checks.js';
import type { Tensor } from '../tensor/tensor.js';
import { mean } from './reduce.js';
import { square, sub } from './elementwise.js';

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
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxFamily(x, axis, false);
}

/** log(softmax(x)) along the last axis, computed as x - logsumexp(x). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxFamily(x, axis, true);
}

/**
 * Mean cross-entropy of logits [B, C] against integer labels [B] (int32, in [0, C)).
 * Equals mean(-logSoftmax(logits)[i, labels[i]]).
 */
export function crossEntropy(logits: Tensor, labels: Tensor): Tensor {
  checkFloat(logits, 'crossEntropy', 'logits');
  checkDType(labels, 'crossEntropy', 'labels', 'int32');
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
    const saved = labels.view(labels.shape);
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
  return composite(() => mean(square(sub(a, b))));
}

