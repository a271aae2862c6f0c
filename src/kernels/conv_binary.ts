import { rt } from '../runtime/context.js';
import { i32View } from '../runtime/views.js';
import { pair, windowGeometry, type Geometry2d, type Window2dOptions } from '../ops/conv-geometry.js';
import { checkDType, checkFloat, checkNumber, checkRank, describe, F32_MAX } from '../tensor/checks.js';
import { cachedDerived } from '../tensor/derived.js';
import { choiceOption, readOptions } from '../tensor/options.js';
import { empty, Tensor } from '../tensor/tensor.js';
import { dequantizeArgs, INT8_MAX_K, requantizeArgs } from './gemm_s8.js';
import { channelValues, type ChannelValues } from './internal/args.js';
import { produce, withWorkspace } from './workspace.js';
import { parallelTiles, WORKSPACE, type TileAxis } from '../runtime/parallel.js';

// Convolution kernels for frozen binary and quantized conv nets (kernels:
// assembly/conv_b1.ts, assembly/conv_int.ts; twins: reference/conv_binary.ts).
// Geometry comes only from ops/conv-geometry.ts (windowGeometry). groups = 1
// only: none of these kernels splits channels into groups.
//
// Contracts (what a layer or a freeze stage builds on):
//
// * Packed activations: int32 [N, H, W, Cw], Cw = ceil(C/32) words per pixel
//   (channelWords), with packBits' bit convention: bit 1 = -1 (x < 0), bit 0 =
//   +1 (x >= 0), channel c is bit c % 32 of word c / 32, bits past C are 0.
//   Made by packChannels from float NHWC, or by binaryConv2d with
//   output: 'bits'; read by binaryConv2d and binaryMaxPool2d. Unlike packBits'
//   matrix rows, a pixel is NOT padded to 128 bits.
// * packConvWeights(w HWIO float [kh, kw, Cin, Cout]) -> int32 [Cout, ldw],
//   ldw = convWeightWords(kh, kw, Cin) = ceil(kh·kw·Cw / 4)·4: tap (ky, kx)
//   at words [(ky·kw + kx)·Cw, ...), zero words after the taps.
// * binaryConv2d(xBits, wBits, { inChannels, kernelSize, stride, padding,
//   dilation, padValue, output, ... }): dot = K - 2·popcount(patch XOR w),
//   K = kh·kw·Cin, equal to the convolution of the ±1 values padded with
//   padValue (0: true zeros, with an edge correction for border pixels; 1:
//   +1, the fast path). output 'int32' (default) -> int32 [N, oH, oW, Cout];
//   'float32' -> f32(f32(dot)·scale[co]) + bias[co] (no FMA; scale/bias absorb
//   an XNOR scale and batch norm); 'bits' -> packed [N, oH, oW, ceil(Cout/32)]
//   with bit co = 1 (-1) when direction[co] > 0 ? dot < threshold[co] :
//   dot > threshold[co] (float thresholds are rounded to the equivalent
//   integers, so frozen BinaryLinear-style thresholds work unchanged).
// * binaryMaxPool2d(xBits, { channels, size, stride, padding }): max of ±1 =
//   AND of the packed words over the window's taps inside the input.
// * flattenPackedChannels(xBits, { channels }) -> packBits rows [N, ceil(H·W·C/128)·4]
//   in NHWC flatten order: the input of a binary dense layer after the convs.
// * packConvWeightsU8(w HWIO float) -> int32 [Cout, ceil(K/128)·4]: packBits
//   of the [Cout, K] matrix, K = (ky·kw + kx)·Cin + c contiguous; with
//   uint8Conv2d(x uint8 NHWC, wBits, { kernelSize, ... output }): exact
//   Σ pixel·(±1) with zero padding (pixel 0), outputs as binaryConv2d.
// * int8Conv2d(x int8 NHWC, w int8 HWIO, { zeroPoint, output, ... }): padded
//   taps hold zeroPoint; outputs as int8Matmul / int8MatmulDequantize /
//   int8MatmulRequantize of the patch matrix.

