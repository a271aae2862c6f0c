import { binaryConv2d, binaryMaxPool2d, convWeightWords, int8Conv2d, packChannels, uint8Conv2d } from '../kernels/conv_binary.js';
import { int8ToF32, thresholdPackF32, unpackBitsF32 } from '../kernels/frozen.js';
import { quantizeInt8 } from '../kernels/quant_s8.js';
import { batchNormEval } from '../nn/batchnorm.js';
import { conv2d } from '../ops/conv.js';
import { windowGeometry, type Geometry2d, type Padding2d } from '../ops/conv-geometry.js';
import { add, clip, mul, ne } from '../ops/elementwise.js';
import { maxPool2d } from '../ops/pool.js';
import { cast, pad, reshape, transpose } from '../ops/shape.js';
import { round } from '../ops/discrete.js';
import { sum } from '../ops/reduce.js';
import { binarize } from '../ste/sign.js';
import { describe } from '../tensor/checks.js';
import { tensor } from '../tensor/creation.js';
import { keep } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { rowsToImage, unpackImage } from './bits.js';
import { asFloat, checkBinaryEpilogueTensors, Checker, EXACT_SUM, flag, foldThresholds, readBinaryEpilogue, type FloatStage } from './stages.js';
import type { Activation, FrozenStage, FuseInfo } from './types.js';

// Frozen convolution stages (NHWC activations). A binary conv runs on packed
// channel bits (XNOR-popcount through im2col, src/kernels/conv_binary.ts) or,
// for uint8 pixels, on the exact uint8 x 1-bit kernel; its output transform
// absorbs the XNOR scale and bias, a following batch norm, a sign/binarize
// (per-channel integer thresholds -> packed bits) and a max-pool, so binary
// layers hand each other packed words. A quant conv runs on the int8 kernels.

type Config = Record<string, unknown>;

/** Bound on sizes read from a file (as conv-geometry accepts). */
const MAX_WINDOW = 2 ** 16;
const MAX_CHANNELS = 2 ** 16;

/** The conv window of a stage config, checked, with its output size. */
interface ConvConfig {
  inChannels: number; outChannels: number; kh: number; kw: number; groups: number;
  inH: number; inW: number; strideH: number; strideW: number; dilationH: number; dilationW: number;
  padTop: number; padBottom: number; padLeft: number; padRight: number;
}

function readConv(c: Checker, where: string): { conv: ConvConfig; g: Geometry2d } {
  const inChannels = c.int('inChannels', 1, MAX_CHANNELS);
  const outChannels = c.int('outChannels', 1, MAX_CHANNELS);
  const groups = c.int('groups', 1, MAX_CHANNELS);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) throw new Error(`${where}: config.groups (${groups}) must divide config.inChannels (${inChannels}) and config.outChannels (${outChannels})`);
  const conv: ConvConfig = {
    inChannels, outChannels, groups,
    kh: c.int('kh', 1, MAX_WINDOW), kw: c.int('kw', 1, MAX_WINDOW),
    inH: c.int('inH', 1, MAX_WINDOW), inW: c.int('inW', 1, MAX_WINDOW),
    strideH: c.int('strideH', 1, MAX_WINDOW), strideW: c.int('strideW', 1, MAX_WINDOW),
    dilationH: c.int('dilationH', 1, MAX_WINDOW), dilationW: c.int('dilationW', 1, MAX_WINDOW),
    padTop: c.int('padTop', 0, MAX_WINDOW), padBottom: c.int('padBottom', 0, MAX_WINDOW),
    padLeft: c.int('padLeft', 0, MAX_WINDOW), padRight: c.int('padRight', 0, MAX_WINDOW),
  };
  if (conv.kh * conv.kw * (inChannels / groups) * outChannels > 2 ** 28) throw new Error(`${where}: the conv weight would have more than 2^28 elements`);
  return { conv, g: geometryOf(conv, where) };
}

function geometryOf(c: ConvConfig, where: string): Geometry2d {
  return windowGeometry(where, c.inH, c.inW, c.kh, c.kw, {
    stride: [c.strideH, c.strideW], dilation: [c.dilationH, c.dilationW], padding: [[c.padTop, c.padBottom], [c.padLeft, c.padRight]],
  });
}

