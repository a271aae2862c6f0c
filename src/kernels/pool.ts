import { parallelTiles, TILE_LENGTH as IMAGES, type TileArg, type TileJob, type TileTerm } from '../runtime/parallel.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { expectF32, expectShape } from './internal/checks.js';

// 2-D pooling over NHWC x [N, H, W, C] (kernels: assembly/pool.ts, twin:
// reference/pool.ts). The window geometry comes from ops/conv-geometry.ts;
// these bindings only re-check what the kernels rely on to stay in bounds.
// Every kernel treats the images of a batch independently (a window, and a
// gradient's scatter, stays inside its image), so calls split over images:
// a tile is the same kernel on images [n0, n1), with the same bits.

/** A pool kernel over images [0, N); its N argument is IMAGES, the tile's image count. */
function overImages(kernel: TileJob['kernel'], N: number, cost: number, args: readonly TileArg[]): void {
  parallelTiles({ kernel, rows: { begin: 0, end: N, align: 1 }, cost, args });
}

/** The tile's first image of a tensor of `bytesPerImage` bytes per image at `offset`. */
const image = (offset: number, bytesPerImage: number): TileTerm => ({ c: offset, i0: bytesPerImage });

/** The fields of a Geometry2d (ops/conv-geometry.ts) the pool kernels read. */
export interface PoolWindow {
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  padTop: number;
  padLeft: number;
  outH: number;
  outW: number;
}

/** Every window must hold a valid cell: the kernels read only clipped rows and columns and divide by their count. */
function checkWindow(H: number, W: number, g: PoolWindow, binding: string): void {
  const axis = (size: number, k: number, stride: number, pad: number, out: number) =>
    Number.isInteger(out) && out >= 1 && stride >= 1 && pad >= 0 && pad < k && (out - 1) * stride - pad < size;
  if (!axis(H, g.kh, g.strideH, g.padTop, g.outH) || !axis(W, g.kw, g.strideW, g.padLeft, g.outW)) {
    throw new Error(`internal: ${binding}: window ${JSON.stringify(g)} leaves a window without a valid cell of a ${H}x${W} image`);
  }
}

function dims(x: Tensor, binding: string): [number, number, number, number] {
  expectF32(x, binding, 'x');
  if (x.rank !== 4) throw new Error(`internal: ${binding}: x must be [N, H, W, C], got [${x.shape}]`);
  return x.shape as unknown as [number, number, number, number];
}

/** Max over each window (NaN never wins) and, with `indices`, the cell h·W + w of its first maximum (int32, the output's shape). */
export function f32MaxPool2d(x: Tensor, g: PoolWindow, indices: boolean): { y: Tensor; indices: Tensor | null } {
  const [N, H, W, C] = dims(x, 'f32MaxPool2d');
  checkWindow(H, W, g, 'f32MaxPool2d');
  const y = empty([N, g.outH, g.outW, C], 'float32');
  const idx = indices ? empty([N, g.outH, g.outW, C], 'int32') : null;
  const outImage = g.outH * g.outW * C * 4;
  overImages('f32_maxpool2d', N, N * g.outH * g.outW * C * g.kh * g.kw, [image(x.offset, H * W * C * 4), image(y.offset, outImage), idx ? image(idx.offset, outImage) : 0,
    IMAGES, H, W, C, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, g.outH, g.outW]);
  return { y, indices: idx };
}

/** The gradient of f32MaxPool2d: dy routed to the recorded cells of a zero tensor of `shape` ([N, H, W, C]). */
export function f32MaxPool2dBackward(dy: Tensor, indices: Tensor, shape: readonly number[]): Tensor {
  expectF32(dy, 'f32MaxPool2dBackward', 'dy');
  if (shape.length !== 4 || dy.rank !== 4) throw new Error(`internal: f32MaxPool2dBackward: dy [${dy.shape}] for [${shape}]`);
  const [N, H, W, C] = shape;
  if (indices.dtype !== 'int32') throw new Error('internal: f32MaxPool2dBackward: indices must be int32');
  expectShape(indices, dy.shape, 'f32MaxPool2dBackward', 'indices');
  if (dy.shape[0] !== N || dy.shape[3] !== C) throw new Error(`internal: f32MaxPool2dBackward: dy [${dy.shape}] for [${shape}]`);
  const dx = empty(shape, 'float32');
  const outHW = dy.shape[1] * dy.shape[2];
  overImages('f32_maxpool2d_backward', N, N * (H * W + 2 * outHW) * C,
    [image(dy.offset, outHW * C * 4), image(indices.offset, outHW * C * 4), image(dx.offset, H * W * C * 4), IMAGES, H * W, outHW, C]);
  return dx;
}

/** Mean over each window's valid (non-padded) cells. */
export function f32AvgPool2d(x: Tensor, g: PoolWindow): Tensor {
  const [N, H, W, C] = dims(x, 'f32AvgPool2d');
  checkWindow(H, W, g, 'f32AvgPool2d');
  const y = empty([N, g.outH, g.outW, C], 'float32');
  overImages('f32_avgpool2d', N, N * g.outH * g.outW * C * g.kh * g.kw, [image(x.offset, H * W * C * 4), image(y.offset, g.outH * g.outW * C * 4),
    IMAGES, H, W, C, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, g.outH, g.outW]);
  return y;
}

/** The gradient of f32AvgPool2d: dy / count added to each valid cell of its window, for x of `shape`. */
export function f32AvgPool2dBackward(dy: Tensor, g: PoolWindow, shape: readonly number[]): Tensor {
  expectF32(dy, 'f32AvgPool2dBackward', 'dy');
  if (shape.length !== 4) throw new Error(`internal: f32AvgPool2dBackward: shape [${shape}]`);
  const [N, H, W, C] = shape;
  checkWindow(H, W, g, 'f32AvgPool2dBackward');
  expectShape(dy, [N, g.outH, g.outW, C], 'f32AvgPool2dBackward', 'dy');
  const dx = empty(shape, 'float32');
  overImages('f32_avgpool2d_backward', N, N * (H * W + g.outH * g.outW * g.kh * g.kw) * C, [image(dy.offset, g.outH * g.outW * C * 4), image(dx.offset, H * W * C * 4),
    IMAGES, H, W, C, g.kh, g.kw, g.strideH, g.strideW, g.padTop, g.padLeft, g.outH, g.outW]);
  return dx;
}
