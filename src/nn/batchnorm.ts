import { isGradEnabled, noGrad, record } from '../autograd/tape.js';
import { add, affine, div, mul, sqrt, sub } from '../ops/elementwise.js';
import { rt } from '../runtime/context.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { ones, zeros } from '../tensor/creation.js';
import { markModified } from '../tensor/derived.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { f32View } from '../runtime/views.js';
import { checkInputTensor, checkStateRange, F32_MAX, layerOutput } from './guard.js';
import { Module } from './module.js';

export interface BatchNormOptions {
  /** Running statistics: running = (1 - momentum) running + momentum batch (default 0.1). */
  momentum?: number;
  eps?: number;
  /** Learnable gamma (weight) and beta (bias) (default true). */
  affine?: boolean;
}

/**
 * Batch normalization over the batch axis of [batch, features]. Training uses
 * batch statistics (biased variance; fused kernels) and updates running ones
 * (unbiased variance); eval computes, in this order and in float32,
 * ((x - runningMean) / sqrt(runningVar + eps)) * weight + bias — the order
 * freeze() reproduces to fold it exactly into binary thresholds.
 */
export class BatchNorm1d extends Module {
  readonly momentum: number;
  readonly eps: number;
  readonly affine: boolean;

  constructor(readonly numFeatures: number, options: BatchNormOptions | null = {}) {
    super();
    const op = 'BatchNorm1d';
    checkNumber(numFeatures, op, 'numFeatures', { integer: true, min: 1, max: 2 ** 24 });
    const o = readOptions<BatchNormOptions>(options, op);
    this.momentum = checkNumber(o.momentum ?? 0.1, op, 'momentum', { min: 0, max: 1 });
    // eps must stay a normal float32: one that rounds to 0 divides by 0 for a constant feature.
    this.eps = checkNumber(o.eps ?? 1e-5, op, 'eps', { min: 2 ** -126, max: F32_MAX });
    this.affine = boolOption(o.affine, op, 'affine', true);
    if (this.affine) {
      this.registerParameter('weight', ones([numFeatures]));
      this.registerParameter('bias', zeros([numFeatures]));
    }
    this.registerBuffer('runningMean', zeros([numFeatures]));
    this.registerBuffer('runningVar', ones([numFeatures]));
  }

  protected override checkStateValue(name: string, value: Tensor, fullName = name): void {
    if (name === 'runningMean') checkStateRange(value, 'BatchNorm1d', fullName);
    else if (name === 'runningVar') checkStateRange(value, 'BatchNorm1d', fullName, 0);
    else super.checkStateValue(name, value, fullName);
  }

  get runningMean(): Tensor {
    return this.buffer('runningMean');
  }

  get runningVar(): Tensor {
    return this.buffer('runningVar');
  }

