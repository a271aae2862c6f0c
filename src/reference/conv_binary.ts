// Scalar twins of assembly/conv_b1.ts and assembly/conv_int.ts. The conv
// twins compute each output directly from the taps (no im2col, no GEMM, no
// padding table), so they check the kernels' decomposition, not repeat it.
// Bit convention: reference/bitpack.ts (bit 1 = -1); packed activations are
// [N, H, W, ceil(C/32)] words, packed conv weights [Cout, ldw] with tap t's
// channel words at [t·ceil(C/32), ...).
import { popcount32 } from './gemm_b1.js';
import { roundHalfEven } from './quant_s8.js';

/** The window geometry of src/ops/conv-geometry.ts plus the batch and channel counts. */
export interface ConvGeometryRef {
  N: number; H: number; W: number; C: number;
  kh: number; kw: number;
  strideH: number; strideW: number;
  dilationH: number; dilationW: number;
  padTop: number; padLeft: number;
  outH: number; outW: number;
}

const f = Math.fround;

/** Input pixel (iy, ix) of tap (ky, kx) for output pixel (oy, ox), or null when it falls in the padding. */
function tapPixel(g: ConvGeometryRef, oy: number, ox: number, ky: number, kx: number): [number, number] | null {
  const iy = oy * g.strideH - g.padTop + ky * g.dilationH;
  const ix = ox * g.strideW - g.padLeft + kx * g.dilationW;
  return iy >= 0 && iy < g.H && ix >= 0 && ix < g.W ? [iy, ix] : null;
}

/** Visits every output of a conv, pixel m = (n, oy, ox) in row-major order and channel co within it. */
function forEachOutput(g: ConvGeometryRef, Cout: number, visit: (m: number, n: number, oy: number, ox: number, co: number) => void): void {
  const M = g.N * g.outH * g.outW;
  for (let m = 0; m < M; m++) {
    const ox = m % g.outW, oy = Math.floor(m / g.outW) % g.outH, n = Math.floor(m / (g.outW * g.outH));
    for (let co = 0; co < Cout; co++) visit(m, n, oy, ox, co);
  }
}

/** pack_hwio_bits_f32 (bindings packConvWeights: aligned, packConvWeightsU8: contiguous): float HWIO [taps, Cin, Cout] to bit rows [Cout, ldo] (aligned: per-tap channel words; else contiguous). */
export function packHwioBitsRef(w: ArrayLike<number>, taps: number, Cin: number, Cout: number, aligned: boolean, ldo: number): Uint32Array {
  const cw = Math.ceil(Cin / 32);
  const out = new Uint32Array(Cout * ldo);
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < Cin; c++) {
      const j = aligned ? t * cw * 32 + c : t * Cin + c;
      for (let co = 0; co < Cout; co++) if (w[(t * Cin + c) * Cout + co] < 0) out[co * ldo + (j >>> 5)] |= 1 << (j & 31);
    }
  }
  return out;
}

/** Patch rows [row0, row1) over pixels of `pixel` elements, rows `ld` elements apart, padded taps `fill`, the rest of a row 0. */
function im2colRef(g: ConvGeometryRef, x: ArrayLike<number>, pixel: number, fill: number, row0: number, row1: number, ld: number,
                   out: { [i: number]: number; length: number }): void {
  for (let r = row0; r < row1; r++) {
    const ox = r % g.outW, oy = Math.floor(r / g.outW) % g.outH, n = Math.floor(r / (g.outW * g.outH));
    const row = (r - row0) * ld;
    for (let ky = 0; ky < g.kh; ky++) {
      for (let kx = 0; kx < g.kw; kx++) {
        const p = tapPixel(g, oy, ox, ky, kx);
        const at = row + (ky * g.kw + kx) * pixel;
        for (let i = 0; i < pixel; i++) out[at + i] = p ? x[((n * g.H + p[0]) * g.W + p[1]) * pixel + i] : fill;
      }
    }
    for (let i = g.kh * g.kw * pixel; i < ld; i++) out[row + i] = 0;
  }
}

