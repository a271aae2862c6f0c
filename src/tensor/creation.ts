import { rngIntI32, rngNormalF32, rngUniformF32 } from '../kernels/rng.js';
import { rt } from '../runtime/context.js';
import { fill } from '../kernels/elementwise.js';
import { checkNumber, checkShape, describe, MAX_RANK } from './checks.js';
import { boolOption, readOptions } from './options.js';
import type { AnyTypedArray, DType } from './dtypes.js';
import { isDType } from './dtypes.js';
import { randomDraw, Stream, type RandomDraw } from './random.js';
import { empty, rawView, sizeOf, type Tensor } from './tensor.js';

export interface TensorOptions<D extends DType = DType> {
  dtype?: D;
  requiresGrad?: boolean;
}

export interface RandomOptions {
  /**
   * This call's own seed, an integer in [0, 2^32 - 1]: its values depend on this seed only (the
   * same bits in every runtime), so the same seed every step gives the same values every step.
   * Without it, the call draws from the default generator (`seed(n)`).
   */
  seed?: number;
  dtype?: DType;
  requiresGrad?: boolean;
}

type NestedNumbers = number | boolean | NestedNumbers[];

const RANGES: Record<DType, [number, number]> = {
  float32: [-Infinity, Infinity],
  int32: [-(2 ** 31), 2 ** 31 - 1],
  int8: [-128, 127],
  uint8: [0, 255],
};

/** Creates a tensor from nested arrays, a typed array or a number, copying the data into wasm memory. */
export function tensor<D extends DType = 'float32'>(data: NestedNumbers | AnyTypedArray | ArrayLike<number>, shape?: number[] | null, options: TensorOptions<D> | null = {}): Tensor<D> {
  const o = readOptions<TensorOptions>(options, 'tensor');
  const dtype = o.dtype ?? inferDType(data);
  if (!isDType(dtype)) throw new Error(`tensor: dtype must be one of float32, int32, int8, uint8, got ${describe(dtype)}`);
  const requiresGrad = gradOption(o.requiresGrad, dtype, 'tensor');
  const { flat, inferred } = flatten(data);
  const finalShape = shape === undefined || shape === null ? inferred : checkShape(shape, 'tensor');
  if (sizeOf(finalShape) !== flat.length) {
    throw new Error(`tensor: shape [${finalShape}] needs ${sizeOf(finalShape)} values, but data has ${flat.length}`);
  }
  if (dtype !== 'float32') {
    const [lo, hi] = RANGES[dtype];
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (!Number.isInteger(v) || v < lo || v > hi) {
        throw new Error(`tensor: data[${i}] = ${v} is not a valid ${dtype} (integers in [${lo}, ${hi}])`);
      }
    }
  }
  const t = empty(finalShape, dtype);
  writeData(t, flat);
  t.requiresGrad = requiresGrad;
  // The dtype was read from options.dtype (float32 without one), so it is D.
  return t as Tensor<D>;
}

/** Reads requiresGrad before anything is allocated: only float32 tensors can carry a gradient. */
function gradOption(v: unknown, dtype: DType, op: string): boolean {
  const requiresGrad = boolOption(v, op, 'requiresGrad');
  if (requiresGrad && dtype !== 'float32') throw new Error(`${op}: requiresGrad needs dtype float32, got ${dtype} (gradients are float32)`);
  return requiresGrad;
}

function inferDType(data: unknown): DType {
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array || data instanceof Uint8ClampedArray) return 'uint8';
  return 'float32';
}

function flatten(data: unknown): { flat: ArrayLike<number>; inferred: number[] } {
  if (typeof data === 'number' || typeof data === 'boolean') return { flat: [Number(data)], inferred: [] };
  if (ArrayBuffer.isView(data)) {
    if (data instanceof DataView) {
      throw new Error('tensor: data is a DataView, which has no element type; wrap its bytes in a typed array, e.g. new Float32Array(view.buffer, view.byteOffset, view.byteLength / 4)');
    }
    if ((typeof BigInt64Array !== 'undefined' && data instanceof BigInt64Array) || (typeof BigUint64Array !== 'undefined' && data instanceof BigUint64Array)) {
      throw new Error(`tensor: data is a ${data.constructor.name} (BigInt values), which no dtype holds; convert it first, e.g. Int32Array.from(data, Number)`);
    }
    const arr = data as unknown as ArrayLike<number>;
    return { flat: arr, inferred: [arr.length] };
  }
  if (!Array.isArray(data)) throw new Error(`tensor: data must be a number, a (nested) array or a typed array, got ${describe(data)}`);
  // Iterative and bounded: a deeply nested (or self-containing) array is an error, not a stack overflow.
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
    if (shape.length === MAX_RANK) {
      throw new Error(`tensor: data is nested more than ${MAX_RANK} arrays deep; tensors have at most ${MAX_RANK} dimensions`);
    }
    shape.push(level.length);
    level = level[0];
  }
  const flat: number[] = [];
  const walk = (node: unknown, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof node !== 'number' && typeof node !== 'boolean') throw new Error(`tensor: data${path} must be a number, got ${describe(node)}`);
      flat.push(Number(node));
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[dim]) {
      throw new Error(`tensor: data${path} must be an array of length ${shape[dim]} (ragged nested arrays are not allowed)`);
    }
    for (let i = 0; i < node.length; i++) walk(node[i], dim + 1, `${path}[${i}]`);
  };
  walk(data, 0, '');
  return { flat, inferred: shape };
}