  get weight(): Tensor | null {
    return this.optionalParam('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  forward(x: Tensor): Tensor {
    checkInputTensor(x, 'BatchNorm1d');
    checkFloat(x, 'BatchNorm1d', 'x');
    if (x.rank !== 2 || x.shape[1] !== this.numFeatures) {
      throw new Error(`BatchNorm1d: x must have shape [batch, ${this.numFeatures}], got [${x.shape}]`);
    }
    this.checkAlive();
    if (this.training) return this.forwardTrain(x);
    const w = this.weight;
    const b = this.bias;
    // Nothing to differentiate: the fused kernel computes the same ops in one pass.
    if (!isGradEnabled() || ![x, w, b].some((t) => t?.requiresGrad)) return batchNormEval(x, this.runningMean, this.runningVar, w, b, this.eps);
    return layerOutput([x], () => {
      const xhat = div(sub(x, this.runningMean), sqrt(affine(this.runningVar, 1, this.eps)));
      return w && b ? add(mul(xhat, w), b) : xhat;
    });
  }

  /** Batch statistics, one fused kernel each way (assembly/batchnorm.ts). */
  private forwardTrain(x: Tensor): Tensor {
    const [B, F] = x.shape;
    if (B < 2) throw new Error(`BatchNorm1d: training needs a batch of at least 2 rows, got ${B}; use bigger batches, or call eval() to normalize single examples with the running statistics`);
    const { kernels } = rt();
    const w = this.weight;
    const b = this.bias;
    const y = empty([B, F], 'float32');
    const xhat = empty([B, F], 'float32');
    const mu = empty([F], 'float32');
    const variance = empty([F], 'float32');
    const invstd = empty([F], 'float32');
    kernels.bn_forward_train(x.offset, y.offset, xhat.offset, mu.offset, variance.offset, invstd.offset, w?.offset ?? 0, b?.offset ?? 0, B, F, this.eps);
    // A NaN or Infinity in x (or values whose variance overflows float32) shows in the batch statistics:
    // refused before they reach the running statistics.
    const bad = firstNonFinite(mu, variance);
    if (bad !== null) {
      for (const t of [y, xhat, mu, variance, invstd]) t.dispose();
      throw new Error(`BatchNorm1d: x (in training, it updates the running statistics) must be finite, but the batch ${bad.stat} of feature ${bad.feature} is ${bad.value} (x holds NaN or ±Infinity, or values too large for float32); the running statistics were left unchanged`);
    }
    this.updateRunning(mu, variance, B);
    mu.dispose();
    variance.dispose();
    const out = record(y, 'batchNorm', w && b ? [x, w, b] : [x], (dy) => {
      const dx = empty([B, F], 'float32');
      const dgamma = empty([F], 'float32');
      const dbeta = empty([F], 'float32');
      kernels.bn_backward_train(dy.offset, xhat.offset, invstd.offset, w?.offset ?? 0, dx.offset, dgamma.offset, dbeta.offset, B, F);
      if (w && b) return [dx, dgamma, dbeta];
      dgamma.dispose();
      dbeta.dispose();
      return [dx];
    });
    if (out.node === null) {
      xhat.dispose();
      invstd.dispose();
    } else {
      out.attach(xhat);
      out.attach(invstd);
    }
    return out;
  }

  private updateRunning(mu: Tensor, variance: Tensor, n: number): void {
    noGrad(() => {
      const { kernels } = rt();
      const m = this.momentum;
      const rm = this.runningMean;
      const rv = this.runningVar;
      kernels.f32_affine(rm.offset, rm.offset, rm.size, 1 - m, 0);
      kernels.f32_axpy(rm.offset, mu.offset, rm.size, m);
      kernels.f32_affine(rv.offset, rv.offset, rv.size, 1 - m, 0);
      kernels.f32_axpy(rv.offset, variance.offset, rv.size, (m * n) / (n - 1));
      markModified(rm);
      markModified(rv);
    });
  }
}

/**
 * Eval-mode batch norm of x [batch, features] without a gradient, in one
 * kernel: ((x - mean) / sqrt(variance + eps)) * weight + bias, each float32 op
 * rounded in this order (the bits of BatchNorm1d's eval op chain).
 */
export function batchNormEval(x: Tensor, mean: Tensor, variance: Tensor, weight: Tensor | null, bias: Tensor | null, eps: number): Tensor {
  const [B, F] = x.shape;
  const y = empty([B, F], 'float32');
  const affineParams = weight !== null && bias !== null;
  rt().kernels.bn_forward_eval(x.offset, y.offset, mean.offset, variance.offset, affineParams ? weight.offset : 0, affineParams ? bias.offset : 0, B, F, eps);
  return y;
}

/** The first feature whose batch mean or variance is not finite, or null. */
function firstNonFinite(mean: Tensor, variance: Tensor): { feature: number; stat: string; value: number } | null {
  for (const [stat, t] of [['mean', mean], ['variance', variance]] as const) {
    const v = f32View(t.offset, t.size);
    for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) return { feature: i, stat, value: v[i] };
  }
  return null;
}
