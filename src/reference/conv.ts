import { GEMM_F32_KC, gemmF32Ref } from './gemm_f32.js';

/**
 * Scalar twin of assembly/conv.ts (conv_f32_im2col, conv_f32_col2im) and of
 * the whole f32 convolution the binding src/kernels/conv.ts composes from them
 * and the f32 GEMM: the same paths, chunks and summation order, so the kernel
 * path must match it bit for bit. Activations NHWC, weights HWIO
 * [kh, kw, Cin/groups, Cout]; offsets count elements of the arrays.
 */
export interface ConvF32Shape {
  N: number; inH: number; inW: number; cin: number; cout: number; groups: number;
  kh: number; kw: number; strideH: number; strideW: number; dilationH: number; dilationW: number;
  padTop: number; padLeft: number; outH: number; outW: number;
}

/** A 1x1 window with stride 1 and no padding reads the NHWC rows as they are: no im2col. */
export function convF32Pointwise(s: ConvF32Shape): boolean {
  return s.kh === 1 && s.kw === 1 && s.strideH === 1 && s.strideW === 1 && s.padTop === 0 && s.padLeft === 0 && s.outH === s.inH && s.outW === s.inW;
}

/** Output pixels per chunk: the im2col block of all groups holds at most chunkFloats floats (at least one row). */
export function convF32ChunkRows(s: ConvF32Shape, chunkFloats: number): number {
  const k = s.kh * s.kw * s.cin; // groups · (kh·kw·cg)
  return Math.max(1, Math.floor(chunkFloats / Math.max(k, 1)));
}

/** Calls visit(pos, ih, iw, inside) for each window position of output pixel r, in (i, j) order. */
function windowOf(s: ConvF32Shape, r: number, visit: (pos: number, n: number, ih: number, iw: number) => void): void {
  const hw = s.outH * s.outW;
  const n = Math.floor(r / hw);
  const oh = Math.floor((r - n * hw) / s.outW);
  const ow = r - n * hw - oh * s.outW;
  for (let i = 0; i < s.kh; i++) {
    for (let j = 0; j < s.kw; j++) {
      visit(i * s.kw + j, n, oh * s.strideH - s.padTop + i * s.dilationH, ow * s.strideW - s.padLeft + j * s.dilationW);
    }
  }
}

/** Twin of conv_f32_im2col: rows [r0, r1) of the im2col matrix of channel slice [c0, c0 + cg), at cols[co]. */
export function convF32Im2colRef(s: ConvF32Shape, c0: number, cg: number, r0: number, r1: number, x: Float32Array, xo: number, cols: Float32Array, co: number): void {
  const K = s.kh * s.kw * cg;
  for (let r = r0; r < r1; r++) {
    const row = co + (r - r0) * K;
    windowOf(s, r, (pos, n, ih, iw) => {
      const inside = ih >= 0 && ih < s.inH && iw >= 0 && iw < s.inW;
      for (let c = 0; c < cg; c++) {
        cols[row + pos * cg + c] = inside ? x[xo + ((n * s.inH + ih) * s.inW + iw) * s.cin + c0 + c] : 0;
      }
    });
  }
}

/** Twin of conv_f32_col2im: dx += the window values of rows [r0, r1), ascending r, then i, then j. */
export function convF32Col2imRef(s: ConvF32Shape, c0: number, cg: number, r0: number, r1: number, cols: Float32Array, co: number, dx: Float32Array, dxo: number): void {
  const K = s.kh * s.kw * cg;
  for (let r = r0; r < r1; r++) {
    const row = co + (r - r0) * K;
    windowOf(s, r, (pos, n, ih, iw) => {
      if (ih < 0 || ih >= s.inH || iw < 0 || iw >= s.inW) return;
      const at = dxo + ((n * s.inH + ih) * s.inW + iw) * s.cin + c0;
      for (let c = 0; c < cg; c++) dx[at + c] = Math.fround(dx[at + c] + cols[row + pos * cg + c]);
    });
  }
}

/**
 * Twins of the depthwise kernels conv_f32_dw__simd,
 * conv_f32_dw_backward_input__simd and conv_f32_dw_backward_filter__simd
 * (groups = Cin, m = Cout / Cin, output channel o reads input channel
 * floor(o / m)): written from the definition, in the GEMM path's order.
 */