/** Checks an NHWC input (float, uint8, or image bits) against the stage's fixed input size. */
function checkImage(a: Activation, c: ConvConfig, type: string): number {
  const s = a.t.shape;
  const channels = a.kind === 'bits' ? a.k : s[3];
  if (s.length !== 4 || s[1] !== c.inH || s[2] !== c.inW || channels !== c.inChannels) {
    const got = a.kind === 'bits' ? (s.length === 4 ? `[${s.slice(0, 3)},${a.k}] (packed)` : `rows of ${a.k} packed values`) : `[${s}]`;
    throw new Error(`${type} takes NHWC images [batch, ${c.inH}, ${c.inW}, ${c.inChannels}] (the size it was frozen for), got ${got}`);
  }
  return s[0];
}

/** The window as conv options (explicit padding: resolved at freeze time). */
function windowOf(g: Geometry2d): { stride: [number, number]; dilation: [number, number]; padding: [[number, number], [number, number]] } {
  return { stride: [g.strideH, g.strideW], dilation: [g.dilationH, g.dilationW], padding: [[g.padTop, g.padBottom], [g.padLeft, g.padRight]] };
}

/** Float32 inputs of a uint8-input layer as uint8, after checking they are integers in [0, 255] (as the dense uint8 kernel does). */
function asPixels(x: Tensor): Tensor {
  if (x.dtype === 'uint8') return x;
  const bad = sum(cast(ne(x, clip(round(x), 0, 255)), 'float32')).item();
  if (bad > 0) throw new Error(`FrozenModel.predict: x must hold integers in [0, 255] (e.g. raw pixels); ${bad} value${bad > 1 ? 's are' : ' is'} not (fractions, out of range or NaN)`);
  return quantizeInt8(x, { scale: 1, dtype: 'uint8' });
}

/** A max-pool after the conv: its window over the conv's output, and where it runs (see BinaryConv2dStage). */
interface PoolConfig {
  size: [number, number];
  stride: [number, number];
  padding: [[number, number], [number, number]];
  /** 'dot': on the conv sums, before the epilogue; 'output': on the stage's output (float after batch norm, or bits). */
  at: 'dot' | 'output';
}

/** Reads and checks a fused pool's config: its window must fit the conv's output (windowGeometry throws otherwise). */
function readPool(v: unknown, outH: number, outW: number, where: string): PoolConfig | null {
  if (v === null || v === undefined) return null;
  const bad = () => new Error(`${where}: config.pool must be null or { size: [h, w], stride: [h, w], padding: [[top, bottom], [left, right]], at: 'dot' | 'output' } with each padding smaller than the window, got ${describe(v)}`);
  const p = v as Record<string, unknown>;
  const int = (x: unknown, min: number) => Number.isInteger(x) && (x as number) >= min && (x as number) <= MAX_WINDOW;
  const isPair = (x: unknown, min: number) => Array.isArray(x) && x.length === 2 && x.every((d) => int(d, min));
  if (typeof p !== 'object' || Array.isArray(p) || !isPair(p.size, 1) || !isPair(p.stride, 1) || (p.at !== 'dot' && p.at !== 'output')) throw bad();
  const size = p.size as [number, number];
  const padding = p.padding as [[number, number], [number, number]];
  if (!Array.isArray(padding) || padding.length !== 2 || !padding.every((side, axis) => isPair(side, 0) && side.every((d: number) => d < size[axis]))) throw bad();
  const pool: PoolConfig = { size: [size[0], size[1]], stride: [(p.stride as number[])[0], (p.stride as number[])[1]], padding: [[padding[0][0], padding[0][1]], [padding[1][0], padding[1][1]]], at: p.at };
  windowGeometry(where, outH, outW, pool.size[0], pool.size[1], { stride: pool.stride, padding: pool.padding });
  return pool;
}

/** A maxpool2d stage's window resolved against an outH x outW input, or null when the window does not fit it. */
function poolOver(next: FrozenStage, outH: number, outW: number): Omit<PoolConfig, 'at'> | null {
  const c = next.config as { size: [number, number]; stride: [number, number]; padding: unknown };
  try {
    const g = windowGeometry('freeze', outH, outW, c.size[0], c.size[1], { stride: c.stride, padding: structuredClone(c.padding) as Padding2d });
    return { size: [...c.size], stride: [...c.stride], padding: [[g.padTop, g.padBottom], [g.padLeft, g.padRight]] };
  } catch {
    return null;
  }
}

