import { conv2d } from '../ops/conv.js';
import { reshape, transpose } from '../ops/shape.js';
import { quantizeInt8 } from '../kernels/quant_s8.js';
import { tensor } from '../tensor/creation.js';
import { readOptions } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
import { convInput, convInputGeometry, convMacs, convShape, geometryConfig, type ConvLayerOptions, type ConvShape } from './conv-binary.js';
import { type QuantLayerOptions } from './fake-quant.js';
import { QuantLayer } from './quant-layer.js';

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
export class QuantConv2d extends QuantLayer {
  readonly kernelSize: [number, number];
  readonly groups: number;
  protected readonly outAxis = 3;
  readonly #shape: ConvShape;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | [number, number], options: QuantConv2dOptions | null = {}) {
    const o = readOptions<QuantConv2dOptions>(options, 'QuantConv2d');
    const s = convShape('QuantConv2d', inChannels, outChannels, kernelSize, o);
    super('QuantConv2d', options, o);
    this.#shape = s;
    this.kernelSize = [s.kh, s.kw];
    this.groups = s.groups;
    // PyTorch's Conv2d default: U(±1/√fanIn), fanIn = kh·kw·in/groups.
    this.initParameters(o, [s.kh, s.kw, inChannels / s.groups, outChannels], 1 / Math.sqrt(s.kh * s.kw * (inChannels / s.groups)));
  }

  forward(x: Tensor): Tensor {
    const g = convInput('QuantConv2d', x, this.#shape, false);
    const s = this.#shape;
    const padding: [[number, number], [number, number]] = [[g.padTop, g.padBottom], [g.padLeft, g.padRight]];
    return this.quantForward(x, (xq, wq) => conv2d(xq, wq, { stride: s.stride, dilation: s.dilation, groups: s.groups, padding }));
  }

  /** Frozen form: int8 HWIO weights with per-channel scales, bias, and the activation scale. */
  freezeStage(ctx: FreezeContext): FrozenStage {
    const { raw, perChannel } = this.frozenScales();
    const [kh, kw, cg, out] = this.weight.shape;
    // quantizeInt8 scales per row: quantized as rows [out, kh·kw·cg], stored back in HWIO order.
    const int8 = tidy(() => {
      const rows = reshape(transpose(this.weight, [3, 0, 1, 2]), [out, kh * kw * cg]);
      const q = quantizeInt8(rows, { scale: raw.length === 1 ? raw[0] : perChannel });
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
    return this.quantMacs(convMacs(this.#shape, output));
  }

  inputWidth(): null {
    return null;
  }
}
