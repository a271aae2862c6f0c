import { composite, noGrad } from '../autograd/tape.js';
import { stopGradient } from '../autograd/custom.js';
import { round } from '../ops/discrete.js';
import { add, clip, mul, ne } from '../ops/elementwise.js';
import { conv2d } from '../ops/conv.js';
import { signConv2d } from '../ops/sign-conv.js';
import { pair, windowGeometry, type Geometry2d, type Padding2d } from '../ops/conv-geometry.js';
import { sum } from '../ops/reduce.js';
import { cast, pad } from '../ops/shape.js';
import { binarize } from '../ste/sign.js';
import { convWeightWords, packConvWeights, packConvWeightsU8 } from '../kernels/conv_binary.js';
import { rejectNaN } from '../kernels/nan.js';
import { checkDType, checkFloat, checkNumber, describe } from '../tensor/checks.js';
import { zeros } from '../tensor/creation.js';
import { readOptions } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
import { checkInputTensor } from './guard.js';
import { glorotBound } from './init.js';
import type { Conv2dLayerOptions } from './conv.js';
import { BinaryLayer, type BinaryLayerOptions } from './binary-layer.js';

/** Most channels of a conv layer (as for dense layers' features). */
const MAX_CHANNELS = 2 ** 16;

/** The window options every conv layer takes: Conv2d's, under the name the binary and quantized conv layers use. */
export type ConvLayerOptions = Conv2dLayerOptions;

/** Checked shape of a conv layer: channels, kernel, groups and the window options as given. */
export interface ConvShape {
  inChannels: number;
  outChannels: number;
  kh: number;
  kw: number;
  groups: number;
  stride: [number, number];
  dilation: [number, number];
  padding: Padding2d;
}

/** Validates a conv layer's constructor arguments (the window options are checked on a window-sized input). */
export function convShape(op: string, inChannels: number, outChannels: number, kernelSize: unknown, o: ConvLayerOptions): ConvShape {
  checkNumber(inChannels, op, 'inChannels', { integer: true, min: 1, max: MAX_CHANNELS });
  checkNumber(outChannels, op, 'outChannels', { integer: true, min: 1, max: MAX_CHANNELS });
  const [kh, kw] = pair(kernelSize, op, 'kernelSize', NaN);
  if (Number.isNaN(kh)) throw new Error(`${op}: kernelSize is required (an integer >= 1 or a pair [h, w]), got ${describe(kernelSize)}`);
  const groups = checkNumber(o.groups ?? 1, op, 'groups', { integer: true, min: 1, max: MAX_CHANNELS });
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(`${op}: groups (${groups}) must divide inChannels (${inChannels}) and outChannels (${outChannels})`);
  }
  if (kh * kw * (inChannels / groups) * outChannels > 2 ** 28) {
    throw new Error(`${op}: a weight of ${kh}x${kw}x${inChannels / groups}x${outChannels} has more than 2^28 elements (1 GiB of float32); use fewer channels or a smaller kernel`);
  }
  const stride = pair(o.stride, op, 'stride', 1);
  const dilation = pair(o.dilation, op, 'dilation', 1);
  const padding = o.padding ?? 'valid';
  // The padding form is checked now (on an input the dilated window just fits), not at the first forward.
  windowGeometry(op, (kh - 1) * dilation[0] + 1, (kw - 1) * dilation[1] + 1, kh, kw, { stride, padding, dilation });
  return { inChannels, outChannels, kh, kw, groups, stride, dilation, padding };
}

/** Checks an NHWC input [batch, h, w, inChannels] and returns its window geometry. */
export function convInput(op: string, x: Tensor, s: ConvShape, acceptUint8: boolean): Geometry2d {
  checkInputTensor(x, op);
  if (acceptUint8 && x.dtype === 'uint8') checkDType(x, op, 'x', 'uint8');
  else checkFloat(x, op, 'x');
  if (x.rank !== 4 || x.shape[3] !== s.inChannels) {
    const hint = x.rank === 2 ? '; reshape flat rows to [batch, h, w, channels] first' : x.rank === 3 ? '; a single image needs a batch axis: [1, h, w, channels]' : '';
    throw new Error(`${op}: x must be NHWC [batch, h, w, ${s.inChannels}], got [${x.shape}]${hint}`);
  }
  return windowGeometry(op, x.shape[1], x.shape[2], s.kh, s.kw, { stride: s.stride, padding: s.padding, dilation: s.dilation });
}

