// Conv kernel test cases: a batch of NHWC images [N, H, W, C], Cout output
// channels, a kh x kw window with its options, and the reference geometry.
import { windowGeometry, type Window2dOptions } from '../../src/ops/conv-geometry.js';
import type { ConvGeometryRef } from '../../src/reference/conv_binary.js';

export type ConvCase = { N: number; H: number; W: number; C: number; Cout: number; kh: number; kw: number; opts: Window2dOptions };

export const convCase = (N: number, H: number, W: number, C: number, Cout: number, kh: number, kw: number, opts: Window2dOptions = {}): ConvCase =>
  ({ N, H, W, C, Cout, kh, kw, opts });

/** The scalar twins' geometry of a case (its own window options unless others are given). */
export function convCaseGeometry(k: ConvCase, opts: Window2dOptions = k.opts): ConvGeometryRef {
  const g = windowGeometry('test', k.H, k.W, k.kh, k.kw, opts);
  return { N: k.N, H: k.H, W: k.W, C: k.C, kh: k.kh, kw: k.kw, strideH: g.strideH, strideW: g.strideW,
    dilationH: g.dilationH, dilationW: g.dilationW, padTop: g.padTop, padLeft: g.padLeft, outH: g.outH, outW: g.outW };
}
