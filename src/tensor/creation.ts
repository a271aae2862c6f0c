import { rt } from '../runtime/context.js';
import { f32View, i32View, i8View, u8View } from '../runtime/views.js';
import { checkNumber, checkShape, describe, MAX_RANK } from './checks.js';
import { boolOption, readOptions } from './options.js';
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
export function tensor(data: NestedNumbers | AnyTypedArray | ArrayLike<number>, shape?: number[] | null, options: TensorOptions | null = {}): Tensor {
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
  return t;
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
  const off = t.offset;
  switch (t.dtype) {
    case 'float32': f32View(off, t.size).set(flat); break;
    case 'int32': i32View(off, t.size).set(flat); break;
    case 'int8': i8View(off, t.size).set(flat); break;
    default: u8View(off, t.size).set(flat);
  }
}

export function full(shape: number[], value: number, options: TensorOptions | null = {}): Tensor {
  return fill('full', shape, value, options);
}

export function zeros(shape: number[], options: TensorOptions | null = {}): Tensor {
  return fill('zeros', shape, 0, options);
}

export function ones(shape: number[], options: TensorOptions | null = {}): Tensor {
  return fill('ones', shape, 1, options);
}

function fill(op: string, shape: number[], value: number, options: TensorOptions | null): Tensor {
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
  const { kernels } = rt();
  if (dtype === 'float32') kernels.f32_fill(t.offset, t.size, value);
  else if (dtype === 'int32') kernels.i32_fill(t.offset, t.size, value);
  else (dtype === 'int8' ? i8View(t.offset, t.size) : u8View(t.offset, t.size)).fill(value);
  t.requiresGrad = requiresGrad;
  return t;
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