interface BinaryConvConfig extends ConvConfig {
  binarizeInputs: boolean;
  uint8Inputs: boolean;
  padValue: 0 | 1;
  scale: boolean;
  bias: boolean;
  threshold: boolean;
  bnEps: number | null;
  bnAffine: boolean;
  pool: PoolConfig | null;
}

/** Largest K = kh·kw·Cin of a uint8-pixel binary conv that runs as a float conv (measured: BENCHMARKS.md, Binary CNN). */
export const U8_FLOAT_MAX_K = 32;

/**
 * nn.BinaryConv2d frozen. Weights: packed ±1 rows [outChannels, words]
 * (tensor "weightBits", the layout of src/kernels/conv_binary.ts). Product:
 * XNOR-popcount on packed input channels (binarizeInputs; padValue 1 pads
 * with +1 bits, padValue 0 applies the kernel's edge correction), the exact
 * uint8 x 1-bit kernel (uint8Inputs), else the float conv of the ±1 weights
 * (float inputs, and grouped convs) — every one the exact sums of the trained
 * layer. Epilogue, in the trained model's float32 order: XNOR scale, bias,
 * batch norm; or, folded, per-channel integer thresholds to packed bits. A
 * fused max-pool runs on the sums ('dot': the trained pool came before the
 * monotone scale/bias/batch norm, or before a batch norm + sign that folds
 * into thresholds of either direction) or on the output ('output': after the
 * batch norm; on packed bits it is the AND of the words).
 */
export class BinaryConv2dStage implements FrozenStage {
  readonly type = 'binary-conv2d';
  readonly config: BinaryConvConfig & Config;
  readonly #g: Geometry2d;
  /** Every threshold direction is +1: max-pooling the sums then thresholding equals pooling the bits. */
  #ascending = false;

  constructor(readonly tensors: Record<string, Tensor>, config: Config, where: string) {
    const c = new Checker(where, config, tensors);
    const { conv, g } = readConv(c, where);
    const binarizeInputs = c.bool('binarizeInputs');
    const uint8Inputs = c.bool('uint8Inputs');
    if (uint8Inputs && binarizeInputs) throw new Error(`${where}: config.uint8Inputs and config.binarizeInputs cannot both be true`);
    const padValue = c.int('padValue', 0, 1) as 0 | 1;
    if (padValue === 1 && !binarizeInputs) throw new Error(`${where}: config.padValue 1 needs config.binarizeInputs (float and uint8 inputs are zero-padded)`);
    const e = readBinaryEpilogue(c);
    const O = conv.outChannels;
    const K = conv.kh * conv.kw * (conv.inChannels / conv.groups);
    c.tensor('weightBits', 'int32', [O, weightWords(conv, binarizeInputs)]);
    const names = ['weightBits'];
    checkBinaryEpilogueTensors(c, e, O, names, false);
    // Every direction +1: the thresholds are non-decreasing in the sum, so a max-pool may run on the sums first.
    if (e.threshold) this.#ascending = c.tensor('direction', 'int32', [O]).dataSync().every((v) => v === 1);
    c.only(names);
    const pool = readPool(config.pool, g.outH, g.outW, where);
    if (pool?.at === 'output' && !e.threshold && e.bnEps === null) throw new Error(`${where}: config.pool.at 'output' needs a batch norm or thresholds (a pool on the sums is 'dot')`);
    if (K * (uint8Inputs ? 255 : 1) > EXACT_SUM && (binarizeInputs || uint8Inputs)) throw new Error(`${where}: kh·kw·inChannels/groups = ${K} is too large for exact float32 sums`);
    this.#g = g;
    this.config = { ...conv, binarizeInputs, uint8Inputs, padValue, scale: e.scale, bias: e.bias, threshold: e.threshold, bnEps: e.bnEps, bnAffine: e.bnAffine, pool };
  }

  get acceptsUint8(): boolean {
    return this.config.uint8Inputs;
  }