export function convF32DepthwiseRef(s: ConvF32Shape, r0: number, r1: number, x: Float32Array, w: Float32Array, y: Float32Array): void {
  const f = Math.fround, m = s.cout / s.cin;
  for (let r = r0; r < r1; r++) {
    for (let o = 0; o < s.cout; o++) {
      let acc = 0;
      windowOf(s, r, (pos, n, ih, iw) => {
        const inside = ih >= 0 && ih < s.inH && iw >= 0 && iw < s.inW;
        const xv = inside ? x[((n * s.inH + ih) * s.inW + iw) * s.cin + Math.floor(o / m)] : 0;
        acc = f(acc + f(xv * w[pos * s.cout + o]));
      });
      y[r * s.cout + o] = acc;
    }
  }
}

export function convF32DepthwiseBackwardInputRef(s: ConvF32Shape, r0: number, r1: number, dy: Float32Array, w: Float32Array, dx: Float32Array): void {
  const f = Math.fround, m = s.cout / s.cin;
  for (let r = r0; r < r1; r++) {
    windowOf(s, r, (pos, n, ih, iw) => {
      if (ih < 0 || ih >= s.inH || iw < 0 || iw >= s.inW) return;
      for (let c = 0; c < s.cin; c++) {
        let sum = 0;
        for (let q = 0; q < m; q++) sum = f(sum + f(dy[r * s.cout + c * m + q] * w[pos * s.cout + c * m + q]));
        const at = ((n * s.inH + ih) * s.inW + iw) * s.cin + c;
        dx[at] = f(dx[at] + sum);
      }
    });
  }
}

export function convF32DepthwiseBackwardFilterRef(s: ConvF32Shape, chunk: number, x: Float32Array, dy: Float32Array, dw: Float32Array): void {
  const f = Math.fround, m = s.cout / s.cin, rows = s.N * s.outH * s.outW;
  const taps = s.kh * s.kw;
  let first = true;
  for (let c0 = 0; c0 < rows; c0 += chunk) {
    for (let b0 = c0; b0 < Math.min(rows, c0 + chunk); b0 += GEMM_F32_KC) {
      const b1 = Math.min(rows, c0 + chunk, b0 + GEMM_F32_KC);
      const sums = new Float32Array(taps * s.cout);
      for (let r = b0; r < b1; r++) {
        windowOf(s, r, (pos, n, ih, iw) => {
          const inside = ih >= 0 && ih < s.inH && iw >= 0 && iw < s.inW;
          for (let o = 0; o < s.cout; o++) {
            const xv = inside ? x[((n * s.inH + ih) * s.inW + iw) * s.cin + Math.floor(o / m)] : 0;
            sums[pos * s.cout + o] = f(sums[pos * s.cout + o] + f(xv * dy[r * s.cout + o]));
          }
        });
      }
      for (let i = 0; i < sums.length; i++) dw[i] = first ? sums[i] : f(dw[i] + sums[i]);
      first = false;
    }
  }
}

/** Whether conv2d's forward takes the direct kernel for this shape (the rule of src/kernels/conv.ts convF32DirectPath). */
export function convF32DirectPath(s: ConvF32Shape): boolean {
  return s.groups === 1 && s.cout % 8 === 0 && s.kh * s.kw * s.cin <= 256 && (s.cin >= 3 || (s.cin === 1 && s.strideW === 1 && s.kh * s.kw <= 9));
}

/**
 * Twin of conv_f32_direct__simd (groups = 1): y[r, o] summed from +0 over
 * taps (i, j) then channels c, product then add, padding read as 0 — written
 * from the definition in the GEMM's k order, k = (i·kw + j)·Cin + c.
 */
export function convF32DirectRef(s: ConvF32Shape, r0: number, r1: number, x: Float32Array, w: Float32Array, y: Float32Array): void {
  const f = Math.fround;
  for (let r = r0; r < r1; r++) {
    for (let o = 0; o < s.cout; o++) {
      let acc = 0;
      windowOf(s, r, (pos, n, ih, iw) => {
        const inside = ih >= 0 && ih < s.inH && iw >= 0 && iw < s.inW;
        for (let c = 0; c < s.cin; c++) {
          const xv = inside ? x[((n * s.inH + ih) * s.inW + iw) * s.cin + c] : 0;
          acc = f(acc + f(xv * w[(pos * s.cin + c) * s.cout + o]));
        }
      });
      y[r * s.cout + o] = acc;
    }
  }
}

interface GemmRefCall {
  M: number; N: number; K: number; transA?: boolean; transB?: boolean;
  a: number; lda: number; b: number; ldb: number; c: number; ldc: number;
  batch: number; strideA: number; strideB: number; strideC: number; accumulate?: boolean;
}