const GEO_SIZE = 16;
const OUT_CODE = { int32: 0, float32: 1, bits: 2 } as const;
/** Bytes of patch rows (plus their output tile) per chunk: the rows stay in L2 while the GEMM reads them. */
const CHUNK_BYTES = 64 * 1024;

/** Words per packed pixel of C channels: ceil(C / 32). */
export function channelWords(C: number): number {
  return Math.ceil(checkNumber(C, 'channelWords', 'C', { integer: true, min: 0, max: 2 ** 31 - 1 }) / 32);
}

/** Words per packed weight row of a kh x kw kernel over Cin channels: ceil(kh·kw·ceil(Cin/32) / 4)·4. */
export function convWeightWords(kh: number, kw: number, Cin: number): number {
  return Math.ceil((kh * kw * Math.ceil(Cin / 32)) / 4) * 4;
}

/** The geometry block the kernels read (assembly/conv_common.ts GEO_*). */
function geoBlock(g: Geometry2d, N: number, C: number, pixel: number): Int32Array {
  const b = new Int32Array(GEO_SIZE);
  b.set([N, g.inH, g.inW, C, g.kh, g.kw, g.strideH, g.strideW, g.dilationH, g.dilationW, g.padTop, g.padLeft, g.outH, g.outW, pixel]);
  return b;
}

/** Runs fn with one scratch block holding copies of `arrays` (16-byte aligned) followed by `extra` bytes. */
function withArgs<R>(arrays: (Int32Array | Float32Array)[], extra: number, fn: (offsets: number[], work: number) => R): R {
  const sizes = arrays.map((a) => Math.ceil(Math.max(a.length, 1) / 4) * 16);
  const total = sizes.reduce((s, b) => s + b, 0);
  return withWorkspace(total + Math.max(extra, 16), (block) => {
    const offsets: number[] = [];
    let at = block;
    for (let i = 0; i < arrays.length; i++) {
      new (arrays[i].constructor as Int32ArrayConstructor)(rt().memory.buffer, at, arrays[i].length).set(arrays[i] as Int32Array);
      offsets.push(at);
      at += sizes[i];
    }
    return fn(offsets, at);
  });
}

/**
 * Output pixels [0, M) as the row axis of a parallel job. Each pixel's result
 * is independent of the range a call covers, so any split gives the bits of
 * the whole call. Tiles are whole chunks when M is large (no partial chunk
 * but the last); smaller, even (the GEMM's row pairs) when M is small.
 */
function pixelRows(M: number, chunk: number): TileAxis {
  return { begin: 0, end: M, align: Math.min(chunk, Math.max(2, Math.ceil(M / 16) & ~1)) };
}

/** The tile arguments m0, m1 of the conv drivers. */
const PIXELS = [{ i0: 1 }, { i1: 1 }] as const;

/** Patch rows per chunk for rows of rowBytes plus an output tile of tileBytes per row. */
function chunkRows(M: number, rowBytes: number, tileBytes: number): number {
  return Math.max(2, Math.min(M + (M & 1), Math.floor(CHUNK_BYTES / (rowBytes + tileBytes))) & ~1);
}

function checkNoNaN(nan: number, op: string, arg: string): void {
  if (nan > 0) throw new Error(`${op}: ${arg} contains ${nan} NaN value${nan > 1 ? 's' : ''}; NaN has no sign and cannot be packed`);
}

/**
 * Binarizes and packs float NHWC x [N, H, W, C] along channels into int32
 * [N, H, W, ceil(C/32)] (bit 1 = negative, see the contract above). NaN is rejected.
 */
export function packChannels(x: Tensor): Tensor {
  const op = 'packChannels';
  checkFloat(x, op, 'x');
  checkRank(x, op, 'x', 4);
  const [N, H, W, C] = x.shape;
  const cw = Math.ceil(C / 32);
  const out = empty([N, H, W, cw], 'int32');
  if (out.size === 0) return out;
  return produce(out, () => checkNoNaN(rt().kernels.pack_bits_f32(x.offset, N * H * W, C, out.offset, cw), op, 'x'));
}

