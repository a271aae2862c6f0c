import { composite } from '../autograd/tape.js';
import type { FreezeContext, FrozenStage, Macs } from '../freeze/types.js';
import { windowGeometry, pair, type Padding2d } from '../ops/conv-geometry.js';
import { conv2d, conv2dShape } from '../ops/conv.js';
import { add } from '../ops/elementwise.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { boolOption, readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { seedOption } from './guard.js';
import { layerSeed, uniformInit } from './init.js';
import { Module } from './module.js';

/** Most channels of a convolution layer. */
const MAX_CHANNELS = 2 ** 16;

/** The window options every conv layer takes (Conv2d, BinaryConv2d, QuantConv2d); the geometry itself is conv-geometry.ts's. */
export interface Conv2dLayerOptions {
  stride?: number | [number, number];
  /** 'valid' (default), 'same' (TF/Keras: out = ceil(in / stride)) or [[top, bottom], [left, right]]. */
  padding?: Padding2d;
  dilation?: number | [number, number];
  /** Channel groups (default 1; inChannels and outChannels must both be multiples); groups = inChannels is depthwise. */
  groups?: number;
  bias?: boolean;
  seed?: number;
}

/** The window options of a conv layer, normalized and checked once at construction. */
export interface Conv2dWindow {
  stride: [number, number];
  padding: Padding2d;
  dilation: [number, number];
  groups: number;
}

/**
 * Reads and checks the constructor arguments of Conv2d:
 * channel counts, kernel size (a number or [kh, kw]) and window options.
 */
function convLayerArgs(op: string, inChannels: number, outChannels: number, kernelSize: number | [number, number], options: Conv2dLayerOptions | null):
    { kernel: [number, number]; window: Conv2dWindow; bias: boolean; seed: number | undefined } {
  checkNumber(inChannels, op, 'inChannels', { integer: true, min: 1, max: MAX_CHANNELS });
  checkNumber(outChannels, op, 'outChannels', { integer: true, min: 1, max: MAX_CHANNELS });
  const kernel = pair(kernelSize, op, 'kernelSize', 1);
  const o = readOptions<Conv2dLayerOptions>(options, op);
  const groups = o.groups === undefined ? 1 : checkNumber(o.groups, op, 'groups', { integer: true, min: 1, max: MAX_CHANNELS });
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new Error(`${op}: groups = ${groups} must divide inChannels (${inChannels}) and outChannels (${outChannels})`);
  }
  // Checks stride, dilation and padding now (on an input large enough for any window), not at the first forward.
  const g = windowGeometry(op, 2 ** 30, 2 ** 30, kernel[0], kernel[1], o);
  const padding: Padding2d = typeof o.padding === 'string' || o.padding === undefined
    ? (o.padding ?? 'valid')
    : [[g.padTop, g.padBottom], [g.padLeft, g.padRight]];
  if (kernel[0] * kernel[1] * (inChannels / groups) * outChannels > 2 ** 28) {
    throw new Error(`${op}: a weight of ${kernel[0]}x${kernel[1]}x${inChannels / groups}x${outChannels} has more than 2^28 elements (1 GiB of float32)`);
  }
  return {
    kernel,
    window: { stride: [g.strideH, g.strideW], padding, dilation: [g.dilationH, g.dilationW], groups },
    bias: boolOption(o.bias, op, 'bias', true),
    seed: seedOption(o.seed, op),
  };
}

/** The window as conv2d options (fresh arrays, so callers cannot alias the layer's). */
function windowOptions(w: Conv2dWindow): { stride: [number, number]; padding: Padding2d; dilation: [number, number]; groups: number } {
  const padding: Padding2d = typeof w.padding === 'string' ? w.padding : [[w.padding[0][0], w.padding[0][1]], [w.padding[1][0], w.padding[1][1]]];
  return { stride: [w.stride[0], w.stride[1]], padding, dilation: [w.dilation[0], w.dilation[1]], groups: w.groups };
}

/**
 * 2-D convolution layer on NHWC inputs [batch, height, width, inChannels]:
 * y = conv2d(x, weight) + bias, weight HWIO [kh, kw, inChannels/groups,
 * outChannels], bias [outChannels]. Initialized like PyTorch:
 * U(±1/√fan_in) with fan_in = kh·kw·inChannels/groups, for weight and bias.
 */
export class Conv2d extends Module {
  readonly kernelSize: [number, number];
  readonly window: Conv2dWindow;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | [number, number], options: Conv2dLayerOptions | null = {}) {
    super();
    const a = convLayerArgs('Conv2d', inChannels, outChannels, kernelSize, options);
    this.kernelSize = a.kernel;
    this.window = a.window;
    const seed = layerSeed(a.seed);
    const [kh, kw] = a.kernel;
    const fanIn = kh * kw * (inChannels / a.window.groups);
    const bound = 1 / Math.sqrt(fanIn);
    this.registerParameter('weight', uniformInit([kh, kw, inChannels / a.window.groups, outChannels], bound, seed));
    if (a.bias) this.registerParameter('bias', uniformInit([outChannels], bound, seed + 1));
  }

  get weight(): Tensor {
    return this.param('weight');
  }

  get bias(): Tensor | null {
    return this.optionalParam('bias');
  }

  forward(x: Tensor): Tensor {
    this.checkAlive();
    checkFloat(x, 'Conv2d', 'x');
    if (x.rank === 4 && x.shape[3] !== this.inChannels) {
      throw new Error(`Conv2d: x must have ${this.inChannels} channels on its last axis (NHWC [batch, height, width, channels]), got shape [${x.shape}]`);
    }
    const opts = windowOptions(this.window);
    conv2dShape(x, this.weight, opts, 'Conv2d');
    return composite(() => {
      const y = conv2d(x, this.weight, opts);
      const b = this.bias;
      return b ? add(y, b) : y;
    });
  }

  /** Frozen form: the float32 weights, copied; the same conv2d (and bias add) as eval mode. */
  freezeStage(ctx: FreezeContext): FrozenStage {
    const tensors: Record<string, Tensor> = { weight: ctx.copy(this.weight) };
    if (this.bias) tensors.bias = ctx.copy(this.bias);
    const w = this.window;
    return ctx.stage('conv2d', tensors, {
      inChannels: this.inChannels, outChannels: this.outChannels, kernelSize: [...this.kernelSize],
      stride: [...w.stride], padding: windowOptions(w).padding, dilation: [...w.dilation], groups: w.groups, bias: this.bias !== null,
    });
  }

  /** N·outH·outW·Cout·kh·kw·Cin/groups float MACs. */
  summaryMacs(_input: readonly number[], output: readonly number[]): Macs {
    const pixels = output.length === 4 ? output[0] * output[1] * output[2] : 0;
    const [kh, kw] = this.kernelSize;
    return { binary: 0, binaryWeights: 0, int8: 0, float: pixels * this.outChannels * kh * kw * (this.inChannels / this.window.groups) };
  }
}
