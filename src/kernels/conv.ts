import { rt } from '../runtime/context.js';
import { parallelTiles, WORKSPACE } from '../runtime/parallel.js';
import { empty, type Tensor } from '../tensor/tensor.js';
import { fill } from './elementwise.js';
import { gemmF32 } from './gemm_f32.js';
import { produce, withWorkspace } from './workspace.js';

// f32 convolution binding (kernels: assembly/conv.ts and the f32 GEMM; twin:
// reference/conv.ts, which follows the same paths, chunks and orders).
// NHWC activations, HWIO weights [kh, kw, Cin/groups, Cout]. The op
// (ops/conv.ts) has checked the tensors against the shape; this layer checks
// what the kernels rely on before touching memory.

/** A convolution's sizes and window geometry (from ops/conv-geometry.ts windowGeometry). */
export interface ConvF32Shape {
  N: number; inH: number; inW: number; cin: number; cout: number; groups: number;
  kh: number; kw: number; strideH: number; strideW: number; dilationH: number; dilationW: number;
  padTop: number; padLeft: number; outH: number; outW: number;
}

/**
 * Floats of im2col workspace per chunk (all groups): 1 MiB, so a chunk is
 * still in L2 when the GEMM packs it. The chunk size changes the order of
 * the weight-gradient sums, so it is a constant of the spec, not a tuning knob.
 */
export const CONV_F32_CHUNK_FLOATS = 1 << 18;

/** Most taps, and most outputs per input channel, of the depthwise kernels: one k-block of the f32 GEMM, within which their sums have its order and bits. */
export const CONV_F32_DW_MAX = 256;

/** The depthwise kernels run groups = Cin > 1 with at most 256 taps and 256 outputs per input channel (one GEMM k-block). */
function depthwise(s: ConvF32Shape): boolean {
  return s.groups === s.cin && s.groups > 1 && s.kh * s.kw <= CONV_F32_DW_MAX && s.cout / s.groups <= CONV_F32_DW_MAX;
}

/** The depthwise kernels' geometry arguments after the first pointer. */
function dwArgs(s: ConvF32Shape): [number, number, number, number, number, number, number, number, number, number, number, number, number, number] {
  return [s.inH, s.inW, s.cin, s.cout / s.cin, s.kh, s.kw, s.strideH, s.strideW, s.dilationH, s.dilationW, s.padTop, s.padLeft, s.outH, s.outW];
}

function checkDepthwise(s: ConvF32Shape, op: string): void {
  checkShape(s, op);
  if (!depthwise(s)) throw new Error(`${op}: needs groups = Cin > 1, at most ${CONV_F32_DW_MAX} taps and outputs per channel, got ${JSON.stringify(s)}`);
}

/** Depthwise forward on output pixels [r0, r1) of x, w, y (byte offsets); pixels are independent, so it splits over them. */
export function convF32Depthwise(s: ConvF32Shape, r0: number, r1: number, x: number, w: number, y: number): void {
  checkDepthwise(s, 'convF32Depthwise');
  checkRange(s, 0, s.cin, r0, r1, 'convF32Depthwise');
  const { kernels } = rt();
  parallelTiles({
    kernel: 'conv_f32_dw__simd',
    rows: { begin: r0, end: r1, align: 1 },
    cost: (r1 - r0) * s.cout * s.kh * s.kw,
    args: [x, ...dwArgs(s), { i0: 1 }, { i1: 1 }, w, y, WORKSPACE],
    workspace: () => kernels.conv_f32_dw_workspace_bytes(s.cin, s.cout / s.cin, s.kh, s.kw),
  });
}

/** Depthwise input gradient: adds the contributions of output pixels [r0, r1) of dy into dx (byte offsets). */
export function convF32DepthwiseBackwardInput(s: ConvF32Shape, r0: number, r1: number, dy: number, w: number, dx: number): void {
  checkDepthwise(s, 'convF32DepthwiseBackwardInput');
  checkRange(s, 0, s.cin, r0, r1, 'convF32DepthwiseBackwardInput');
  const { kernels } = rt();
  withWorkspace(kernels.conv_f32_dw_workspace_bytes(s.cin, s.cout / s.cin, s.kh, s.kw), (work) =>
    kernels.conv_f32_dw_backward_input__simd(dy, ...dwArgs(s), r0, r1, w, dx, work));
}