/** im2col_b1: packed rows of (ky, kx, channel word), padded taps the +1 pattern (0), ld words apart. */
export function im2colB1Ref(g: ConvGeometryRef, x: ArrayLike<number>, row0: number, row1: number, ld: number): Uint32Array {
  const out = new Uint32Array((row1 - row0) * ld);
  im2colRef(g, x, Math.ceil(g.C / 32), 0, row0, row1, ld, out);
  return out;
}

/** im2col_u8: uint8 rows of K = kh·kw·C bytes, padded taps 0. */
export function im2colU8Ref(g: ConvGeometryRef, x: ArrayLike<number>, row0: number, row1: number): Uint8Array {
  const K = g.kh * g.kw * g.C;
  const out = new Uint8Array((row1 - row0) * K);
  im2colRef(g, x, g.C, 0, row0, row1, K, out);
  return out;
}

/** im2col_s8: int8 rows of K bytes, padded taps the zero point. */
export function im2colS8Ref(g: ConvGeometryRef, x: ArrayLike<number>, zp: number, row0: number, row1: number): Int8Array {
  const K = g.kh * g.kw * g.C;
  const out = new Int8Array((row1 - row0) * K);
  im2colRef(g, x, g.C, zp, row0, row1, K, out);
  return out;
}

/** How a conv writes its integer results (conv_common.finishTile). */
export type ConvOutRef =
  | { kind: 'int32' }
  | { kind: 'float32'; scale: ArrayLike<number>; bias: ArrayLike<number> }
  | { kind: 'bits'; threshold: ArrayLike<number>; direction: ArrayLike<number> };

function finish(dots: Int32Array, M: number, Cout: number, o: ConvOutRef): Int32Array | Float32Array | Uint32Array {
  if (o.kind === 'int32') return dots;
  if (o.kind === 'float32') return Float32Array.from(dots, (d, i) => f(f(f(d) * o.scale[i % Cout]) + o.bias[i % Cout]));
  const words = Math.ceil(Cout / 32);
  const out = new Uint32Array(M * words);
  for (let m = 0; m < M; m++) {
    for (let co = 0; co < Cout; co++) {
      const d = dots[m * Cout + co], t = o.threshold[co];
      if (o.direction[co] > 0 ? d < t : d > t) out[m * words + (co >>> 5)] |= 1 << (co & 31);
    }
  }
  return out;
}

/**
 * conv_b1 (binding binaryConv2d): binary convolution of packed x [N, H, W, Cw] with packed weights
 * [Cout, ldw]; per tap inside the input C - 2·popcount(x XOR w), per padded tap
 * C - 2·popcount(w) with padValue 1 (a +1 input) and 0 with padValue 0.
 */
export function binaryConv2dRef(g: ConvGeometryRef, x: ArrayLike<number>, w: ArrayLike<number>, ldw: number, Cout: number,
                          padValue: 0 | 1, o: ConvOutRef): Int32Array | Float32Array | Uint32Array {
  const cw = Math.ceil(g.C / 32);
  const M = g.N * g.outH * g.outW;
  const dots = new Int32Array(M * Cout);
  forEachOutput(g, Cout, (m, n, oy, ox, co) => {
    let dot = 0;
    for (let ky = 0; ky < g.kh; ky++) {
      for (let kx = 0; kx < g.kw; kx++) {
        const p = tapPixel(g, oy, ox, ky, kx);
        if (!p && padValue === 0) continue;
        let pop = 0;
        for (let i = 0; i < cw; i++) {
          const wv = w[co * ldw + (ky * g.kw + kx) * cw + i];
          pop += popcount32((p ? (x[((n * g.H + p[0]) * g.W + p[1]) * cw + i] ^ wv) : wv) >>> 0);
        }
        dot += g.C - 2 * pop;
      }
    }
    dots[m * Cout + co] = dot;
  });
  return finish(dots, M, Cout, o);
}

/** maxpool_b1 (binding binaryMaxPool2d): per channel word, the AND over the window's taps inside the input. */
export function binaryMaxPool2dRef(g: ConvGeometryRef, x: ArrayLike<number>): Uint32Array {
  const cw = Math.ceil(g.C / 32);
  const out = new Uint32Array(g.N * g.outH * g.outW * cw);
  for (let n = 0; n < g.N; n++) {
    for (let oy = 0; oy < g.outH; oy++) {
      for (let ox = 0; ox < g.outW; ox++) {
        for (let i = 0; i < cw; i++) {
          let acc = 0xffffffff;
          for (let ky = 0; ky < g.kh; ky++) {
            for (let kx = 0; kx < g.kw; kx++) {
              const p = tapPixel(g, oy, ox, ky, kx);
              if (p) acc &= x[((n * g.H + p[0]) * g.W + p[1]) * cw + i];
            }
          }
          out[((n * g.outH + oy) * g.outW + ox) * cw + i] = acc >>> 0;
        }
      }
    }
  }
  return out;
}