function packHwio(w: Tensor, op: string, aligned: boolean): Tensor {
  checkFloat(w, op, 'w');
  checkRank(w, op, 'w', 4);
  const [kh, kw, Cin, Cout] = w.shape;
  const ldw = aligned ? convWeightWords(kh, kw, Cin) : Math.ceil((kh * kw * Cin) / 128) * 4;
  const out = empty([Cout, ldw], 'int32');
  if (out.size === 0) return out;
  return produce(out, () => checkNoNaN(rt().kernels.pack_hwio_bits_f32(w.offset, kh * kw, Cin, Cout, aligned ? 1 : 0, out.offset, ldw), op, 'w'));
}

/** Packs float HWIO weights [kh, kw, Cin, Cout] for binaryConv2d: int32 [Cout, convWeightWords(kh, kw, Cin)]. */
export function packConvWeights(w: Tensor): Tensor {
  return packHwio(w, 'packConvWeights', true);
}

/** Packs float HWIO weights for uint8Conv2d: int32 [Cout, ceil(K/128)·4], K = kh·kw·Cin bits contiguous (packBits of [Cout, K]). */
export function packConvWeightsU8(w: Tensor): Tensor {
  return packHwio(w, 'packConvWeightsU8', false);
}

/** Rows of words [rows, words] with a 1 bit at an element >= k (bits_padding_violations); 0 when there is no tail. */
function tailViolations(x: Tensor, rows: number, words: number, k: number): number {
  if (rows === 0 || words === 0 || k === words * 32) return 0;
  return rt().kernels.bits_padding_violations(x.offset, rows, words, k);
}

function checkPackedInput(x: Tensor, C: number, op: string, arg: string): [number, number, number] {
  checkDType(x, op, arg, 'int32');
  checkRank(x, op, arg, 4);
  const [N, H, W, cw] = x.shape;
  if (cw !== Math.ceil(C / 32)) {
    throw new Error(`${op}: ${arg} must have ceil(C/32) = ${Math.ceil(C / 32)} words per pixel for C = ${C} channels, got shape [${x.shape}] (pack with packChannels)`);
  }
  const bad = tailViolations(x, N * H * W, cw, C);
  if (bad > 0) throw new Error(`${op}: ${arg} has ${bad} pixel${bad > 1 ? 's' : ''} with 1 bits past channel ${C}; padding bits must be 0 (pack with packChannels)`);
  return [N, H, W];
}

/** Checks the dtype and shape of packed conv weights [Cout, ldw]; returns Cout. */
function checkPackedWeights(wBits: Tensor, kh: number, kw: number, Cin: number, op: string): number {
  checkDType(wBits, op, 'wBits', 'int32');
  checkRank(wBits, op, 'wBits', 2);
  const [Cout, ldw] = wBits.shape;
  const want = convWeightWords(kh, kw, Cin);
  if (ldw !== want) {
    throw new Error(`${op}: wBits must have convWeightWords(${kh}, ${kw}, ${Cin}) = ${want} words per output channel, got shape [${wBits.shape}] (pack with packConvWeights)`);
  }
  return Cout;
}

/**
 * Checks that every bit of packed conv weights outside the taps' Cin channels
 * is 0, once per version of wBits (an empty cache entry records it: a frozen
 * model calls with the same weights). Called after all other validation, so
 * a call that fails later leaves no entry behind.
 */
function checkWeightTails(wBits: Tensor, kh: number, kw: number, Cin: number, op: string): void {
  const [Cout, ldw] = wBits.shape;
  cachedDerived(wBits, `conv_b1.checked:${kh},${kw},${Cin}`, 16, () => {
    const cw = Math.ceil(Cin / 32);
    const taps = kh * kw;
    const tailMask = Cin % 32 === 0 ? 0 : ~((1 << (Cin % 32)) - 1) >>> 0;
    const v = i32View(wBits.offset, wBits.size);
    let bad = 0;
    for (let co = 0; co < Cout; co++) {
      let acc = 0;
      const row = co * ldw;
      if (tailMask !== 0) for (let t = 0; t < taps; t++) acc |= v[row + t * cw + cw - 1] & tailMask;
      for (let i = taps * cw; i < ldw; i++) acc |= v[row + i];
      if (acc !== 0) bad++;
    }
    if (bad > 0) throw new Error(`${op}: wBits has ${bad} output channel${bad > 1 ? 's' : ''} with 1 bits outside the ${Cin} input channels of a tap; padding bits must be 0 (pack with packConvWeights)`);
  });
}

