import { packBits, packedWords, checkBits } from '../kernels/bitpack.js';
import { copyTensor, int8ToF32, thresholdPackF32, unpackBitsF32 } from '../kernels/frozen.js';
import { binaryMatmulF32, binaryWeightsMatmul } from '../kernels/gemm_b1.js';
import { int8MatmulDequantize } from '../kernels/gemm_s8.js';
import { uint8BinaryMatmulF32 } from '../kernels/gemm_u8b1.js';
import { quantizeInt8 } from '../kernels/quant_s8.js';
import { batchNormEval } from '../nn/batchnorm.js';
import { add, clip, mul, relu, sigmoid, tanh } from '../ops/elementwise.js';
import { matmul } from '../ops/matmul.js';
import { conv2d } from '../ops/conv.js';
import type { Padding2d } from '../ops/conv-geometry.js';
import { avgPool2d, globalAvgPool2d, maxPool2d, type Pool2dOptions } from '../ops/pool.js';
import { reshape } from '../ops/shape.js';
import { sign } from '../ste/sign.js';
import { describe } from '../tensor/checks.js';
import { tensor } from '../tensor/creation.js';
import type { DType } from '../tensor/dtypes.js';
import { keep } from '../tensor/scope.js';
import { Tensor } from '../tensor/tensor.js';
import { REPLAYABLE_OPS } from './ops.js';
import { flattenImage, unpackImage } from './bits.js';
import { packChannels } from '../kernels/conv_binary.js';
import { BinaryConv2dStage, Int8Conv2dStage } from './conv-stages.js';
import type { Activation, FrozenStage, FuseInfo } from './types.js';

// The stage types of a frozen model. Each type validates its config and its
// tensors (names, dtypes, shapes) when built, so a stage built by freeze() and
// one loaded by FrozenModel.fromState pass the same checks before anything runs.

/** Largest integer |sum| a float32 accumulator holds exactly. */
export const EXACT_SUM = 2 ** 24;
/** Bound on feature counts read from a file (2^24: larger layers would not fit wasm memory anyway). */
const MAX_FEATURES = 2 ** 24;
/** Bound on a pool window side or stride read from a file (as conv-geometry's). */
const MAX_POOL_WINDOW = 2 ** 16;
type PoolPadding = NonNullable<Pool2dOptions['padding']>;
/** Pooling stages over NHWC images (float, replaying ops/pool.ts). */
const POOL_STAGES: readonly string[] = ['maxpool2d', 'avgpool2d', 'globalavgpool2d'];

export function asFloat(a: Activation): Tensor {
  if (a.kind === 'bits' && a.t.rank === 4) return unpackImage(a.t, a.k);
  return a.kind === 'float' ? a.t : unpackBitsF32(a.t, a.k, 'FrozenModel.predict');
}

function asBits(a: Activation): { t: Tensor; k: number } {
  if (a.kind === 'bits') return { t: a.t, k: a.k };
  return { t: packBits(a.t), k: a.t.shape[1] };
}

// ---- config and tensor checks ------------------------------------------------

type Config = Record<string, unknown>;

export class Checker {
  constructor(readonly where: string, readonly config: Config, readonly tensors: Record<string, Tensor>) {
    if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new Error(`${where}: config must be an object, got ${describe(config)}`);
  }

  private fail(key: string, want: string): never {
    throw new Error(`${this.where}: config.${key} must be ${want}, got ${describe(this.config[key])}`);
  }

  int(key: string, min: number, max: number): number {
    const v = this.config[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) this.fail(key, `an integer in [${min}, ${max}]`);
    return v;
  }

