/**
 * Scalar twin of assembly/pool.ts: 2-D pooling over NHWC x [N, H, W, C], one
 * element at a time, with the kernels' float32 operation order (cells of a
 * window in row-major order, accumulations over output positions in order),
 * so results match bit for bit.
 */
import type { PoolWindow } from '../kernels/pool.js';

const f = Math.fround;

interface Image {
  N: number;
  H: number;
  W: number;
  C: number;
}

/** Valid cells of output (oy, ox): rows [h0, h1) x columns [w0, w1). */
function cells(g: PoolWindow, d: Image, oy: number, ox: number): [number, number, number, number] {
  const h0 = Math.max(oy * g.strideH - g.padTop, 0);
  const h1 = Math.min(oy * g.strideH - g.padTop + g.kh, d.H);
  const w0 = Math.max(ox * g.strideW - g.padLeft, 0);
  const w1 = Math.min(ox * g.strideW - g.padLeft + g.kw, d.W);
  return [h0, h1, w0, w1];
}

/** Visits the windows in output order (n, oy, ox): image n, the output's first element o, and its valid cells. */
function forEachWindow(g: PoolWindow, d: Image, visit: (n: number, o: number, h0: number, h1: number, w0: number, w1: number) => void): void {
  for (let n = 0; n < d.N; n++) {
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        const [h0, h1, w0, w1] = cells(g, d, oy, ox);
        visit(n, ((n * g.outH + oy) * g.outW + ox) * d.C, h0, h1, w0, w1);
      }
    }
  }
}

/** Max over each window (NaN never wins) and the cell h·W + w of its first maximum. */
export function f32MaxPool2dRef(x: Float32Array, d: Image, g: PoolWindow): { y: Float32Array; indices: Int32Array } {
  const { N, H, W, C } = d;
  const y = new Float32Array(N * g.outH * g.outW * C);
  const indices = new Int32Array(y.length);
  forEachWindow(g, d, (n, o, h0, h1, w0, w1) => {
    for (let c = 0; c < C; c++) {
      let best = NaN;
      let bestI = -1;
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) {
          const v = x[((n * H + h) * W + w) * C + c];
          if (bestI < 0 || v > best || (Number.isNaN(best) && !Number.isNaN(v))) {
            best = v;
            bestI = h * W + w;
          }
        }
      }
      y[o + c] = best;
      indices[o + c] = bestI;
    }
  });
  return { y, indices };
}

/** dx[n, indices, c] += dy[n, p, c] over output positions p in order. */
export function f32MaxPool2dBackwardRef(dy: Float32Array, indices: Int32Array, d: Image, outHW: number): Float32Array {
  const { N, H, W, C } = d;
  const dx = new Float32Array(N * H * W * C);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < outHW; p++) {
      for (let c = 0; c < C; c++) {
        const o = (n * outHW + p) * C + c;
        const at = (n * H * W + indices[o]) * C + c;
        dx[at] = f(dx[at] + dy[o]);
      }
    }
  }
  return dx;
}

/** Sum of each window's valid cells in row-major order, divided by their count. */
export function f32AvgPool2dRef(x: Float32Array, d: Image, g: PoolWindow): Float32Array {
  const { N, H, W, C } = d;
  const y = new Float32Array(N * g.outH * g.outW * C);
  forEachWindow(g, d, (n, o, h0, h1, w0, w1) => {
    const count = (h1 - h0) * (w1 - w0);
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) s = f(s + x[((n * H + h) * W + w) * C + c]);
      }
      y[o + c] = f(s / count);
    }
  });
  return y;
}

/** dy / count added to each valid cell of its window, output positions in order. */
export function f32AvgPool2dBackwardRef(dy: Float32Array, d: Image, g: PoolWindow): Float32Array {
  const { N, H, W, C } = d;
  const dx = new Float32Array(N * H * W * C);
  forEachWindow(g, d, (n, o, h0, h1, w0, w1) => {
    const count = (h1 - h0) * (w1 - w0);
    for (let c = 0; c < C; c++) {
      const grad = f(dy[o + c] / count);
      for (let h = h0; h < h1; h++) {
        for (let w = w0; w < w1; w++) {
          const at = ((n * H + h) * W + w) * C + c;
          dx[at] = f(dx[at] + grad);
        }
      }
    }
  });
  return dx;
}
