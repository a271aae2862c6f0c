import { noGrad } from '../autograd/tape.js';
import { abs } from '../ops/elementwise.js';
import { mean as meanOp } from '../ops/reduce.js';
import { checkNumber } from '../tensor/checks.js';
import { zeros } from '../tensor/creation.js';
import { boolOption, choiceOption } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { binarize, type SignGrad } from '../ste/sign.js';
import type { Macs } from '../freeze/types.js';
import { F32_MAX, seedOption } from './guard.js';
import { layerSeed, uniformInit } from './init.js';
import { Module } from './module.js';

const SIGN_GRADS: readonly SignGrad[] = ['identity', 'clipped', 'approx', 'swish'];

/** The binarization options BinaryLinear and BinaryConv2d share. */
export interface BinaryLayerOptions {
  /** Binarize the inputs too (BinaryNet, XNOR-popcount); false keeps float inputs (BinaryConnect, first layers). Default true. */
  binarizeInputs?: boolean;
  /**
   * The inputs are integers in [0, 255], e.g. raw pixels (needs binarizeInputs:
   * false): other values throw, a uint8 tensor is taken as is, and freeze()
   * runs the layer on the exact uint8 x 1-bit kernel (BinaryLinear's forward
   * pass runs on it too: several times faster than a float GEMM, the same
   * bits). Default false.
   */
  uint8Inputs?: boolean;
  /** Surrogate gradient of the input binarization (default 'clipped'). */
  inputGrad?: SignGrad;
  /** Surrogate gradient of the weight binarization (default 'clipped'). */
  weightGrad?: SignGrad;
  /** XNOR-Net per-output-channel scale mean|W_c| (default false). */
  scale?: boolean;
  /** Latent weights are clipped to [-clip, clip] after each optimizer step (default 1). */
  clip?: number;
}

/** Checks the shared binarization options with their defaults; `op` names the layer in errors. */
export function binaryLayerOptions(op: string, o: BinaryLayerOptions): Required<BinaryLayerOptions> {
  const binarizeInputs = boolOption(o.binarizeInputs, op, 'binarizeInputs', true);
  const uint8Inputs = boolOption(o.uint8Inputs, op, 'uint8Inputs', false);
  if (uint8Inputs && binarizeInputs) {
    throw new Error(`${op}: uint8Inputs needs binarizeInputs: false (inputs that are binarized are ±1, not uint8)`);
  }
  return {
    binarizeInputs,
    uint8Inputs,
    inputGrad: choiceOption(o.inputGrad, op, 'inputGrad', SIGN_GRADS, 'clipped'),
    weightGrad: choiceOption(o.weightGrad, op, 'weightGrad', SIGN_GRADS, 'clipped'),
    scale: boolOption(o.scale, op, 'scale', false),
    clip: checkNumber(o.clip ?? 1, op, 'clip', { positive: true, max: F32_MAX }),
  };
}

/**
 * What BinaryLinear and BinaryConv2d share: the binarization options, the
 * latent weight (clipped, 1 bit) and optional zero bias, the ±1 weights and
 * the XNOR scales. A subclass says where its output channels are in the
 * weight (`outAxis`) and does its own product, freeze stage and shape checks.
 */
export abstract class BinaryLayer extends Module {
  readonly binarizeInputs: boolean;
  readonly uint8Inputs: boolean;
  readonly inputGrad: SignGrad;
  readonly weightGrad: SignGrad;
  readonly scale: boolean;
  readonly clip: number;

  /** `op` names the layer in errors. */
  protected constructor(private readonly binaryOp: string, o: BinaryLayerOptions) {
    super();
    const bin = binaryLayerOptions(binaryOp, o);
    this.binarizeInputs = bin.binarizeInputs;
    this.uint8Inputs = bin.uint8Inputs;
    this.inputGrad = bin.inputGrad;
    this.weightGrad = bin.weightGrad;
    this.scale = bin.scale;
    this.clip = bin.clip;
  }

  /** The weight's output-channel axis: 0 for [out, in], the last for HWIO. */
  protected abstract readonly outAxis: number;

  /**
   * Registers the latent weight U(±bound) of `shape` (1 bit, clipped to ±clip;
   * `frozenBytes` when the frozen form is not the plain packed rows) and a zero
   * bias of the output channels when bias: true.
   */
  protected initParameters(o: { bias?: boolean; seed?: number }, shape: number[], bound: number, frozenBytes?: number): void {
    const bias = boolOption(o.bias, this.binaryOp, 'bias', false);
    const seed = layerSeed(seedOption(o.seed, this.binaryOp));
    this.registerParameter('weight', uniformInit(shape, bound, seed), { bits: 1, clip: this.clip, ...(frozenBytes === undefined ? {} : { frozenBytes }) });
    if (bias) this.registerParameter('bias', zeros([shape[this.outAxis]]));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  /** The ±1 weights as used in the forward pass (no tape). */
  binaryWeight(): Tensor {
    return noGrad(() => binarize(this.weight));
  }

  /** XNOR-Net scales mean|W_c| per output channel, shape [out] (no tape). */
  channelScales(): Tensor {
    const others = this.weight.shape.map((_, i) => i).filter((i) => i !== this.outAxis);
    return tidy(() => noGrad(() => meanOp(abs(this.weight), { axis: others })));
  }

  /** `n` products: binary with binarized inputs, binary weights times float or uint8 inputs otherwise. */
  protected binaryMacs(n: number): Macs {
    return { binary: this.binarizeInputs ? n : 0, binaryWeights: this.binarizeInputs ? 0 : n, int8: 0, float: 0 };
  }
}