/** The window as stage config (explicit padding: 'same' is resolved against the traced input). */
export function geometryConfig(g: Geometry2d, s: ConvShape): Record<string, unknown> {
  return {
    inChannels: s.inChannels, outChannels: s.outChannels, kh: s.kh, kw: s.kw, groups: s.groups,
    inH: g.inH, inW: g.inW, strideH: g.strideH, strideW: g.strideW, dilationH: g.dilationH, dilationW: g.dilationW,
    padTop: g.padTop, padBottom: g.padBottom, padLeft: g.padLeft, padRight: g.padRight,
  };
}

/** The window over the layer's traced input [batch, h, w, c]. */
export function convInputGeometry(ctx: FreezeContext, s: ConvShape): Geometry2d {
  const [, h, w] = ctx.inputShape;
  return windowGeometry('freeze', h, w, s.kh, s.kw, { stride: s.stride, padding: s.padding, dilation: s.dilation });
}

/** Multiply-accumulates of one conv call: every output element sums kh·kw·(in/groups) products (padded taps included). */
export function convMacs(s: ConvShape, output: readonly number[]): number {
  const outElements = output.reduce((a, b) => a * b, 1);
  return outElements * s.kh * s.kw * (s.inChannels / s.groups);
}

/** Rejects inputs that are not integers in [0, 255] (raw pixels) before a layer declared uint8Inputs computes on them. */
function checkPixels(op: string, x: Tensor): void {
  if (x.dtype === 'uint8' || x.size === 0) return;
  // NaN != round(NaN) counts as bad, as do fractions and values clipped away.
  const bad = tidy(() => noGrad(() => sum(cast(ne(x, clip(round(x), 0, 255)), 'float32')).item()));
  if (bad > 0) throw new Error(`${op}: x must hold integers in [0, 255] (e.g. raw pixels) because the layer has uint8Inputs; ${bad} value${bad > 1 ? 's are' : ' is'} not (fractions, out of range or NaN)`);
}

/** The NHWC padding of a pad() call for the geometry's padding. */
function padSpec(g: Geometry2d): [number, number][] {
  return [[0, 0], [g.padTop, g.padBottom], [g.padLeft, g.padRight], [0, 0]];
}

export interface BinaryConv2dOptions extends ConvLayerOptions, BinaryLayerOptions {
  /**
   * What a padded tap contributes (only with padding and binarizeInputs):
   * 0 = true zero padding, the float conv of the ±1 values with zeros around
   * (default, Larq's default, the same as nn.Conv2d); 1 = one-padding, the
   * binarized input is padded with +1 (Larq's pad_values=1.0): the fast path,
   * since a packed +1 is a 0 bit and needs no edge correction once frozen.
   */
  padValue?: 0 | 1;
}

/**
 * 2-D convolution with binary (±1) weights over NHWC inputs, weights HWIO
 * [kh, kw, inChannels/groups, outChannels]: the conv counterpart of
 * BinaryLinear (latent float weights binarized in the forward pass, 0 -> +1,
 * trained through the surrogate gradient; binary, float or uint8 inputs; XNOR
 * scale; latent clipping). Outputs are the float conv of the ±1 values (sums
 * of ±1 are exact integers); with binary inputs (groups 1) the forward pass
 * computes them on packed bits, the backward pass is conv2d's.
 */
