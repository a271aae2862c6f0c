import { composite, noGrad } from '../autograd/tape.js';
import { stopGradient } from '../autograd/custom.js';
import { abs, add, div } from '../ops/elementwise.js';
import { conv2d } from '../ops/conv.js';
import { max as maxOp } from '../ops/reduce.js';
import { reshape, transpose } from '../ops/shape.js';
import { quantize } from '../ste/quantize.js';
import { quantizeInt8 } from '../kernels/quant_s8.js';
import { full, tensor } from '../tensor/creation.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
import { convInput, convInputGeometry, convMacs, convShape, geometryConfig, type ConvLayerOptions, type ConvShape } from './conv-binary.js';
import { checkStateRange, seedOption } from './guard.js';
import { layerSeed, uniformInit } from './init.js';
import { Module } from './module.js';
import { activationScale, checkLearnedScale, fakeQuantWeight, observeRange, quantLayerOptions, type QuantLayerOptions } from './fake-quant.js';

export interface QuantConv2dOptions extends ConvLayerOptions, QuantLayerOptions {}

/**
 * 2-D convolution (NHWC inputs, HWIO weights [kh, kw, in/groups, out])
 * trained with k-bit fake quantization, as QuantLinear: weights
 * q = clip(round(W / s), -qmax, qmax) · s with a scale per output channel (or
 * per tensor), inputs fake-quantized with a per-tensor scale from a running
 * max|x| observer, gradients straight through the rounding. Zero padding is
 * exact in the int8 domain (symmetric: 0 is code 0). freeze() stores int8
 * weights and runs the int8 kernels.
 */
export class QuantConv2d extends Module {
  readonly kernelSize: [number, number];
  readonly groups: number;
  readonly weightBits: number;
  readonly activationBits: number | null;
  readonly perChannel: boolean;
  readonly learnScale: boolean;
  readonly observerMomentum: number;
  readonly #shape: ConvShape;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | [number, number], options: QuantConv2dOptions | null = {}) {
    super();
    const op = 'QuantConv2d';
    const o = readOptions<QuantConv2dOptions>(options, op);
    const s = convShape(op, inChannels, outChannels, kernelSize, o);
    this.#shape = s;
    this.kernelSize = [s.kh, s.kw];
    this.groups = s.groups;
    const q = quantLayerOptions(op, options, o);
    this.weightBits = q.weightBits;
    this.activationBits = q.activationBits;
    this.perChannel = q.perChannel;
    this.learnScale = q.learnScale;
    this.observerMomentum = q.observerMomentum;
    const bias = boolOption(o.bias, op, 'bias', true);
    const seed = layerSeed(seedOption(o.seed, op));
    // PyTorch's Conv2d default: U(±1/√fanIn), fanIn = kh·kw·in/groups.
    const bound = 1 / Math.sqrt(s.kh * s.kw * (inChannels / s.groups));
    const w = this.registerParameter('weight', uniformInit([s.kh, s.kw, inChannels / s.groups, outChannels], bound, seed), { bits: this.weightBits });
    if (bias) this.registerParameter('bias', uniformInit([outChannels], bound, seed + 1));
    if (this.learnScale) this.registerParameter('weightScale', tidy(() => this.computeWeightScale(w)), { bits: 32 });
    this.registerBuffer('inputRange', full([], 0));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  protected override checkStateValue(name: string, value: Tensor, fullName = name): void {
    if (name === 'inputRange') checkStateRange(value, 'QuantConv2d', fullName, 0);
    else if (name === 'weightScale') checkStateRange(value, 'QuantConv2d', fullName, 1e-30);
    else super.checkStateValue(name, value, fullName);
  }

  /** Largest weight level: 2^(bits-1) - 1 (symmetric, so -qmax..qmax). */
  get weightQmax(): number {
    return 2 ** (this.weightBits - 1) - 1;
  }

  /** max|W| / qmax per output channel ([out]) or per tensor ([1]) (no tape). */
  computeWeightScale(w: Tensor = this.weight): Tensor {
    return tidy(() => noGrad(() => {
      const m = this.perChannel ? maxOp(abs(w), { axis: [0, 1, 2] }) : reshape(maxOp(abs(w)), [1]);
      // A channel of zeros would give scale 0: use a tiny positive scale instead.
      return add(div(m, this.weightQmax), 1e-12);
    }));
  }

  /** The weight scales in use: learned, or max|W| / qmax. */
  weightScale(): Tensor {
    if (!this.learnScale) return stopGradient(this.computeWeightScale());
    return checkLearnedScale('QuantConv2d', this.param('weightScale'));
  }

  /** Fake-quantized weights (on the tape); the scales broadcast over the output-channel axis. */
  quantizedWeight(): Tensor {
    return fakeQuantWeight(this.weight, this.weightScale(), this.weightQmax);
  }

  /** The activation scale max|x| / qmax from the observer (a plain number), or null. */
  inputScale(): number | null {
    if (this.activationBits === null) return null;
    return activationScale(this.buffer('inputRange').item(), this.activationBits);
  }

  forward(x: Tensor): Tensor {
    const g = convInput('QuantConv2d', x, this.#shape, false);
    this.checkAlive();
    if (this.activationBits !== null && this.training) observeRange('QuantConv2d', x, this.buffer('inputRange'), this.observerMomentum);
    const sc = this.inputScale();
    const s = this.#shape;
    return composite(() => {
      const xq = sc === null ? x : quantize(x, { bits: this.activationBits!, scale: sc });
      const y = conv2d(xq, this.quantizedWeight(), { stride: s.stride, dilation: s.dilation, groups: s.groups, padding: [[g.padTop, g.padBottom], [g.padLeft, g.padRight]] });
      const b = this.bias;
      return b ? add(y, b) : y;
    });
  }

  /** Frozen form: int8 HWIO weights with per-channel scales, bias, and the activation scale. */
  freezeStage(ctx: FreezeContext): FrozenStage {
    const sv = this.weightScale().dataSync() as Float32Array;
    const perChannel = new Float32Array(this.outChannels).map((_, c) => sv[sv.length === 1 ? 0 : c]);
    const [kh, kw, cg, out] = this.weight.shape;
    // quantizeInt8 scales per row: quantized as rows [out, kh·kw·cg], stored back in HWIO order.
    const int8 = tidy(() => {
      const rows = reshape(transpose(this.weight, [3, 0, 1, 2]), [out, kh * kw * cg]);
      const q = quantizeInt8(rows, { scale: sv.length === 1 ? sv[0] : perChannel });
      return transpose(reshape(q, [out, kh, kw, cg]), [1, 2, 3, 0]);
    });
    const tensors: Record<string, Tensor> = {
      weight: ctx.store(int8),
      weightScale: ctx.store(tensor(perChannel)),
    };
    if (this.bias) tensors.bias = ctx.copy(this.bias);
    return ctx.stage('int8-conv2d', tensors, {
      ...geometryConfig(convInputGeometry(ctx, this.#shape), this.#shape),
      inputScale: this.inputScale(),
      weightBits: this.weightBits,
      bias: this.bias !== null,
    });
  }

  summaryMacs(_input: readonly number[], output: readonly number[]): Macs {
    const n = convMacs(this.#shape, output);
    return { binary: 0, binaryWeights: 0, int8: this.activationBits !== null ? n : 0, float: this.activationBits !== null ? 0 : n };
  }

  inputWidth(): null {
    return null;
  }
}