  bool(key: string, fallback?: boolean): boolean {
    const v = this.config[key];
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'boolean') this.fail(key, 'true or false');
    return v;
  }

  /** A finite number (> 0 with positive); null allowed with nullable. */
  num(key: string, opts: { positive?: boolean; nullable?: boolean } = {}): number | null {
    const v = this.config[key];
    if (v === null && opts.nullable) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || (opts.positive && !(v > 0))) this.fail(key, `a finite${opts.positive ? ' positive' : ''} number${opts.nullable ? ' or null' : ''}`);
    return v;
  }

  /** A window size or stride: [h, w] integers >= min. */
  pair(key: string, min: number): [number, number] {
    const v = this.config[key];
    if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= min && d <= MAX_POOL_WINDOW)) this.fail(key, `a pair [h, w] of integers in [${min}, ${MAX_POOL_WINDOW}]`);
    return [v[0], v[1]];
  }

  /** A pool padding: 'same', 'valid' or [[top, bottom], [left, right]], each side smaller than the window. */
  padding(key: string, size: [number, number]): PoolPadding {
    const v = this.config[key];
    if (v === 'same' || v === 'valid') return v;
    const ok = Array.isArray(v) && v.length === 2 && v.every((side, axis) => Array.isArray(side) && side.length === 2 && side.every((d) => Number.isInteger(d) && d >= 0 && d < size[axis]));
    if (!ok) this.fail(key, `'same', 'valid' or [[top, bottom], [left, right]] with integers in [0, window size)`);
    return [[v[0][0], v[0][1]], [v[1][0], v[1][1]]];
  }

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.tensors, name);
  }

  tensor(name: string, dtype: DType, shape: readonly number[]): Tensor {
    if (!this.has(name)) throw new Error(`${this.where}: tensor "${name}" is missing (expected ${dtype} [${shape}])`);
    const t = this.tensors[name];
    if (!(t instanceof Tensor) || t.disposed) throw new Error(`${this.where}: tensor "${name}" must be a live tensor, got ${describe(t)}`);
    if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${this.where}: tensor "${name}" must be ${dtype} [${shape}], got ${t.dtype} [${t.shape}]`);
    }
    return t;
  }

  /** Rejects tensors the config does not call for. */
  only(names: string[]): void {
    const extra = Object.keys(this.tensors).filter((n) => !names.includes(n));
    if (extra.length > 0) throw new Error(`${this.where}: unexpected tensor${extra.length > 1 ? 's' : ''} ${extra.map((n) => `"${n}"`).join(', ')} (this stage stores ${names.length ? names.map((n) => `"${n}"`).join(', ') : 'no tensors'})`);
  }
}

/** Optional-tensor flags: explicit in version 2 configs, read from which tensors exist in version 1 files. */
export function flag(c: Checker, key: string, ...names: string[]): boolean {
  if (c.config[key] !== undefined) return c.bool(key);
  const present = names.filter((n) => c.has(n));
  if (present.length !== 0 && present.length !== names.length) {
    throw new Error(`${c.where}: tensors ${names.map((n) => `"${n}"`).join(' and ')} come together; only ${present.map((n) => `"${n}"`).join(', ')} is present`);
  }
  return present.length > 0;
}

/** The epilogue of a binary stage: float sums · scale + bias, then an optional batch norm; or thresholds to bits. */
export interface BinaryEpilogue {
  threshold: boolean;
  bnEps: number | null;
  scale: boolean;
  bias: boolean;
  bnAffine: boolean;
}

/** Reads a binary stage's epilogue flags (binary dense and binary conv share them). */
export function readBinaryEpilogue(c: Checker): BinaryEpilogue {
  const threshold = c.bool('threshold');
  const bnEps = c.num('bnEps', { positive: true, nullable: true });
  if (threshold && bnEps !== null) throw new Error(`${c.where}: config.bnEps must be null when config.threshold is true (the batch norm is folded into the thresholds)`);
  const scale = flag(c, 'scale', 'scale');
  const bias = flag(c, 'bias', 'bias');
  const bnAffine = bnEps !== null && flag(c, 'bnAffine', 'bnWeight', 'bnBias');
  return { threshold, bnEps, scale, bias, bnAffine };
}

/**
 * Checks the per-channel tensors ([channels] each) the epilogue calls for and appends their names to `names`.
 * `affineWithThreshold: false` rejects scale or bias next to thresholds (binary conv; binary dense ignores them).
 */
export function checkBinaryEpilogueTensors(c: Checker, e: BinaryEpilogue, channels: number, names: string[], affineWithThreshold: boolean): void {
  const vector = (name: string) => {
    c.tensor(name, 'float32', [channels]);
    names.push(name);
  };
  if (e.scale) vector('scale');
  if (e.bias) vector('bias');
  if (e.threshold) {
    if (!affineWithThreshold && (e.scale || e.bias)) throw new Error(`${c.where}: config.scale and config.bias must be false when config.threshold is true (the thresholds include them)`);
    const thr = c.tensor('threshold', 'float32', [channels]).dataSync();
    const dir = c.tensor('direction', 'int32', [channels]).dataSync();
    names.push('threshold', 'direction');
    if (thr.some((v) => Number.isNaN(v))) throw new Error(`${c.where}: tensor "threshold" holds NaN; thresholds must be numbers or ±Infinity`);
    if (dir.some((v) => v !== 1 && v !== -1)) throw new Error(`${c.where}: tensor "direction" must hold only 1 or -1`);
  }
  if (e.bnEps !== null) {
    vector('bnMean');
    vector('bnVar');
    if (e.bnAffine) {
      vector('bnWeight');
      vector('bnBias');
    }
  }
}

// ---- binary dense ------------------------------------------------------------

interface BinaryDenseConfig {
  inFeatures: number;
  outFeatures: number;
  binarizeInputs: boolean;
  uint8Inputs: boolean;
  threshold: boolean;
  bnEps: number | null;
  scale: boolean;
  bias: boolean;
  bnAffine: boolean;
}

/**
 * A binary dense layer: packed ±1 weights; inputs either bits (XNOR-popcount)
 * or float (BinaryConnect sign-controlled adds). Epilogue: XNOR scale and bias
 * as trained; then either a folded batch norm + binarize to packed bits
 * (per-channel thresholds found on the exact float32 function the trained model
 * computes), or the trained float ops.
 */
export class BinaryDenseStage implements FrozenStage {
  readonly type = 'binary-dense';
  readonly config: BinaryDenseConfig & Config;

  constructor(readonly tensors: Record<string, Tensor>, config: Config, where: string) {
    const c = new Checker(where, config, tensors);
    const inFeatures = c.int('inFeatures', 1, MAX_FEATURES);
    const outFeatures = c.int('outFeatures', 1, MAX_FEATURES);
    const binarizeInputs = c.bool('binarizeInputs');
    const uint8Inputs = c.bool('uint8Inputs');
    if (uint8Inputs && binarizeInputs) throw new Error(`${where}: config.uint8Inputs and config.binarizeInputs cannot both be true`);
    const e = readBinaryEpilogue(c);
    const names = ['weightBits'];
    checkBits(c.tensor('weightBits', 'int32', [outFeatures, packedWords(inFeatures)]), inFeatures, where, 'tensor "weightBits"');
    checkBinaryEpilogueTensors(c, e, outFeatures, names, true);
    c.only(names);
    this.config = { inFeatures, outFeatures, binarizeInputs, uint8Inputs, ...e };
  }

  get inputFeatures(): number {
    return this.config.inFeatures;
  }

  get acceptsUint8(): boolean {
    return this.config.uint8Inputs;
  }

  outputWidth(): number {
    return this.config.outFeatures;
  }

  get binarizesInput(): boolean {
    return this.config.binarizeInputs;
  }

  get description(): string {
    const c = this.config;
    return `${c.inFeatures} -> ${c.outFeatures}, 1-bit weights, ${c.binarizeInputs ? '1-bit' : c.uint8Inputs ? 'uint8' : 'float'} inputs${c.threshold ? ', batch norm folded into thresholds -> bits' : c.bnEps !== null ? ', float batch norm' : ''}`;
  }

  /** The ±1 product as float32: exact integers for ±1 or integer inputs. */
  private product(a: Activation): Tensor {
    const { weightBits } = this.tensors;
    if (this.config.binarizeInputs) {
      const { t, k } = asBits(a);
      return binaryMatmulF32(t, weightBits, k, 'FrozenModel.predict');
    }
    // Integers in [0, 255] (checked): exact sums by nibble tables, no multiplies.
    if (this.config.uint8Inputs) return uint8BinaryMatmulF32(asFloat(a), weightBits, 'FrozenModel.predict');
    return binaryWeightsMatmul(asFloat(a), weightBits);
  }

  run(a: Activation): Activation {
    const p = this.product(a);
    const t = this.tensors;
    // The thresholds already include the scale, bias and batch norm: compare the raw product.
    if (this.config.threshold) return { kind: 'bits', t: thresholdPackF32(p, t.threshold, t.direction, 'FrozenModel.predict'), k: this.config.outFeatures };
    // XNOR scale then bias, as the trained layer applies them (two rounded ops).
    let y = p;
    if (t.scale) y = mul(y, t.scale);
    if (t.bias) y = add(y, t.bias);
    if (this.config.bnEps !== null) y = batchNormEval(y, t.bnMean, t.bnVar, t.bnWeight ?? null, t.bnBias ?? null, this.config.bnEps);
    return { kind: 'float', t: y };
  }

  outputIntegerMax(): number | null {
    return this.config.threshold ? 1 : null;
  }

  fuse(next: FrozenStage, info: FuseInfo): FrozenStage | null {
    const c = this.config;
    if (c.threshold) return null;
    if (c.bnEps === null && next.type === 'batchnorm' && (next as FloatStage).features === c.outFeatures) {
      const bn = next.tensors;
      const tensors: Record<string, Tensor> = { ...this.tensors, bnMean: bn.runningMean, bnVar: bn.runningVar };
      if (bn.weight) {
        tensors.bnWeight = bn.weight;
        tensors.bnBias = bn.bias;
      }
      return new BinaryDenseStage(tensors, { ...c, bnEps: next.config.eps, bnAffine: !!bn.weight }, 'freeze');
    }
    const binarizes = next.type === 'binarize' || (next.type === 'sign' && info.readersBinarize);
    if (c.bnEps === null || !binarizes) return null;
    // Folding is exact only when every product is an integer the float32 sum holds exactly.
    const inputMax = c.binarizeInputs ? 1 : c.uint8Inputs ? 255 : info.inputIntegerMax;
    if (inputMax === null || c.inFeatures * inputMax > EXACT_SUM) return null;
    const { threshold, direction } = foldThresholds(this.tensors, c.bnEps, c.outFeatures, c.inFeatures * inputMax);
    const tensors = { weightBits: this.tensors.weightBits, threshold: keep(tensor(threshold)), direction: keep(tensor(direction, undefined, { dtype: 'int32' })) };
    return new BinaryDenseStage(tensors, { ...c, threshold: true, bnEps: null, scale: false, bias: false, bnAffine: false }, 'freeze');
  }
}

const f32 = Math.fround;

/**
 * Per-channel thresholds that reproduce binarize(bn(epilogue(y))) for every
 * integer y in [-range, range]: the trained model's eval path is a monotone
 * float32 function of y per channel, evaluated here with the same float32
 * operations in the same order as the eval kernels
 * ((x - mean) / sqrt(var + eps)) * weight + bias.
 */
export function foldThresholds(t: Record<string, Tensor>, eps: number, N: number, range: number): { threshold: Float32Array; direction: Int32Array } {
  const read = (x: Tensor | undefined) => (x ? (x.dataSync() as Float32Array) : null);
  const mean = read(t.bnMean)!;
  const variance = read(t.bnVar)!;
  const weight = read(t.bnWeight);
  const bias = read(t.bnBias);
  const scale = read(t.scale);
  const yBias = read(t.bias);
  const threshold = new Float32Array(N);
  const direction = new Int32Array(N);
  for (let c = 0; c < N; c++) {
    const s = f32(Math.sqrt(f32(f32(variance[c] * 1) + f32(eps))));
    const f = (y: number): number => {
      let v = y;
      if (scale) v = f32(v * scale[c]);
      if (yBias) v = f32(v + yBias[c]);
      const q = f32(f32(v - mean[c]) / s);
      return weight && bias ? f32(f32(q * weight[c]) + bias[c]) : q;
    };
    const lo = f(-range);
    const hi = f(range);
    if (Number.isNaN(lo) || Number.isNaN(hi)) throw new Error(`freeze: batch norm channel ${c} produces NaN`);
    if (lo === hi) {
      // Constant output: every input gives the same bit.
      direction[c] = 1;
      threshold[c] = lo < 0 ? Infinity : -Infinity;
      continue;
    }
    const up = hi > lo;
    // Smallest (up) or largest (down) integer y in range with f(y) >= 0.
    let a = -range;
    let b = range;
    if (up) {
      if (hi < 0) { threshold[c] = Infinity; direction[c] = 1; continue; }
      while (a < b) {
        const mid = Math.floor((a + b) / 2);
        if (f(mid) >= 0) b = mid;
        else a = mid + 1;
      }
      threshold[c] = a; // negative iff y < a
      direction[c] = 1;
    } else {
      if (lo < 0) { threshold[c] = -Infinity; direction[c] = -1; continue; }
      while (a < b) {
        const mid = Math.ceil((a + b) / 2);
        if (f(mid) >= 0) a = mid;
        else b = mid - 1;
      }
      threshold[c] = a; // negative iff y > a
      direction[c] = -1;
    }
  }
  return { threshold, direction };
}

// ---- int8 dense --------------------------------------------------------------

export class Int8DenseStage implements FrozenStage {
  readonly type = 'int8-dense';
  readonly config: { inFeatures: number; outFeatures: number; inputScale: number | null; weightBits: number; bias: boolean };

  constructor(readonly tensors: Record<string, Tensor>, config: Config, where: string) {
    const c = new Checker(where, config, tensors);
    const inFeatures = c.int('inFeatures', 1, MAX_FEATURES);
    const outFeatures = c.int('outFeatures', 1, MAX_FEATURES);
    const inputScale = c.num('inputScale', { positive: true, nullable: true });
    const weightBits = c.int('weightBits', 2, 8);
    const bias = flag(c, 'bias', 'bias');
    c.tensor('weight', 'int8', [outFeatures, inFeatures]);
    const scales = c.tensor('weightScale', 'float32', [outFeatures]).dataSync();
    if (scales.some((s) => !(s > 0 && s < Infinity))) throw new Error(`${where}: tensor "weightScale" must hold finite positive scales`);
    if (bias) c.tensor('bias', 'float32', [outFeatures]);
    c.only(bias ? ['weight', 'weightScale', 'bias'] : ['weight', 'weightScale']);
    this.config = { inFeatures, outFeatures, inputScale, weightBits, bias };
  }

  get inputFeatures(): number {
    return this.config.inFeatures;
  }

  outputWidth(): number {
    return this.config.outFeatures;
  }

  get description(): string {
    const c = this.config;
    return `${c.inFeatures} -> ${c.outFeatures}, ${c.weightBits}-bit weights (int8 storage), ${c.inputScale === null ? 'float inputs' : 'int8 inputs'}`;
  }

  run(a: Activation): Activation {
    const x = asFloat(a);
    const { weight, weightScale, bias } = this.tensors;
    if (this.config.inputScale === null) {
      // Float activations: dequantize the weights once per call.
      const w = mul(int8ToF32(weight, 'FrozenModel.predict'), reshape(weightScale, [this.config.outFeatures, 1]));
      const y = matmul(x, w, { transposeB: true });
      return { kind: 'float', t: bias ? add(y, bias) : y };
    }
    const xq = quantizeInt8(x, { scale: this.config.inputScale });
    return { kind: 'float', t: int8MatmulDequantize(xq, weight, { transposeB: true, scaleA: this.config.inputScale, scaleB: weightScale, bias: bias ?? 0 }) };
  }
}

// ---- float layers ------------------------------------------------------------

const ELEMENTWISE: Record<string, (x: Tensor, c: Config) => Tensor> = {
  relu: (x) => relu(x),
  tanh: (x) => tanh(x),
  sigmoid: (x) => sigmoid(x),
  hardtanh: (x, c) => clip(x, c.min as number, c.max as number),
  sign: (x) => sign(x),
};

/** A float layer kept as is (copied weights): Linear, BatchNorm1d/2d, activations, Flatten, Sign, Binarize, pools. */
export class FloatStage implements FrozenStage {
  readonly config: Config;
  /** Feature count (linear: inputs; batchnorm: channels). */
  readonly features: number | null = null;
  private readonly outFeatures: number | null = null;

  constructor(readonly type: string, readonly tensors: Record<string, Tensor>, config: Config, where: string) {
    const c = new Checker(where, config, tensors);
    switch (type) {
      case 'linear': {
        const inFeatures = c.int('inFeatures', 1, MAX_FEATURES);
        const outFeatures = c.int('outFeatures', 1, MAX_FEATURES);
        const bias = flag(c, 'bias', 'bias');
        c.tensor('weight', 'float32', [outFeatures, inFeatures]);
        if (bias) c.tensor('bias', 'float32', [outFeatures]);
        c.only(bias ? ['weight', 'bias'] : ['weight']);
        this.config = { inFeatures, outFeatures, bias };
        this.features = inFeatures;
        this.outFeatures = outFeatures;
        break;
      }
      case 'batchnorm': {
        const eps = c.num('eps', { positive: true })!;
        // Version 1 files give no feature count: the running mean sets it, and every other tensor must agree.
        const rm = tensors.runningMean;
        const features = config.features === undefined && rm instanceof Tensor && rm.rank === 1 ? rm.shape[0] : c.int('features', 1, MAX_FEATURES);
        const affine = flag(c, 'affine', 'weight', 'bias');
        // BatchNorm2d: NHWC images [N, H, W, features], normalized over the last axis.
        const spatial = c.bool('spatial', false);
        const names = affine ? ['runningMean', 'runningVar', 'weight', 'bias'] : ['runningMean', 'runningVar'];
        for (const n of names) c.tensor(n, 'float32', [features]);
        c.only(names);
        this.config = spatial ? { eps, features, affine, spatial } : { eps, features, affine };
        this.features = features;
        break;
      }
      case 'maxpool2d': case 'avgpool2d': {
        const size = c.pair('size', 1);
        const stride = c.pair('stride', 1);
        const padding = c.padding('padding', size);
        c.only([]);
        this.config = { size, stride, padding };
        break;
      }
      case 'hardtanh': {
        const min = c.num('min')!;
        const max = c.num('max')!;
        if (!(min < max)) throw new Error(`${where}: config.min (${min}) must be < config.max (${max})`);
        c.only([]);
        this.config = { min, max };
        break;
      }
      case 'relu': case 'tanh': case 'sigmoid': case 'sign': case 'binarize': case 'flatten': case 'globalavgpool2d':
        c.only([]);
        this.config = {};
        break;
      default:
        throw new Error(`${where}: unknown stage type ${describe(type)}`);
    }
  }

  /** Images (pools, BatchNorm2d) have no fixed row width. */
  private get images(): boolean {
    return POOL_STAGES.includes(this.type) || this.config.spatial === true;
  }

  get inputFeatures(): number | undefined {
    return this.images ? undefined : this.features ?? undefined;
  }

  get binarizesInput(): boolean {
    return this.type === 'binarize';
  }

  outputWidth(input: number | null): number | null {
    if (this.type === 'linear') return this.outFeatures;
    if (this.images) return null;
    if (this.type === 'batchnorm') return this.features;
    // Elementwise stages keep the width; flatten of an unknown shape gives an unknown width.
    return this.type === 'flatten' ? null : input;
  }

  get description(): string {
    if (this.type === 'linear') return `${this.config.inFeatures} -> ${this.config.outFeatures}, float32`;
    if (this.type === 'batchnorm') return `${this.features} channels${this.config.spatial ? ' (NHWC images)' : ''}, float32`;
    if (this.type === 'maxpool2d' || this.type === 'avgpool2d') return `${this.type} ${(this.config.size as number[]).join('x')}, stride ${(this.config.stride as number[]).join('x')}, padding ${JSON.stringify(this.config.padding)}, float32`;
    return this.type;
  }

  run(a: Activation): Activation {
    const t = this.tensors;
    if (this.type === 'binarize') return a.kind === 'bits' ? a : a.t.rank === 4 ? { kind: 'bits', t: packChannels(a.t), k: a.t.shape[3] } : { kind: 'bits', t: packBits(a.t), k: a.t.shape[1] };
    if (this.type === 'flatten') {
      // Bits stay bits: a [batch, k] row is already flat; packed images become rows.
      if (a.kind === 'bits') return a.t.rank === 4 ? { kind: 'bits', ...flattenImage(a.t, a.k) } : a;
      // The width is computed, not inferred (-1): an empty batch has no elements to infer it from.
      const rest = a.t.shape.slice(1).reduce((x, y) => x * y, 1);
      return { kind: 'float', t: reshape(a.t, [a.t.shape[0], rest]) };
    }
    const x = asFloat(a);
    if (this.type === 'linear') {
      const y = matmul(x, t.weight, { transposeB: true });
      return { kind: 'float', t: t.bias ? add(y, t.bias) : y };
    }
    if (this.images && x.rank !== 4) throw new Error(`${this.type} stage takes NHWC images [N, H, W, C], got [${x.shape}]`);
    if (this.type === 'maxpool2d' || this.type === 'avgpool2d') {
      const window = { size: this.config.size as [number, number], stride: this.config.stride as [number, number], padding: this.config.padding as PoolPadding };
      return { kind: 'float', t: this.type === 'maxpool2d' ? maxPool2d(x, window) : avgPool2d(x, window) };
    }
    if (this.type === 'globalavgpool2d') return { kind: 'float', t: globalAvgPool2d(x) };
    if (this.type === 'batchnorm' && this.config.spatial && x.shape[3] !== this.features) throw new Error(`batchnorm stage takes NHWC images [N, H, W, ${this.features}], got [${x.shape}]`);
    if (this.type === 'batchnorm') return { kind: 'float', t: batchNormEval(x, t.runningMean, t.runningVar, t.weight ?? null, t.bias ?? null, this.config.eps as number) };
    return { kind: 'float', t: ELEMENTWISE[this.type](x, this.config) };
  }

  outputIntegerMax(inputs: (number | null)[]): number | null {
    if (this.type === 'relu' || this.type === 'flatten' || this.type === 'maxpool2d') return inputs[0];
    if (this.type === 'sign' || this.type === 'binarize') return 1;
    return null;
  }
}

// ---- recorded ops --------------------------------------------------------------

/** How a stored op argument is replayed (see OpStage). */
export type OpArg =
  | { input: number }
  | { tensor: string }
  | { json: unknown }
  | { undefined: true }
  | { list: OpArg[] }
  | { batchShape: number[] };

const CONSTANT_DTYPES: readonly DType[] = ['float32', 'int32', 'int8', 'uint8'];

/**
 * An op a traced forward called that the compiler does not specialize,
 * replayed with its recorded arguments: inputs from earlier stages, stored
 * constants, and the JSON options it was called with.
 */
export class OpStage implements FrozenStage {
  readonly type = 'op';
  readonly config: { op: string; inputs: number; args: OpArg[]; constants: Record<string, { dtype: DType; shape: number[] }> };

  constructor(readonly tensors: Record<string, Tensor>, config: Config, where: string) {
    const c = new Checker(where, config, tensors);
    const op = config.op;
    if (typeof op !== 'string' || !Object.prototype.hasOwnProperty.call(REPLAYABLE_OPS, op)) {
      throw new Error(`${where}: config.op must be one of ${Object.keys(REPLAYABLE_OPS).join(', ')}, got ${describe(op)}`);
    }
    const inputs = c.int('inputs', 1, 64);
    const constants = config.constants;
    if (constants === null || typeof constants !== 'object' || Array.isArray(constants)) throw new Error(`${where}: config.constants must be an object`);
    for (const [name, spec] of Object.entries(constants as Record<string, any>)) {
      const shape = spec?.shape;
      if (!CONSTANT_DTYPES.includes(spec?.dtype) || !Array.isArray(shape) || shape.length > 8 || !shape.every((d: unknown) => Number.isInteger(d) && (d as number) >= 0 && (d as number) <= MAX_FEATURES)) {
        throw new Error(`${where}: config.constants.${name} must be { dtype, shape } with a dtype of ${CONSTANT_DTYPES.join('/')} and at most 8 dimensions, got ${JSON.stringify(spec)}`);
      }
      c.tensor(name, spec.dtype, shape);
    }
    c.only(Object.keys(constants));
    const used = new Set<number>();
    const check = (a: unknown, depth: number): void => {
      const bad = (why: string) => new Error(`${where}: config.args holds ${JSON.stringify(a)}: ${why}`);
      if (a === null || typeof a !== 'object' || Array.isArray(a) || Object.keys(a).length !== 1) throw bad('each argument must be one of {input}, {tensor}, {json}, {undefined}, {list}, {batchShape}');
      const arg = a as Record<string, unknown>;
      if ('input' in arg) {
        if (!Number.isInteger(arg.input) || (arg.input as number) < 0 || (arg.input as number) >= inputs) throw bad(`input must be an integer in [0, ${inputs - 1}]`);
        used.add(arg.input as number);
      } else if ('tensor' in arg) {
        if (typeof arg.tensor !== 'string' || !Object.prototype.hasOwnProperty.call(constants, arg.tensor)) throw bad('tensor must name one of config.constants');
      } else if ('list' in arg) {
        if (depth > 0 || !Array.isArray(arg.list)) throw bad('list must be an array of arguments, not nested');
        for (const e of arg.list) check(e, depth + 1);
      } else if ('batchShape' in arg) {
        if (!Array.isArray(arg.batchShape) || arg.batchShape.length > 7 || !arg.batchShape.every((d) => Number.isInteger(d) && d >= -1 && d <= MAX_FEATURES)) throw bad('batchShape must be a list of dimensions');
      } else if ('undefined' in arg) {
        if (arg.undefined !== true) throw bad('undefined must be true');
      } else if (!('json' in arg)) throw bad('unknown argument kind');
    };
    if (!Array.isArray(config.args) || config.args.length > 8) throw new Error(`${where}: config.args must be an array of at most 8 arguments`);
    for (const a of config.args) check(a, 0);
    if (used.size !== inputs) throw new Error(`${where}: config.args must read each of the stage's ${inputs} inputs`);
    this.config = { op, inputs, args: config.args as OpArg[], constants: constants as Record<string, { dtype: DType; shape: number[] }> };
  }

  get description(): string {
    return `${this.config.op}, float32`;
  }

  run(...inputs: Activation[]): Activation {
    const values = inputs.map(asFloat);
    const build = (a: OpArg): unknown => {
      if ('input' in a) return values[a.input];
      if ('tensor' in a) return this.tensors[a.tensor];
      if ('list' in a) return a.list.map(build);
      if ('batchShape' in a) return [values[0].shape[0], ...a.batchShape];
      if ('undefined' in a) return undefined;
      return structuredClone(a.json);
    };
    return { kind: 'float', t: REPLAYABLE_OPS[this.config.op](...this.config.args.map(build)) };
  }

  outputIntegerMax(inputs: (number | null)[]): number | null {
    return this.config.op === 'reshape' || this.config.op === 'detach' || this.config.op === 'stopGradient' ? inputs[0] : null;
  }
}

