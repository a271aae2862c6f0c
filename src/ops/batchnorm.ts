import { record, willRecord } from '../autograd/tape.js';
import { bnBackwardTrain, bnForwardEval, bnForwardTrain } from '../kernels/batchnorm.js';
import { f32Affine, f32Axpy, f32Unary } from '../kernels/elementwise.js';
import { checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { markModified } from '../tensor/derived.js';
import type { Tensor } from '../tensor/tensor.js';
import { binaryRaw } from './elementwise.js';
import { sumAxesRaw } from './reduce.js';
import { rawF32, storageOf, viewOf } from '../tensor/tensor.js';

// Batch normalization, forward and backward, over the last (channel) axis of
// x [..., C]: every leading axis is a batch axis, so x is read as rows
// [R, C] with R the product of the leading dimensions (NHWC images are
// normalized over N, H, W per channel). Training runs the fused kernels of
// assembly/batchnorm.ts; eval runs the fused eval kernel when nothing needs a
// gradient and, when something does, the float32 op chain
// ((x - mean) / sqrt(var + eps)) * weight + bias with the same rounding, as
// one tape node. freeze() folds that chain into binary thresholds, so its
// bits must not change.

export interface BatchNormOpOptions {
  /** Running mean [C]: used in eval; updated in place in training (when given). */
  runningMean?: Tensor | null;
  /** Running variance [C] (unbiased): used in eval; updated in place in training (when given). */
  runningVar?: Tensor | null;
  /** gamma [C]; weight and bias come together (the affine transform) or not at all. */
  weight?: Tensor | null;
  /** beta [C]. */
  bias?: Tensor | null;
  /** Batch statistics (true) or the running ones (false, the default, as PyTorch's F.batch_norm). */
  training?: boolean;
  /** running = (1 - momentum) running + momentum batch (default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/**
 * Batch normalization over the last axis of x [..., C].
 *
 * Training: y = (x - mean) / sqrt(var + eps) * weight + bias with the batch
 * mean and biased variance of each channel over all R = size / C rows (R >= 2);
 * runningMean and runningVar, when given, become (1 - momentum) running +
 * momentum batch (the variance unbiased: · R / (R - 1)), in place.
 * Eval: the same with runningMean and runningVar (both required), computed as
 * ((x - mean) / sqrt(var + eps)) * weight + bias, each float32 op rounded in
 * that order. Gradients flow to x, weight and bias; the running statistics
 * are constants.
 */
export function batchNorm(x: Tensor, options: BatchNormOpOptions | null = {}): Tensor {
  return batchNormOp('batchNorm', x, options);
}

/** batchNorm with errors named after `op` (the layers call it under their own name). */
export function batchNormOp(op: string, x: Tensor, optionsArg: BatchNormOpOptions | null | undefined): Tensor {
  checkFloat(x, op, 'x');
  const options = readOptions<BatchNormOpOptions>(optionsArg, op);
  if (x.rank === 0) throw new Error(`${op}: x must have a channel axis (the last), got a scalar`);
  const C = x.shape[x.rank - 1];
  const rows = rowsOf(x);
  const training = options.training ?? false;
  if (typeof training !== 'boolean') throw new Error(`${op}: training must be a boolean, got ${describe(training)}`);
  const momentum = checkNumber(options.momentum ?? 0.1, op, 'momentum', { min: 0, max: 1 });
  // eps is added in float32: one that rounds to 0 (or overflows) would divide a constant channel by 0.
  const eps = checkNumber(options.eps ?? 1e-5, op, 'eps', { positive: true, f32: true });
  const weight = perChannel(options.weight, op, 'weight', C);
  const bias = perChannel(options.bias, op, 'bias', C);
  if ((weight === null) !== (bias === null)) throw new Error(`${op}: weight and bias must be given together (the affine transform) or both left out`);
  const runningMean = perChannel(options.runningMean, op, 'runningMean', C);
  const runningVar = perChannel(options.runningVar, op, 'runningVar', C);
  if ((runningMean === null) !== (runningVar === null)) throw new Error(`${op}: runningMean and runningVar must be given together or both left out`);
  if (runningMean !== null && runningVar !== null) {
    // Training writes the running statistics in place: they must not share memory with each other or with what is read.
    const read: [string, Tensor | null][] = [['x', x], ['weight', weight], ['bias', bias]];
    if (storageOf(runningMean) === storageOf(runningVar)) throw new Error(`${op}: runningMean and runningVar must be two different tensors (not the same tensor or views of one)`);
    for (const [name, t] of read) {
      for (const [rname, r] of [['runningMean', runningMean], ['runningVar', runningVar]] as const) {
        if (t !== null && storageOf(t) === storageOf(r)) throw new Error(`${op}: ${rname} shares memory with ${name}; pass a separate tensor (e.g. ${name}.mul(1) for a copy)`);
      }
    }
  }
  if (training) {
    if (rows < 2) throw new Error(`${op}: training needs a batch of at least 2 rows, got ${rows} (rows: the product of the leading dimensions of x, shape [${x.shape}]); use bigger batches, or eval mode to normalize single examples with the running statistics`);
    return trainForward(op, x, rows, weight, bias, runningMean, runningVar, momentum, eps);
  }
  if (runningMean === null || runningVar === null) throw new Error(`${op}: eval mode (training: false) needs runningMean and runningVar`);
  const inputs = weight !== null && bias !== null ? [x, weight, bias] : [x];
  if (!willRecord(inputs)) return batchNormEval(x, runningMean, runningVar, weight, bias, eps);
  return evalChain(x, rows, runningMean, runningVar, weight, bias, eps);
}

/**
 * Eval-mode batch norm without a gradient, one fused kernel:
 * ((x - mean) / sqrt(variance + eps)) * weight + bias, each float32 op rounded
 * in this order (the bits of the op chain). Weight and bias: both or neither.
 */
export function batchNormEval(x: Tensor, mean: Tensor, variance: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const affineParams = weight !== null && bias !== null;
  const x2 = asRows(x, x.rank === 2 ? x.shape[0] : rowsOf(x));
  const y = bnForwardEval(x2, mean, variance, affineParams ? weight : null, affineParams ? bias : null, eps);
  releaseRows(x2, x);
  return reshaped(y, x.shape);
}

function perChannel(t: Tensor | null | undefined, op: string, arg: string, C: number): Tensor | null {
  if (t === undefined || t === null) return null;
  checkFloat(t, op, arg);
  if (t.rank !== 1 || t.shape[0] !== C) throw new Error(`${op}: ${arg} must have shape [${C}] (one value per channel, the last axis of x), got [${t.shape}]`);
  return t;
}

/** R: the product of the leading dimensions. */
function rowsOf(x: Tensor): number {
  return x.shape.slice(0, -1).reduce((n, d) => n * d, 1);
}

/** x as [R, C] rows: x itself when it already is 2-D (the common case: no view to make), else a view. */
function asRows(x: Tensor, rows: number): Tensor {
  return x.rank === 2 ? x : viewOf(x, [rows, x.shape[x.rank - 1]]);
}

/** Releases what asRows(t) made (nothing when it returned t). */
function releaseRows(rowsView: Tensor, t: Tensor): void {
  if (rowsView !== t) rowsView.dispose();
}

/** t with another shape of the same size; t itself is released. */
function reshaped(t: Tensor, shape: readonly number[]): Tensor {
  if (t.shape.length === shape.length && t.shape.every((d, i) => d === shape[i])) return t;
  const v = viewOf(t, shape);
  t.dispose();
  return v;
}

/** The first feature whose batch mean or variance is not finite, or null. */
function firstNonFinite(mean: Tensor, variance: Tensor): { feature: number; stat: string; value: number } | null {
  for (const [stat, t] of [['mean', mean], ['variance', variance]] as const) {
    const v = rawF32(t);
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return { feature: i, stat, value: v[i] };
  }
  return null;
}

/** Batch statistics, one fused kernel each way; saves xhat and invstd for backward. */
function trainForward(op: string, x: Tensor, rows: number, weight: Tensor | null, bias: Tensor | null,
  runningMean: Tensor | null, runningVar: Tensor | null, momentum: number, eps: number): Tensor {
  const x2 = asRows(x, rows);
  const { y, xhat, mean, variance, invstd } = bnForwardTrain(x2, weight, bias, eps);
  releaseRows(x2, x);
  // A NaN or Infinity in x (or values whose variance overflows float32) shows in the batch
  // statistics: refused before anything reaches the running statistics.
  const bad = firstNonFinite(mean, variance);
  if (bad !== null) {
    for (const t of [y, xhat, mean, variance, invstd]) t.dispose();
    throw new Error(`${op}: x (in training, it updates the running statistics) must be finite, but the batch ${bad.stat} of feature ${bad.feature} is ${bad.value} (x holds NaN or ±Infinity, or values too large for float32); the running statistics were left unchanged`);
  }
  if (runningMean !== null && runningVar !== null) {
    f32Affine(runningMean, 1 - momentum, 0, runningMean);
    f32Axpy(runningMean, mean, momentum);
    f32Affine(runningVar, 1 - momentum, 0, runningVar);
    f32Axpy(runningVar, variance, (momentum * rows) / (rows - 1));
    markModified(runningMean);
    markModified(runningVar);
  }
  mean.dispose();
  variance.dispose();
  const affineParams = weight !== null && bias !== null;
  return record(reshaped(y, x.shape), 'batchNorm', affineParams ? [x, weight, bias] : [x], (dy) => {
    const dy2 = asRows(dy, rows);
    const { dx, dgamma, dbeta } = bnBackwardTrain(dy2, xhat, invstd, weight);
    releaseRows(dy2, dy);
    const dxs = reshaped(dx, x.shape);
    if (affineParams) return [dxs, dgamma, dbeta];
    dgamma.dispose();
    dbeta.dispose();
    return [dxs];
  }, { saved: [xhat, invstd] });
}

/**
 * Eval with a gradient: the op chain sub → div by sqrt(var + eps) → mul →
 * add, the same kernels in the same order as the elementwise ops, as one
 * node whose backward gives the gradients that chain's nodes would.
 */
function evalChain(x: Tensor, rows: number, runningMean: Tensor, runningVar: Tensor,
  weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const x2 = asRows(x, rows);
  const centered = binaryRaw('sub', x2, runningMean);
  releaseRows(x2, x);
  const shifted = f32Affine(runningVar, 1, eps);
  const std = f32Unary('sqrt', shifted);
  shifted.dispose();
  const xhat = binaryRaw('div', centered, std);
  centered.dispose();
  if (weight === null || bias === null) {
    return record(reshaped(xhat, x.shape), 'batchNorm', [x], (dy) => {
      const dy2 = asRows(dy, rows);
      const dx = binaryRaw('div', dy2, std);
      releaseRows(dy2, dy);
      return [reshaped(dx, x.shape)];
    }, { saved: [std] });
  }
  const scaled = binaryRaw('mul', xhat, weight);
  const y = binaryRaw('add', scaled, bias);
  scaled.dispose();
  return record(reshaped(y, x.shape), 'batchNorm', [x, weight, bias], (dy) => {
    const dy2 = asRows(dy, rows);
    let dx: Tensor | null = null;
    if (x.requiresGrad) {
      const dxhat = binaryRaw('mul', dy2, weight);
      dx = reshaped(binaryRaw('div', dxhat, std), x.shape);
      dxhat.dispose();
    }
    let dw: Tensor | null = null;
    if (weight.requiresGrad) {
      const prod = binaryRaw('mul', dy2, xhat);
      dw = sumAxesRaw(prod, [0], false);
      prod.dispose();
    }
    const db = bias.requiresGrad ? sumAxesRaw(dy2, [0], false) : null;
    releaseRows(dy2, dy);
    return [dx, dw, db];
  }, { saved: [xhat, std] });
}