/** Depthwise weight gradient over all output pixels, summed in chunks of `chunk` rows (byte offsets). */
export function convF32DepthwiseBackwardFilter(s: ConvF32Shape, chunk: number, x: number, dy: number, dw: number): void {
  checkDepthwise(s, 'convF32DepthwiseBackwardFilter');
  const rows = s.N * s.outH * s.outW;
  if (!Number.isInteger(chunk) || chunk < 1) throw new Error(`convF32DepthwiseBackwardFilter: chunk must be an integer >= 1, got ${chunk}`);
  if (rows === 0) return;
  const { kernels } = rt();
  withWorkspace(kernels.conv_f32_dw_workspace_bytes(s.cin, s.cout / s.cin, s.kh, s.kw), (work) =>
    kernels.conv_f32_dw_backward_filter__simd(x, ...dwArgs(s), rows, chunk, dy, dw, work));
}

/**
 * Shapes the forward pass runs through conv_f32_direct__simd, by measurement
 * (BENCHMARKS.md "Direct f32 convolution"): groups = 1, output channels a
 * multiple of 8 (the register tile; tails lose), K = kh·kw·Cin <= 256 (one
 * GEMM k-block, where both paths sum in the same order and give the same
 * bits — so the choice is speed only, by shape alone), and either at least 3
 * input channels or one channel at unit column stride with at most 9 taps
 * (its adjacent-pixel path; 2 channels, or 1 with longer windows, lose to
 * im2col + GEMM on the per-tap overhead).
 */
export function convF32DirectPath(s: ConvF32Shape): boolean {
  return s.groups === 1 && s.cout % 8 === 0 && s.kh * s.kw * s.cin <= CONV_F32_DIRECT_MAX_K
    && (s.cin >= 3 || (s.cin === 1 && s.strideW === 1 && s.kh * s.kw <= 9));
}

/** Most K = kh·kw·Cin of the direct kernel: one f32 GEMM k-block. */
export const CONV_F32_DIRECT_MAX_K = 256;

/**
 * Direct forward (groups = 1, kh·kw·Cin <= 256) on output pixels [r0, r1)
 * of x, w, y (byte offsets): the im2col + GEMM path's bits without the
 * im2col; pixels are independent, so it splits over them.
 */
export function convF32Direct(s: ConvF32Shape, r0: number, r1: number, x: number, w: number, y: number): void {
  checkShape(s, 'convF32Direct');
  if (s.groups !== 1 || s.kh * s.kw * s.cin > CONV_F32_DIRECT_MAX_K) throw new Error(`convF32Direct: needs groups = 1 and kh·kw·Cin <= ${CONV_F32_DIRECT_MAX_K}, got ${JSON.stringify(s)}`);
  checkRange(s, 0, s.cin, r0, r1, 'convF32Direct');
  const { kernels } = rt();
  parallelTiles({
    kernel: 'conv_f32_direct__simd',
    rows: { begin: r0, end: r1, align: 1 },
    cost: (r1 - r0) * s.cout * s.kh * s.kw * s.cin,
    args: [x, s.inH, s.inW, s.cin, s.cout, s.kh, s.kw, s.strideH, s.strideW, s.dilationH, s.dilationW, s.padTop, s.padLeft, s.outH, s.outW,
           { i0: 1 }, { i1: 1 }, w, y, WORKSPACE],
    workspace: () => kernels.conv_f32_direct_workspace_bytes(s.cin, s.kh, s.kw),
  });
}

/** A 1x1 window with stride 1 and no padding reads the NHWC rows as they are: no im2col. */
function pointwise(s: ConvF32Shape): boolean {
  return s.kh === 1 && s.kw === 1 && s.strideH === 1 && s.strideW === 1 && s.padTop === 0 && s.padLeft === 0 && s.outH === s.inH && s.outW === s.inW;
}

/** Output pixels per chunk: the im2col block of all groups holds at most chunkFloats floats (at least one row). */
function chunkRows(s: ConvF32Shape, chunkFloats: number): number {
  return Math.max(1, Math.floor(chunkFloats / Math.max(s.kh * s.kw * s.cin, 1)));
}

function sizes(s: ConvF32Shape) {
  const cg = s.cin / s.groups, og = s.cout / s.groups;
  return { cg, og, K: s.kh * s.kw * cg, rows: s.N * s.outH * s.outW };
}