// ---- float convolution -----------------------------------------------------------

/** Largest kernel, stride, dilation or padding read from a file (as conv-geometry accepts). */
const MAX_WINDOW = 2 ** 16;

/** nn.Conv2d kept in float32: conv2d with the copied HWIO weight, then the bias, as in eval mode. */
export class Conv2dStage implements FrozenStage {
  readonly type = 'conv2d';
  readonly config: {
    inChannels: number; outChannels: number; kernelSize: [number, number]; stride: [number, number];
    padding: Padding2d; dilation: [number, number]; groups: number; bias: boolean;
  };

  constructor(readonly tensors: Record<string, Tensor>, config: Config, where: string) {
    const c = new Checker(where, config, tensors);
    const inChannels = c.int('inChannels', 1, MAX_FEATURES);
    const outChannels = c.int('outChannels', 1, MAX_FEATURES);
    const groups = c.int('groups', 1, MAX_FEATURES);
    if (inChannels % groups !== 0 || outChannels % groups !== 0) throw new Error(`${where}: config.groups (${groups}) must divide config.inChannels (${inChannels}) and config.outChannels (${outChannels})`);
    const pairOf = (key: string, min: number): [number, number] => {
      const v = config[key];
      if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= min && d <= MAX_WINDOW)) {
        throw new Error(`${where}: config.${key} must be a pair [h, w] of integers in [${min}, ${MAX_WINDOW}], got ${describe(v)}`);
      }
      return [v[0], v[1]];
    };
    const kernelSize = pairOf('kernelSize', 1);
    const stride = pairOf('stride', 1);
    const dilation = pairOf('dilation', 1);
    const p = config.padding;
    let padding: Padding2d;
    if (p === 'same' || p === 'valid') padding = p;
    else if (Array.isArray(p) && p.length === 2 && p.every((side) => Array.isArray(side) && side.length === 2 && side.every((d) => Number.isInteger(d) && d >= 0 && d <= MAX_WINDOW))) {
      padding = [[p[0][0], p[0][1]], [p[1][0], p[1][1]]];
    } else throw new Error(`${where}: config.padding must be 'same', 'valid' or [[top, bottom], [left, right]], got ${describe(p)}`);
    const bias = flag(c, 'bias', 'bias');
    c.tensor('weight', 'float32', [kernelSize[0], kernelSize[1], inChannels / groups, outChannels]);
    if (bias) c.tensor('bias', 'float32', [outChannels]);
    c.only(bias ? ['weight', 'bias'] : ['weight']);
    this.config = { inChannels, outChannels, kernelSize, stride, padding, dilation, groups, bias };
  }

  get description(): string {
    const c = this.config;
    return `${c.inChannels} -> ${c.outChannels}, ${c.kernelSize[0]}x${c.kernelSize[1]} conv${c.groups > 1 ? `, ${c.groups} groups` : ''}, float32`;
  }

  outputWidth(): number | null {
    return null;
  }

  run(a: Activation): Activation {
    const c = this.config;
    const { weight, bias } = this.tensors;
    const y = conv2d(asFloat(a), weight, { stride: c.stride, padding: structuredClone(c.padding), dilation: c.dilation, groups: c.groups });
    return { kind: 'float', t: bias ? add(y, bias) : y };
  }
}