  get binarizesInput(): boolean {
    return this.config.binarizeInputs;
  }

  outputWidth(): null {
    return null;
  }

  get description(): string {
    const c = this.config;
    const input = c.binarizeInputs ? `1-bit inputs${c.padValue === 1 ? ', one-padding' : ''}` : c.uint8Inputs ? 'uint8 inputs' : 'float inputs';
    const pool = c.pool ? `, ${c.pool.size.join('x')} max-pool${c.pool.at === 'output' && c.threshold ? ' on bits' : ''}` : '';
    const epilogue = c.threshold ? ', batch norm folded into thresholds -> bits' : c.bnEps !== null ? ', float batch norm' : '';
    return `${c.inChannels} -> ${c.outChannels}, ${c.kh}x${c.kw} conv${c.groups > 1 ? `, ${c.groups} groups` : ''}, 1-bit weights, ${input}${epilogue}${pool}`;
  }

  /**
   * Whether the packed kernels run the product (else the float conv of the ±1
   * weights). uint8 pixels with K = kh·kw·Cin <= U8_FLOAT_MAX_K take the float
   * conv: gemm_u8b1 pads K to a multiple of 128 (a 3x3 window over one
   * channel does 14x the work), and the float sums are the same integers.
   */
  private get packed(): boolean {
    const c = this.config;
    return c.groups === 1 && (c.binarizeInputs || (c.uint8Inputs && c.kh * c.kw * c.inChannels > U8_FLOAT_MAX_K));
  }

