import { rt } from '../runtime/context.js';
import { fill } from '../kernels/elementwise.js';
import { checkNumber, checkShape, describe } from './checks.js';
import type { AnyTypedArray, DType } from './dtypes.js';
import { isDType } from './dtypes.js';
import { empty, sizeOf, type Tensor } from './tensor.js';

export interface TensorOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions {
  /** Seed of the package's own generator: the same seed gives the same bits in every runtime. */
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
export function tensor(data: NestedNumbers | AnyTypedArray | ArrayLike<number>, shape?: number[], options: TensorOptions = {}): Tensor {
  const dtype = options.dtype ?? inferDType(data);
  if (!isDType(dtype)) throw new Error(`tensor: dtype must be one of float32, int32, int8, uint8, got ${describe(dtype)}`);
  const { flat, inferred } = flatten(data);
  const finalShape = shape === undefined ? inferred : checkShape(shape, 'tensor');
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
  if (options.requiresGrad) setRequiresGrad(t, 'tensor');
  return t;
}

function setRequiresGrad(t: Tensor, op: string): void {
  if (t.dtype !== 'float32') throw new Error(`${op}: requiresGrad needs dtype float32, got ${t.dtype}`);
  t.requiresGrad = true;
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
    const arr = data as unknown as ArrayLike<number>;
    return { flat: arr, inferred: [arr.length] };
  }
  if (!Array.isArray(data)) throw new Error(`tensor: data must be a number, a (nested) array or a typed array, got ${describe(data)}`);
  const shape: number[] = [];
  let level: unknown = data;
  while (Array.isArray(level)) {
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
  t.rawView().set(flat);
}

export function full(shape: number[], value: number, options: TensorOptions = {}): Tensor {
  const s = checkShape(shape, 'full');
  const dtype = options.dtype ?? 'float32';
  if (!isDType(dtype)) throw new Error(`full: dtype must be one of float32, int32, int8, uint8, got ${describe(dtype)}`);
  if (typeof value !== 'number') throw new Error(`full: value must be a number, got ${describe(value)}`);
  const t = empty(s, dtype);
  if (dtype !== 'float32') checkNumber(value, 'full', 'value', { integer: true, min: RANGES[dtype][0], max: RANGES[dtype][1] });
  fill(t, value);
  if (options.requiresGrad) setRequiresGrad(t, 'full');
  return t;
}

export function zeros(shape: number[], options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: number[], options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

let seedCounter = 0x5eed;

function seedOf(options: RandomOptions, op: string): number {
  if (options.seed === undefined) return (seedCounter = (seedCounter * 1103515245 + 12345) >>> 0);
  return checkNumber(options.seed, op, 'seed', { integer: true, min: 0, max: 2 ** 32 - 1 }) >>> 0;
}

function randomFloat(op: string, shape: number[], options: RandomOptions, fill: (off: number, n: number) => void): Tensor {
  const s = checkShape(shape, op);
  if (options.dtype !== undefined && options.dtype !== 'float32') throw new Error(`${op}: dtype must be float32, got ${describe(options.dtype)}`);
  const t = empty(s, 'float32');
  rt().kernels.rng_seed(seedOf(options, op), 0);
  fill(t.offset, t.size);
  if (options.requiresGrad) t.requiresGrad = true;
  return t;
}

/** Normal samples (mean 0, std 1 unless given). Pass `seed` for reproducible bits in every runtime. */
export function randn(shape: number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const mean = checkNumber(options.mean ?? 0, 'randn', 'mean');
  const std = checkNumber(options.std ?? 1, 'randn', 'std', { min: 0 });
  return randomFloat('randn', shape, options, (off, n) => rt().kernels.rng_normal_f32(off, n, mean, std));
}

/** Uniform samples in [low, high) (default [0, 1)). */
export function rand(shape: number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const low = checkNumber(options.low ?? 0, 'rand', 'low');
  const high = checkNumber(options.high ?? 1, 'rand', 'high');
  if (!(high > low)) throw new Error(`rand: high (${high}) must be greater than low (${low})`);
  return randomFloat('rand', shape, options, (off, n) => rt().kernels.rng_uniform_f32(off, n, low, high));
}

/** Uniform integers in [low, high) as int32. */
export function randint(shape: number[], low: number, high: number, options: RandomOptions = {}): Tensor {
  const s = checkShape(shape, 'randint');
  checkNumber(low, 'randint', 'low', { integer: true, min: RANGES.int32[0], max: RANGES.int32[1] });
  checkNumber(high, 'randint', 'high', { integer: true, min: RANGES.int32[0], max: RANGES.int32[1] });
  if (!(high > low)) throw new Error(`randint: high (${high}) must be greater than low (${low})`);
  if (high - low > 2 ** 32 - 1) throw new Error(`randint: high - low must be < 2^32`);
  const t = empty(s, 'int32');
  rt().kernels.rng_seed(seedOf(options, 'randint'), 0);
  rt().kernels.rng_int_i32(t.offset, t.size, low, high);
  return t;
}