export type ConvOutput = 'int32' | 'float32' | 'bits';

export interface ConvOutputOptions {
  /** 'int32' (default): the integer sums; 'float32': sum·scale + bias; 'bits': packed NHWC by thresholds. */
  output?: ConvOutput;
  /** output 'float32': per-output-channel (or one) scale. Default 1. */
  scale?: ChannelValues;
  /** output 'float32': per-output-channel (or one) bias. Default 0. */
  bias?: ChannelValues;
  /** output 'bits': per-channel thresholds on the integer sum (floats are rounded to the equivalent integers; ±Infinity allowed). */
  threshold?: number | readonly number[] | Float32Array | Int32Array | Tensor;
  /** output 'bits': per-channel 1 (bit set when sum < threshold) or -1 (when sum > threshold). */
  direction?: number | readonly number[] | Int32Array | Tensor;
}

export interface BinaryConv2dOptions extends Window2dOptions, ConvOutputOptions {
  /** Real input channels C (xBits holds ceil(C/32) words per pixel). */
  inChannels: number;
  kernelSize: number | [number, number];
  /** 0 (default): true zero padding (exact, a border correction); 1: pad with +1 (one-padding, the fast path). */
  padValue?: 0 | 1;
}

function numbersOf(v: unknown, n: number, op: string, arg: string): number[] {
  let values: ArrayLike<number>;
  if (typeof v === 'number') values = [v];
  else if (v instanceof Tensor) {
    checkDType(v, op, arg, 'float32', 'int32');
    values = v.dataSync();
  } else if (Array.isArray(v) || v instanceof Float32Array || v instanceof Int32Array) values = v;
  else throw new Error(`${op}: ${arg} must be a number, an array of numbers or a tensor, got ${describe(v)}`);
  if (values.length !== 1 && values.length !== n) throw new Error(`${op}: ${arg} must have 1 value or ${n} (one per output channel), got ${values.length}`);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = values[values.length === 1 ? 0 : i];
  return out;
}

interface OutputArgs { code: number; arrays: (Int32Array | Float32Array)[] }

/** Validates the output options of a conv whose integer sums lie in [-range, range]. */
function outputArgs(o: ConvOutputOptions, Cout: number, range: number, op: string): OutputArgs {
  const output = choiceOption(o.output, op, 'output', ['int32', 'float32', 'bits'] as const, 'int32');
  const empty4 = new Int32Array(0);
  if (output === 'int32') return { code: OUT_CODE.int32, arrays: [empty4, empty4, empty4, empty4] };
  if (output === 'float32') {
    const scale = channelValues(o.scale, Cout, op, 'scale', { fallback: 1 });
    const bias = channelValues(o.bias, Cout, op, 'bias', { fallback: 0 });
    for (let n = 0; n < Cout; n++) {
      if (Math.abs(scale[n]) * range + Math.abs(bias[n]) > F32_MAX) {
        throw new Error(`${op}: scale${Cout > 1 ? `[${n}]` : ''} = ${scale[n]} times the largest sum ${range} (plus bias) overflows float32; use |scale| <= ${(F32_MAX - Math.abs(bias[n])) / Math.max(range, 1)}`);
      }
    }
    return { code: OUT_CODE.float32, arrays: [scale, bias, empty4, empty4] };
  }
  if (o.threshold === undefined || o.direction === undefined) throw new Error(`${op}: output 'bits' needs threshold and direction (one per output channel)`);
  const dirs = numbersOf(o.direction, Cout, op, 'direction');
  const thr = numbersOf(o.threshold, Cout, op, 'threshold');
  const t = new Int32Array(Cout), d = new Int32Array(Cout);
  for (let n = 0; n < Cout; n++) {
    if (dirs[n] !== 1 && dirs[n] !== -1) throw new Error(`${op}: direction[${n}] must be 1 or -1, got ${describe(dirs[n])}`);
    if (typeof thr[n] !== 'number' || Number.isNaN(thr[n])) throw new Error(`${op}: threshold[${n}] must be a number or ±Infinity, got ${describe(thr[n])}`);
    d[n] = dirs[n];
    // sum < a  <=>  sum < ceil(a);  sum > a  <=>  sum > floor(a)  (integer sums); beyond ±(range + 1) all compare alike.
    const a = dirs[n] > 0 ? Math.ceil(thr[n]) : Math.floor(thr[n]);
    t[n] = Math.max(-range - 1, Math.min(range + 1, a));
  }
  return { code: OUT_CODE.bits, arrays: [empty4, empty4, t, d] };
}

