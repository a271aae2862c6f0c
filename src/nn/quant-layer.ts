import { composite, noGrad } from '../autograd/tape.js';
import { stopGradient } from '../autograd/custom.js';
import { abs, add, div } from '../ops/elementwise.js';
import { max as maxOp } from '../ops/reduce.js';
import { reshape } from '../ops/shape.js';
import { quantize } from '../ste/quantize.js';
import { full } from '../tensor/creation.js';
import { boolOption } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Macs } from '../freeze/types.js';
import { checkStateRange, seedOption } from './guard.js';
import { layerSeed, uniformInit } from './init.js';
import { Module } from './module.js';
import { activationScale, checkLearnedScale, fakeQuantWeight, observeRange, quantLayerOptions, type QuantLayerOptions } from './fake-quant.js';

/**
 * What QuantLinear and QuantConv2d share: the quantization options, the
 * weight, bias, learned-scale and observer state, the weight scales and
 * fake-quantized weights, and the input's fake quantization. A subclass says
 * where its output channels are in the weight (`outAxis`) and does its own
 * product, freeze stage and shape checks.
 */
export abstract class QuantLayer extends Module {
  readonly weightBits: number;
  readonly activationBits: number | null;
  readonly perChannel: boolean;
  readonly learnScale: boolean;
  readonly observerMomentum: number;

  /** `op` names the layer in errors; `options` is the caller's bag as given, `o` as readOptions returned it. */
  protected constructor(private readonly quantOp: string, options: unknown, o: QuantLayerOptions) {
    super();
    const q = quantLayerOptions(quantOp, options, o);
    this.weightBits = q.weightBits;
    this.activationBits = q.activationBits;
    this.perChannel = q.perChannel;
    this.learnScale = q.learnScale;
    this.observerMomentum = q.observerMomentum;
  }

  /** The weight's output-channel axis: 0 for [out, in], the last for HWIO. */
  protected abstract readonly outAxis: number;

  /**
   * Registers the weight U(±bound) of `shape`, the bias U(±bound) of the
   * output channels (unless bias: false), the learned scale (learnScale) and
   * the observer's range.
   */
  protected initParameters(o: { bias?: boolean; seed?: number }, shape: number[], bound: number): void {
    const bias = boolOption(o.bias, this.quantOp, 'bias', true);
    const seed = layerSeed(seedOption(o.seed, this.quantOp));
    const w = this.registerParameter('weight', uniformInit(shape, bound, seed), { bits: this.weightBits });
    if (bias) this.registerParameter('bias', uniformInit([shape[this.outAxis]], bound, seed + 1));
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
    if (name === 'inputRange') checkStateRange(value, this.quantOp, fullName, 0);
    else if (name === 'weightScale') checkStateRange(value, this.quantOp, fullName, 1e-30);
    else super.checkStateValue(name, value, fullName);
  }

  /** Largest weight level: 2^(bits-1) - 1 (symmetric, so -qmax..qmax). */
  get weightQmax(): number {
    return 2 ** (this.weightBits - 1) - 1;
  }

  /**
   * max|W| / qmax per output channel or per tensor (no tape), shaped to
   * broadcast over the weight: [out, 1] / [1, 1] for [out, in], [out] / [1] for HWIO.
   */
  computeWeightScale(w: Tensor = this.weight): Tensor {
    return tidy(() => noGrad(() => {
      const n = this.perChannel ? w.shape[this.outAxis] : 1;
      const shape = this.outAxis === 0 ? [n, ...w.shape.slice(1).map(() => 1)] : [n];
      const others = w.shape.map((_, i) => i).filter((i) => i !== this.outAxis);
      const m = reshape(this.perChannel ? maxOp(abs(w), { axis: others }) : maxOp(abs(w)), shape);
      // A channel of zeros would give scale 0: use a tiny positive scale instead.
      return add(div(m, this.weightQmax), 1e-12);
    }));
  }

  /** The weight scales in use: learned, or max|W| / qmax. */
  weightScale(): Tensor {
    if (!this.learnScale) return stopGradient(this.computeWeightScale());
    return checkLearnedScale(this.quantOp, this.param('weightScale'));
  }

  /** Fake-quantized weights (on the tape); the scales broadcast over the output channels. */
  quantizedWeight(): Tensor {
    return fakeQuantWeight(this.weight, this.weightScale(), this.weightQmax);
  }

  /** The activation scale max|x| / qmax from the observer (a plain number), or null. */
  inputScale(): number | null {
    if (this.activationBits === null) return null;
    return activationScale(this.buffer('inputRange').item(), this.activationBits);
  }

  /**
   * The forward pass around `product(xq, wq)`: updates the observer in
   * training, then on the tape fake-quantizes x, multiplies by the
   * fake-quantized weights and adds the bias. x is already checked.
   */
  protected quantForward(x: Tensor, product: (xq: Tensor, wq: Tensor) => Tensor): Tensor {
    this.checkAlive();
    if (this.activationBits !== null && this.training) observeRange(this.quantOp, x, this.buffer('inputRange'), this.observerMomentum);
    const s = this.inputScale();
    return composite(() => this.perRows(x, (x2) => {
      const xq = s === null ? x2 : quantize(x2, { bits: this.activationBits!, scale: s });
      const y = product(xq, this.quantizedWeight());
      const b = this.bias;
      return b ? add(y, b) : y;
    }));
  }

  /** Runs the forward body on x as the product takes it (a dense layer flattens [..., in] to rows). */
  protected perRows(x: Tensor, body: (x: Tensor) => Tensor): Tensor {
    return body(x);
  }

  /** The frozen per-channel scales (a per-tensor scale repeated) and the raw scales. */
  protected frozenScales(): { raw: Float32Array; perChannel: Float32Array } {
    const raw = this.weightScale().dataSync() as Float32Array;
    return { raw, perChannel: new Float32Array(this.weight.shape[this.outAxis]).map((_, c) => raw[raw.length === 1 ? 0 : c]) };
  }

  /** `n` multiply-adds: int8 with quantized activations, float without. */
  protected quantMacs(n: number): Macs {
    return { binary: 0, binaryWeights: 0, int8: this.activationBits !== null ? n : 0, float: this.activationBits !== null ? 0 : n };
  }
}
