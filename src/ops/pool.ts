import { record, willRecord } from '../autograd/tape.js';
import { f32AvgPool2d, f32AvgPool2dBackward, f32MaxPool2d, f32MaxPool2dBackward, type PoolWindow } from '../kernels/pool.js';
import { checkFloat } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import { type Tensor, viewOf } from '../tensor/tensor.js';
import { type Geometry2d, type Padding2d, pair, windowGeometry } from './conv-geometry.js';

// 2-D pooling over NHWC images x [N, H, W, C], windows sliding over H and W
// (geometry: conv-geometry.ts, stride defaulting to the window size).
// Semantics, chosen and stated once:
// - maxPool2d: padded cells never win (TF pads with -inf; here they are simply
//   not visited). NaN never wins over a number (as sg.max). The gradient goes to
//   the FIRST maximal cell of each window in row-major window order; windows
//   that overlap (stride < size) accumulate into shared cells.
// - avgPool2d: the mean over the window's valid (non-padded) cells only, as
//   TF/Keras. PyTorch's default (count_include_pad=True) divides by the full
//   window size instead and so differs at the borders with padding.
// - globalAvgPool2d: the mean over H and W, [N, H, W, C] -> [N, C].
// maxPool2d's forward saves the argmax cell of every output (int32, the output's
// size) rather than recomputing it in backward: backward is then one scatter of
// O(outputs), and does not depend on x still holding the values it had (an
// optimizer step may have changed a parameter feeding the pool in place).

export interface Pool2dOptions {
  /** Window size, one integer or [h, w] (required). */
  size: number | [number, number];
  /** Step between windows (default: the window size). */
  stride?: number | [number, number];
  /** 'valid' (default: no padding), 'same' (TF: out = ceil(in / stride)) or [[top, bottom], [left, right]]. */
  padding?: Padding2d;
}

/** Validates x and the options; gives the window geometry. */
function geometry(op: string, x: Tensor, options: unknown): Geometry2d {
  checkFloat(x, op, 'x');
  if (x.rank !== 4) throw new Error(`${op}: x must be an NHWC image batch [N, H, W, C] (rank 4), got shape [${x.shape}]`);
  const [, H, W] = x.shape;
  const o = readOptions<Pool2dOptions & { dilation?: unknown }>(options, op);
  if (o.size === undefined) throw new Error(`${op}: options.size is required (the window: an integer or [h, w]), e.g. ${op}(x, { size: 2 })`);
  if (o.dilation !== undefined) throw new Error(`${op}: pooling takes no dilation option (only size, stride and padding)`);
  const [kh, kw] = pair(o.size, op, 'size', 1);
  if (H < 1 || W < 1) throw new Error(`${op}: x must have at least one row and one column (H, W >= 1), got shape [${x.shape}]`);
  const g = windowGeometry(op, H, W, kh, kw, { stride: o.stride, padding: o.padding }, { stride: [kh, kw] });
  if (g.padTop >= kh || g.padBottom >= kh || g.padLeft >= kw || g.padRight >= kw) {
    throw new Error(
      `${op}: padding [[${g.padTop}, ${g.padBottom}], [${g.padLeft}, ${g.padRight}]] must be smaller than the ${kh}x${kw} window on each side ` +
        '(a window would cover padding only); use smaller padding or padding: \'same\'',
    );
  }
  return g;
}

/**
 * Max over each size[0] x size[1] window of x [N, H, W, C] -> [N, outH, outW, C].
 * Padded cells never win; the gradient goes to the first maximal cell of each
 * window (row-major order); overlapping windows accumulate.
 */
export function maxPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  return maxPool2dOp('maxPool2d', x, options);
}

/** maxPool2d with errors named after `op` (the layers call it under their own name). */
export function maxPool2dOp(op: string, x: Tensor, options: Pool2dOptions): Tensor {
  const g = geometry(op, x, options);
  const grad = willRecord([x]);
  const { y, indices } = f32MaxPool2d(x, g, grad);
  if (indices === null) return y;
  return record(y, 'maxPool2d', [x], (dy) => [f32MaxPool2dBackward(dy, indices, x.shape)], { saved: [indices] });
}

/**
 * Mean over each window of x [N, H, W, C] -> [N, outH, outW, C], counting
 * only the valid (non-padded) cells (TF/Keras; PyTorch's default
 * count_include_pad=True differs where windows overlap padding).
 */
export function avgPool2d(x: Tensor, options: Pool2dOptions): Tensor {
  return avgPool2dOp('avgPool2d', x, options);
}

/** avgPool2d with errors named after `op`. */
export function avgPool2dOp(op: string, x: Tensor, options: Pool2dOptions): Tensor {
  const g = geometry(op, x, options);
  return record(f32AvgPool2d(x, g), 'avgPool2d', [x], (dy) => [f32AvgPool2dBackward(dy, g, x.shape)]);
}

/** Mean over H and W of x [N, H, W, C] -> [N, C]. */
export function globalAvgPool2d(x: Tensor): Tensor {
  return globalAvgPool2dOp('globalAvgPool2d', x);
}

/** globalAvgPool2d with errors named after `op`. */
export function globalAvgPool2dOp(op: string, x: Tensor): Tensor {
  checkFloat(x, op, 'x');
  if (x.rank !== 4) throw new Error(`${op}: x must be an NHWC image batch [N, H, W, C] (rank 4), got shape [${x.shape}]`);
  const [N, H, W, C] = x.shape;
  if (H < 1 || W < 1) throw new Error(`${op}: x must have at least one row and one column (H, W >= 1) to average, got shape [${x.shape}]`);
  // One window covering the whole image.
  const g: PoolWindow = { kh: H, kw: W, strideH: 1, strideW: 1, padTop: 0, padLeft: 0, outH: 1, outW: 1 };
  const pooled = f32AvgPool2d(x, g);
  const y = viewOf(pooled, [N, C]);
  pooled.dispose();
  return record(y, 'globalAvgPool2d', [x], (dy) => {
    const d4 = viewOf(dy, [N, 1, 1, C]);
    try {
      return [f32AvgPool2dBackward(d4, g, x.shape)];
    } finally {
      d4.dispose();
    }
  });
}