/** Sizes the kernels index with: integers (window reads outside the image are skipped, so any geometry is in bounds). */
function checkShape(s: ConvF32Shape, op: string): void {
  const ints = [s.N, s.inH, s.inW, s.cin, s.cout, s.kh, s.kw, s.outH, s.outW, s.padTop, s.padLeft];
  const pos = [s.groups, s.strideH, s.strideW, s.dilationH, s.dilationW, s.kh, s.kw];
  if (!ints.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 31) || !pos.every((v) => Number.isInteger(v) && v >= 1 && v < 2 ** 31)
      || s.cin % s.groups !== 0 || s.cout % s.groups !== 0) {
    throw new Error(`${op}: inconsistent convolution shape ${JSON.stringify(s)}`);
  }
  // input rows and columns the windows reach, relative to the padded origin: the kernels' i32 arithmetic must hold them
  const reachH = (s.outH - 1) * s.strideH + (s.kh - 1) * s.dilationH + 1, reachW = (s.outW - 1) * s.strideW + (s.kw - 1) * s.dilationW + 1;
  if (Math.max(reachH, reachW, s.padTop + s.inH, s.padLeft + s.inW) >= 2 ** 31) {
    throw new Error(`${op}: the windows span ${reachH}x${reachW} pixels of the padded input; more than 2^31 - 1 rows or columns cannot be indexed`);
  }
  if (s.N * s.inH * s.inW * s.cin >= 2 ** 30 || s.N * s.outH * s.outW * s.cout >= 2 ** 30 || s.kh * s.kw * s.cin * s.cout >= 2 ** 30) {
    throw new Error(`${op}: tensors of 2^30 or more elements exceed wasm memory`);
  }
}

