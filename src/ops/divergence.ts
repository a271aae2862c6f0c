import { composite } from '../autograd/tape.js';
import { checkFloat } from '../tensor/checks.js';
import type { Tensor } from '../tensor/tensor.js';
import { broadcastShapes } from './broadcast.js';
import { add, exp, mul, softplus, sub } from './elementwise.js';
import { logSoftmax } from './losses.js';
import { mean, sum } from './reduce.js';

// Losses built from the stable elementwise ops (softplus, logSoftmax), so that
// their gradients come from the tape: bceWithLogits and klCategorical.

/**
 * Binary cross-entropy on logits, mean over all elements (PyTorch's
 * BCEWithLogitsLoss with its default reduction): mean(max(x, 0) − x·t +
 * log(1 + e^(−|x|))), which is softplus(x) − x·t and never overflows.
 * logits and targets are float32 of the same shape; targets are usually in
 * [0, 1] (soft labels allowed). Gradients: (σ(x) − t)/n to logits, −x/n to targets.
 */
export function bceWithLogits(logits: Tensor, targets: Tensor): Tensor {
  checkFloat(logits, 'bceWithLogits', 'logits');
  checkFloat(targets, 'bceWithLogits', 'targets');
  if (logits.shape.length !== targets.shape.length || logits.shape.some((d, i) => d !== targets.shape[i])) {
    throw new Error(`bceWithLogits: targets must have the shape of logits [${logits.shape}], got [${targets.shape}]`);
  }
  if (logits.size === 0) throw new Error(`bceWithLogits: logits (shape [${logits.shape}]) has no elements; a mean over zero elements is undefined`);
  return composite(() => mean(sub(softplus(logits), mul(logits, targets))));
}

/**
 * KL(q ‖ p) of categorical distributions over the last axis, with
 * q = softmax(logits) and p = softmax(priorLogits) (uniform over the K classes
 * when priorLogits is omitted): Σ_k q_k (log q_k − log p_k) per row, then the
 * MEAN over all leading positions (a scalar; for logits [B, L, K] that is the
 * mean over B·L latents, so multiply by L for the per-sample sum a VAE ELBO
 * uses). This is the KL term of a discrete (Gumbel-softmax) VAE. priorLogits
 * broadcasts to logits' shape (e.g. [K] for one prior shared by every row).
 * Logits must be finite (an -Infinity logit makes 0·(−∞) = NaN).
 */
export function klCategorical(logits: Tensor, priorLogits: Tensor | null = null): Tensor {
  checkFloat(logits, 'klCategorical', 'logits');
  if (logits.rank === 0) throw new Error('klCategorical: logits must have at least one dimension (the classes, last), got a scalar');
  const K = logits.shape[logits.rank - 1];
  if (K === 0) throw new Error(`klCategorical: the last axis of logits (shape [${logits.shape}]) holds the classes and must not be empty`);
  if (logits.size === 0) throw new Error(`klCategorical: logits (shape [${logits.shape}]) has no rows; a mean over zero rows is undefined`);
  if (priorLogits !== null && priorLogits !== undefined) {
    checkFloat(priorLogits, 'klCategorical', 'priorLogits');
    if (priorLogits.rank === 0) throw new Error('klCategorical: priorLogits must have at least one dimension (the classes, last), got a scalar');
    const joint = broadcastShapes(logits.shape, priorLogits.shape, 'klCategorical');
    if (joint.length !== logits.rank || joint.some((d, i) => d !== logits.shape[i])) {
      throw new Error(`klCategorical: priorLogits (shape [${priorLogits.shape}]) must broadcast to the shape of logits [${logits.shape}]`);
    }
  }
  const prior = priorLogits ?? null;
  return composite(() => {
    const logq = logSoftmax(logits);
    const q = exp(logq);
    if (prior === null) return mean(add(sum(mul(q, logq), { axis: -1 }), Math.log(K)));
    return mean(sum(mul(q, sub(logq, logSoftmax(prior))), { axis: -1 }));
  });
}