function outputShape(code: number, N: number, g: Geometry2d, Cout: number): number[] {
  return [N, g.outH, g.outW, code === OUT_CODE.bits ? Math.ceil(Cout / 32) : Cout];
}

/** Pixels classed along one axis by which kernel taps read inside the input: class per output, taps per class, interior class (-1: none). */
function tapClasses(out: number, k: number, stride: number, dil: number, pad: number, size: number) {
  const ids = new Map<string, number>();
  const cls = new Int32Array(out);
  const taps: number[] = [];
  for (let o = 0; o < out; o++) {
    let key = '';
    for (let j = 0; j < k; j++) { const i = o * stride - pad + j * dil; key += i >= 0 && i < size ? '1' : '0'; }
    if (!ids.has(key)) { ids.set(key, ids.size); for (const ch of key) taps.push(ch === '1' ? 1 : 0); }
    cls[o] = ids.get(key)!;
  }
  return { cls, taps: Int32Array.from(taps), count: ids.size, interior: ids.get('1'.repeat(k)) ?? -1 };
}

/**
 * Zero-padding correction block of (geometry, weights), cached with wBits
 * (assembly/conv_common.ts finishTile: row classes, column classes, header,
 * table); 0 without padding. The valid taps of a row are a run whose ends
 * move monotonically with the output row, so there are at most 2·kh + 1 row
 * classes (and 2·kw + 1 column classes): the block size is known before the
 * classes are computed, which happens only when the cache misses.
 */
function padBlock(wBits: Tensor, g: Geometry2d, geo: number, Cout: number, C: number): number {
  if (g.padTop + g.padBottom + g.padLeft + g.padRight === 0) return 0;
  const head = g.outH + g.outW + 4;
  const tableInts = Math.min(g.outH, 2 * g.kh + 1) * Math.min(g.outW, 2 * g.kw + 1) * Cout;
  const key = `conv_b1.pad:${[g.inH, g.inW, g.kh, g.kw, g.strideH, g.strideW, g.dilationH, g.dilationW, g.padTop, g.padLeft, g.outH, g.outW, C]}`;
  return cachedDerived(wBits, key, (head + tableInts) * 4, (off) => {
    const r = tapClasses(g.outH, g.kh, g.strideH, g.dilationH, g.padTop, g.inH);
    const c = tapClasses(g.outW, g.kw, g.strideW, g.dilationW, g.padLeft, g.inW);
    if (r.count * c.count * Cout > tableInts) throw new Error(`internal: binaryConv2d: ${r.count} x ${c.count} padding classes exceed the bound`);
    const v = i32View(off, head);
    v.set(r.cls, 0);
    v.set(c.cls, g.outH);
    v.set([r.count, c.count, r.interior, c.interior], g.outH + g.outW);
    withArgs([r.taps, c.taps], 0, ([rowTaps, colTaps]) => {
      rt().kernels.conv_b1_pad_table(geo, wBits.offset, wBits.shape[1], Cout, rowTaps, r.count, colTaps, c.count, off + head * 4);
    });
  });
}

