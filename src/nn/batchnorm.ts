import { batchNormEval, batchNormOp } from '../ops/batchnorm.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { ones, zeros } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import { boolOption, readOptions } from '../tensor/options.js';
import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
import { checkInputTensor, checkStateRange, F32_MAX } from './guard.js';
import { Module } from './module.js';

export interface BatchNormOptions {
  /** Running statistics: running = (1 - momentum) running + momentum batch (default 0.1). */
  momentum?: number;
  eps?: number;
  /** Learnable gamma (weight) and beta (bias) (default true). */
  affine?: boolean;
}

/**
 * What BatchNorm1d and BatchNorm2d share: parameters (weight, bias),
 * buffers (runningMean, runningVar), options, the `batchNorm` op call and the
 * frozen stage. Both normalize over the last (channel) axis; they differ only
 * in the input shapes they accept.
 */
abstract class BatchNormBase extends Module {
  readonly momentum: number;
  readonly eps: number;
  readonly affine: boolean;

  /** `countArg`: the constructor's name for numFeatures, used in its error. */
  constructor(protected readonly op: string, countArg: string, readonly numFeatures: number, options: BatchNormOptions | null) {
    super();
    checkNumber(numFeatures, op, countArg, { integer: true, min: 1, max: 2 ** 24 });
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
    if (name === 'runningMean') checkStateRange(value, this.op, fullName);
    else if (name === 'runningVar') checkStateRange(value, this.op, fullName, 0);
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

  /** Throws (naming the layer) when x is not a shape this layer normalizes. */
  protected abstract checkShape(x: Tensor): void;

  forward(x: Tensor): Tensor {
    checkInputTensor(x, this.op);
    checkFloat(x, this.op, 'x');
    this.checkShape(x);
    this.checkAlive();
    return batchNormOp(this.op, x, {
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      weight: this.weight,
      bias: this.bias,
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
    });
  }

  /** Config entries a subclass adds to the frozen stage. */
  protected stageConfig(): Record<string, unknown> {
    return {};
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
    return ctx.stage('batchnorm', tensors, { eps: this.eps, features: this.numFeatures, affine: w !== null && b !== null, ...this.stageConfig() });
  }

  /** One multiply-add per element. */
  summaryMacs(input: readonly number[]): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: input.reduce((a, b) => a * b, 1) };
  }
}

/**
 * Batch normalization over the batch axis of [batch, features] (or of every
 * leading axis of [..., features]), by the `batchNorm` op (ops/batchnorm.ts).
 * Training uses batch statistics (biased variance; fused kernels) and updates
 * running ones (unbiased variance); eval computes, in this order and in
 * float32, ((x - runningMean) / sqrt(runningVar + eps)) * weight + bias — the
 * order freeze() reproduces to fold it exactly into binary thresholds.
 */
export class BatchNorm1d extends BatchNormBase {
  constructor(numFeatures: number, options: BatchNormOptions | null = {}) {
    super('BatchNorm1d', 'numFeatures', numFeatures, options);
  }

  protected checkShape(x: Tensor): void {
    if (x.rank < 2 || x.shape[x.rank - 1] !== this.numFeatures) {
      throw new Error(`BatchNorm1d: x must have shape [batch, ${this.numFeatures}] (or [..., ${this.numFeatures}]: every leading axis is a batch axis), got [${x.shape}]`);
    }
  }

  inputWidth(): number {
    return this.numFeatures;
  }
}

/**
 * Batch normalization of NHWC images [N, H, W, C] over the channel (last)
 * axis: statistics per channel over N·H·W, the same op, parameters
 * (weight, bias, runningMean, runningVar) and eval arithmetic as BatchNorm1d,
 * so freeze() folds it after a binary conv the same way. Rank 4 only.
 */
export class BatchNorm2d extends BatchNormBase {
  constructor(numChannels: number, options: BatchNormOptions | null = {}) {
    super('BatchNorm2d', 'numChannels', numChannels, options);
  }

  /** The channel count (C of [N, H, W, C]); the same value as numFeatures. */
  get numChannels(): number {
    return this.numFeatures;
  }

  protected checkShape(x: Tensor): void {
    if (x.rank !== 4 || x.shape[3] !== this.numFeatures) {
      throw new Error(`BatchNorm2d: x must be an NHWC image batch [N, H, W, ${this.numFeatures}] (rank 4, channels last), got [${x.shape}]${x.rank === 2 ? '; use BatchNorm1d for [batch, features]' : ''}`);
    }
  }

  /** The frozen stage normalizes images (no fixed row width). */
  protected override stageConfig(): Record<string, unknown> {
    return { spatial: true };
  }
}

export { batchNormEval };
