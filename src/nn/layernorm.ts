import { add, div, mul, sqrt, square, sub } from '../ops/elementwise.js';
import { mean } from '../ops/reduce.js';
import { composite } from '../autograd/tape.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { full } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Macs } from '../freeze/types.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { checkInputTensor, F32_MAX } from './guard.js';
import { MAX_FEATURES } from './linear.js';
import { Module } from './module.js';

export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learn a per-feature scale (init 1) and shift (init 0) (default true). */
  affine?: boolean;
}

/**
 * Normalizes over the last axis: (x - mean) / sqrt(var + eps), var the biased
 * variance (as PyTorch), then times weight plus bias when affine. Takes
 * [..., dim]; every leading axis is a batch axis.
 */
export class LayerNorm extends Module {
  readonly eps: number;
  readonly affine: boolean;

  constructor(readonly dim: number, options: LayerNormOptions | null = {}) {
    super();
    checkNumber(dim, 'LayerNorm', 'dim', { integer: true, min: 1, max: MAX_FEATURES });
    const o = readOptions<LayerNormOptions>(options, 'LayerNorm');
    this.eps = checkNumber(o.eps ?? 1e-5, 'LayerNorm', 'eps', { positive: true, max: F32_MAX });
    this.affine = boolOption(o.affine, 'LayerNorm', 'affine', true);
    if (this.affine) {
      this.registerParameter('weight', full([dim], 1));
      this.registerParameter('bias', full([dim], 0));
    }
  }

  get weight(): Tensor | null {
    return this.optionalParam('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  forward(x: Tensor): Tensor {
    checkInputTensor(x, 'LayerNorm');
    checkFloat(x, 'LayerNorm.forward', 'x');
    if (x.rank === 0 || x.shape[x.rank - 1] !== this.dim) {
      throw new Error(`LayerNorm.forward: x must have shape [..., ${this.dim}] (normalized over the last axis), got [${x.shape}]`);
    }
    this.checkAlive();
    return composite(() => {
      const centered = sub(x, mean(x, { axis: -1, keepDims: true }));
      const variance = mean(square(centered), { axis: -1, keepDims: true });
      const y = div(centered, sqrt(add(variance, this.eps)));
      const w = this.weight;
      const b = this.bias;
      return w && b ? add(mul(y, w), b) : y;
    });
  }

  /** One multiply per element to normalize, one more for the affine scale. */
  summaryMacs(input: readonly number[]): Macs {
    const n = input.reduce((a, b) => a * b, 1);
    return { binary: 0, binaryWeights: 0, int8: 0, float: this.affine ? 2 * n : n };
  }
}
