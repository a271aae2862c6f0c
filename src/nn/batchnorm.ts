import { isGradEnabled, noGrad, record } from '../autograd/tape.js';
import { add, affine, div, mul, sqrt, sub } from '../ops/elementwise.js';
import { bnBackwardTrain, bnForwardEval, bnForwardTrain } from '../kernels/batchnorm.js';
import { f32Affine, f32Axpy } from '../kernels/elementwise.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { ones, zeros } from '../tensor/creation.js';
import { markModified } from '../tensor/derived.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
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

  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    checkNumber(numFeatures, 'BatchNorm1d', 'numFeatures', { integer: true, min: 1 });
    this.momentum = checkNumber(options.momentum ?? 0.1, 'BatchNorm1d', 'momentum', { min: 0, max: 1 });
    this.eps = checkNumber(options.eps ?? 1e-5, 'BatchNorm1d', 'eps', { positive: true });
    this.affine = options.affine ?? true;
    if (this.affine) {
      this.registerParameter('weight', ones([numFeatures]));
      this.registerParameter('bias', zeros([numFeatures]));
    }
    this.registerBuffer('runningMean', zeros([numFeatures]));
    this.registerBuffer('runningVar', ones([numFeatures]));
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
    checkFloat(x, 'BatchNorm1d', 'x');
    if (x.rank !== 2 || x.shape[1] !== this.numFeatures) {
      throw new Error(`BatchNorm1d: x must have shape [batch, ${this.numFeatures}], got [${x.shape}]`);
    }
    if (this.training) return this.forwardTrain(x);
    const w = this.weight;
    const b = this.bias;
    // Nothing to differentiate: the fused kernel computes the same ops in one pass.
    if (!isGradEnabled() || ![x, w, b].some((t) => t?.requiresGrad)) return batchNormEval(x, this.runningMean, this.runningVar, w, b, this.eps);
    const xhat = div(sub(x, this.runningMean), sqrt(affine(this.runningVar, 1, this.eps)));
    return w && b ? add(mul(xhat, w), b) : xhat;
  }

  /** Frozen form: the running statistics (and affine parameters), copied; fusion may fold them into thresholds. */
  freezeStage(ctx: FreezeContext): FrozenStage {
    const tensors: Record<string, Tensor> = { runningMean: ctx.copy(this.runningMean), runningVar: ctx.copy(this.runningVar) };
    const w = this.weight;
    const b = this.bias;
    if (w && b) {
      tensors.weight = ctx.copy(w);
      tensors.bias = ctx.copy(b);
    }
    return ctx.stage('batchnorm', tensors, { eps: this.eps, features: this.numFeatures, affine: w !== null && b !== null });
  }

  /** One multiply-add per element. */
  summaryMacs(input: readonly number[]): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: input.reduce((a, b) => a * b, 1) };
  }

  inputWidth(): number {
    return this.numFeatures;
  }

  /** Batch statistics, one fused kernel each way (assembly/batchnorm.ts). */
  private forwardTrain(x: Tensor): Tensor {
    const [B, F] = x.shape;
    if (B < 2) throw new Error(`BatchNorm1d: training needs a batch of at least 2 rows, got ${B}`);
    const w = this.weight;
    const b = this.bias;
    const { y, xhat, mean: mu, variance, invstd } = bnForwardTrain(x, w, b, this.eps);
    this.updateRunning(mu, variance, B);
    mu.dispose();
    variance.dispose();
    const out = record(y, 'batchNorm', w && b ? [x, w, b] : [x], (dy) => {
      const { dx, dgamma, dbeta } = bnBackwardTrain(dy, xhat, invstd, w);
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
      const m = this.momentum;
      const rm = this.runningMean;
      const rv = this.runningVar;
      f32Affine(rm, 1 - m, 0, rm);
      f32Axpy(rm, mu, m);
      f32Affine(rv, 1 - m, 0, rv);
      f32Axpy(rv, variance, (m * n) / (n - 1));
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
  const affineParams = weight !== null && bias !== null;
  return bnForwardEval(x, mean, variance, affineParams ? weight : null, affineParams ? bias : null, eps);
}
