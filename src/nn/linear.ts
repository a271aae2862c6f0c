import { composite } from '../autograd/tape.js';
import { add, mul } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { reshape } from '../ops/shape.js';
import { signMatmul, uint8SignMatmul } from '../ops/sign-matmul.js';
import { stopGradient } from '../autograd/custom.js';
import { binarize } from '../ste/sign.js';
import { checkDType, checkFloat, checkNumber } from '../tensor/checks.js';
import type { Tensor } from '../tensor/tensor.js';
import { packBits } from '../kernels/bitpack.js';
import { quantizeInt8 } from '../kernels/quant_s8.js';
import { tensor } from '../tensor/creation.js';
import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { rejectNaN } from '../kernels/nan.js';
import { seedOption } from './guard.js';
import { glorotBound, layerSeed, uniformInit } from './init.js';
import { Module } from './module.js';
import { QuantLayer } from './quant-layer.js';
import { BinaryLayer, type BinaryLayerOptions } from './binary-layer.js';
import { type QuantLayerOptions } from './fake-quant.js';

/** Most input or output features of a layer (a weight of 2^16 x 2^16 float32 is 16 GiB, beyond wasm memory anyway). */
export const MAX_FEATURES = 2 ** 16;

function checkFeatures(op: string, inFeatures: number, outFeatures: number): void {
  checkNumber(inFeatures, op, 'inFeatures', { integer: true, min: 1, max: MAX_FEATURES });
  checkNumber(outFeatures, op, 'outFeatures', { integer: true, min: 1, max: MAX_FEATURES });
  if (inFeatures * outFeatures > 2 ** 28) {
    throw new Error(`${op}: a weight of ${outFeatures} x ${inFeatures} has more than 2^28 elements (1 GiB of float32); use fewer features`);
  }
}

/** Rows of a [..., features] input: the product of the leading axes (1 for a single example [features]). */
function rows(input: readonly number[]): number {
  return input.slice(0, -1).reduce((a, b) => a * b, 1);
}

function checkInput(op: string, x: Tensor, inFeatures: number, acceptUint8 = false): void {
  if (acceptUint8 && (x as Tensor | null)?.dtype === 'uint8') checkDType(x, op, 'x', 'uint8');
  else checkFloat(x, op, 'x');
  if (x.rank === 0 || x.shape[x.rank - 1] !== inFeatures) {
    // An image batch [batch, h, w] whose rows hold inFeatures values: the usual fix is a Flatten before the layer.
    const hint = x.rank > 2 && x.shape.slice(1).reduce((a, b) => a * b, 1) === inFeatures ? '; flatten it first (nn.Flatten)' : '';
    throw new Error(`${op}: x must have shape [..., ${inFeatures}] (features on the last axis), got [${x.shape}]${hint}`);
  }
}

/**
 * Runs a layer's 2-D computation on [..., in]: the leading axes are flattened
 * to rows (a 2-D input goes through as it is, so its result is bit-identical)
 * and the output [rows, out] is reshaped back to [..., out]. Call inside composite().
 */
function onRows(x: Tensor, outFeatures: number, f: (rows2d: Tensor) => Tensor): Tensor {
  if (x.rank === 2) return f(x);
  const lead = x.shape.slice(0, -1);
  const y = f(reshape(x, [rows(x.shape), x.shape[x.rank - 1]]));
  return reshape(y, [...lead, outFeatures]);
}

export interface LinearOptions {
  bias?: boolean;
  seed?: number;
}

/** y = x Wᵀ + b with W [outFeatures, inFeatures] (PyTorch layout), initialized U(±1/√in). */
export class Linear extends Module {
  constructor(readonly inFeatures: number, readonly outFeatures: number, options: LinearOptions | null = {}) {
    super();
    checkFeatures('Linear', inFeatures, outFeatures);
    const o = readOptions<LinearOptions>(options, 'Linear');
    const bias = boolOption(o.bias, 'Linear', 'bias', true);
    const seed = layerSeed(seedOption(o.seed, 'Linear'));
    const bound = 1 / Math.sqrt(inFeatures);
    this.registerParameter('weight', uniformInit([outFeatures, inFeatures], bound, seed));
    if (bias) this.registerParameter('bias', uniformInit([outFeatures], bound, seed + 1));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  forward(x: Tensor): Tensor {
    checkInput('Linear', x, this.inFeatures);
    this.checkAlive();
    return composite(() => onRows(x, this.outFeatures, (x2) => {
      const y = matmul(x2, this.weight, { transposeB: true });
      const b = this.bias;
      return b ? add(y, b) : y;
    }));
  }

  /** Frozen form: the float32 weights, copied. */
  freezeStage(ctx: FreezeContext): FrozenStage {
    const tensors: Record<string, Tensor> = { weight: ctx.copy(this.weight) };
    if (this.bias) tensors.bias = ctx.copy(this.bias);
    return ctx.stage('linear', tensors, { inFeatures: this.inFeatures, outFeatures: this.outFeatures, bias: this.bias !== null });
  }

  summaryMacs(input: readonly number[]): Macs {
    return { binary: 0, binaryWeights: 0, int8: 0, float: rows(input) * this.inFeatures * this.outFeatures };
  }

  inputWidth(): number {
    return this.inFeatures;
  }
}

export interface BinaryLinearOptions extends BinaryLayerOptions {
  bias?: boolean;
  seed?: number;
}

/**
 * Linear layer with binary (±1) weights: latent float weights are binarized
 * in the forward pass (0 -> +1) and trained through the surrogate gradient.
 * With binarizeInputs, inputs are binarized too, so every product is ±1.
 */
export class BinaryLinear extends BinaryLayer {
  protected readonly outAxis = 0;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: BinaryLinearOptions | null = {}) {
    checkFeatures('BinaryLinear', inFeatures, outFeatures);
    const o = readOptions<BinaryLinearOptions>(options, 'BinaryLinear');
    super('BinaryLinear', o);
    this.initParameters(o, [outFeatures, inFeatures], Math.min(1, glorotBound(inFeatures, outFeatures)));
  }