/** Binary convolution on packed bits (contract at the top of this file). */
export function binaryConv2d(xBits: Tensor, wBits: Tensor, options: BinaryConv2dOptions): Tensor {
  const op = 'binaryConv2d';
  const o = readOptions<BinaryConv2dOptions>(options, op);
  if (o.inChannels === undefined) throw new Error(`${op}: options.inChannels is required (the real channel count C of xBits)`);
  if (o.kernelSize === undefined) throw new Error(`${op}: options.kernelSize is required (the packed weights do not record it)`);
  const C = checkNumber(o.inChannels, op, 'inChannels', { integer: true, min: 0, max: 2 ** 24 });
  const [kh, kw] = pair(o.kernelSize, op, 'kernelSize', 1);
  const padValue = o.padValue ?? 0;
  if (padValue !== 0 && padValue !== 1) throw new Error(`${op}: padValue must be 0 (zero padding) or 1 (one-padding), got ${describe(padValue)}`);
  const [N, H, W] = checkPackedInput(xBits, C, op, 'xBits');
  const Cout = checkPackedWeights(wBits, kh, kw, C, op);
  const g = windowGeometry(op, H, W, kh, kw, o);
  const K = kh * kw * C;
  if (K > 2 ** 24) throw new Error(`${op}: kh·kw·inChannels = ${K} is too large (at most ${2 ** 24} bits per patch)`);
  const out = outputArgs(o, Cout, K, op);
  checkWeightTails(wBits, kh, kw, C, op);
  const result = empty(outputShape(out.code, N, g, Cout), out.code === OUT_CODE.float32 ? 'float32' : 'int32');
  const M = N * g.outH * g.outW;
  if (M === 0 || Cout === 0) return result;
  const ldw = wBits.shape[1];
  const chunk = chunkRows(M, ldw * 4, Cout * 4);
  const { kernels } = rt();
  return produce(result, () => {
    withArgs([geoBlock(g, N, C, Math.ceil(C / 32)), ...out.arrays], 0, ([geo, s, b, t, d]) => {
      const pad = padValue === 0 ? padBlock(wBits, g, geo, Cout, C) : 0;
      parallelTiles({
        kernel: 'conv_b1',
        rows: pixelRows(M, chunk),
        cost: M * Cout * ldw * 4,
        args: [out.code, geo, xBits.offset, wBits.offset, ldw, Cout, result.offset, pad, s, b, t, d, WORKSPACE, chunk, ...PIXELS],
        workspace: () => kernels.conv_b1_workspace_bytes(chunk, ldw, Cout),
      });
    });
  });
}

/**
 * Flattens packed NHWC activations [N, H, W, ceil(C/32)] of C channels into
 * packBits rows [N, packedWords(H·W·C)] (element (y·W + x)·C + c, the NHWC
 * flatten order), the input of a binary dense layer after a conv stack.
 */
export function flattenPackedChannels(xBits: Tensor, options: { channels: number }): Tensor {
  const op = 'flattenPackedChannels';
  const o = readOptions<{ channels: number }>(options, op);
  if (o.channels === undefined) throw new Error(`${op}: options.channels is required (the real channel count C of xBits)`);
  const C = checkNumber(o.channels, op, 'channels', { integer: true, min: 0, max: 2 ** 31 - 1 });
  const [N, H, W] = checkPackedInput(xBits, C, op, 'xBits');
  const K = H * W * C;
  if (K > 2 ** 31 - 1) throw new Error(`${op}: H·W·C = ${K} is too large for one packed row`);
  const words = Math.ceil(K / 128) * 4;
  const result = empty([N, words], 'int32');
  if (result.size === 0) return result;
  rt().kernels.flatten_bits_nhwc(xBits.offset, N, H * W, C, result.offset, words);
  return result;
}

export interface BinaryMaxPool2dOptions extends Window2dOptions {
  /** Real channel count C of xBits. */
  channels: number;
  /** Window size. */
  size: number | [number, number];
}

