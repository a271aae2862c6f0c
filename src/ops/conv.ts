import { record } from '../autograd/tape.js';
import { conv2dF32, conv2dF32BackwardFilter, conv2dF32BackwardInput, type ConvF32Shape } from '../kernels/conv.js';
import { checkFloat, checkNumber } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { windowGeometry, type Window2dOptions } from './conv-geometry.js';

export interface Conv2dOptions extends Window2dOptions {
  /** Split the channels into this many independent groups (default 1); groups = inChannels is a depthwise convolution. */
  groups?: number;
}

/** Most groups accepted (channel counts beyond it would not fit wasm memory anyway). */
const MAX_GROUPS = 2 ** 16;

/**
 * Checks conv2d's arguments and gives the convolution's shape. x is NHWC
 * [batch, height, width, inChannels]; w is HWIO [kh, kw, inChannels/groups, outChannels].
 */
export function conv2dShape(x: Tensor, w: Tensor, options: Conv2dOptions | null | undefined, op = 'conv2d'): ConvF32Shape {
  checkFloat(x, op, 'x');
  checkFloat(w, op, 'w');
  if (x.rank !== 4) throw new Error(`${op}: x must be 4-D NHWC [batch, height, width, channels], got shape [${x.shape}]${x.rank === 3 ? '; add a batch axis with expandDims(x, 0)' : ''}`);
  if (w.rank !== 4) throw new Error(`${op}: w must be 4-D HWIO [kh, kw, inChannels/groups, outChannels], got shape [${w.shape}]`);
  const o = readOptions<Conv2dOptions>(options, op);
  const groups = o.groups === undefined ? 1 : checkNumber(o.groups, op, 'groups', { integer: true, min: 1, max: MAX_GROUPS });
  const [N, inH, inW, cin] = x.shape;
  const [kh, kw, cgw, cout] = w.shape;
  if (kh === 0 || kw === 0) throw new Error(`${op}: w must have a window of at least 1x1, got shape [${w.shape}]`);
  if (cin % groups !== 0) throw new Error(`${op}: groups = ${groups} must divide the input channels (x has ${cin}, shape [${x.shape}])`);
  if (cout % groups !== 0) throw new Error(`${op}: groups = ${groups} must divide the output channels (w has ${cout} on its last axis, shape [${w.shape}])`);
  if (cgw !== cin / groups) {
    throw new Error(`${op}: w must have inChannels/groups = ${cin / groups} on axis 2 (x has ${cin} channels, groups = ${groups}), got shape [${w.shape}]; weights are HWIO [kh, kw, in/groups, out]`);
  }
  const g = windowGeometry(op, inH, inW, kh, kw, o);
  return {
    N, inH, inW, cin, cout, groups, kh, kw,
    strideH: g.strideH, strideW: g.strideW, dilationH: g.dilationH, dilationW: g.dilationW,
    padTop: g.padTop, padLeft: g.padLeft, outH: g.outH, outW: g.outW,
  };
}

/**
 * 2-D convolution (cross-correlation, as in TF and PyTorch) of float32 x
 * NHWC [N, H, W, Cin] with w HWIO [kh, kw, Cin/groups, Cout] ->
 * [N, outH, outW, Cout]. Options: stride, dilation (a number or [h, w]),
 * padding 'valid' (default), 'same' (TF) or [[top, bottom], [left, right]],
 * groups. No bias: add one with add(y, b). Gradients for x and w; the weight
 * gradient sums chunks of output pixels in a fixed order, so it is deterministic.
 */
export function conv2d(x: Tensor, w: Tensor, options: Conv2dOptions | null = {}): Tensor {
  const s = conv2dShape(x, w, options);
  const y = conv2dF32(x, w, s);
  return record(y, 'conv2d', [x, w], (dy) => [
    x.requiresGrad ? conv2dF32BackwardInput(dy, w, s) : null,
    w.requiresGrad ? conv2dF32BackwardFilter(x, dy, s) : null,
  ]);
}