  forward(x: Tensor): Tensor {
    // Raw pixels may come as they are: a uint8 tensor (no float copy) when the layer declares uint8Inputs.
    checkInput('BinaryLinear', x, this.inFeatures, this.uint8Inputs);
    this.checkAlive();
    // Binarized inputs: NaN has no sign; refused here so the error names the layer, not the STE inside it.
    if (this.binarizeInputs) rejectNaN(x, 'BinaryLinear', 'x');
    // The uint8 kernel rejects non-integer inputs only after the weights are binarized: composite() frees those then.
    return composite(() => onRows(x, this.outFeatures, (x2) => {
      const wb = binarize(this.weight, { grad: this.weightGrad });
      // With binary inputs every product is ±1: the forward pass runs on XNOR-popcount.
      let y = this.binarizeInputs
        ? signMatmul(binarize(x2, { grad: this.inputGrad }), wb)
        : this.uint8Inputs ? uint8SignMatmul(x2, wb, 'BinaryLinear') : matmul(x2, wb, { transposeB: true });
      if (this.scale) y = mul(y, stopGradient(this.channelScales()));
      const b = this.bias;
      return b ? add(y, b) : y;
    }));
  }

  /**
   * Frozen form: packed ±1 weights (and XNOR scales, bias); freeze's fusion
   * pass folds a following batch norm + binarize into integer thresholds. A
   * float-input layer reading the model's raw input runs on the exact uint8
   * kernel when freeze was told the inputs are uint8.
   */
  freezeStage(ctx: FreezeContext): FrozenStage {
    const tensors: Record<string, Tensor> = { weightBits: ctx.store(packBits(this.weight)) };
    if (this.scale) tensors.scale = ctx.store(this.channelScales());
    if (this.bias) tensors.bias = ctx.copy(this.bias);
    return ctx.stage('binary-dense', tensors, {
      inFeatures: this.inFeatures,
      outFeatures: this.outFeatures,
      binarizeInputs: this.binarizeInputs,
      uint8Inputs: this.uint8Inputs || (ctx.rawInput && ctx.uint8Inputs && !this.binarizeInputs),
      threshold: false,
      bnEps: null,
      scale: this.scale,
      bias: this.bias !== null,
      bnAffine: false,
    });
  }

  summaryMacs(input: readonly number[]): Macs {
    return this.binaryMacs(rows(input) * this.inFeatures * this.outFeatures);
  }

  inputWidth(): number {
    return this.inFeatures;
  }
}

export interface QuantLinearOptions extends QuantLayerOptions {
  bias?: boolean;
  seed?: number;
}

/**
 * Linear layer trained with k-bit fake quantization (quantization-aware
 * training): weights q = clip(round(W / s), -qmax, qmax) · s with per-channel
 * scales s, and inputs fake-quantized with a per-tensor scale from a running
 * max|x| observer. Gradients pass straight through the rounding.
 */
export class QuantLinear extends QuantLayer {
  protected readonly outAxis = 0;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: QuantLinearOptions | null = {}) {
    checkFeatures('QuantLinear', inFeatures, outFeatures);
    const o = readOptions<QuantLinearOptions>(options, 'QuantLinear');
    super('QuantLinear', options, o);
    this.initParameters(o, [outFeatures, inFeatures], 1 / Math.sqrt(inFeatures));
  }

  forward(x: Tensor): Tensor {
    checkInput('QuantLinear', x, this.inFeatures);
    return this.quantForward(x, (xq, wq) => matmul(xq, wq, { transposeB: true }));
  }

  protected override perRows(x: Tensor, body: (x: Tensor) => Tensor): Tensor {
    return onRows(x, this.outFeatures, body);
  }

  /** Frozen form: int8 weights with per-channel scales (one value repeated for a per-tensor scale). */
  freezeStage(ctx: FreezeContext): FrozenStage {
    // [out, 1] per channel or [1, 1] per tensor (a learned scale is the parameter itself).
    const { raw, perChannel } = this.frozenScales();
    const tensors: Record<string, Tensor> = {
      weight: ctx.store(quantizeInt8(this.weight, { scale: raw.length === 1 ? raw[0] : perChannel })),
      weightScale: ctx.store(tensor(perChannel)),
    };
    if (this.bias) tensors.bias = ctx.copy(this.bias);
    return ctx.stage('int8-dense', tensors, { inFeatures: this.inFeatures, outFeatures: this.outFeatures, inputScale: this.inputScale(), weightBits: this.weightBits, bias: this.bias !== null });
  }

  summaryMacs(input: readonly number[]): Macs {
    return this.quantMacs(rows(input) * this.inFeatures * this.outFeatures);
  }

  inputWidth(): number {
    return this.inFeatures;
  }
}