/** conv_u8b1 (binding uint8Conv2d): Σ over taps inside the input of x·(±1 weight), w bits contiguous along K = (ky·kw + kx)·C + c, rows ldw words apart. */
export function uint8Conv2dRef(g: ConvGeometryRef, x: ArrayLike<number>, w: ArrayLike<number>, ldw: number, Cout: number,
                            o: ConvOutRef): Int32Array | Float32Array | Uint32Array {
  const M = g.N * g.outH * g.outW;
  const dots = new Int32Array(M * Cout);
  forEachOutput(g, Cout, (m, n, oy, ox, co) => {
    let acc = 0;
    for (let ky = 0; ky < g.kh; ky++) {
      for (let kx = 0; kx < g.kw; kx++) {
        const p = tapPixel(g, oy, ox, ky, kx);
        if (!p) continue;
        for (let c = 0; c < g.C; c++) {
          const j = (ky * g.kw + kx) * g.C + c;
          const v = x[((n * g.H + p[0]) * g.W + p[1]) * g.C + c];
          acc += (w[co * ldw + (j >>> 5)] >>> (j & 31)) & 1 ? -v : v;
        }
      }
    }
    dots[m * Cout + co] = acc;
  });
  return finish(dots, M, Cout, o);
}

/**
 * conv_s8 (binding int8Conv2d): acc = Σ over taps of x·w (padded taps x = zp), w int8 HWIO [K, Cout];
 * mode 'int32' acc, 'float32' f32(acc)·mult + add, 'int8' clamp(roundHalfEven(that), -127, 127).
 */
export function int8Conv2dRef(g: ConvGeometryRef, x: ArrayLike<number>, zp: number, w: ArrayLike<number>, Cout: number,
                          mode: 'int32' | 'float32' | 'int8', mult: ArrayLike<number> = [], add: ArrayLike<number> = []): Int32Array | Float32Array | Int8Array {
  const M = g.N * g.outH * g.outW;
  const out = mode === 'int32' ? new Int32Array(M * Cout) : mode === 'float32' ? new Float32Array(M * Cout) : new Int8Array(M * Cout);
  forEachOutput(g, Cout, (m, n, oy, ox, co) => {
    let acc = 0;
    for (let ky = 0; ky < g.kh; ky++) {
      for (let kx = 0; kx < g.kw; kx++) {
        const p = tapPixel(g, oy, ox, ky, kx);
        for (let c = 0; c < g.C; c++) {
          const v = p ? x[((n * g.H + p[0]) * g.W + p[1]) * g.C + c] : zp;
          acc = (acc + v * w[((ky * g.kw + kx) * g.C + c) * Cout + co]) | 0;
        }
      }
    }
    if (mode === 'int32') { out[m * Cout + co] = acc; return; }
    const y = f(f(f(acc) * mult[co]) + add[co]);
    out[m * Cout + co] = mode === 'float32' ? y : Math.min(127, Math.max(-127, roundHalfEven(y)));
  });
  return out;
}

/** flatten_bits_nhwc (binding flattenPackedChannels): row n's element p·C + c = channel c of pixel p, rows of `words` words. */
export function flattenPackedChannelsRef(x: ArrayLike<number>, N: number, P: number, C: number, words: number): Uint32Array {
  const cw = Math.ceil(C / 32);
  const out = new Uint32Array(N * words);
  for (let n = 0; n < N; n++) {
    for (let p = 0; p < P; p++) {
      for (let c = 0; c < C; c++) {
        const j = p * C + c;
        if ((x[(n * P + p) * cw + (c >>> 5)] >>> (c & 31)) & 1) out[n * words + (j >>> 5)] |= 1 << (j & 31);
      }
    }
  }
  return out;
}