/** Copies values into a tensor's memory (the view is made after allocation). */
export function writeData(t: Tensor, flat: ArrayLike<number>): void {
  rawView(t).set(flat);
}

export function full<D extends DType = 'float32'>(shape: number[], value: number, options: TensorOptions<D> | null = {}): Tensor<D> {
  return filled('full', shape, value, options) as Tensor<D>;
}

export function zeros<D extends DType = 'float32'>(shape: number[], options: TensorOptions<D> | null = {}): Tensor<D> {
  return filled('zeros', shape, 0, options) as Tensor<D>;
}

export function ones<D extends DType = 'float32'>(shape: number[], options: TensorOptions<D> | null = {}): Tensor<D> {
  return filled('ones', shape, 1, options) as Tensor<D>;
}

function filled(op: string, shape: number[], value: number, options: TensorOptions | null): Tensor {
  const s = checkShape(shape, op);
  const o = readOptions<TensorOptions>(options, op);
  const dtype = o.dtype ?? 'float32';
  if (!isDType(dtype)) throw new Error(`${op}: dtype must be one of float32, int32, int8, uint8, got ${describe(dtype)}`);
  if (typeof value !== 'number') throw new Error(`${op}: value must be a number, got ${describe(value)}`);
  if (dtype !== 'float32') {
    checkNumber(value, op, 'value', { integer: true, min: RANGES[dtype][0], max: RANGES[dtype][1] });
  }
  const requiresGrad = gradOption(o.requiresGrad, dtype, op);
  const t = empty(s, dtype);
  fill(t, value);
  t.requiresGrad = requiresGrad;
  return t;
}

/** Options of randn/rand/randint, read by the package's one options rule (null means omitted). */
function randomOptions<T extends object>(options: T | null | undefined, op: string): Partial<T> {
  return readOptions<T>(options, op);
}

/** float32 bounds: a parameter outside float32's finite range would silently become ±Infinity in the kernel. */
function checkF32(v: unknown, op: string, arg: string): number {
  const x = checkNumber(v, op, arg);
  if (!Number.isFinite(Math.fround(x))) throw new Error(`${op}: ${arg} must be within the float32 range (|${arg}| <= 3.4028234663852886e38), got ${x}`);
  return x;
}

/** Validates everything, then allocates and fills: a rejected call allocates nothing and leaves the default generator as it was. */
function randomFloat(op: string, shape: unknown, options: RandomOptions, fill: (t: Tensor, at: RandomDraw) => void): Tensor<'float32'> {
  const s = checkShape(shape, op);
  if (options.dtype !== undefined && options.dtype !== 'float32') throw new Error(`${op}: dtype must be float32, got ${describe(options.dtype)}`);
  const draw = randomDraw(options.seed, op, Stream.creation);
  const t = empty(s, 'float32');
  fill(t, draw);
  draw.commit();
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

/**
 * Normal samples (mean 0, std 1 unless given). With `seed`, the values depend
 * on that seed only (the same bits in every runtime); without, they come from
 * the default generator (see `seed`).
 */
export function randn(shape: number[], options?: RandomOptions & { mean?: number; std?: number }): Tensor<'float32'> {
  const o = randomOptions(options, 'randn');
  const mean = checkF32(o.mean ?? 0, 'randn', 'mean');
  const std = checkF32(o.std ?? 1, 'randn', 'std');
  if (std < 0) throw new Error(`randn: std must be >= 0, got ${std}`);
  return randomFloat('randn', shape, o, (t, at) => rngNormalF32(t, at, mean, std));
}

/** Uniform samples in [low, high) (default [0, 1)); seeds as for randn. */
export function rand(shape: number[], options?: RandomOptions & { low?: number; high?: number }): Tensor<'float32'> {
  const o = randomOptions(options, 'rand');
  const low = checkF32(o.low ?? 0, 'rand', 'low');
  const high = checkF32(o.high ?? 1, 'rand', 'high');
  if (!(Math.fround(high) > Math.fround(low))) {
    throw new Error(`rand: high (${high}) must be greater than low (${low}) as float32 values${high > low ? ' (they round to the same float32)' : ''}`);
  }
  return randomFloat('rand', shape, o, (t, at) => rngUniformF32(t, at, low, high));
}

/** Uniform integers in [low, high) as int32; seeds as for randn. */
export function randint(shape: number[], low: number, high: number, options?: RandomOptions): Tensor<'int32'> {
  const o = randomOptions(options, 'randint');
  const s = checkShape(shape, 'randint');
  checkNumber(low, 'randint', 'low', { integer: true, min: RANGES.int32[0], max: RANGES.int32[1] });
  checkNumber(high, 'randint', 'high', { integer: true, min: RANGES.int32[0], max: RANGES.int32[1] });
  if (!(high > low)) throw new Error(`randint: high (${high}) must be greater than low (${low})`);
  if (o.dtype !== undefined && o.dtype !== 'int32') throw new Error(`randint: dtype must be int32, got ${describe(o.dtype)} (cast the result, e.g. randint(...).cast('float32'))`);
  if (o.requiresGrad) throw new Error('randint: requiresGrad needs dtype float32; randint returns int32');
  const draw = randomDraw(o.seed, 'randint', Stream.creation);
  const t = empty(s, 'int32');
  rngIntI32(t, draw, low, high);
  draw.commit();
  return t;
}