  /** The product through the packed kernels, finished as float sums·scale + bias or as threshold bits. */
  private kernel(a: Activation, out: { output: 'float32'; scale?: Tensor; bias?: Tensor } | { output: 'bits'; threshold: Tensor; direction: Tensor }): Tensor {
    const c = this.config;
    const window = { ...windowOf(this.#g), kernelSize: [c.kh, c.kw] as [number, number], ...out };
    if (c.binarizeInputs) {
      // Float ±1 (or sign's 0, which binarizes to +1 as in training) packs once; bits come as they are.
      const bits = a.kind === 'bits' ? a.t : packChannels(a.t);
      return binaryConv2d(bits, this.tensors.weightBits, { ...window, inChannels: c.inChannels, padValue: c.padValue });
    }
    return uint8Conv2d(asPixels(asFloat(a)), this.tensors.weightBits, window);
  }

  /** The float conv of the ±1 weights: exact sums for ±1 and integer inputs, the trained layer's own op otherwise. */
  private floatProduct(a: Activation): Tensor {
    const c = this.config;
    const g = this.#g;
    const K = c.kh * c.kw * (c.inChannels / c.groups);
    const rows = unpackBitsF32(this.tensors.weightBits, K, 'FrozenModel.predict');
    const w = transpose(reshape(rows, [c.outChannels, c.kh, c.kw, c.inChannels / c.groups]), [1, 2, 3, 0]);
    // uint8 pixels of a grouped layer are checked as the kernel would, then widened (exact).
    const x = c.uint8Inputs ? cast(asPixels(asFloat(a)), 'float32') : asFloat(a);
    const window = windowOf(g);
    const padded = g.padTop + g.padBottom + g.padLeft + g.padRight > 0;
    if (c.binarizeInputs && c.padValue === 1 && padded) {
      return conv2d(pad(binarize(x), [[0, 0], [g.padTop, g.padBottom], [g.padLeft, g.padRight], [0, 0]], { value: 1 }), w, { ...window, groups: c.groups, padding: 'valid' });
    }
    return conv2d(c.binarizeInputs ? binarize(x) : x, w, { ...window, groups: c.groups });
  }

  run(a: Activation): Activation {
    const c = this.config;
    const t = this.tensors;
    const n = checkImage(a, c, this.type);
    const g = this.#g;
    const pool = c.pool;
    const bitsPool = (bits: Tensor): Tensor => (pool ? binaryMaxPool2d(bits, { channels: c.outChannels, size: pool.size, stride: pool.stride, padding: pool.padding }) : bits);
    // uint8 pixels through the float conv, pool on the output, thresholds all ascending: pool the integer sums (4x fewer to threshold), then pack.
    if (c.threshold && pool?.at === 'output' && !this.packed && c.uint8Inputs && this.#ascending) {
      const y = maxPool2d(this.floatProduct(a), { size: pool.size, stride: pool.stride, padding: pool.padding });
      const [h, w] = [y.shape[1], y.shape[2]];
      return { kind: 'bits', t: rowsToImage(thresholdPackF32(reshape(y, [n * h * w, c.outChannels]), t.threshold, t.direction, 'FrozenModel.predict'), [n, h, w], c.outChannels), k: c.outChannels };
    }
    // Thresholds on the output: straight to packed bits.
    if (c.threshold && pool?.at !== 'dot') {
      const bits = this.packed
        ? this.kernel(a, { output: 'bits', threshold: t.threshold, direction: t.direction })
        : rowsToImage(thresholdPackF32(reshape(this.floatProduct(a), [n * g.outH * g.outW, c.outChannels]), t.threshold, t.direction, 'FrozenModel.predict'), [n, g.outH, g.outW], c.outChannels);
      return { kind: 'bits', t: bitsPool(bits), k: c.outChannels };
    }
    // Float sums; the XNOR scale and bias as the trained layer applies them (two rounded ops), except under thresholds, which include them.
    const affine = c.threshold ? {} : { scale: t.scale, bias: t.bias };
    let y: Tensor;
    if (this.packed) {
      y = this.kernel(a, { output: 'float32', ...affine });
    } else {
      y = this.floatProduct(a);
      if (affine.scale) y = mul(y, affine.scale);
      if (affine.bias) y = add(y, affine.bias);
    }
    const window = () => ({ size: pool!.size, stride: pool!.stride, padding: pool!.padding });
    if (pool?.at === 'dot') y = maxPool2d(y, window());
    const [h, w] = [y.shape[1], y.shape[2]];
    if (c.threshold) {
      return { kind: 'bits', t: rowsToImage(thresholdPackF32(reshape(y, [n * h * w, c.outChannels]), t.threshold, t.direction, 'FrozenModel.predict'), [n, h, w], c.outChannels), k: c.outChannels };
    }
    if (c.bnEps !== null) y = batchNormEval(y, t.bnMean, t.bnVar, t.bnWeight ?? null, t.bnBias ?? null, c.bnEps);
    if (pool?.at === 'output') y = maxPool2d(y, window());
    return { kind: 'float', t: y };
  }

  outputIntegerMax(): number | null {
    return this.config.threshold ? 1 : null;
  }

  fuse(next: FrozenStage, info: FuseInfo): FrozenStage | null {
    const c = this.config;
    const g = this.#g;
    if (next.type === 'maxpool2d' && c.pool === null) {
      const window = poolOver(next, g.outH, g.outW);
      if (window === null) return null;
      // Before a batch norm the pool commutes with the monotone scale and bias: it runs on the sums.
      const at = c.threshold || c.bnEps !== null ? 'output' : 'dot';
      return new BinaryConv2dStage(this.tensors, { ...c, pool: { ...window, at } }, 'freeze');
    }
    if (next.type === 'batchnorm' && c.bnEps === null && !c.threshold && (next as FloatStage).features === c.outChannels) {
      const bn = next.tensors;
      const tensors: Record<string, Tensor> = { ...this.tensors, bnMean: bn.runningMean, bnVar: bn.runningVar };
      if (bn.weight) {
        tensors.bnWeight = bn.weight;
        tensors.bnBias = bn.bias;
      }
      return new BinaryConv2dStage(tensors, { ...c, bnEps: next.config.eps, bnAffine: !!bn.weight }, 'freeze');
    }
    const binarizes = next.type === 'binarize' || (next.type === 'sign' && info.readersBinarize);
    if (c.bnEps === null || c.threshold || !binarizes) return null;
    // Folding is exact only when every sum is an integer float32 holds exactly.
    const K = c.kh * c.kw * (c.inChannels / c.groups);
    const inputMax = c.binarizeInputs ? 1 : c.uint8Inputs ? 255 : info.inputIntegerMax;
    if (inputMax === null || K * inputMax > EXACT_SUM) return null;
    const { threshold, direction } = foldThresholds(this.tensors, c.bnEps, c.outChannels, K * inputMax);
    // A pool on the sums moves onto the bits when every channel's sign(batch norm) is non-decreasing (then max commutes with it).
    const pool = c.pool?.at === 'dot' && direction.every((d) => d === 1) ? { ...c.pool, at: 'output' as const } : c.pool;
    const tensors = { weightBits: this.tensors.weightBits, threshold: keep(tensor(threshold)), direction: keep(tensor(direction, undefined, { dtype: 'int32' })) };
    return new BinaryConv2dStage(tensors, { ...c, threshold: true, bnEps: null, scale: false, bias: false, bnAffine: false, pool }, 'freeze');
  }
}

/** Stored words per weight row: the binary conv kernel's per-tap channel words, or contiguous rows of packBits (128-bit padded). */
function weightWords(c: ConvConfig, binarizeInputs: boolean): number {
  const cg = c.inChannels / c.groups;
  return binarizeInputs && c.groups === 1 ? convWeightWords(c.kh, c.kw, cg) : Math.ceil((c.kh * c.kw * cg) / 128) * 4;
}

/**
 * nn.QuantConv2d frozen: int8 weights [kh·kw·in/groups, outChannels] (HWIO
 * rows) with per-channel scales; with an activation scale the input is
 * quantized to int8 and the int8 conv kernel dequantizes f32(acc)·(sx·sw) + bias;
 * float activations, and grouped convs (the int8 kernel has no groups), run
 * conv2d on the dequantized weights (and dequantized int8 inputs).
 */
export class Int8Conv2dStage implements FrozenStage {
  readonly type = 'int8-conv2d';
  readonly config: ConvConfig & { inputScale: number | null; weightBits: number; bias: boolean } & Config;
  readonly #g: Geometry2d;

  constructor(readonly tensors: Record<string, Tensor>, config: Config, where: string) {
    const c = new Checker(where, config, tensors);
    const { conv, g } = readConv(c, where);
    const inputScale = c.num('inputScale', { positive: true, nullable: true });
    const weightBits = c.int('weightBits', 2, 8);
    const bias = flag(c, 'bias', 'bias');
    const O = conv.outChannels;
    c.tensor('weight', 'int8', [conv.kh, conv.kw, conv.inChannels / conv.groups, O]);
    const scales = c.tensor('weightScale', 'float32', [O]).dataSync();
    if (scales.some((s) => !(s > 0 && s < Infinity))) throw new Error(`${where}: tensor "weightScale" must hold finite positive scales`);
    if (bias) c.tensor('bias', 'float32', [O]);
    c.only(bias ? ['weight', 'weightScale', 'bias'] : ['weight', 'weightScale']);
    this.#g = g;
    this.config = { ...conv, inputScale, weightBits, bias };
  }

  outputWidth(): null {
    return null;
  }

  get description(): string {
    const c = this.config;
    return `${c.inChannels} -> ${c.outChannels}, ${c.kh}x${c.kw} conv${c.groups > 1 ? `, ${c.groups} groups` : ''}, ${c.weightBits}-bit weights (int8 storage), ${c.inputScale === null ? 'float inputs' : 'int8 inputs'}`;
  }

  run(a: Activation): Activation {
    const c = this.config;
    const n = checkImage(a, c, this.type);
    const x = a.kind === 'bits' ? unpackImage(a.t, c.inChannels) : a.t;
    const { weight, weightScale, bias } = this.tensors;
    const g = this.#g;
    if (c.inputScale !== null && c.groups === 1) {
      const xq = quantizeInt8(x, { scale: c.inputScale });
      return { kind: 'float', t: int8Conv2d(xq, weight, { ...windowOf(g), output: 'float32', scaleA: c.inputScale, scaleB: weightScale, bias: bias ?? 0 }) };
    }
    // Float activations (or groups): dequantized weights through the float conv.
    const w = mul(int8ToF32(weight, 'FrozenModel.predict'), weightScale);
    const xin = c.inputScale === null ? x : mul(int8ToF32(quantizeInt8(x, { scale: c.inputScale }), 'FrozenModel.predict'), c.inputScale);
    const y = conv2d(xin, w, { ...windowOf(g), groups: c.groups });
    return { kind: 'float', t: bias ? add(y, bias) : y };
  }
}
