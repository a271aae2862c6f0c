import { noGrad } from '../autograd/tape.js';
import { argmax } from '../ops/reduce.js';
import { checkFloat, checkTensor } from '../tensor/checks.js';
import { tidy } from '../tensor/scope.js';

// Metrics: plain functions of a batch's output and targets that return a number.

/**
 * Fraction of rows whose largest logit is at the label: output [..., C]
 * (float32) against integer labels [...] (int32, uint8 or int8, or float32
 * holding integers). Ties go to the first maximum, as argmax. NaN for an empty batch.
 */
export function accuracy(output: unknown, labels: unknown): number {
  const logits = checkFloat(output, 'accuracy', 'output');
  const y = checkTensor(labels, 'accuracy', 'labels');
  if (logits.rank === 0) throw new Error('accuracy: output must have a class axis (shape [..., classes]), got a scalar');
  const lead = logits.shape.slice(0, -1);
  if (y.rank !== lead.length || y.shape.some((d, i) => d !== lead[i])) {
    throw new Error(`accuracy: labels must have shape [${lead}] (output's shape without its class axis), got [${y.shape}]`);
  }
  if (y.size === 0) return NaN;
  if (logits.shape[logits.rank - 1] === 0) throw new Error(`accuracy: output has 0 classes (shape [${logits.shape}])`);
  const predicted = tidy(() => noGrad(() => argmax(logits, { axis: logits.rank - 1 }).dataSync()));
  const truth = y.dataSync();
  let hits = 0;
  for (let i = 0; i < predicted.length; i++) hits += predicted[i] === truth[i] ? 1 : 0;
  return hits / predicted.length;
}
