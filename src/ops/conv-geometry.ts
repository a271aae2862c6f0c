import { checkNumber, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';

/**
 * The one definition of 2-D window geometry, shared by conv2d, the pools, the
 * binary conv kernels and their layers. Activations are NHWC; windows slide over
 * H and W. All sizes are plain integers, checked here once.
 */

/** 'same' (TF/Keras: out = ceil(in / stride), an odd pad pixel at the bottom/right), 'valid' (no padding) or explicit [[top, bottom], [left, right]]. */
export type Padding2d = 'same' | 'valid' | [[number, number], [number, number]];

export interface Window2dOptions {
  stride?: number | [number, number];
  padding?: Padding2d;
  dilation?: number | [number, number];
}

export interface Geometry2d {
  inH: number;
  inW: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
  outH: number;
  outW: number;
}

/** Largest stride, dilation, kernel or padding accepted: beyond it every output would read padding only or overflow int32 offsets. */
const MAX_WINDOW = 2 ** 16;

/** A size given as one integer or an [h, w] pair. */
export function pair(v: unknown, op: string, arg: string, fallback: number, min = 1): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') {
    const n = checkNumber(v, op, arg, { integer: true, min, max: MAX_WINDOW });
    return [n, n];
  }
  if (Array.isArray(v) && v.length === 2) {
    return [
      checkNumber(v[0], op, `${arg}[0]`, { integer: true, min, max: MAX_WINDOW }),
      checkNumber(v[1], op, `${arg}[1]`, { integer: true, min, max: MAX_WINDOW }),
    ];
  }
  throw new Error(`${op}: ${arg} must be an integer >= ${min} or a pair [h, w] of them, got ${describe(v)}`);
}

function explicitPadding(p: unknown, op: string): [number, number, number, number] {
  const bad = () => new Error(`${op}: padding must be 'same', 'valid' or [[top, bottom], [left, right]] with non-negative integers, got ${describe(p)}`);
  if (!Array.isArray(p) || p.length !== 2) throw bad();
  const out: number[] = [];
  for (const side of p) {
    if (!Array.isArray(side) || side.length !== 2) throw bad();
    for (const v of side) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_WINDOW) throw bad();
      out.push(v);
    }
  }
  return out as [number, number, number, number];
}

/** TF 'same' along one axis: total padding so that out = ceil(in / stride); the extra pixel of an odd total goes after. */
function samePadding(inSize: number, k: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(inSize / stride);
  const span = (k - 1) * dilation + 1;
  const total = Math.max(0, (out - 1) * stride + span - inSize);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/**
 * Checks window options against an input of inH x inW and a kh x kw window,
 * and gives the padding and output size. Throws when the padded input is
 * smaller than the dilated window ('valid' on a too-small image).
 */
export function windowGeometry(
  op: string,
  inH: number,
  inW: number,
  kh: number,
  kw: number,
  options: Window2dOptions | null | undefined,
  defaults: { stride?: [number, number] } = {},
): Geometry2d {
  const o = readOptions<Window2dOptions>(options ?? {}, op);
  const [strideH, strideW] = o.stride === undefined || o.stride === null ? (defaults.stride ?? [1, 1]) : pair(o.stride, op, 'stride', 1);
  const [dilationH, dilationW] = pair(o.dilation, op, 'dilation', 1);
  const padding = o.padding ?? 'valid';
  let padTop: number, padBottom: number, padLeft: number, padRight: number;
  if (padding === 'valid') {
    padTop = padBottom = padLeft = padRight = 0;
  } else if (padding === 'same') {
    [padTop, padBottom] = samePadding(inH, kh, strideH, dilationH);
    [padLeft, padRight] = samePadding(inW, kw, strideW, dilationW);
  } else if (typeof padding === 'string') {
    throw new Error(`${op}: padding must be 'same', 'valid' or [[top, bottom], [left, right]], got '${padding}'`);
  } else {
    [padTop, padBottom, padLeft, padRight] = explicitPadding(padding, op);
  }
  const spanH = (kh - 1) * dilationH + 1;
  const spanW = (kw - 1) * dilationW + 1;
  const paddedH = inH + padTop + padBottom;
  const paddedW = inW + padLeft + padRight;
  if (paddedH < spanH || paddedW < spanW) {
    throw new Error(
      `${op}: the ${kh}x${kw} window (dilation ${dilationH}x${dilationW}, spanning ${spanH}x${spanW}) does not fit the padded input ` +
        `${paddedH}x${paddedW} (input ${inH}x${inW}, padding [[${padTop}, ${padBottom}], [${padLeft}, ${padRight}]]); use padding: 'same' or a smaller window`,
    );
  }
  const outH = Math.floor((paddedH - spanH) / strideH) + 1;
  const outW = Math.floor((paddedW - spanW) / strideW) + 1;
  return { inH, inW, kh, kw, strideH, strideW, dilationH, dilationW, padTop, padBottom, padLeft, padRight, outH, outW };
}
