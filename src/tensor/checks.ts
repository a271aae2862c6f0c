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
    throw new Error(`${op}: ${arg} must be ${dtypes.join(' or ')}, got ${t.dtype}`);
  }
  return t;
}

export function checkFloat(x: unknown, op: string, arg: string): Tensor {
  return checkDType(x, op, arg, 'float32');
}

export function checkRank(t: Tensor, op: string, arg: string, ...ranks: number[]): void {
  if (!ranks.includes(t.rank)) {
    throw new Error(`${op}: ${arg} must be ${ranks.map((r) => `${r}-D`).join(' or ')}, got shape [${t.shape}]`);
  }
}


export function checkNumber(v: unknown, op: string, arg: string, opts: { integer?: boolean; min?: number; max?: number; positive?: boolean } = {}): number {
  if (typeof v !== 'number' || Number.isNaN(v)) throw new Error(`${op}: ${arg} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v)) throw new Error(`${op}: ${arg} must be finite, got ${v}`);
  if (opts.integer && !Number.isInteger(v)) throw new Error(`${op}: ${arg} must be an integer, got ${v}`);
  if (opts.positive && !(v > 0)) throw new Error(`${op}: ${arg} must be > 0, got ${v}`);
  if (opts.min !== undefined && v < opts.min) throw new Error(`${op}: ${arg} must be >= ${opts.min}, got ${v}`);
  if (opts.max !== undefined && v > opts.max) throw new Error(`${op}: ${arg} must be <= ${opts.max}, got ${v}`);
  return v;
}

export function checkAxis(axis: unknown, rank: number, op: string, arg = 'axis'): number {
  if (typeof axis !== 'number' || !Number.isInteger(axis) || axis < -rank || axis >= Math.max(rank, 1)) {
    throw new Error(`${op}: ${arg} must be an integer in [${-rank}, ${rank - 1}], got ${describe(axis)}`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function checkShape(shape: unknown, op: string, arg = 'shape'): number[] {
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== 'number' || !Number.isInteger(d) || d < 0)) {
    throw new Error(`${op}: ${arg} must be an array of non-negative integers, got ${describe(shape)}`);
  }
  if (shape.length > 8) throw new Error(`${op}: ${arg} has ${shape.length} dimensions; at most 8 are supported`);
  return shape.slice();
}

export function describe(x: unknown): string {
  if (x instanceof Tensor) return x.disposed ? `a disposed tensor` : `a ${x.dtype} tensor of shape [${x.shape}]`;
  if (Array.isArray(x)) return `[${x.map(describe).join(', ')}]`;
  if (x === null) return 'null';
  if (typeof x === 'object') return x.constructor?.name ?? 'object';
  if (typeof x === 'string') return JSON.stringify(x);
  return String(x);
}