function checkTensor(t: Tensor, shape: readonly number[], op: string, arg: string): void {
  if (t.dtype !== 'float32' || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${op}: ${arg} must be float32 [${shape}], got ${t.dtype} [${t.shape}]`);
  }
}

/**
 * im2col of output pixels [r0, r1) for channels [c0, c0 + cg) of x (byte
 * offset) into cols (byte offset), rows of kh·kw·cg floats; a copy, split
 * over the rows (each row is its own pixel's window).
 */
export function convF32Im2col(s: ConvF32Shape, c0: number, cg: number, r0: number, r1: number, x: number, cols: number): void {
  checkRange(s, c0, cg, r0, r1, 'convF32Im2col');
  const rowBytes = s.kh * s.kw * cg * 4;
  parallelTiles({
    kernel: 'conv_f32_im2col',
    rows: { begin: r0, end: r1, align: 1 },
    cost: (r1 - r0) * rowBytes,
    args: [x, s.inH, s.inW, s.cin, c0, cg, s.kh, s.kw, s.strideH, s.strideW, s.dilationH, s.dilationW,
           s.padTop, s.padLeft, s.outH, s.outW, { i0: 1 }, { i1: 1 }, { c: cols - r0 * rowBytes, i0: rowBytes }],
  });
}

/** col2im (scatter-add) of output pixels [r0, r1) for channels [c0, c0 + cg) from cols (byte offset) into dx (byte offset). */
export function convF32Col2im(s: ConvF32Shape, c0: number, cg: number, r0: number, r1: number, cols: number, dx: number): void {
  checkRange(s, c0, cg, r0, r1, 'convF32Col2im');
  rt().kernels.conv_f32_col2im(cols, s.inH, s.inW, s.cin, c0, cg, s.kh, s.kw, s.strideH, s.strideW, s.dilationH, s.dilationW,
                                s.padTop, s.padLeft, s.outH, s.outW, r0, r1, dx);
}

function checkRange(s: ConvF32Shape, c0: number, cg: number, r0: number, r1: number, op: string): void {
  checkShape(s, op);
  const rows = s.N * s.outH * s.outW;
  if (![c0, cg, r0, r1].every((v) => Number.isInteger(v) && v >= 0) || c0 + cg > s.cin || r0 > r1 || r1 > rows) {
    throw new Error(`${op}: channels [${c0}, ${c0 + cg}) must lie in [0, ${s.cin}) and rows [${r0}, ${r1}) in [0, ${rows})`);
  }
}

/** y [N, outH, outW, Cout] = conv2d(x [N, H, W, Cin], w [kh, kw, Cin/groups, Cout]). */
export function conv2dF32(x: Tensor, w: Tensor, s: ConvF32Shape, chunkFloats = CONV_F32_CHUNK_FLOATS): Tensor {
  const op = 'conv2d';
  checkShape(s, op);
  const { cg, og, K, rows } = sizes(s);
  checkTensor(x, [s.N, s.inH, s.inW, s.cin], op, 'x');
  checkTensor(w, [s.kh, s.kw, cg, s.cout], op, 'w');
  const { groups: G, cout } = s;
  return produce(empty([s.N, s.outH, s.outW, cout]), (y) => {
    if (rows === 0 || og === 0) return;
    if (K === 0) return fill(y, 0);
    if (pointwise(s)) {
      gemmF32({ M: rows, N: og, K: cg, a: x.offset, lda: s.cin, b: w.offset, ldb: cout, c: y.offset, ldc: cout, batch: G, strideA: cg, strideB: og, strideC: og });
      return;
    }
    if (depthwise(s)) return convF32Depthwise(s, 0, rows, x.offset, w.offset, y.offset);
    if (convF32DirectPath(s)) return convF32Direct(s, 0, rows, x.offset, w.offset, y.offset);
    const chunk = Math.min(chunkRows(s, chunkFloats), rows);
    withWorkspace(G * chunk * K * 4, (cols) => {
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const r1 = Math.min(rows, r0 + chunk);
        for (let g = 0; g < G; g++) convF32Im2col(s, g * cg, cg, r0, r1, x.offset, cols + g * chunk * K * 4);
        gemmF32({ M: r1 - r0, N: og, K, a: cols, lda: K, b: w.offset, ldb: cout, c: y.offset + r0 * cout * 4, ldc: cout,
                  batch: G, strideA: chunk * K, strideB: og, strideC: og });
      }
    });
  });
}

/** dx [N, H, W, Cin] of conv2d given dy [N, outH, outW, Cout] and w. */
export function conv2dF32BackwardInput(dy: Tensor, w: Tensor, s: ConvF32Shape, chunkFloats = CONV_F32_CHUNK_FLOATS): Tensor {
  const op = 'conv2d (input gradient)';
  checkShape(s, op);
  const { cg, og, K, rows } = sizes(s);
  checkTensor(dy, [s.N, s.outH, s.outW, s.cout], op, 'dy');
  checkTensor(w, [s.kh, s.kw, cg, s.cout], op, 'w');
  const { groups: G, cout } = s;
  return produce(empty([s.N, s.inH, s.inW, s.cin]), (dx) => {
    if (dx.size === 0) return;
    if (rows === 0 || og === 0) return fill(dx, 0);
    if (pointwise(s)) {
      gemmF32({ M: rows, N: cg, K: og, transB: true, a: dy.offset, lda: cout, b: w.offset, ldb: cout, c: dx.offset, ldc: s.cin,
                batch: G, strideA: og, strideB: og, strideC: cg });
      return;
    }
    fill(dx, 0);
    if (depthwise(s)) return convF32DepthwiseBackwardInput(s, 0, rows, dy.offset, w.offset, dx.offset);
    const chunk = Math.min(chunkRows(s, chunkFloats), rows);
    withWorkspace(G * chunk * K * 4, (cols) => {
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const r1 = Math.min(rows, r0 + chunk);
        gemmF32({ M: r1 - r0, N: K, K: og, transB: true, a: dy.offset + r0 * cout * 4, lda: cout, b: w.offset, ldb: cout, c: cols, ldc: K,
                  batch: G, strideA: og, strideB: og, strideC: chunk * K });
        for (let g = 0; g < G; g++) convF32Col2im(s, g * cg, cg, r0, r1, cols + g * chunk * K * 4, dx.offset);
      }
    });
  });
}

/** dW [kh, kw, Cin/groups, Cout] of conv2d given x and dy: im2colᵀ · dy, chunks accumulated in order. */
export function conv2dF32BackwardFilter(x: Tensor, dy: Tensor, s: ConvF32Shape, chunkFloats = CONV_F32_CHUNK_FLOATS): Tensor {
  const op = 'conv2d (weight gradient)';
  checkShape(s, op);
  const { cg, og, K, rows } = sizes(s);
  checkTensor(x, [s.N, s.inH, s.inW, s.cin], op, 'x');
  checkTensor(dy, [s.N, s.outH, s.outW, s.cout], op, 'dy');
  const { groups: G, cout } = s;
  return produce(empty([s.kh, s.kw, cg, cout]), (dw) => {
    if (dw.size === 0) return;
    if (rows === 0) return fill(dw, 0);
    if (pointwise(s)) {
      gemmF32({ M: cg, N: og, K: rows, transA: true, a: x.offset, lda: s.cin, b: dy.offset, ldb: cout, c: dw.offset, ldc: cout,
                batch: G, strideA: cg, strideB: og, strideC: og });
      return;
    }
    if (depthwise(s)) return convF32DepthwiseBackwardFilter(s, Math.min(chunkRows(s, chunkFloats), rows), x.offset, dy.offset, dw.offset);
    const chunk = Math.min(chunkRows(s, chunkFloats), rows);
    withWorkspace(G * chunk * K * 4, (cols) => {
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const r1 = Math.min(rows, r0 + chunk);
        for (let g = 0; g < G; g++) convF32Im2col(s, g * cg, cg, r0, r1, x.offset, cols + g * chunk * K * 4);
        gemmF32({ M: K, N: og, K: r1 - r0, transA: true, a: cols, lda: K, b: dy.offset + r0 * cout * 4, ldb: cout, c: dw.offset, ldc: cout,
                  batch: G, strideA: chunk * K, strideB: og, strideC: og, accumulate: r0 > 0 });
      }
    });
  });
}
