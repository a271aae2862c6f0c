import { noGrad } from '../autograd/tape.js';
import { add, affine, div, mul, sqrt, square, sub } from '../ops/elementwise.js';
import { mean } from '../ops/reduce.js';
import { rt } from '../runtime/context.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { ones, zeros } from '../tensor/creation.js';
import { markModified } from '../tensor/derived.js';
import type { Tensor } from '../tensor/tensor.js';
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
 * batch statistics (biased variance) and updates running ones (unbiased
 * variance); eval computes, in this order and in float32,
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
    let xhat: Tensor;
    if (this.training) {
      const n = x.shape[0];
      if (n < 2) throw new Error(`BatchNorm1d: training needs a batch of at least 2 rows, got ${n}`);
      const mu = mean(x, { axis: 0 });
      const centered = sub(x, mu);
      const variance = mean(square(centered), { axis: 0 });
      xhat = div(centered, sqrt(affine(variance, 1, this.eps)));
      this.updateRunning(mu, variance, n);
    } else {
      xhat = div(sub(x, this.runningMean), sqrt(affine(this.runningVar, 1, this.eps)));
    }
    const w = this.weight;
    const b = this.bias;
    return w && b ? add(mul(xhat, w), b) : xhat;
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