/** Max pool of ±1 values on packed bits [N, H, W, ceil(C/32)] -> packed [N, oH, oW, ceil(C/32)]; stride defaults to size. */
export function binaryMaxPool2d(xBits: Tensor, options: BinaryMaxPool2dOptions): Tensor {
  const op = 'binaryMaxPool2d';
  const o = readOptions<BinaryMaxPool2dOptions>(options, op);
  if (o.channels === undefined) throw new Error(`${op}: options.channels is required (the real channel count C of xBits)`);
  if (o.size === undefined) throw new Error(`${op}: options.size is required (the pooling window)`);
  const C = checkNumber(o.channels, op, 'channels', { integer: true, min: 0, max: 2 ** 31 - 1 });
  const [kh, kw] = pair(o.size, op, 'size', 1);
  const [N, H, W] = checkPackedInput(xBits, C, op, 'xBits');
  const g = windowGeometry(op, H, W, kh, kw, o, { stride: [kh, kw] });
  // A window entirely in the padding has no max (explicit padding can make one).
  const covers = (out: number, k: number, stride: number, dil: number, pad: number, size: number) => {
    for (let i = 0; i < out; i++) {
      let any = false;
      for (let j = 0; j < k && !any; j++) { const p = i * stride - pad + j * dil; any = p >= 0 && p < size; }
      if (!any) return i;
    }
    return -1;
  };
  const badRow = covers(g.outH, kh, g.strideH, g.dilationH, g.padTop, H), badCol = covers(g.outW, kw, g.strideW, g.dilationW, g.padLeft, W);
  if (badRow >= 0 || badCol >= 0) {
    throw new Error(`${op}: the window at output ${badRow >= 0 ? `row ${badRow}` : `column ${badCol}`} lies entirely in the padding [[${g.padTop}, ${g.padBottom}], [${g.padLeft}, ${g.padRight}]]; use less padding than the window`);
  }
  const cw = Math.ceil(C / 32);
  const result = empty([N, g.outH, g.outW, cw], 'int32');
  if (result.size === 0) return result;
  // Output rows (n, oy) are independent: split over them.
  return produce(result, () => withArgs([geoBlock(g, N, C, cw)], 0, ([geo]) => parallelTiles({
    kernel: 'maxpool_b1',
    rows: { begin: 0, end: N * g.outH, align: 1 },
    cost: N * g.outH * g.outW * kh * kw * cw,
    args: [geo, xBits.offset, result.offset, { i0: 1 }, { i1: 1 }],
  })));
}

export interface Uint8Conv2dOptions extends Window2dOptions, ConvOutputOptions {
  kernelSize: number | [number, number];
}

/** Largest patch length whose uint8 x ±1 sums are exact in float32 (255·K < 2^24). */
const U8_EXACT_K = 65792;

/**
 * uint8 NHWC pixels x [N, H, W, C] times ±1 weights wBits [Cout, ceil(K/128)·4]
 * (packConvWeightsU8): exact sums with zero padding; outputs as binaryConv2d.
 */
export function uint8Conv2d(x: Tensor, wBits: Tensor, options: Uint8Conv2dOptions): Tensor {
  const op = 'uint8Conv2d';
  const o = readOptions<Uint8Conv2dOptions>(options, op);
  if (o.kernelSize === undefined) throw new Error(`${op}: options.kernelSize is required (the packed weights do not record it)`);
  const [kh, kw] = pair(o.kernelSize, op, 'kernelSize', 1);
  checkDType(x, op, 'x', 'uint8');
  checkRank(x, op, 'x', 4);
  const [N, H, W, C] = x.shape;
  const K = kh * kw * C;
  if (K > U8_EXACT_K) throw new Error(`${op}: kh·kw·C = ${K} is too large; sums of ${K} uint8 values are not exact in float32 past ${U8_EXACT_K}`);
  checkDType(wBits, op, 'wBits', 'int32');
  checkRank(wBits, op, 'wBits', 2);
  const [Cout, ldw] = wBits.shape;
  const want = Math.ceil(K / 128) * 4;
  if (ldw !== want) throw new Error(`${op}: wBits must have ceil(kh·kw·C/128)*4 = ${want} words per output channel for K = ${K}, got shape [${wBits.shape}] (pack with packConvWeightsU8)`);
  const bad = tailViolations(wBits, Cout, ldw, K);
  if (bad > 0) throw new Error(`${op}: wBits has ${bad} row${bad > 1 ? 's' : ''} with 1 bits past K = ${K}; padding bits must be 0 (pack with packConvWeightsU8)`);
  const g = windowGeometry(op, H, W, kh, kw, o);
  const out = outputArgs(o, Cout, 255 * K, op);
  const result = empty(outputShape(out.code, N, g, Cout), out.code === OUT_CODE.float32 ? 'float32' : 'int32');
  const M = N * g.outH * g.outW;
  if (M === 0 || Cout === 0) return result;
  const { kernels } = rt();
  return produce(result, () => {
    const patterns = cachedDerived(wBits, `gemm_u8b1.patterns:${K}`, kernels.gemm_u8b1_packed_w_bytes(Cout, K), (off) => {
      kernels.gemm_u8b1_pack_w(wBits.offset, Cout, ldw, K, off);
    });
    const chunk = chunkRows(M, K, Cout * 4);
    withArgs([geoBlock(g, N, C, C), ...out.arrays], 0, ([geo, s, b, t, d]) => parallelTiles({
      kernel: 'conv_u8b1',
      rows: pixelRows(M, chunk),
      cost: M * Cout * K,
      args: [out.code, geo, x.offset, patterns, Cout, result.offset, s, b, t, d, WORKSPACE, chunk, ...PIXELS],
      workspace: () => kernels.conv_u8b1_workspace_bytes(K, chunk, Cout),
    }));
  });
}