export class BinaryConv2d extends BinaryLayer {
  readonly kernelSize: [number, number];
  readonly groups: number;
  readonly padValue: 0 | 1;
  protected readonly outAxis = 3;
  readonly #shape: ConvShape;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | [number, number], options: BinaryConv2dOptions | null = {}) {
    const op = 'BinaryConv2d';
    const o = readOptions<BinaryConv2dOptions>(options, op);
    const s = convShape(op, inChannels, outChannels, kernelSize, o);
    super(op, o);
    this.#shape = s;
    this.kernelSize = [s.kh, s.kw];
    this.groups = s.groups;
    const padValue = o.padValue ?? 0;
    if (padValue !== 0 && padValue !== 1) throw new Error(`${op}: padValue must be 0 (zero padding) or 1 (one-padding), got ${describe(padValue)}`);
    if (padValue === 1 && !this.binarizeInputs) {
      throw new Error(`${op}: padValue 1 (one-padding of the ±1 inputs) needs binarizeInputs: true; float and uint8 inputs are zero-padded`);
    }
    this.padValue = padValue;
    const perGroup = inChannels / s.groups;
    const bound = Math.min(1, glorotBound(s.kh * s.kw * perGroup, s.kh * s.kw * (outChannels / s.groups)));
    // Binary inputs (groups 1) freeze to the packed conv kernel's rows of per-tap channel words; others to 128-bit padded rows.
    const rowWords = this.binarizeInputs && s.groups === 1 ? convWeightWords(s.kh, s.kw, perGroup) : Math.ceil((s.kh * s.kw * perGroup) / 128) * 4;
    this.initParameters(o, [s.kh, s.kw, perGroup, outChannels], bound, outChannels * rowWords * 4);
  }

  forward(x: Tensor): Tensor {
    const op = 'BinaryConv2d';
    const g = convInput(op, x, this.#shape, this.uint8Inputs);
    this.checkAlive();
    // NaN has no sign: refused here so the error names the layer, not the STE inside it.
    if (this.binarizeInputs) rejectNaN(x, op, 'x');
    if (this.uint8Inputs) checkPixels(op, x);
    const s = this.#shape;
    return composite(() => {
      const wb = binarize(this.weight, { grad: this.weightGrad });
      const xin = this.binarizeInputs ? binarize(x, { grad: this.inputGrad }) : x.dtype === 'uint8' ? cast(x, 'float32') : x;
      // ±1 inputs and weights: the forward pass runs on XNOR-popcount (exact integers, the float conv's values).
      const conv = (input: Tensor, padding: Padding2d) => (this.binarizeInputs && s.groups === 1
        ? signConv2d(input, wb, { stride: s.stride, dilation: s.dilation, padding })
        : conv2d(input, wb, { stride: s.stride, dilation: s.dilation, groups: s.groups, padding }));
      const padded = g.padTop + g.padBottom + g.padLeft + g.padRight > 0;
      // One-padding: the ±1 input is padded with +1, then the window runs over it without padding.
      let y = this.padValue === 1 && padded ? conv(pad(xin, padSpec(g), { value: 1 }), 'valid') : conv(xin, [[g.padTop, g.padBottom], [g.padLeft, g.padRight]]);
      if (this.scale) y = mul(y, stopGradient(this.channelScales()));
      const b = this.bias;
      return b ? add(y, b) : y;
    });
  }

  /**
   * Frozen form: the ±1 weights packed per output channel (rows of
   * kh·kw·in/groups bits in (ky, kx, c) order), XNOR scales and bias; the
   * window resolved against the traced input. freeze's fusion folds a
   * following batch norm + binarize into integer thresholds and a max-pool
   * into the packed output.
   */
  freezeStage(ctx: FreezeContext): FrozenStage {
    const s = this.#shape;
    // Binary inputs run the packed conv kernel (per-tap channel words); uint8 and float inputs, and groups, read contiguous rows.
    const packed = this.binarizeInputs && s.groups === 1;
    const tensors: Record<string, Tensor> = { weightBits: ctx.store(packed ? packConvWeights(this.weight) : packConvWeightsU8(this.weight)) };
    if (this.scale) tensors.scale = ctx.store(this.channelScales());
    if (this.bias) tensors.bias = ctx.copy(this.bias);
    return ctx.stage('binary-conv2d', tensors, {
      ...geometryConfig(convInputGeometry(ctx, s), s),
      binarizeInputs: this.binarizeInputs,
      uint8Inputs: this.uint8Inputs || (ctx.rawInput && ctx.uint8Inputs && !this.binarizeInputs),
      padValue: this.binarizeInputs ? this.padValue : 0,
      scale: this.scale,
      bias: this.bias !== null,
      threshold: false,
      bnEps: null,
      bnAffine: false,
      pool: null,
    });
  }

  summaryMacs(_input: readonly number[], output: readonly number[]): Macs {
    return this.binaryMacs(convMacs(this.#shape, output));
  }

  inputWidth(): null {
    return null;
  }
}
