// A direct (no im2col, no GEMM) float64 convolution and its gradients over NHWC
// inputs and HWIO weights: the oracle of the conv layer tests. Padded taps read
// padValue (0: zero padding; 1: one-padding of ±1 inputs) and contribute no input gradient.

export interface RefGeometry {
  N: number; H: number; W: number; C: number;
  kh: number; kw: number; O: number; groups: number;
  strideH: number; strideW: number; dilationH: number; dilationW: number;
  padTop: number; padLeft: number; outH: number; outW: number;
}

/** TF 'same' / 'valid' / explicit padding, as conv-geometry.ts defines it (restated here independently). */
export function refGeometry(
  [N, H, W, C]: number[], [kh, kw, cg, O]: number[],
  o: { stride?: number | [number, number]; dilation?: number | [number, number]; padding?: 'same' | 'valid' | [[number, number], [number, number]] },
): RefGeometry {
  const [sh, sw] = typeof o.stride === 'number' ? [o.stride, o.stride] : o.stride ?? [1, 1];
  const [dh, dw] = typeof o.dilation === 'number' ? [o.dilation, o.dilation] : o.dilation ?? [1, 1];
  const spanH = (kh - 1) * dh + 1, spanW = (kw - 1) * dw + 1;
  let pt = 0, pb = 0, pl = 0, pr = 0;
  if (o.padding === 'same') {
    const th = Math.max(0, (Math.ceil(H / sh) - 1) * sh + spanH - H), tw = Math.max(0, (Math.ceil(W / sw) - 1) * sw + spanW - W);
    pt = Math.floor(th / 2); pb = th - pt; pl = Math.floor(tw / 2); pr = tw - pl;
  } else if (Array.isArray(o.padding)) {
    [[pt, pb], [pl, pr]] = o.padding;
  }
  return {
    N, H, W, C, kh, kw, O, groups: C / cg, strideH: sh, strideW: sw, dilationH: dh, dilationW: dw, padTop: pt, padLeft: pl,
    // a window that does not fit the padded input gives outH or outW <= 0
    outH: Math.floor((H + pt + pb - spanH) / sh) + 1, outW: Math.floor((W + pl + pr - spanW) / sw) + 1,
  };
}

/** Visits every (output element, tap, input channel) product; pixel is -1 for a padded tap. */
function forEachProduct(g: RefGeometry, f: (out: number, pixel: number, c: number, wIndex: number) => void): void {
  const cg = g.C / g.groups, og = g.O / g.groups;
  for (let n = 0; n < g.N; n++) for (let oy = 0; oy < g.outH; oy++) for (let ox = 0; ox < g.outW; ox++) {
    for (let o = 0; o < g.O; o++) {
      const out = ((n * g.outH + oy) * g.outW + ox) * g.O + o;
      const group = Math.floor(o / og);
      for (let ky = 0; ky < g.kh; ky++) for (let kx = 0; kx < g.kw; kx++) {
        const iy = oy * g.strideH - g.padTop + ky * g.dilationH;
        const ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
        const inside = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
        for (let c = 0; c < cg; c++) {
          f(out, inside ? (n * g.H + iy) * g.W + ix : -1, group * cg + c, ((ky * g.kw + kx) * cg + c) * g.O + o);
        }
      }
    }
  }
}

export function convRef(g: RefGeometry, x: ArrayLike<number>, w: ArrayLike<number>, padValue = 0): Float64Array {
  const y = new Float64Array(g.N * g.outH * g.outW * g.O);
  forEachProduct(g, (out, p, c, wi) => {
    y[out] += (p < 0 ? padValue : x[p * g.C + c]) * w[wi];
  });
  return y;
}

/** dL/dx and dL/dw of sum(dy · conv(x, w)). */
export function convGradRef(g: RefGeometry, x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>, padValue = 0): { dx: Float64Array; dw: Float64Array } {
  const dx = new Float64Array(g.N * g.H * g.W * g.C);
  const dw = new Float64Array(w.length);
  forEachProduct(g, (out, p, c, wi) => {
    if (p >= 0) dx[p * g.C + c] += dy[out] * w[wi];
    dw[wi] += dy[out] * (p < 0 ? padValue : x[p * g.C + c]);
  });
  return { dx, dw };
}

/** ±1 of the STE binarize forward: 0 -> +1. */
export const pm1 = (v: number): number => (v < 0 ? -1 : 1);
