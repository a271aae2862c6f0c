import { batchNormEval, batchNormOp } from '../ops/batchnorm.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { ones, zeros } from '../tensor/creation.js';
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
 * Batch normalization over the batch axis of [batch, features] (or of every
 * leading axis of [..., features]), by the `batchNorm` op (ops/batchnorm.ts).
 * Training uses batch statistics (biased variance; fused kernels) and updates
 * running ones (unbiased variance); eval computes, in this order and in
 * float32, ((x - runningMean) / sqrt(runningVar + eps)) * weight + bias — the
 * order freeze() reproduces to fold it exactly into binary thresholds.
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
    if (x.rank < 2 || x.shape[x.rank - 1] !== this.numFeatures) {
      throw new Error(`BatchNorm1d: x must have shape [batch, ${this.numFeatures}] (or [..., ${this.numFeatures}]: every leading axis is a batch axis), got [${x.shape}]`);
    }
    return batchNormOp('BatchNorm1d', x, {
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      weight: this.weight,
      bias: this.bias,
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
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
}

export { batchNormEval };