type StageFactory = (tensors: Record<string, Tensor>, config: Config, where: string) => FrozenStage;

const floatStage = (type: string): StageFactory => (tensors, config, where) => new FloatStage(type, tensors, config, where);

/**
 * Every stage type a frozen model may hold, by the name state() writes. New
 * kernels (e.g. binary convolutions) add their stage type here and a layer
 * that returns it from freezeStage; the fusion pass needs no change.
 */
const STAGE_TYPES: Readonly<Record<string, StageFactory>> = Object.freeze({
  'binary-dense': (tensors, config, where) => new BinaryDenseStage(tensors, config, where),
  'int8-dense': (tensors, config, where) => new Int8DenseStage(tensors, config, where),
  op: (tensors, config, where) => new OpStage(tensors, config, where),
  conv2d: (tensors, config, where) => new Conv2dStage(tensors, config, where),
  'binary-conv2d': (tensors, config, where) => new BinaryConv2dStage(tensors, config, where),
  'int8-conv2d': (tensors, config, where) => new Int8Conv2dStage(tensors, config, where),
  ...Object.fromEntries(['linear', 'batchnorm', 'relu', 'tanh', 'sigmoid', 'hardtanh', 'sign', 'binarize', 'flatten', ...POOL_STAGES].map((t) => [t, floatStage(t)])),
});

/** Builds (and validates) a stage by type: the one registry freeze() and FrozenModel.fromState share. */
export function createStage(type: unknown, tensors: Record<string, Tensor>, config: Config, where: string): FrozenStage {
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(STAGE_TYPES, type)) {
    throw new Error(`${where}: unknown stage type ${describe(type)} (known: ${Object.keys(STAGE_TYPES).join(', ')})`);
  }
  return STAGE_TYPES[type](tensors, config, where);
}

/** A stored (kept) copy. */
export function storedCopy(t: Tensor): Tensor {
  return keep(copyTensor(t));
}