function gemm(p: GemmRefCall, A: Float32Array, B: Float32Array, C: Float32Array): void {
  gemmF32Ref({ transA: false, transB: false, accumulate: false, ...p, m0: 0, m1: p.M, n0: 0, n1: p.N }, A, B, C);
}

function sizes(s: ConvF32Shape) {
  const cg = s.cin / s.groups, og = s.cout / s.groups;
  return { cg, og, K: s.kh * s.kw * cg, rows: s.N * s.outH * s.outW };
}

/** y [N, outH, outW, Cout] = conv2d(x, w): per group, im2col rows times the group's weight columns. */
export function conv2dF32Ref(s: ConvF32Shape, x: Float32Array, w: Float32Array, chunkFloats: number): Float32Array {
  const { cg, og, K, rows } = sizes(s);
  const y = new Float32Array(rows * s.cout);
  if (rows === 0 || og === 0 || K === 0) return y;
  const { groups: G, cout } = s;
  if (convF32Pointwise(s)) {
    gemm({ M: rows, N: og, K: cg, a: 0, lda: s.cin, b: 0, ldb: cout, c: 0, ldc: cout, batch: G, strideA: cg, strideB: og, strideC: og }, x, w, y);
    return y;
  }
  if (convF32DirectPath(s)) {
    convF32DirectRef(s, 0, rows, x, w, y);
    return y;
  }
  const chunk = convF32ChunkRows(s, chunkFloats);
  const cols = new Float32Array(G * chunk * K);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk);
    for (let g = 0; g < G; g++) convF32Im2colRef(s, g * cg, cg, r0, r1, x, 0, cols, g * chunk * K);
    gemm({ M: r1 - r0, N: og, K, a: 0, lda: K, b: 0, ldb: cout, c: r0 * cout, ldc: cout, batch: G, strideA: chunk * K, strideB: og, strideC: og }, cols, w, y);
  }
  return y;
}

/** dx [N, H, W, Cin]: per group dy times the group's weightsᵀ, scattered back by col2im. */
export function conv2dF32BackwardInputRef(s: ConvF32Shape, dy: Float32Array, w: Float32Array, chunkFloats: number): Float32Array {
  const { cg, og, K, rows } = sizes(s);
  const dx = new Float32Array(s.N * s.inH * s.inW * s.cin);
  if (rows === 0 || cg === 0 || og === 0) return dx;
  const { groups: G, cout } = s;
  if (convF32Pointwise(s)) {
    gemm({ M: rows, N: cg, K: og, transB: true, a: 0, lda: cout, b: 0, ldb: cout, c: 0, ldc: s.cin, batch: G, strideA: og, strideB: og, strideC: cg }, dy, w, dx);
    return dx;
  }
  const chunk = convF32ChunkRows(s, chunkFloats);
  const cols = new Float32Array(G * chunk * K);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk);
    gemm({ M: r1 - r0, N: K, K: og, transB: true, a: r0 * cout, lda: cout, b: 0, ldb: cout, c: 0, ldc: K, batch: G, strideA: og, strideB: og, strideC: chunk * K }, dy, w, cols);
    for (let g = 0; g < G; g++) convF32Col2imRef(s, g * cg, cg, r0, r1, cols, g * chunk * K, dx, 0);
  }
  return dx;
}

/** dW [kh, kw, Cin/groups, Cout] = Σ over chunks (in order) of im2colᵀ · dy, per group. */
export function conv2dF32BackwardFilterRef(s: ConvF32Shape, x: Float32Array, dy: Float32Array, chunkFloats: number): Float32Array {
  const { cg, og, K, rows } = sizes(s);
  const dw = new Float32Array(K * s.cout);
  if (rows === 0 || og === 0 || K === 0) return dw;
  const { groups: G, cout } = s;
  if (convF32Pointwise(s)) {
    gemm({ M: cg, N: og, K: rows, transA: true, a: 0, lda: s.cin, b: 0, ldb: cout, c: 0, ldc: cout, batch: G, strideA: cg, strideB: og, strideC: og }, x, dy, dw);
    return dw;
  }
  const chunk = convF32ChunkRows(s, chunkFloats);
  const cols = new Float32Array(G * chunk * K);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r1 = Math.min(rows, r0 + chunk);
    for (let g = 0; g < G; g++) convF32Im2colRef(s, g * cg, cg, r0, r1, x, 0, cols, g * chunk * K);
    gemm({ M: K, N: og, K: r1 - r0, transA: true, a: 0, lda: K, b: r0 * cout, ldb: cout, c: 0, ldc: cout, batch: G, strideA: chunk * K, strideB: og, strideC: og, accumulate: r0 > 0 }, cols, dy, dw);
  }
  return dw;
}