export interface Int8Conv2dOptions extends Window2dOptions {
  /** The input's zero point: the value of a padded tap (an int8). Default 0. */
  zeroPoint?: number;
  /** 'int32' (default): the sums; 'float32': int8MatmulDequantize's epilogue; 'int8': int8MatmulRequantize's. */
  output?: 'int32' | 'float32' | 'int8';
  scaleA?: number;
  scaleB?: ChannelValues;
  bias?: ChannelValues;
  scaleOut?: number;
}

/**
 * int8 NHWC x [N, H, W, C] times int8 HWIO weights w [kh, kw, C, Cout] with
 * padded taps = zeroPoint -> [N, oH, oW, Cout]: int32 sums, or float32 / int8
 * by the epilogues of int8MatmulDequantize / int8MatmulRequantize (same
 * options). The packed weights are cached with w.
 */
export function int8Conv2d(x: Tensor, w: Tensor, options: Int8Conv2dOptions | null = {}): Tensor {
  const op = 'int8Conv2d';
  const o = readOptions<Int8Conv2dOptions>(options, op);
  checkDType(x, op, 'x', 'int8');
  checkRank(x, op, 'x', 4);
  checkDType(w, op, 'w', 'int8');
  checkRank(w, op, 'w', 4);
  const [N, H, W, C] = x.shape;
  const [kh, kw, Cin, Cout] = w.shape;
  if (Cin !== C) throw new Error(`${op}: w must be [kh, kw, ${C}, Cout] for an input of ${C} channels, got shape [${w.shape}]`);
  const K = kh * kw * C;
  if (K > INT8_MAX_K) throw new Error(`${op}: kh·kw·C = ${K} is too large; int32 sums of int8 products may overflow past ${INT8_MAX_K}`);
  const zp = o.zeroPoint === undefined ? 0 : checkNumber(o.zeroPoint, op, 'zeroPoint', { integer: true, min: -128, max: 127 });
  const output = choiceOption(o.output, op, 'output', ['int32', 'float32', 'int8'] as const, 'int32');
  const mode = output === 'int32' ? 0 : output === 'float32' ? 1 : 2;
  const g = windowGeometry(op, H, W, kh, kw, o);
  const ep = mode === 0 ? { mult: new Float32Array(0), add: new Float32Array(0) } : mode === 1 ? dequantizeArgs(o, Cout, K, op) : requantizeArgs(o, Cout, op);
  const result = empty([N, g.outH, g.outW, Cout], output);
  const M = N * g.outH * g.outW;
  if (M === 0 || Cout === 0) return result;
  const { kernels } = rt();
  return produce(result, () => {
    const packedB = cachedDerived(w, 'conv_s8.packB', kernels.gemm_s8_packed_b_bytes(Cout, K), (off) => {
      kernels.gemm_s8_pack_b(w.offset, Cout, Cout, K, 0, off);
    });
    const chunk = chunkRows(M, 3 * K, 0);
    withArgs([geoBlock(g, N, C, C), ep.mult, ep.add], 0, ([geo, m, d]) => parallelTiles({
      kernel: 'conv_s8',
      rows: pixelRows(M, chunk),
      cost: M * Cout * K,
      args: [mode, geo, x.offset, zp, packedB, Cout, result.offset, m, d, WORKSPACE, chunk, ...PIXELS],
      workspace: () => kernels.conv_s8_workspace_bytes(K, chunk),
    }));
  });
}
