import type { DType } from './dtypes.js';
import { Tensor } from './tensor.js';

// Argument checks shared by every op. Messages name the op, the argument and
// what was expected, e.g. "matmul: b must be float32, got int8".

export function checkTensor(x: unknown, op: string, arg: string): Tensor {
  if (!(x instanceof Tensor)) {
    throw new Error(`${op}: ${arg} must be a Tensor, got ${describe(x)}`);
  }
  if (x.disposed) throw new Error(`${op}: ${arg} (tensor #${x.id}) was disposed and cannot be used`);
  return x;
}

export function checkDType(x: unknown, op: string, arg: string, ...dtypes: DType[]): Tensor {
  const t = checkTensor(x, op, arg);
  if (!dtypes.includes(t.dtype)) {
    throw new Error(`${op}: ${arg} must be ${dtypes.join(' or ')}, got ${t.dtype}${castHint(t.dtype, dtypes, arg)}`);
  }
  return t;
}

/** How to get an accepted dtype from the one given, where cast() offers a conversion. */
function castHint(from: DType, to: readonly DType[], arg: string): string {
  const name = /^[A-Za-z_$][\w$]*$/.test(arg) ? arg : 'x';
  if (to.includes('float32')) return `; convert it with ${name}.cast('float32')`;
  if (to.includes('int32') && from !== 'int32') return `; convert it with ${name}.cast('int32')`;
  if ((to.includes('int8') || to.includes('uint8')) && from === 'float32') return '; quantize it with quantizeInt8';
  return '';
}

export function checkFloat(x: unknown, op: string, arg: string): Tensor {
  return checkDType(x, op, arg, 'float32');
}

export function checkRank(t: Tensor, op: string, arg: string, ...ranks: number[]): void {
  if (!ranks.includes(t.rank)) {
    throw new Error(`${op}: ${arg} must be ${ranks.map((r) => `${r}-D`).join(' or ')}, got shape [${t.shape}]`);
  }
}


/** Largest finite float32 and smallest positive normal float32. */
export const F32_MAX = 3.4028234663852886e38;
export const F32_MIN_NORMAL = 2 ** -126;

/**
 * A finite number, optionally an integer, > 0, within bounds. With f32, the
 * value goes to a float32 kernel: it must stay finite as a float32 (and, if
 * positive, a normal float32, so it neither overflows nor flushes to 0).
 */
export function checkNumber(v: unknown, op: string, arg: string, opts: { integer?: boolean; min?: number; max?: number; positive?: boolean; f32?: boolean } = {}): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${op}: ${arg} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v)) throw new Error(`${op}: ${arg} must be finite, got ${v}`);
  if (opts.f32 && Math.abs(v) > F32_MAX) throw new Error(`${op}: ${arg} = ${v} is outside the float32 range (|${arg}| <= ${F32_MAX})`);
  if (opts.f32 && opts.positive && v > 0 && v < F32_MIN_NORMAL) {
    throw new Error(`${op}: ${arg} = ${v} must be a positive normal float32 value (>= ${F32_MIN_NORMAL}); smaller values round to 0 or lose precision in float32`);
  }
  if (opts.integer && !Number.isInteger(v)) throw new Error(`${op}: ${arg} must be an integer, got ${v}`);
  if (opts.positive && !(v > 0)) throw new Error(`${op}: ${arg} must be > 0, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw new Error(`${op}: ${arg} must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new Error(`${op}: ${arg} must be <= ${opts.max}, got ${v}`);
  return v;
}

export function checkAxis(axis: unknown, rank: number, op: string, arg = 'axis'): number {
  if (rank === 0) throw new Error(`${op}: ${arg} ${describe(axis)} is out of range: x is a scalar (shape []) and has no axes`);
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new Error(`${op}: ${arg} must be an integer in [${-rank}, ${rank - 1}], got ${describe(axis)}`);
  }
  return axis < 0 ? axis + rank : axis;
}

/** Most dimensions a tensor can have (the strided kernels' limit). */
export const MAX_RANK = 8;

export function checkShape(shape: unknown, op: string, arg = 'shape'): number[] {
  if (!Array.isArray(shape)) throw new Error(`${op}: ${arg} must be an array of non-negative integers, got ${describe(shape)}`);
  if (shape.length > MAX_RANK) throw new Error(`${op}: ${arg} has ${shape.length} dimensions; at most ${MAX_RANK} are supported`);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 0) {
      throw new Error(`${op}: ${arg}[${i}] must be a non-negative integer, got ${describe(d)} (${arg} = ${describe(shape)})`);
    }
  }
  // + 0 turns a -0 dimension into 0.
  return shape.map((d: number) => d + 0);
}

export function describe(x: unknown): string {
  if (x instanceof Tensor) return x.disposed ? `a disposed tensor` : `a ${x.dtype} tensor of shape [${x.shape}]`;
  if (Array.isArray(x)) return x.length > 10 ? `an array of length ${x.length}` : `[${x.map(describe).join(', ')}]`;
  if (x === null) return 'null';
  if (typeof x === 'object') return x.constructor?.name ?? 'object';
  if (typeof x === 'string') return JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x);
  if (typeof x === 'bigint') return `${x}n (a BigInt)`;
  if (typeof x === 'symbol') return x.toString();
  if (typeof x === 'function') return 'a function';
  return String(x);
}
